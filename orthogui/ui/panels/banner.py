"""PatientBanner: the strip above the canvas naming whose film is open (patient, study, side).

In de-identified display mode the identifying facts are hidden; laterality and view position
stay, since they identify nobody and a reader needs them.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QWidget

from orthogui.core.patient import banner_facts

KEPT_WHEN_DEIDENTIFIED = frozenset({"Laterality", "View"})
DEID_NOTE = "De-identified display: patient facts hidden"


class PatientBanner(QFrame):
    """Labelled facts of the current image; ``set_metadata`` fills it, ``—`` where unknown."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("PatientBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(
            "#PatientBanner { background: #1f2a36; border: 0; }"
            " QLabel { color: #e8edf2; } QLabel[role='label'] { color: #8fa3b8; }"
        )
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 3, 8, 3)
        lay.setSpacing(6)
        self.note = QLabel(DEID_NOTE, self)
        self.note.setObjectName("bannerNote")
        self.note.setProperty("role", "label")
        lay.addWidget(self.note)
        self._values: dict[str, QLabel] = {}
        self._labels: dict[str, QLabel] = {}
        for fact in banner_facts({}):
            name = QLabel(f"{fact.label}:", self)
            name.setProperty("role", "label")
            value = QLabel(fact.value, self)
            value.setObjectName(f"banner_{fact.label.replace(' ', '_').lower()}")
            font = value.font()
            font.setBold(True)
            value.setFont(font)
            lay.addWidget(name)
            lay.addWidget(value)
            lay.addSpacing(10)
            self._labels[fact.label], self._values[fact.label] = name, value
        lay.addStretch(1)
        self._deidentified = False
        self._apply_mode()

    def set_metadata(self, metadata: Mapping[str, object]) -> None:
        """Show the facts of ``metadata`` (``Radiograph.metadata``); empty clears the banner."""
        for fact in banner_facts(metadata):
            self._values[fact.label].setText(fact.value)

    def set_deidentified(self, on: bool) -> None:
        self._deidentified = on
        self._apply_mode()

    def is_deidentified(self) -> bool:
        return self._deidentified

    def visible_facts(self) -> dict[str, str]:
        """The facts a viewer can read now (label -> value), in banner order."""
        return {k: v.text() for k, v in self._values.items() if not v.isHidden()}

    def _apply_mode(self) -> None:
        self.note.setVisible(self._deidentified)
        for label, value in self._values.items():
            shown = not self._deidentified or label in KEPT_WHEN_DEIDENTIFIED
            value.setVisible(shown)
            self._labels[label].setVisible(shown)
