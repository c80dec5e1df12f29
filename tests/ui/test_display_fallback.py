"""A file whose stored window misses its pixels opens in a percentile window, and the status
bar says so (instead of showing a white page)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt

from orthogui.io.display import render
from tests.ui.test_main_window import make_window
from tests.unit.io.test_readers_dicom import make_dicom


def test_window_outside_the_pixels_falls_back_and_says_so(qtbot, tmp_path: Path) -> None:
    pixels = (30000 + np.arange(128 * 128).reshape(128, 128) % 20000).astype(np.uint16)
    path = make_dicom(tmp_path / "white.dcm", pixels, WindowCenter="2725", WindowWidth="5310")
    win = make_window(qtbot, tmp_path / "p.orthogui", [path])
    assert win.radiograph is not None and win.radiograph.windows[0].center == 2725.0
    window = win.canvas.window_level()
    assert 30000 < window.center < 50000  # the percentile window, not the file's
    message = win.statusBar().currentMessage()
    assert "white.dcm" in message and "misses the pixel values" in message
    shown = render(win.radiograph, window)
    assert shown.min() < 10 and shown.max() > 245  # a picture, not a white page
    assert win.presets.presets[0] == window and win.presets.note  # W cycles back to it
    qtbot.keyClick(win, Qt.Key.Key_W)
    assert win.canvas.window_level().center == 2725.0  # the file's window is still offered
    win.close()
