"""Reopening a project resumes at the image (and view) the reviewer left; every file dialog
starts in the folder last used for its kind of action, across restarts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from orthogui import app
from orthogui.ui.main_window import MainWindow
from tests.ui._workbench import show_window, write_png16

K = Qt.Key
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
ALT = Qt.KeyboardModifier.AltModifier


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "images"
    folder.mkdir()
    return [write_png16(folder / f"img{i}.png", seed=i) for i in range(3)]


def start(qtbot, project: Path, *paths: Path) -> MainWindow:  # type: ignore[no-untyped-def]
    """The app as ``orthogui --project P [paths]`` starts it, shown; waits for the first image."""
    args = app.build_parser().parse_args(
        ["--project", str(project), "--user", "dr", *map(str, paths)]
    )
    win = app.build_window(args)
    with qtbot.waitSignal(win.loader.loaded, timeout=10000):
        show_window(qtbot, win)
    return win


def name(win: MainWindow) -> str:
    assert win.image_id is not None
    return Path(win.model.image(win.image_id).path).name


# -- resume at the last image -----------------------------------------------------------------
def test_restart_opens_the_image_and_view_the_reviewer_left(qtbot, tmp_path, images) -> None:
    project = tmp_path / "p.orthogui"
    win = start(qtbot, project, *images)
    assert name(win) == "img0.png"
    with qtbot.waitSignal(win.loader.loaded, timeout=10000):
        qtbot.keyClick(win, K.Key_PageDown)
    with qtbot.waitSignal(win.loader.loaded, timeout=10000):
        qtbot.keyClick(win, K.Key_PageDown)
    assert name(win) == "img2.png"
    fitted = win.canvas.scale_factor()
    qtbot.keyClick(win, K.Key_Equal, CTRL)  # zoom in twice
    qtbot.keyClick(win, K.Key_Equal, CTRL)
    zoom = win.canvas.scale_factor()
    assert zoom == pytest.approx(fitted * 1.25**2)
    win.close()

    again = start(qtbot, project)  # a restart: no paths, the same project
    assert name(again) == "img2.png"
    current = again.queue_panel._items[str(again.image_id)]
    assert again.queue_panel.tree.currentItem() is current
    assert again.canvas.scale_factor() == pytest.approx(zoom, rel=1e-3)
    again.close()


def test_a_remembered_image_that_is_gone_falls_back_to_the_first(qtbot, tmp_path, images) -> None:
    project = tmp_path / "p.orthogui"
    win = start(qtbot, project, *images)
    with qtbot.waitSignal(win.loader.loaded, timeout=10000):
        qtbot.keyClick(win, K.Key_PageDown)
    assert name(win) == "img1.png"
    win.close()
    images[1].unlink()

    again = start(qtbot, project)
    assert name(again) == "img0.png"
    assert "Cannot open" not in again.statusBar().currentMessage()
    again.close()


# -- dialogs start in the last folder -----------------------------------------------------------
class FakeDialogs:
    """Stands in for the native dialogs: records the ``dir`` each was given, answers ``reply``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, str]] = []
        self.reply: Any = None
        for method in ("getOpenFileNames", "getOpenFileName", "getSaveFileName"):
            monkeypatch.setattr(QFileDialog, method, staticmethod(self._fake(method)))
        monkeypatch.setattr(
            QFileDialog, "getExistingDirectory", staticmethod(self._fake("getExistingDirectory"))
        )

    def _fake(self, method: str):  # type: ignore[no-untyped-def]
        def answer(*args: Any, **kwargs: Any) -> Any:
            start = kwargs.get("dir", args[2] if len(args) > 2 else "")
            self.calls.append((method, str(start)))
            if method == "getOpenFileNames":
                return ([str(p) for p in self.reply or []], "")
            if method == "getExistingDirectory":
                return str(self.reply or "")
            return (str(self.reply or ""), "")

        return answer

    def last_dir(self) -> Path:
        return Path(self.calls[-1][1])


def test_second_dialog_starts_where_the_first_ended(qtbot, tmp_path, images, monkeypatch) -> None:
    project = tmp_path / "p.orthogui"
    win = start(qtbot, project, images[0])
    dialogs = FakeDialogs(monkeypatch)
    other = tmp_path / "elsewhere" / "cd"
    other.mkdir(parents=True)
    more = write_png16(other / "more.png", seed=9)

    dialogs.reply = [more]
    with qtbot.waitSignal(win.loader.loaded, timeout=10000):
        qtbot.keyClick(win, K.Key_O, CTRL | SHIFT)  # Open files…
    assert dialogs.last_dir() == Path.home()  # nothing remembered yet
    dialogs.reply = []
    qtbot.keyClick(win, K.Key_O, CTRL | SHIFT)
    assert dialogs.last_dir() == other  # where the first one ended
    dialogs.reply = None
    qtbot.keyClick(win, K.Key_O, CTRL | ALT)  # Open folder…: the same kind of action
    assert dialogs.calls[-1][0] == "getExistingDirectory" and dialogs.last_dir() == other
    qtbot.keyClick(win, K.Key_O, CTRL)  # Open project…: another kind, not used yet
    assert dialogs.calls[-1][0] == "getOpenFileName" and dialogs.last_dir() == Path.home()
    qtbot.keyClick(win, K.Key_E, CTRL)  # Export inventory: proposes its file name
    assert dialogs.calls[-1][0] == "getSaveFileName"
    assert dialogs.last_dir() == Path.home() / "inventory.csv"
    win.close()

    again = start(qtbot, project)  # remembered across a restart
    dialogs.reply = []
    qtbot.keyClick(again, K.Key_O, CTRL | SHIFT)
    assert dialogs.last_dir() == other
    again.close()


def test_a_remembered_folder_that_is_gone_falls_back_to_home(
    qtbot, tmp_path, images, monkeypatch
) -> None:
    win = start(qtbot, tmp_path / "p.orthogui", images[0])
    dialogs = FakeDialogs(monkeypatch)
    gone = tmp_path / "gone"
    gone.mkdir()
    dialogs.reply = gone
    qtbot.keyClick(win, K.Key_O, CTRL | ALT)  # adds an empty folder, remembered
    dialogs.reply = None
    qtbot.keyClick(win, K.Key_O, CTRL | ALT)
    assert dialogs.last_dir() == gone
    gone.rmdir()
    qtbot.keyClick(win, K.Key_O, CTRL | ALT)
    assert dialogs.last_dir() == Path.home()
    win.close()


def test_every_file_dialog_of_the_app_goes_through_the_helpers() -> None:
    """A new dialog calling QFileDialog directly would not remember its folder."""
    root = Path(__file__).resolve().parents[2] / "orthogui"
    direct = [
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if "QFileDialog.get" in p.read_text(encoding="utf-8") and p.name != "files.py"
    ]
    assert direct == []
