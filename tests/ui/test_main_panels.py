"""Workbench panels driven like a user: drop files on the window, drag the simplify slider."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QMouseEvent
from PySide6.QtWidgets import QApplication, QStyle, QStyleOptionSlider

from orthogui.core.annotation import Annotation
from orthogui.core.commands import AddAnnotations
from orthogui.core.geometry import Polygon
from tests.ui._workbench import write_png16
from tests.ui.test_main_window import make_window


def test_dropping_files_adds_and_opens_them(qtbot, tmp_path: Path) -> None:
    win = make_window(qtbot, tmp_path / "p.orthogui")
    folder = tmp_path / "drop"
    folder.mkdir()
    files = [write_png16(folder / f"d{i}.png", seed=i) for i in range(2)]
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])  # a folder: both files inside
    pos = QPointF(win.rect().center())
    actions = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(
        pos.toPoint(), actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(win, enter)
    assert enter.isAccepted()
    drop = QDropEvent(pos, actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(win.loader.loaded, timeout=10000):
        QApplication.sendEvent(win, drop)
    assert sorted(Path(i.path).name for i in win.model.images()) == [f.name for f in files]
    assert win.radiograph is not None


def _handle_pos(slider) -> QPoint:  # type: ignore[no-untyped-def]
    opt = QStyleOptionSlider()
    slider.initStyleOption(opt)
    rect = slider.style().subControlRect(
        QStyle.ComplexControl.CC_Slider, opt, QStyle.SubControl.SC_SliderHandle, slider
    )
    return rect.center()


def test_simplify_slider_drag_is_one_undo_step(qtbot, tmp_path: Path) -> None:
    img = write_png16(tmp_path / "a.png", size=256)
    win = make_window(qtbot, tmp_path / "p.orthogui", [img])
    t = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    ring = Polygon(np.c_[128 + 60 * np.cos(t), 128 + 40 * np.sin(t)])
    ann = Annotation.human(image_id=win.image_id, category="cortical_screw", shape=ring)
    win.history.push(AddAnnotations((ann,)))
    win.history.close_merge()
    steps = len(win.history)
    win.canvas.select([ann.id])
    qtbot.waitUntil(lambda: win.properties_panel.annotation() is not None)
    slider = win.properties_panel.simplify_slider
    assert slider.isEnabled() and slider.value() == 0
    start = _handle_pos(slider)
    qtbot.mousePress(slider, Qt.MouseButton.LeftButton, pos=start)
    for dx in range(10, slider.width(), 10):  # drag the handle right with the button held
        p = QPoint(start.x() + dx, start.y())
        ev = QMouseEvent(
            QEvent.Type.MouseMove,
            QPointF(p),
            QPointF(slider.mapToGlobal(p)),
            Qt.MouseButton.NoButton,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(slider, ev)
    qtbot.mouseRelease(slider, Qt.MouseButton.LeftButton, pos=QPoint(slider.width() - 2, start.y()))
    assert slider.value() > 20
    simplified = win.model.annotation(ann.id).shape
    assert isinstance(simplified, Polygon) and len(simplified) < len(ring) / 4
    assert len(win.history) == steps + 1  # the whole drag is one step
    win.history.undo()
    assert win.model.annotation(ann.id).shape == ring


def test_properties_show_the_model_type_odds_and_runner_up(qtbot, tmp_path: Path) -> None:
    img = write_png16(tmp_path / "a.png", size=256)
    win = make_window(qtbot, tmp_path / "p.orthogui", [img])
    with qtbot.waitSignal(win.predict.finished, timeout=10000):
        qtbot.keyClick(win, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(win, Qt.Key.Key_N)  # select the first finding with a real key
    panel = win.properties_panel
    qtbot.waitUntil(lambda: panel.annotation() is not None)
    assert panel.annotation().category == "cortical_screw"
    text = panel.labels["types"].text()
    assert text == "cortical screw 0.80; runner-up locking screw 0.15"
    qtbot.keyClick(win, Qt.Key.Key_N)  # the next screw has no type odds
    qtbot.waitUntil(lambda: panel.annotation().category == "locking_screw")
    assert panel.labels["types"].text() == "—"
