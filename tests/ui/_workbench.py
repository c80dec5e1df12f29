"""Helpers of the workbench tests: synthetic PNG radiographs, a fake predictor, a window."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from PySide6.QtCore import Qt

from orthogui.core.annotation import TYPE_PROBABILITIES, Prediction
from orthogui.core.geometry import Box, Polygon
from orthogui.core.radiograph import Radiograph

if TYPE_CHECKING:
    from orthogui.ui.main_window import MainWindow

UNC = 3  # the review queue's uncertainty column


def write_png16(path: Path, *, seed: int = 0, size: int = 256) -> Path:
    """A 16-bit greyscale PNG with a bright 'screw' bar."""
    rng = np.random.default_rng(seed)
    img = (rng.normal(20000, 800, (size, size))).clip(0, 65535).astype(np.uint16)
    img[size // 2 - 6 : size // 2 + 6, size // 4 : 3 * size // 4] = 60000
    assert cv2.imwrite(str(path), img)
    return path


def screw(x: float, y: float, length: float, width: float = 10) -> Polygon:
    return Polygon([(x, y), (x + length, y), (x + length, y + width), (x, y + width)])


class FakePredictor:
    """Known findings for any image: two screws and a fracture box (implements Predictor)."""

    model_name = "fake"
    model_version = "1"

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, radiograph: Radiograph) -> list[Prediction]:
        self.calls += 1
        return [
            Prediction(
                "cortical_screw",
                0.91,
                screw(64, 120, 128),
                "fake",
                "1",
                {
                    TYPE_PROBABILITIES: {
                        "cortical_screw": 0.8,
                        "locking_screw": 0.15,
                        "cannulated_screw": 0.05,
                    }
                },
            ),
            Prediction("locking_screw", 0.72, screw(64, 60, 100), "fake", "1"),
            Prediction("fracture", 0.55, Box(150, 170, 220, 230), "fake", "1"),
        ]


def show_window(qtbot, win: MainWindow) -> MainWindow:  # type: ignore[no-untyped-def]
    """Show ``win`` at 1200x800 and make it the active window (window shortcuts need that)."""
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=5000)
    return win


def queue_uncertainty(win: MainWindow) -> list[tuple[str, str]]:
    """(file name, uncertainty text) of the queue's visible rows, top to bottom."""
    tree = win.queue_panel.tree
    rows = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    return [(it.text(0), it.text(UNC)) for it in rows if not it.isHidden()]


def sort_by_uncertainty(qtbot, win: MainWindow) -> None:  # type: ignore[no-untyped-def]
    """Choose "uncertainty" in the queue's sort box with real Down key presses."""
    combo = win.queue_panel.sort_combo
    combo.setFocus()
    while combo.currentData() != "uncertainty":
        before = combo.currentIndex()
        qtbot.keyClick(combo, Qt.Key.Key_Down)
        assert combo.currentIndex() == before + 1  # a real key moved the choice
