"""Undo you can see: Ctrl+Z / Ctrl+Shift+Z / Ctrl+Y on another image open the image the step
changes, select what changed, and the Edit menu names the image (real keys on the window)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from orthogui.core.project import ImageStatus
from tests.ui._workbench import write_png16
from tests.ui.test_main_window import make_window, states

K = Qt.Key
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def test_undo_and_redo_show_the_image_they_change(qtbot, tmp_path: Path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    images = [write_png16(folder / f"img{i}.png", seed=i) for i in range(2)]
    win = make_window(qtbot, tmp_path / "p.orthogui", images)
    a = win.image_id
    assert a is not None
    with qtbot.waitSignal(win.predict.finished, timeout=10000):
        qtbot.keyClick(win, K.Key_M, CTRL)  # three proposals on image A
    qtbot.keyClick(win, K.Key_A, SHIFT)  # accept them all: one step
    assert states(win) == ["accepted"] * 3
    accepted = [x.id for x in win.model.annotations(a)]
    label = win.history.undo_label()
    assert win.action_map["undo"].text() == f"&Undo {label} (img0.png)"

    with qtbot.waitSignal(win.loader.loaded, timeout=10000):
        qtbot.keyClick(win, K.Key_PageDown)  # image B
    b = win.image_id
    assert b is not None and b != a
    with qtbot.waitSignal(win.loader.loaded, timeout=10000):
        qtbot.keyClick(win, K.Key_Z, CTRL)
    assert win.image_id == a  # the window shows A again
    assert win.radiograph is not None and Path(win.radiograph.path).name == "img0.png"
    assert states(win) == ["proposed"] * 3  # and the accept is undone
    qtbot.waitUntil(lambda: sorted(win.canvas.selected_ids()) == sorted(accepted))
    assert "img0.png" in win.statusBar().currentMessage()
    assert win.action_map["redo"].text() == f"&Redo {label} (img0.png)"

    for mods, key in ((CTRL | SHIFT, K.Key_Z), (CTRL, K.Key_Y)):
        with qtbot.waitSignal(win.loader.loaded, timeout=10000):
            qtbot.keyClick(win, K.Key_PageDown)  # away to B again
        assert win.image_id == b
        with qtbot.waitSignal(win.loader.loaded, timeout=10000):
            qtbot.keyClick(win, key, mods)  # redo
        assert win.image_id == a and states(win) == ["accepted"] * 3
        with qtbot.waitSignal(win.loader.loaded, timeout=10000):
            qtbot.keyClick(win, K.Key_PageDown)
        qtbot.keyClick(win, K.Key_Z, CTRL)
        qtbot.waitUntil(lambda: win.image_id == a and states(win) == ["proposed"] * 3)
    win.close()


def test_undo_on_the_shown_image_stays_and_selects(qtbot, tmp_path: Path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    images = [write_png16(folder / f"img{i}.png", seed=i) for i in range(2)]
    win = make_window(qtbot, tmp_path / "p.orthogui", images)
    a = win.image_id
    with qtbot.waitSignal(win.predict.finished, timeout=10000):
        qtbot.keyClick(win, K.Key_M, CTRL)
    first = win.model.annotations(a)[0].id
    qtbot.keyClick(win, K.Key_A)  # the first proposal, then the selection moves on
    assert win.canvas.selected_ids() != [first]
    qtbot.keyClick(win, K.Key_Z, CTRL)
    assert win.image_id == a and states(win) == ["proposed"] * 3
    assert win.canvas.selected_ids() == [first]
    assert win.model.image(a).status == ImageStatus.IN_REVIEW
    win.close()
