"""The patient in view: the banner above the canvas, the de-identified display toggle (View
menu) and the queue's "Group by patient" choice, both remembered in the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QVBoxLayout, QWidget

from orthogui.core.radiograph import Radiograph
from orthogui.ui.panels.banner import PatientBanner

if TYPE_CHECKING:
    from orthogui.ui.main_window import MainWindow

DEID_KEY = "view/deidentified"
GROUP_KEY = "queue/group_by_patient"


def _flag(value: object) -> bool:
    return value is True or str(value).lower() in ("true", "1")


class PatientDisplay:
    """Owns the banner; follows the loader so the banner always names the image shown."""

    def __init__(self, win: MainWindow) -> None:
        self.win = win
        self.banner = PatientBanner()
        win.takeCentralWidget()  # keep the canvas: setCentralWidget would delete it
        canvas = win.canvas
        body = QWidget(win)
        body.setObjectName("CanvasArea")
        lay = QVBoxLayout(body)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.banner)
        lay.addWidget(canvas, 1)
        win.setCentralWidget(body)
        self.action = QAction("De-identified &display", win)
        self.action.setObjectName("action_deidentified")
        self.action.setCheckable(True)
        self.action.setStatusTip("Hide patient name, ID, dates and accession (teaching, sharing)")
        view = win.findChild(QMenu, "menu_View")
        assert view is not None
        view.addSeparator()
        view.addAction(self.action)
        settings = win.settings
        if settings is not None:
            self.action.setChecked(_flag(settings.value(DEID_KEY, False)))
            win.queue_panel.group_check.setChecked(_flag(settings.value(GROUP_KEY, False)))
        self._on_action_toggled(self.action.isChecked())
        self.action.toggled.connect(self._on_action_toggled)
        win.queue_panel.group_check.toggled.connect(self._on_group_check_toggled)
        win.loader.loaded.connect(self._on_loader_loaded)

    @classmethod
    def install(cls, win: MainWindow) -> PatientDisplay:
        return cls(win)

    def set_deidentified(self, on: bool) -> None:
        self.action.setChecked(on)

    def _on_loader_loaded(self, image_id: str, rg: Radiograph) -> None:
        if image_id == self.win.image_id:
            self.banner.set_metadata(rg.metadata)

    def _on_action_toggled(self, on: bool) -> None:
        self.banner.set_deidentified(on)
        self.win.queue_panel.set_deidentified(on)
        if self.win.settings is not None:
            self.win.settings.setValue(DEID_KEY, on)

    def _on_group_check_toggled(self, on: bool) -> None:
        if self.win.settings is not None:
            self.win.settings.setValue(GROUP_KEY, on)
