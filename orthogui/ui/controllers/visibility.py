"""What the canvas and the findings list show: the score threshold and the labels (View menu).

Both are view settings, remembered per user in the settings file: never in the project, never
on the undo stack. The threshold hides the model's proposals scored below it
(``core.visibility``); keyboard review skips them, and approval still counts them as unreviewed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt

from orthogui.core.annotation import Annotation
from orthogui.core.visibility import clamp_threshold, hidden_ids, hidden_note
from orthogui.ui.panels.threshold import ScoreThresholdBar

if TYPE_CHECKING:
    from orthogui.ui.main_window import MainWindow

THRESHOLD_KEY = "view/score_threshold"
LABELS_KEY = "view/show_labels"


def _flag(value: object, default: bool) -> bool:
    if value is None:
        return default
    return value is True or str(value).lower() in ("true", "1")


class FindingVisibility(QObject):
    """Owns the threshold bar above the findings list and the "Show labels" action."""

    def __init__(self, win: MainWindow) -> None:
        super().__init__(win)
        self.win = win
        self.threshold = 0.0
        self.bar = ScoreThresholdBar()
        win.findings_panel.set_header(self.bar)
        self.labels_action = win.action_map["show_labels"]
        settings = win.settings
        if settings is not None:
            self.threshold = clamp_threshold(settings.value(THRESHOLD_KEY, 0.0))
            self.labels_action.setChecked(_flag(settings.value(LABELS_KEY), True))
        else:
            self.labels_action.setChecked(True)
        self.bar.set_threshold(self.threshold)
        win.canvas.set_score_threshold(self.threshold)
        win.canvas.set_show_labels(self.labels_action.isChecked())
        self.bar.thresholdChanged.connect(self.set_threshold)
        self.labels_action.toggled.connect(self._on_labels_action_toggled)
        win.action_map["score_threshold"].triggered.connect(self.focus_slider)
        win.loader.loaded.connect(self._on_loader_loaded)  # after the window fills the list
        model = win.model
        slots = (
            (model.annotation_added, self._on_model_annotation),
            (model.annotation_changed, self._on_model_annotation_changed),
            (model.annotation_removed, self._on_model_annotation),
        )
        for signal, slot in slots:
            signal.connect(slot)

        def disconnect(*_: object) -> None:
            for signal, slot in slots:
                signal.disconnect(slot)

        win.destroyed.connect(disconnect)

    @classmethod
    def install(cls, win: MainWindow) -> FindingVisibility:
        return cls(win)

    # -- queries --------------------------------------------------------------------------------
    def hidden(self, image_id: str | None = None) -> frozenset[str]:
        """The findings of ``image_id`` (default: the one shown) hidden by the threshold."""
        image_id = image_id or self.win.image_id
        if image_id is None or self.threshold <= 0.0:
            return frozenset()
        return hidden_ids(self.win.model.annotations(image_id), self.threshold)

    # -- settings -------------------------------------------------------------------------------
    def set_threshold(self, threshold: float) -> None:
        """Hide the proposals scored below ``threshold`` on the canvas and in the list."""
        self.threshold = clamp_threshold(threshold)
        if abs(self.bar.threshold() - self.threshold) > 1e-9:
            self.bar.set_threshold(self.threshold)
        self.win.canvas.set_score_threshold(self.threshold)
        self.refresh()
        if self.win.settings is not None:
            self.win.settings.setValue(THRESHOLD_KEY, self.threshold)

    def show_all(self) -> None:
        """Threshold off: every finding shows again."""
        self.set_threshold(0.0)

    def focus_slider(self) -> None:
        """View › Score threshold: bring the findings list up and put the keys on the slider."""
        panel = self.win.findings_panel
        panel.show()
        panel.raise_()
        self.bar.slider.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def refresh(self) -> None:
        """Hide the rows of the hidden findings and say how many there are."""
        hidden = self.hidden()
        self.win.findings_panel.set_hidden(hidden)
        self.bar.set_note(hidden_note(len(hidden), self.threshold))

    # -- slots --------------------------------------------------------------------------------
    def _on_labels_action_toggled(self, on: bool) -> None:
        self.win.canvas.set_show_labels(on)
        if self.win.settings is not None:
            self.win.settings.setValue(LABELS_KEY, on)

    def _on_loader_loaded(self, image_id: str, _rg: object) -> None:
        if image_id == self.win.image_id:
            self.refresh()

    def _on_model_annotation(self, ann: Annotation) -> None:
        if ann.image_id == self.win.image_id:
            self.refresh()

    def _on_model_annotation_changed(self, _before: Annotation, after: Annotation) -> None:
        self._on_model_annotation(after)
