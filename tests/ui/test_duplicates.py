"""Adding files the project holds already: they are skipped, and the reviewer is told which."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from orthogui.io.store import ProjectStore
from orthogui.ui.main_window import MainWindow
from orthogui.ui.services import Services
from tests.ui._workbench import FakePredictor, show_window, write_png16

CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "images"
    folder.mkdir()
    return [write_png16(folder / f"img{i}.png", seed=i) for i in range(3)]


@pytest.fixture
def win(qtbot, tmp_path: Path, images: list[Path]) -> Iterator[MainWindow]:  # type: ignore[no-untyped-def]
    w = MainWindow(
        Services(ProjectStore.create(tmp_path / "p.orthogui"), user="t"), predictor=FakePredictor()
    )
    show_window(qtbot, w)
    with qtbot.waitSignal(w.loader.loaded, timeout=10000):
        w.add_paths(images)
    yield w
    w.close()


def choose_files(qtbot, win: MainWindow, monkeypatch, files: list[Path]) -> QMessageBox:  # type: ignore[no-untyped-def]
    """Ctrl+Shift+O with the native dialog answering ``files``; the message that follows."""
    answer = staticmethod(lambda *a, **k: ([str(f) for f in files], ""))
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", answer)
    qtbot.keyClick(win, Qt.Key.Key_O, CTRL_SHIFT)
    qtbot.waitUntil(lambda: win.findChild(QMessageBox, "duplicatesMessage") is not None)
    box = win.findChild(QMessageBox, "duplicatesMessage")
    assert isinstance(box, QMessageBox)
    qtbot.waitExposed(box)
    return box


def test_adding_files_already_in_the_project_names_them(
    qtbot, win: MainWindow, images, tmp_path, monkeypatch
) -> None:
    copy = tmp_path / "copy_of_img1.png"  # same pixels under another name: same content
    shutil.copyfile(images[1], copy)
    assert win.queue_panel.tree.topLevelItemCount() == 3

    box = choose_files(qtbot, win, monkeypatch, [images[0], copy])
    text = "0 added, 2 already in the project: img0.png, copy_of_img1.png"
    assert box.text() == text
    assert win.statusBar().currentMessage() == text
    assert "copy_of_img1.png" in box.detailedText() and "img1.png" in box.detailedText()
    assert len(win.model.images()) == 3 and win.queue_panel.tree.topLevelItemCount() == 3

    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.findChild(QMessageBox, "duplicatesMessage") is None)


def test_a_mix_adds_the_new_and_lists_the_first_few_known(
    qtbot, win: MainWindow, images, tmp_path, monkeypatch
) -> None:
    new = write_png16(tmp_path / "new.png", seed=7)
    box = choose_files(qtbot, win, monkeypatch, [*images, new])
    assert box.text() == "1 added, 3 already in the project: img0.png, img1.png, img2.png"
    assert win.queue_panel.tree.topLevelItemCount() == 4
    assert {Path(r.path).name for r in win.model.images()} >= {"new.png"}
    box.close()
