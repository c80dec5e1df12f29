"""A stable toolbar: Undo and Redo keep their short labels (the step is named in the tooltip
and in the Edit menu), so no toolbar button moves after accept / undo / redo (real keys)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QToolBar, QToolButton

from tests.ui._workbench import write_png16
from tests.ui.test_main_window import make_window, states

K = Qt.Key
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def buttons(toolbar: QToolBar) -> dict[str, QToolButton]:
    out: dict[str, QToolButton] = {}
    for act in toolbar.actions():
        button = toolbar.widgetForAction(act)
        if isinstance(button, QToolButton):
            out[act.objectName()] = button
    return out


def positions(toolbar: QToolBar) -> dict[str, tuple[int, int]]:
    """x and width of every toolbar button, once the relayout a text change asks for is done."""
    QCoreApplication.sendPostedEvents()  # the LayoutRequest of a button whose text changed
    layout = toolbar.layout()
    assert layout is not None
    layout.activate()
    return {name: (b.x(), b.width()) for name, b in buttons(toolbar).items()}


def test_toolbar_buttons_keep_their_places(qtbot, tmp_path: Path) -> None:
    win = make_window(qtbot, tmp_path / "p.orthogui", [write_png16(tmp_path / "a.png")])
    toolbar = win.findChild(QToolBar, "MainToolBar")
    assert toolbar is not None
    before = positions(toolbar)
    assert {"action_undo", "action_redo", "action_accept", "action_reject"} <= set(before)
    assert {"action_approve"} <= set(before)
    undo, redo = buttons(toolbar)["action_undo"], buttons(toolbar)["action_redo"]
    undo_act, redo_act = undo.defaultAction(), redo.defaultAction()

    with qtbot.waitSignal(win.predict.finished, timeout=10000):
        qtbot.keyClick(win, K.Key_M, CTRL)
    assert positions(toolbar) == before
    qtbot.keyClick(win, K.Key_A)
    assert states(win)[0] == "accepted"
    label = win.history.undo_label()
    assert positions(toolbar) == before, "a toolbar button moved after Accept"
    assert undo.text() == "Undo" and redo.text() == "Redo"
    assert label in undo.toolTip() and "a.png" in undo.toolTip() and "Ctrl+Z" in undo.toolTip()
    assert undo_act.text() == f"&Undo {label} (a.png)"  # the Edit menu names it

    qtbot.keyClick(win, K.Key_Z, CTRL)
    assert states(win)[0] == "proposed"
    assert positions(toolbar) == before, "a toolbar button moved after Undo"
    assert undo.text() == "Undo" and redo.text() == "Redo"
    assert label in redo.toolTip() and "a.png" in redo.toolTip()
    assert redo_act.text() == f"&Redo {label} (a.png)"

    qtbot.keyClick(win, K.Key_Z, CTRL | SHIFT)
    assert states(win)[0] == "accepted"
    assert positions(toolbar) == before, "a toolbar button moved after Redo"
    assert label in undo.toolTip() and redo.text() == "Redo"
    win.close()
