"""The window when the project file cannot be written: a red banner with Retry and "Save a
copy as…", a dialog the first time, edits kept in memory and written once the cause is gone;
read-only files and projects open elsewhere open read-only and say so."""

from __future__ import annotations

import os
import resource
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QFileDialog, QLabel, QMessageBox, QPushButton

from orthogui.core.annotation import Annotation, Prediction
from orthogui.core.commands import AddAnnotations
from orthogui.core.project import ImageRecord
from orthogui.io.store import ProjectStore
from orthogui.ui.main_window import MainWindow
from orthogui.ui.services import Services
from tests.ui._workbench import screw, show_window, write_png16
from tests.unit.io.store_procs import hold_project, hold_sqlite_write_lock

K = Qt.Key
LEFT = Qt.MouseButton.LeftButton
EDITS = 5


def make_project(path: Path) -> Path:
    """One image with EDITS proposed screws, saved and closed."""
    folder = path.parent / "images"
    folder.mkdir(parents=True, exist_ok=True)
    write_png16(folder / "img0.png")
    with ProjectStore.create(path, user="tester") as store:
        store.add_images([ImageRecord("im0", "images/img0.png", "h0", 256, 256)])
        anns = tuple(
            Annotation.from_prediction(
                Prediction("cortical_screw", 0.9, screw(20, 20 + 40 * i, 100), "fake", "1"),
                image_id="im0",
            )
            for i in range(EDITS)
        )
        store.history.push(AddAnnotations(anns))
    return path


def states_on_disk(path: Path) -> list[str]:
    with ProjectStore.open(path, read_only=True) as store:
        return [a.review.state.value for a in store.model.annotations("im0")]


def open_window(qtbot, store: ProjectStore) -> MainWindow:  # type: ignore[no-untyped-def]
    win = MainWindow(Services(store, user="tester"))
    show_window(qtbot, win)
    with qtbot.waitSignal(win.loader.loaded, timeout=10000):
        win.step_image(+1)
    return win


def accepted(win: MainWindow) -> int:
    return sum(a.review.state.value == "accepted" for a in win.model.annotations("im0"))


def banner_text(win: MainWindow) -> str:
    label = win.findChild(QLabel, "StoreBannerText")
    return label.text() if label is not None and label.isVisible() else ""


class ModalAnswerer:
    """Answers each modal message box by clicking a button with the mouse (polls the app)."""

    def __init__(self, qtbot, button: str = "") -> None:  # type: ignore[no-untyped-def]
        """``button``: the object name of the button to click ("Cancel": the Cancel button;
        "": OK or the first)."""
        self.qtbot, self.button = qtbot, button
        self.seen: list[str] = []
        self.timer = QTimer()
        self.timer.timeout.connect(self._poll)
        self.timer.start(20)

    def _poll(self) -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox) or not box.isVisible():
            return
        self.seen.append(f"{box.objectName()}: {box.text()}")
        if self.button == "Cancel":
            target = box.button(QMessageBox.StandardButton.Cancel)
        else:
            target = box.findChild(QPushButton, self.button) if self.button else None
        if target is None:
            target = box.button(QMessageBox.StandardButton.Ok) or box.buttons()[0]
        self.qtbot.mouseClick(target, LEFT)

    def stop(self) -> None:
        self.timer.stop()


@pytest.fixture
def answerer(qtbot) -> Iterator[ModalAnswerer]:  # type: ignore[no-untyped-def]
    a = ModalAnswerer(qtbot)
    yield a
    a.stop()


def save_copy_by_button(qtbot, win: MainWindow, dest: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Click "Save a copy as…"; the file dialog answers ``dest`` (it is the OS's dialog)."""
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(dest), ""))
    )
    qtbot.mouseClick(win.findChild(QPushButton, "StoreBannerCopy"), LEFT)
    assert dest.exists()


def edit_while_failing(qtbot, win: MainWindow, answerer: ModalAnswerer) -> None:  # type: ignore[no-untyped-def]
    """EDITS presses of A (accept the next proposal); the first failure shows a dialog."""
    qtbot.keyClick(win, K.Key_A)
    qtbot.waitUntil(lambda: len(answerer.seen) == 1, timeout=10000)
    assert answerer.seen[0].startswith("StoreFailedDialog: ")
    win.activateWindow()  # the dialog had the focus
    qtbot.waitUntil(win.isActiveWindow, timeout=5000)
    for _ in range(EDITS - 1):
        qtbot.keyClick(win, K.Key_A)
    assert accepted(win) == EDITS  # every edit is still on the screen ...
    assert len(win.history) == 1 + EDITS and win.store.unsaved == EDITS  # ... and undoable
    text = banner_text(win)
    assert "NOT being saved" in text and f"{EDITS} edit(s) are kept" in text
    assert win.findChild(QPushButton, "StoreBannerRetry").isVisible()
    assert "[not saved]" in win.windowTitle()
    assert "Not saved" in win.statusBar().currentMessage()
    assert len(answerer.seen) == 1  # the dialog only the first time


def retry_by_button(qtbot, win: MainWindow) -> None:  # type: ignore[no-untyped-def]
    qtbot.mouseClick(win.findChild(QPushButton, "StoreBannerRetry"), LEFT)
    assert banner_text(win) == "" and "[not saved]" not in win.windowTitle()
    assert win.store.unsaved == 0 and "saved" in win.statusBar().currentMessage()


def test_a_second_process_in_a_write_transaction(
    qtbot, tmp_path: Path, answerer: ModalAnswerer, monkeypatch
) -> None:
    """A real second process holds SQLite's write lock (it ignores the project lock, as the
    sqlite3 shell or a backup tool would): writes fail with "database is locked"."""
    project = make_project(tmp_path / "p.orthogui")
    win = open_window(qtbot, ProjectStore.open(project, timeout_s=0.1))
    holder = hold_sqlite_write_lock(project)
    try:
        edit_while_failing(qtbot, win, answerer)
        assert "locked" in banner_text(win) and "locked" in answerer.seen[0]
        assert states_on_disk(project) == ["proposed"] * EDITS
        copy = tmp_path / "rescued.orthogui"
        save_copy_by_button(qtbot, win, copy, monkeypatch)
        assert states_on_disk(copy) == ["accepted"] * EDITS
        qtbot.mouseClick(win.findChild(QPushButton, "StoreBannerRetry"), LEFT)
        assert "locked" in banner_text(win)  # still held: still failing, still kept
    finally:
        holder.release()
    retry_by_button(qtbot, win)
    win.close()
    assert states_on_disk(project) == ["accepted"] * EDITS
    with ProjectStore.open(project) as again:
        assert again.history.index == 1 + EDITS


def test_a_disk_that_refuses_to_grow_the_file(
    qtbot, tmp_path: Path, answerer: ModalAnswerer
) -> None:
    """ "Disk full" by the OS's file-size limit (RLIMIT_FSIZE) on this process: the kernel
    refuses to grow the project's log file, as a full disk does (EFBIG instead of ENOSPC, so
    SQLite says "disk I/O error", not "disk full"). Mounting a small file system would need
    privileges the test suite does not assume."""
    project = make_project(tmp_path / "p.orthogui")
    win = open_window(qtbot, ProjectStore.open(project))
    wal = project.with_name(project.name + "-wal")
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (max(wal.stat().st_size, 1), old_limit[1]))
    try:
        edit_while_failing(qtbot, win, answerer)
        assert "I/O error" in banner_text(win)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)
    assert states_on_disk(project) == ["proposed"] * EDITS
    retry_by_button(qtbot, win)
    qtbot.keyClick(win, K.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo: written at once
    assert win.store.unsaved == 0
    win.close()
    assert states_on_disk(project) == ["accepted"] * (EDITS - 1) + ["proposed"]


def test_a_write_protected_file_opens_read_only(
    qtbot, tmp_path: Path, answerer: ModalAnswerer, monkeypatch
) -> None:
    """chmod 0444. Tests run as root, whom permissions do not stop; the store treats the
    owner's cleared write bit as "write-protected" and opens the file with SQLite read-only
    (``mode=ro``), so a write would really fail inside SQLite."""
    project = make_project(tmp_path / "p.orthogui")
    os.chmod(project, 0o444)
    before = project.read_bytes()
    win = open_window(qtbot, ProjectStore.open(project))
    assert "[read-only]" in win.windowTitle()
    assert "Read-only" in banner_text(win) and "write-protected" in banner_text(win)
    assert not win.findChild(QPushButton, "StoreBannerRetry").isVisible()
    qtbot.keyClick(win, K.Key_A)
    assert accepted(win) == 0 and len(win.history) == 1  # refused, not silently dropped
    assert "Read-only project" in win.statusBar().currentMessage()
    assert answerer.seen == []
    copy = tmp_path / "editable.orthogui"
    save_copy_by_button(qtbot, win, copy, monkeypatch)
    win.close()
    assert project.read_bytes() == before
    with ProjectStore.open(copy) as editable:  # the copy can be edited
        assert not editable.read_only and len(editable.model.annotations()) == EDITS


def test_a_project_open_in_another_process_opens_read_only_on_request(
    qtbot, tmp_path: Path, monkeypatch
) -> None:
    """A real second process has the project open (it holds the project lock); File → Open
    (Ctrl+O) asks, and "Open read-only" opens it read-only with the holder named."""
    first = make_project(tmp_path / "a" / "first.orthogui")
    other = make_project(tmp_path / "b" / "other.orthogui")
    win = open_window(qtbot, ProjectStore.open(first))
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(other), ""))
    )
    holder = hold_project(other)
    answerer = ModalAnswerer(qtbot, button="OpenReadOnly")
    try:
        qtbot.keyClick(win, K.Key_O, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: any(w.store.path == other for w in MainWindow.windows))
        assert answerer.seen and answerer.seen[0].startswith("ProjectLockedDialog: ")
        assert f"pid {holder.pid}" in answerer.seen[0]
        (ro,) = [w for w in MainWindow.windows if w.store.path == other]
        qtbot.addWidget(ro)
        assert "[read-only]" in ro.windowTitle()
        assert f"pid {holder.pid}" in banner_text(ro)
        with qtbot.waitSignal(ro.loader.loaded, timeout=10000):
            ro.step_image(+1)
        ro.activateWindow()
        qtbot.waitUntil(ro.isActiveWindow, timeout=5000)
        qtbot.keyClick(ro, K.Key_A)
        assert accepted(ro) == 0 and "Read-only project" in ro.statusBar().currentMessage()
        ro.close()
    finally:
        answerer.stop()
        holder.release()
    assert states_on_disk(other) == ["proposed"] * EDITS


def test_cancel_keeps_the_window_on_its_project(qtbot, tmp_path: Path, monkeypatch) -> None:
    project = make_project(tmp_path / "a" / "p.orthogui")
    other = make_project(tmp_path / "b" / "other.orthogui")
    win = open_window(qtbot, ProjectStore.open(project))
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(other), ""))
    )
    holder = hold_project(other)
    answerer = ModalAnswerer(qtbot, button="Cancel")
    try:
        qtbot.keyClick(win, K.Key_O, Qt.KeyboardModifier.ControlModifier)
        assert answerer.seen and answerer.seen[0].startswith("ProjectLockedDialog: ")
        assert all(w.store.path != other for w in MainWindow.windows)
        assert win.isVisible() and not win.store.closed and win.store.path == project
    finally:
        answerer.stop()
        holder.release()


def test_closing_with_unsaved_edits_asks_and_can_rescue_them(
    qtbot, tmp_path: Path, answerer: ModalAnswerer, monkeypatch
) -> None:
    """Closing the window while edits cannot be written: Cancel keeps the window (and the
    edits); "Save a copy as…" writes them to a copy and then closes."""
    project = make_project(tmp_path / "p.orthogui")
    win = open_window(qtbot, ProjectStore.open(project, timeout_s=0.1))
    holder = hold_sqlite_write_lock(project)
    try:
        edit_while_failing(qtbot, win, answerer)
        answerer.button = "Cancel"
        win.close()
        qtbot.waitUntil(lambda: len(answerer.seen) == 2, timeout=10000)
        assert answerer.seen[1].startswith("UnsavedOnCloseDialog: 5 edits could not be written")
        assert win.isVisible() and win.store.unsaved == EDITS  # still here, nothing lost
        copy = tmp_path / "rescued.orthogui"
        monkeypatch.setattr(
            QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(copy), ""))
        )
        answerer.button = "CloseSaveCopy"
        win.close()
        qtbot.waitUntil(lambda: not win.isVisible(), timeout=10000)
        assert states_on_disk(copy) == ["accepted"] * EDITS
    finally:
        holder.release()
