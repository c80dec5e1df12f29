"""Logs and crashes: the rotating log file, the exception hook (log first, then the dialog
naming the file), faulthandler into the same folder, and Help → "Open log folder"."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import QMenu

from orthogui import app
from orthogui.io.applog import FAULT_FILE, LOG_FILE, install_logging, make_excepthook
from orthogui.ui.controllers.logs import open_log_folder
from orthogui.ui.locations import log_dir
from tests.ui.test_main_window import make_window

ROOT = Path(__file__).resolve().parents[2]


def _raise_here() -> None:
    raise ValueError("the marker 4711")


def test_excepthook_writes_the_traceback_to_the_log_then_notifies(tmp_path: Path) -> None:
    log = install_logging(tmp_path / "logs")
    told: list[tuple[Path, BaseException]] = []
    try:
        hook = make_excepthook(log.log_file, notify=lambda f, e: told.append((f, e)))
        try:
            _raise_here()
        except ValueError as exc:
            hook(type(exc), exc, exc.__traceback__)
    finally:
        log.close()
    text = (tmp_path / "logs" / LOG_FILE).read_text(encoding="utf-8")
    assert "Uncaught exception" in text and "Traceback (most recent call last)" in text
    assert "in _raise_here" in text and "ValueError: the marker 4711" in text
    assert "OrthoGUI" in text.splitlines()[0]  # the start line: version, Python, platform
    assert told and told[0][0] == log.log_file and isinstance(told[0][1], ValueError)


def test_a_failing_dialog_is_logged_and_the_hook_does_not_raise(tmp_path: Path) -> None:
    log = install_logging(tmp_path)

    def broken_dialog(_file: Path, _exc: BaseException) -> None:
        raise RuntimeError("no display")

    try:
        hook = make_excepthook(log.log_file, notify=broken_dialog)
        exc = KeyError("k")
        hook(KeyError, exc, None)
    finally:
        log.close()
    text = log.log_file.read_text(encoding="utf-8")
    assert "KeyError: 'k'" in text and "RuntimeError: no display" in text
    assert log.handler not in logging.getLogger().handlers  # close() detached it


def test_log_file_rotates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("orthogui.io.applog.MAX_BYTES", 2000)
    log = install_logging(tmp_path)
    try:
        for i in range(100):
            logging.getLogger("orthogui.test").info("line %d %s", i, "x" * 50)
    finally:
        log.close()
    assert (tmp_path / f"{LOG_FILE}.1").is_file()
    assert log.log_file.stat().st_size <= 2000


def test_hard_crash_leaves_a_traceback_in_the_fault_file(tmp_path: Path) -> None:
    """faulthandler writes where Python cannot: a real segfault in a child process."""
    code = textwrap.dedent(
        f"""
        import ctypes, sys
        from orthogui.io.applog import install_logging
        install_logging({str(tmp_path)!r})
        def crash_here():
            ctypes.string_at(0)
        crash_here()
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode != 0
    faults = (tmp_path / FAULT_FILE).read_text(encoding="utf-8")
    assert "Fatal Python error" in faults and "crash_here" in faults


def test_app_installs_logs_in_the_data_folder(tmp_path: Path) -> None:
    previous = sys.excepthook
    log = app.install_logs()
    try:
        assert log is not None and log.folder == log_dir() == app.data_dir() / "logs"
        assert log.log_file.is_file() and log.fault_file.is_file()
        assert sys.excepthook is not previous
    finally:
        log.close()
        sys.excepthook = previous
        import threading

        threading.excepthook = threading.__excepthook__


def test_help_menu_opens_the_log_folder(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    win = make_window(qtbot, tmp_path / "p.orthogui")
    menu = win.findChild(QMenu, "menu_Help")
    assert menu is not None
    act = win.findChild(QAction, "action_open_log_folder")
    assert act is not None and act in menu.actions()
    act.trigger()
    assert [u.toLocalFile() for u in opened] == [str(log_dir())]
    assert log_dir().is_dir()  # created so the file manager has something to show
    win.close()


def test_open_log_folder_creates_the_folder_it_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    assert open_log_folder(tmp_path / "a" / "logs")
    assert (tmp_path / "a" / "logs").is_dir()
    assert opened[0].toLocalFile() == str(tmp_path / "a" / "logs")


def test_crash_dialog_names_the_log_file_once_per_error(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtWidgets import QMessageBox

    from orthogui.ui.controllers import logs

    shown: list[str] = []

    def fake_exec(box: QMessageBox) -> int:  # no modal loop in a test: read it and close
        shown.append(box.text() + "\n" + box.informativeText())
        box.deleteLater()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    monkeypatch.setattr(logs, "_shown", set())
    log_file = tmp_path / "logs" / LOG_FILE
    logs.show_crash_dialog(log_file, ValueError("the marker 4711"))
    logs.show_crash_dialog(log_file, ValueError("the marker 4711"))  # a repaint loop: once
    logs.show_crash_dialog(log_file, KeyError("other"))
    assert len(shown) == 2
    assert "ValueError: the marker 4711" in shown[0] and str(log_file) in shown[0]
    assert "KeyError" in shown[1]
