"""A patient CD opens the way a reviewer opens it: File → Open folder on the CD (or File → Open
files on its DICOMDIR) adds every image, the queue grouped by patient shows patient → study →
image, and the CD's other files are reported as skipped with a count; the scan shows progress
in the status bar and Cancel stops it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtWidgets import QFileDialog, QMenu

from orthogui.io.store import ProjectStore
from orthogui.ui.main_window import MainWindow
from orthogui.ui.services import Services
from tests.patient_cd import write_patient_cd
from tests.ui._workbench import FakePredictor, show_window
from tests.ui.test_patient_banner import tree_text

EXPECTED = [
    "DOE, JANE · ID P001 (5)",
    "  2024-03-01 · KNEE (2)",
    "    IM000001",
    "    IM000002",
    "  2024-04-15 · HIP (3)",
    "    IM000001",
    "    IM000002",
    "    IM000003",
    "ROE, RICHARD · ID P002 (4)",
    "  2023-09-10 · SPINE (2)",
    "    IM000001",
    "    IM000002",
    "  2023-10-01 · HAND (2)",
    "    IM000001",
    "    IM000002",
]


@pytest.fixture
def cd(tmp_path: Path) -> Path:
    return write_patient_cd(tmp_path / "cd")


def window(qtbot, tmp_path: Path) -> MainWindow:  # type: ignore[no-untyped-def]
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    store = ProjectStore.create(tmp_path / "p.orthogui")
    win = MainWindow(Services(store, user="tester", settings=settings), predictor=FakePredictor())
    return show_window(qtbot, win)


def choose_from_file_menu(qtbot, win: MainWindow, name: str) -> None:  # type: ignore[no-untyped-def]
    """Click File in the menu bar, then the item ``name`` (an action's object name)."""
    bar = win.menuBar()
    menu = win.findChild(QMenu, "menu_File")
    assert menu is not None
    qtbot.mouseClick(
        bar, Qt.MouseButton.LeftButton, pos=bar.actionGeometry(menu.menuAction()).center()
    )
    qtbot.waitUntil(menu.isVisible, timeout=5000)
    action = win.action_map[name]
    qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())


def tick_group_by_patient(qtbot, win: MainWindow) -> None:  # type: ignore[no-untyped-def]
    check = win.queue_panel.group_check
    qtbot.mouseClick(check, Qt.MouseButton.LeftButton, pos=QPoint(8, check.height() // 2))
    assert win.queue_panel.is_grouped()


def test_open_folder_on_a_patient_cd_groups_every_image(
    qtbot, tmp_path: Path, cd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    win = window(qtbot, tmp_path)
    asked: list[Any] = []

    def folder_dialog(*args: Any, **kwargs: Any) -> str:
        asked.append(args)
        return str(cd)

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(folder_dialog))
    seen: list[object] = []
    win.scan.progress.connect(seen.append)
    with qtbot.waitSignal(win.scan.finished, timeout=30000) as done:
        choose_from_file_menu(qtbot, win, "open_folder")
        assert win.scan.widget.bar.isVisible() and win.scan.widget.cancel.isVisible()
    assert asked, "the folder dialog was not asked"
    assert len(done.args[0].added) == 9
    assert not win.scan.widget.bar.isVisible()  # gone when the scan is done
    assert seen and seen[-1].done == seen[-1].total  # type: ignore[attr-defined]
    message = win.statusBar().currentMessage()
    assert "Added 9 image(s)" in message and "4 other file(s) skipped" in message
    tick_group_by_patient(qtbot, win)
    assert tree_text(win) == EXPECTED
    paths = {
        Path(win.store.image_path(r)).resolve().relative_to(cd.resolve()).as_posix()
        for r in win.model.images()
    }
    assert len(paths) == 9 and all(p.startswith("DICOM/PA") for p in paths)
    win.close()


def test_open_files_on_a_dicomdir_adds_the_images_it_references(
    qtbot, tmp_path: Path, cd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    win = window(qtbot, tmp_path)
    monkeypatch.setattr(
        QFileDialog,
        "getOpenFileNames",
        staticmethod(lambda *a, **k: ([str(cd / "DICOMDIR")], "")),
    )
    with qtbot.waitSignal(win.scan.finished, timeout=30000) as done:
        choose_from_file_menu(qtbot, win, "open_files")
    assert len(done.args[0].added) == 9
    assert not any(Path(r.path).name == "DICOMDIR" for r in win.model.images())
    qtbot.waitUntil(lambda: win.radiograph is not None, timeout=10000)  # the first one opens
    tick_group_by_patient(qtbot, win)
    assert tree_text(win) == EXPECTED
    win.close()


def test_cancel_in_the_status_bar_stops_a_long_scan(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import orthogui.io.folder_scan as folder_scan

    big = tmp_path / "big"
    big.mkdir()
    for i in range(300):
        (big / f"note{i:03d}.txt").write_text("not an image")
    real = folder_scan.is_radiograph
    slow: list[Path] = []

    def looked_at(path: Path) -> bool:  # a slow disk: the scan is still running when cancelled
        slow.append(path)
        time.sleep(0.01)
        return real(path)

    monkeypatch.setattr(folder_scan, "is_radiograph", looked_at)
    win = window(qtbot, tmp_path)
    win.add_paths([big])
    qtbot.waitUntil(lambda: win.scan.widget.bar.isVisible() and len(slow) > 5, timeout=10000)
    with qtbot.waitSignal(win.scan.cancelled, timeout=10000) as stopped:
        qtbot.mouseClick(win.scan.widget.cancel, Qt.MouseButton.LeftButton)
    assert 0 < stopped.args[0] < 300 and len(slow) < 300
    assert "cancelled" in win.statusBar().currentMessage() and win.model.images() == []
    assert not win.scan.widget.bar.isVisible()
    win.close()
