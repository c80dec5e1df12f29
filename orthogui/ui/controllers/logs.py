"""Help → "Open log folder", and the dialog that reports an uncaught exception and names the
log file it was written to (the hook itself is ``orthogui.io.applog``)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import QApplication, QMainWindow, QMenu, QMessageBox, QWidget

from orthogui.core.categories import Category
from orthogui.ui.dialogs.shortcuts import install_shortcuts_sheet
from orthogui.ui.locations import log_dir


def help_menu(window: QMainWindow) -> QMenu:
    """The window's Help menu (``menu_Help``), created at the end of the menu bar if missing."""
    menu = window.findChild(QMenu, "menu_Help")
    if menu is None:
        menu = window.menuBar().addMenu("&Help")
        menu.setObjectName("menu_Help")
    return menu


def open_log_folder(folder: Path | None = None) -> bool:
    """Show the log folder in the desktop's file manager (created if missing)."""
    target = folder if folder is not None else log_dir()
    target.mkdir(parents=True, exist_ok=True)
    return bool(QDesktopServices.openUrl(QUrl.fromLocalFile(str(target))))


def install_help_menu(
    window: QMainWindow, *, folder: Path | None = None, categories: Iterable[Category] = ()
) -> QAction:
    """Add Help → "Open log folder" to ``window``; ``folder`` defaults to the app's log folder
    (looked up when triggered, so tests that isolate the config folder get theirs)."""
    act = QAction("Open &log folder", window)
    act.setObjectName("action_open_log_folder")
    act.setStatusTip("Show the folder of the app's log files (attach them to a bug report)")
    act.triggered.connect(lambda _checked=False: open_log_folder(folder))
    help_menu(window).addAction(act)
    install_shortcuts_sheet(
        window, categories
    )  # Help → Keyboard shortcuts (F1), from the actions table
    return act


_shown: set[tuple[str, str]] = set()  # errors already reported this session
_showing: list[bool] = []  # a dialog is open (its event loop may hit the error again)


def show_crash_dialog(log_file: Path, exc: BaseException) -> None:
    """Tell the user that something went wrong and where the details are (GUI thread only).

    Each distinct error is shown once per session and never while a dialog is open: an error
    in a paint handler would otherwise stack dialogs for every repaint (the log has them all).
    """
    key = (type(exc).__name__, str(exc))
    if QApplication.instance() is None or _showing or key in _shown:
        return
    _shown.add(key)
    _showing.append(True)
    try:
        _dialog(log_file, exc)
    finally:
        _showing.clear()


def _dialog(log_file: Path, exc: BaseException) -> None:
    parent: QWidget | None = QApplication.activeWindow()
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Critical)
    box.setWindowTitle("OrthoGUI: unexpected error")
    box.setText(f"An unexpected error occurred: {type(exc).__name__}: {str(exc)[:300]}")
    box.setInformativeText(
        f"Every edit committed so far is saved. The details were written to\n{log_file}\n"
        "Please attach that file to a bug report (Help → Open log folder)."
    )
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    open_button = box.addButton("Open log folder", QMessageBox.ButtonRole.ActionRole)
    box.exec()
    if box.clickedButton() is open_button:
        open_log_folder(log_file.parent)
