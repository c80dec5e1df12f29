"""ScoreThresholdBar: the findings list's header, a minimum-score slider and what it hides.

The slider moves in hundredths (arrow keys by 0.05, PgUp/PgDown by 0.10, Home/End to the
ends); 0 reads "off". The bar decides nothing: it reports the value chosen and shows the note
it is given.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from orthogui.core.visibility import THRESHOLD_STEPS

K = Qt.Key
# Keys of a focused slider that are window shortcuts too (PgUp/PgDown: images, Home: fit).
SLIDER_KEYS = frozenset({K.Key_PageUp, K.Key_PageDown, K.Key_Home, K.Key_End})


class ThresholdSlider(QSlider):
    """A slider that keeps its own navigation keys while it has the focus."""

    def event(self, e: QEvent) -> bool:
        if (
            e.type() == QEvent.Type.ShortcutOverride
            and isinstance(e, QKeyEvent)
            and e.key() in SLIDER_KEYS
            and e.modifiers() == Qt.KeyboardModifier.NoModifier
        ):
            e.accept()  # delivered as a key press to the slider, not to the window's action
            return True
        return super().event(e)


class ScoreThresholdBar(QWidget):
    """``thresholdChanged(float)`` when the user moves the slider."""

    thresholdChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ScoreThresholdBar")
        self.slider = ThresholdSlider(Qt.Orientation.Horizontal, self)
        self.slider.setObjectName("scoreThresholdSlider")
        self.slider.setRange(0, THRESHOLD_STEPS)
        self.slider.setSingleStep(5)
        self.slider.setPageStep(10)
        self.slider.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.slider.setToolTip(
            "Minimum score: hide the model's proposals scored below it (a view setting; nothing "
            "is deleted). Accepted, corrected and drawn findings are always shown."
        )
        caption = QLabel("Min score", self)
        caption.setBuddy(self.slider)
        self.value_label = QLabel(self)
        self.value_label.setObjectName("scoreThresholdValue")
        self.value_label.setMinimumWidth(self.fontMetrics().horizontalAdvance("0.00") + 4)
        self.value_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.note = QLabel(self)
        self.note.setObjectName("hiddenFindingsNote")
        self.note.setStyleSheet("color: #f2b84b;")  # the proposed-finding colour of the list
        self.note.setMinimumHeight(self.fontMetrics().height())
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(caption)
        row.addWidget(self.slider, 1)
        row.addWidget(self.value_label)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        lay.setSpacing(1)
        lay.addLayout(row)
        lay.addWidget(self.note)
        self._show_value(0)
        self.slider.valueChanged.connect(self._on_slider_valueChanged)

    def threshold(self) -> float:
        return self.slider.value() / THRESHOLD_STEPS

    def set_threshold(self, threshold: float) -> None:
        """Move the slider without reporting it (a restored or programmatic value)."""
        with QSignalBlocker(self.slider):
            self.slider.setValue(round(threshold * THRESHOLD_STEPS))
        self._show_value(self.slider.value())

    def set_note(self, text: str) -> None:
        self.note.setText(text)

    def _show_value(self, value: int) -> None:
        self.value_label.setText("off" if value == 0 else f"{value / THRESHOLD_STEPS:.2f}")

    def _on_slider_valueChanged(self, value: int) -> None:
        self._show_value(value)
        self.thresholdChanged.emit(value / THRESHOLD_STEPS)
