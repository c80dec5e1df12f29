"""One key, one command: no two shortcuts share a key in one context; F is the fracture key."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QAction, QKeySequence

from orthogui.core.categories import DEFAULT_CATEGORIES, SCREW_GROUP
from orthogui.ui.actions import SHORTCUTS
from orthogui.ui.canvas.view import CANVAS_KEYS, FIT_KEYS
from tests.ui import _gestures as g
from tests.ui._workbench import write_png16
from tests.ui.test_main_window import make_window

K = Qt.Key
CTRL = Qt.KeyboardModifier.ControlModifier


def portable(key: str) -> str:
    return QKeySequence(key).toString(QKeySequence.SequenceFormat.PortableText)


def test_table_and_category_keys_are_unique() -> None:
    owners: dict[str, list[str]] = defaultdict(list)
    for s in SHORTCUTS:
        if s.bound:
            for k in s.keys:
                owners[portable(k)].append(s.name)
    for c in DEFAULT_CATEGORIES:
        if c.shortcut:
            owners[portable(c.shortcut)].append(f"category {c.name}")
    for k in CANVAS_KEYS:
        if k not in FIT_KEYS:  # the fit keys are the fit action's, handled alike by the canvas
            owners[portable(k)].append(f"canvas {k}")
    shared = {k: v for k, v in owners.items() if len(v) > 1}
    assert not shared, f"keys bound twice: {shared}"
    assert portable("F") in owners and owners[portable("F")] == ["category fracture"]
    fit = next(s for s in SHORTCUTS if s.name == "fit")
    assert set(fit.keys) == set(FIT_KEYS)
    # The guide-only "set type 1-5" row documents exactly the screw categories' keys.
    set_type = next(s for s in SHORTCUTS if s.name == "set_type")
    screws = [c.shortcut for c in DEFAULT_CATEGORIES if c.group == SCREW_GROUP]
    assert list(set_type.keys) == screws


def test_window_actions_never_share_a_key_in_one_context(qtbot, tmp_path: Path) -> None:
    win = make_window(qtbot, tmp_path / "p.orthogui")
    owners: dict[tuple[object, str], set[str]] = defaultdict(set)
    for act in win.findChildren(QAction):
        for seq in act.shortcuts():
            if not seq.isEmpty():
                key = seq.toString(QKeySequence.SequenceFormat.PortableText)
                owners[(act.shortcutContext(), key)].add(act.objectName() or act.text())
    assert owners, "the window binds no shortcut"
    shared = {k: v for k, v in owners.items() if len(v) > 1}
    assert not shared, f"keys bound to several actions: {shared}"
    keys = {k for _, k in owners}
    assert portable("F") in keys and portable("Home") in keys and portable("Ctrl+0") in keys
    win.close()


def test_f_is_fracture_and_home_fits(qtbot, tmp_path: Path) -> None:
    win = make_window(qtbot, tmp_path / "p.orthogui", [write_png16(tmp_path / "a.png")])
    with qtbot.waitSignal(win.predict.finished, timeout=10000):
        qtbot.keyClick(win, K.Key_M, CTRL)  # the fake model proposes two screws and a fracture
    canvas = win.canvas
    box = next(a for a in win.model.annotations(win.image_id) if a.category == "fracture")
    canvas.select([box.id])
    canvas.setFocus()
    canvas.zoom_at(3.0)
    scale, centre = (
        canvas.scale_factor(),
        canvas.to_scene(QPointF(canvas.viewport().rect().center())),
    )
    steps = len(win.history)

    qtbot.keyClick(canvas, K.Key_F)  # with the fracture box selected: it stays a fracture
    assert win.model.annotation(box.id).category == "fracture"
    assert len(win.history) == steps  # nothing to change: no step
    assert canvas.draw_category() == "fracture"
    assert win.category_panel.current() == "fracture"
    assert canvas.selected_ids() == [box.id]
    assert canvas.scale_factor() == scale  # F did not fit the view
    assert canvas.to_scene(QPointF(canvas.viewport().rect().center())) == centre

    # F then the box tool: the new finding is a fracture.
    qtbot.keyClick(canvas, K.Key_Escape)
    qtbot.keyClick(canvas, K.Key_B)
    assert canvas.tool() == "box"
    g.drag(qtbot, canvas, [g.at(canvas, 100, 100), g.at(canvas, 130, 125)])
    new = win.model.annotation(canvas.selected_ids()[0])
    assert new.category == "fracture" and new.is_box

    for key, mods in ((K.Key_Home, Qt.KeyboardModifier.NoModifier), (K.Key_0, CTRL)):
        canvas.zoom_at(3.0)
        qtbot.keyClick(canvas, key, mods)
        rect = canvas.mapFromScene(canvas.image_rect()).boundingRect()
        assert canvas.viewport().rect().adjusted(-3, -3, 3, 3).contains(rect), key
        assert canvas.scale_factor() < scale / 2
    win.close()
