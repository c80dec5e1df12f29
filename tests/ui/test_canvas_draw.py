"""Drawing polygons and boxes with the mouse, the ruler, and undo/redo of a whole session."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from orthogui.core.annotation import ReviewState
from orthogui.core.geometry import Box, Polygon
from tests.ui import _gestures as g
from tests.ui.conftest import synthetic_radiograph


def scene_of(canvas, x: float, y: float) -> QPointF:
    return canvas.to_scene(QPointF(g.at(canvas, x, y)))


def new_ids(project, before: set[str]) -> list[str]:
    return [a.id for a in project.model.annotations("img-1") if a.id not in before]


def test_draw_box(canvas, project, qtbot) -> None:
    ids = {a.id for a in project.model.annotations()}
    canvas.set_draw_category("fracture")
    with qtbot.waitSignal(canvas.toolChanged) as blocker:
        canvas.set_tool("box")
    assert blocker.args == ["box"]
    with qtbot.waitSignal(project.model.annotation_added):
        g.drag(qtbot, canvas, [g.at(canvas, 20, 20), g.at(canvas, 90, 70)])
    (nid,) = new_ids(project, ids)
    ann = project.model.annotation(nid)
    a, b = scene_of(canvas, 20, 20), scene_of(canvas, 90, 70)
    assert ann.shape == Box(a.x(), a.y(), b.x(), b.y())
    assert ann.category == "fracture" and ann.provenance.source == "human"
    assert ann.review.state == ReviewState.ACCEPTED
    assert project.history.index == 1 and canvas.selected_ids() == [nid]
    g.click(qtbot, canvas, g.at(canvas, 30, 100))  # a click is no box
    assert project.history.index == 1


@pytest.mark.parametrize("close_by", ["first_vertex", "enter", "double_click"])
def test_draw_polygon(canvas, project, qtbot, close_by) -> None:
    ids = {a.id for a in project.model.annotations()}
    canvas.set_tool("polygon")
    canvas.set_draw_category("cannulated_screw")
    pts = [(20, 20), (100, 30), (110, 120), (30, 100)]
    for p in pts[:-1]:
        g.click(qtbot, canvas, g.at(canvas, *p))
    g.move(canvas, g.at(canvas, 60, 60))
    assert project.history.index == 0  # nothing enters history while drawing
    if close_by == "first_vertex":
        g.click(qtbot, canvas, g.at(canvas, *pts[-1]))
        g.click(qtbot, canvas, g.at(canvas, *pts[0]))
    elif close_by == "enter":
        g.click(qtbot, canvas, g.at(canvas, *pts[-1]))
        qtbot.keyClick(canvas, Qt.Key.Key_Return)
    else:
        g.double_click(qtbot, canvas, g.at(canvas, *pts[-1]))
    (nid,) = new_ids(project, ids)
    ann = project.model.annotation(nid)
    assert isinstance(ann.shape, Polygon) and len(ann.shape) == 4
    expected = [scene_of(canvas, *p) for p in pts]
    assert np.allclose(ann.shape.points, [(q.x(), q.y()) for q in expected])
    assert ann.category == "cannulated_screw" and project.history.index == 1


def test_polygon_backspace_and_escape(canvas, project, qtbot) -> None:
    canvas.set_tool("polygon")
    tool = canvas.tool_object()
    for p in [(20, 20), (100, 30), (110, 120)]:
        g.click(qtbot, canvas, g.at(canvas, *p))
    qtbot.keyClick(canvas, Qt.Key.Key_Backspace)
    assert len(tool.points) == 2
    qtbot.keyClick(canvas, Qt.Key.Key_Escape)
    assert tool.points == [] and project.history.index == 0
    n = len(project.model.annotations("img-1"))
    qtbot.keyClick(canvas, Qt.Key.Key_Return)  # nothing to close
    assert len(project.model.annotations("img-1")) == n


def ruler_drag(canvas, qtbot, a, b):
    canvas.set_tool("ruler")
    with qtbot.waitSignal(canvas.measured) as blocker:
        g.drag(qtbot, canvas, [g.at(canvas, *a), g.at(canvas, *b)])
    return blocker.args, canvas.measures.items[canvas.measures.selected]


def test_ruler_in_mm_with_anisotropic_spacing(canvas, project, qtbot) -> None:
    canvas.set_image(synthetic_radiograph(spacing=(0.5, 0.25)))
    (px, mm), ruler = ruler_drag(canvas, qtbot, (100, 100), (100, 300))
    a, b = scene_of(canvas, 100, 100), scene_of(canvas, 100, 300)
    dx, dy = b.x() - a.x(), b.y() - a.y()
    assert px == pytest.approx(math.hypot(dx, dy))
    assert mm == pytest.approx(math.hypot(dx * 0.25, dy * 0.5))
    assert 99 < mm < 101
    assert ruler.text() == f"{mm:.1f} mm"
    n = len(project.model.annotations())
    assert project.history.index == 1 and len(project.model.measurements()) == 1  # saved
    assert len(project.model.annotations()) == n  # a measurement, not a finding


def test_ruler_warns_without_spacing(canvas, project, qtbot) -> None:
    canvas.set_image(project.radiographs["img-2"])
    (px, mm), ruler = ruler_drag(canvas, qtbot, (100, 100), (300, 100))
    assert math.isnan(mm) and 199 < px < 201
    assert ruler.text().endswith("px — no pixel spacing")
    canvas.set_image(synthetic_radiograph(source="ImagerPixelSpacing"))
    (px, mm), ruler = ruler_drag(canvas, qtbot, (100, 100), (300, 100))
    assert 39 < mm < 41
    assert "at detector, not corrected for magnification" in ruler.text()
    qtbot.keyClick(canvas, Qt.Key.Key_Escape)  # clears the selection; the rulers stay
    assert canvas.measures.selected is None and len(canvas.measures.items) == 2


def test_undo_redo_a_whole_session(canvas, project, qtbot) -> None:
    initial = {a.id: a for a in project.model.annotations()}
    # select + drag a vertex, insert one, delete one, move, resize, draw a box, delete one
    g.click(qtbot, canvas, g.at(canvas, 200, 240))
    g.drag(qtbot, canvas, [g.at(canvas, 160, 200), g.at(canvas, 150, 190)])
    g.double_click(qtbot, canvas, g.at(canvas, 195, 200))
    g.click(qtbot, canvas, g.at(canvas, 240, 280))
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)
    g.drag(qtbot, canvas, [g.at(canvas, 350, 350), g.at(canvas, 370, 360)])
    g.click(qtbot, canvas, g.at(canvas, 120, 420))
    g.drag(qtbot, canvas, [g.at(canvas, 180, 470), g.at(canvas, 200, 490)])
    canvas.set_tool("box")
    g.drag(qtbot, canvas, [g.at(canvas, 20, 20), g.at(canvas, 90, 70)])
    canvas.set_tool("select")
    g.click(qtbot, canvas, g.at(canvas, 120, 420))
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)
    assert project.history.index == 7
    final = {a.id: a for a in project.model.annotations()}
    while project.history.undo():
        pass
    assert {a.id: a for a in project.model.annotations()} == initial
    assert set(canvas.scene_.items_by_id) == {
        a.id for a in initial.values() if a.image_id == "img-1"
    }
    while project.history.redo():
        pass
    assert {a.id: a for a in project.model.annotations()} == final
    for ann_id, item in canvas.scene_.items_by_id.items():
        assert item.ann == final[ann_id] and item.shape_value == final[ann_id].shape
