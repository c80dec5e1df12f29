"""The app and its windows carry the OrthoGUI icon (task bar, window switcher)."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QApplication

from orthogui.app import create_application
from orthogui.paths import resource


def test_windows_show_the_shipped_icon(qtbot) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QMainWindow

    app = create_application(["orthogui"])
    assert app is QApplication.instance()
    assert resource("icons", "orthogui.svg").is_file()
    win = QMainWindow()
    qtbot.addWidget(win)
    icon = win.windowIcon()  # inherited from the application
    assert not icon.isNull() and app.desktopFileName() == "orthogui"
    img = icon.pixmap(64, 64).toImage()
    px = np.array(
        [[img.pixelColor(x, y).value() for x in range(0, 64, 4)] for y in range(0, 64, 4)]
    )
    assert px.std() > 20  # a drawing, not a blank square
