"""Editing gestures on the canvas with real mouse and key events; one gesture = one step."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from orthogui.core.annotation import ReviewState
from orthogui.core.geometry import Box
from orthogui.core.review import set_shape
from tests.ui import _gestures as g


def scene_of(canvas, x: float, y: float) -> QPointF:
    """Where the event for image point (x, y) really lands (after integer rounding)."""
    return canvas.to_scene(QPointF(g.at(canvas, x, y)))


def select(qtbot, canvas, x: float, y: float, ann_id: str) -> None:
    with qtbot.waitSignal(canvas.selectionChanged):
        g.click(qtbot, canvas, g.at(canvas, x, y))
    assert canvas.selected_ids() == [ann_id]


def test_click_selects_and_escape_clears(canvas, project, qtbot) -> None:
    select(qtbot, canvas, 200, 240, project.ids["screw"])
    with qtbot.waitSignal(canvas.selectionChanged):
        qtbot.keyClick(canvas, Qt.Key.Key_Escape)
    assert canvas.selected_ids() == []
    select(qtbot, canvas, 120, 420, project.ids["box"])
    g.click(qtbot, canvas, g.at(canvas, 350, 350), mods=Qt.KeyboardModifier.ShiftModifier)
    assert set(canvas.selected_ids()) == {project.ids["box"], project.ids["vcf"]}
    g.click(qtbot, canvas, g.at(canvas, 20, 20))  # empty: clears
    assert canvas.selected_ids() == []


def test_drag_vertex_is_one_step_and_undoes(canvas, project, qtbot) -> None:
    sid = project.ids["screw"]
    before = project.ann("screw")
    select(qtbot, canvas, 200, 240, sid)
    with qtbot.waitSignal(project.model.annotation_changed):
        g.drag(qtbot, canvas, [g.at(canvas, 160, 200), g.at(canvas, 140, 185)], steps=6)
    after = project.ann("screw")
    assert project.history.index == 1 and len(project.history) == 1
    target = scene_of(canvas, 140, 185)
    assert np.allclose(after.shape.points[0], (target.x(), target.y()))
    assert np.array_equal(after.shape.points[1:], before.shape.points[1:])
    assert after.review.state == ReviewState.CORRECTED and after.review.by == "tester"
    assert after.original_shape == before.shape  # what the model said stays recorded
    project.history.undo()
    assert project.ann("screw") == before
    item = canvas.scene_.items_by_id[sid]
    assert item.shape_value == before.shape  # the item re-synced from the model


def test_insert_vertex_by_dragging_a_midpoint(canvas, project, qtbot) -> None:
    select(qtbot, canvas, 200, 240, project.ids["screw"])
    n = len(project.ann("screw").shape)
    a, b = project.ann("screw").shape.points[0], project.ann("screw").shape.points[1]
    mid = (a + b) / 2
    g.drag(qtbot, canvas, [g.at(canvas, *mid), g.at(canvas, mid[0], 180)])
    poly = project.ann("screw").shape
    assert len(poly) == n + 1 and project.history.index == 1
    assert abs(poly.points[1][1] - 180) < 1.0
    assert project.history.undo_label() == "Insert vertex"


def test_insert_vertex_by_double_click_on_an_edge(canvas, project, qtbot) -> None:
    select(qtbot, canvas, 200, 240, project.ids["screw"])
    n = len(project.ann("screw").shape)
    with qtbot.waitSignal(project.model.annotation_changed):
        g.double_click(qtbot, canvas, g.at(canvas, 195, 200))
    poly = project.ann("screw").shape
    assert len(poly) == n + 1 and project.history.index == 1
    p = scene_of(canvas, 195, 200)
    assert np.allclose(poly.points[2], (p.x(), 200.0), atol=1e-6)


def test_delete_one_vertex(canvas, project, qtbot) -> None:
    select(qtbot, canvas, 200, 240, project.ids["screw"])
    n = len(project.ann("screw").shape)
    g.click(qtbot, canvas, g.at(canvas, 240, 200))  # vertex 3
    assert canvas.scene_.items_by_id[project.ids["screw"]].selected_vertices == {3}
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)
    poly = project.ann("screw").shape
    assert len(poly) == n - 1 and project.history.index == 1
    assert not any(np.allclose(p, (240, 200)) for p in poly.points)
    assert canvas.selected_ids() == [project.ids["screw"]]  # the shape stays selected


def test_lasso_and_shift_click_delete_several_vertices(canvas, project, qtbot) -> None:
    sid = project.ids["screw"]
    select(qtbot, canvas, 200, 240, sid)
    g.drag(qtbot, canvas, [g.at(canvas, 150, 190), g.at(canvas, 250, 212)])
    item = canvas.scene_.items_by_id[sid]
    assert item.selected_vertices == {0, 1, 2, 3}
    g.click(qtbot, canvas, g.at(canvas, 240, 280), mods=Qt.KeyboardModifier.ShiftModifier)
    assert item.selected_vertices == {0, 1, 2, 3, 6}
    qtbot.keyClick(canvas, Qt.Key.Key_Backspace)
    assert len(project.ann("screw").shape) == 7 and project.history.index == 1
    assert project.history.undo_label() == "Delete 5 vertices"


def test_delete_refuses_to_leave_fewer_than_three_vertices(canvas, project, qtbot) -> None:
    vid = project.ids["vcf"]
    select(qtbot, canvas, 350, 350, vid)
    g.click(qtbot, canvas, g.at(canvas, 300, 300))
    g.click(qtbot, canvas, g.at(canvas, 400, 310), mods=Qt.KeyboardModifier.ShiftModifier)
    with qtbot.waitSignal(canvas.message) as blocker:
        qtbot.keyClick(canvas, Qt.Key.Key_Delete)
    assert "3 vertices" in blocker.args[0]
    assert len(project.ann("vcf").shape) == 4 and project.history.index == 0
    qtbot.keyClick(canvas, Qt.Key.Key_Escape)  # clears the vertices, keeps the shape
    assert canvas.selected_ids() == [vid]
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)  # now deletes the instance
    assert project.model.get(vid) is None


def test_move_whole_shape(canvas, project, qtbot) -> None:
    before = project.ann("vcf")
    a, b = scene_of(canvas, 350, 350), scene_of(canvas, 380, 330)
    g.drag(qtbot, canvas, [g.at(canvas, 350, 350), g.at(canvas, 380, 330)])
    after = project.ann("vcf")
    d = (b.x() - a.x(), b.y() - a.y())
    assert np.allclose(after.shape.points, before.shape.points + d)
    assert after.review.state == ReviewState.ACCEPTED  # a human's shape stays accepted
    assert project.history.index == 1 and project.history.undo_label() == "Move"


def test_resize_box_by_corner_and_edge(canvas, project, qtbot) -> None:
    select(qtbot, canvas, 120, 420, project.ids["box"])
    g.drag(qtbot, canvas, [g.at(canvas, 180, 470), g.at(canvas, 210, 490)])
    box = project.ann("box").shape
    p = scene_of(canvas, 210, 490)
    assert isinstance(box, Box)
    assert (box.x0, box.y0) == (60, 380) and np.allclose((box.x1, box.y1), (p.x(), p.y()))
    g.drag(qtbot, canvas, [g.at(canvas, 60, (380 + box.y1) / 2), g.at(canvas, 40, 400)])
    box2 = project.ann("box").shape
    assert abs(box2.x0 - scene_of(canvas, 40, 400).x()) < 1e-6 and box2.y0 == 380
    assert project.history.index == 2
    assert project.ann("box").review.state == ReviewState.CORRECTED


def test_delete_key_removes_instances_and_undo_restores(canvas, project, qtbot) -> None:
    bid = project.ids["box"]
    select(qtbot, canvas, 120, 420, bid)
    with qtbot.waitSignal(canvas.selectionChanged):
        qtbot.keyClick(canvas, Qt.Key.Key_Delete)
    assert project.model.get(bid) is None and bid not in canvas.scene_.items_by_id
    assert canvas.selected_ids() == []
    project.history.undo()
    assert bid in canvas.scene_.items_by_id
    project.history.redo()
    assert bid not in canvas.scene_.items_by_id


def test_rubber_band_selects_whole_shapes(canvas, project, qtbot) -> None:
    g.drag(qtbot, canvas, [g.at(canvas, 40, 290), g.at(canvas, 420, 490)])
    assert set(canvas.selected_ids()) == {project.ids["box"], project.ids["vcf"]}


def test_rejected_findings_are_hidden_unless_asked(canvas, project) -> None:
    item = canvas.scene_.items_by_id[project.ids["rejected"]]
    assert not item.isVisible()
    canvas.set_show_rejected(True)
    assert item.isVisible() and "rejected" in item.label.text()
    canvas.set_show_rejected(False)
    assert not item.isVisible()


def test_external_model_changes_resync_items(canvas, project) -> None:
    sid = project.ids["screw"]
    moved = project.ann("screw").shape.translated(5, 5)
    project.history.push(set_shape(project.ann("screw"), moved, user="elsewhere"))
    assert canvas.scene_.items_by_id[sid].shape_value == moved
    project.history.undo()
    assert canvas.scene_.items_by_id[sid].shape_value == project.ann("screw").shape
    canvas.show_annotations_of("img-2")
    assert set(canvas.scene_.items_by_id) == {project.ids["other"]}


@pytest.mark.parametrize("tolerances", [(1.0, 3.0, 12.0, 2.0)])
def test_simplify_slider_is_one_step(canvas, project, qtbot, tolerances) -> None:
    sid = project.ids["screw"]
    original = project.ann("screw")
    select(qtbot, canvas, 200, 240, sid)
    for t in tolerances:
        canvas.simplify_selected(t)
    project.history.close_merge()  # the slider's release
    assert len(project.ann("screw").shape) == 4  # the collinear side vertices are gone
    assert project.history.index == 1 and len(project.history) == 1
    project.history.undo()
    assert project.ann("screw") == original
