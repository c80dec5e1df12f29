"""Snap-to-edge: Ctrl while dragging a vertex or placing a polygon point."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from orthogui.io.snap import snap_to_edge
from tests.ui import _gestures as g

CTRL = Qt.KeyboardModifier.ControlModifier


def step_edge(col: int = 100, lo: int = 50, hi: int = 200) -> np.ndarray:
    gray = np.full((200, 200), lo, np.uint8)
    gray[:, col:] = hi
    return gray


def test_snaps_across_a_step_edge_keeping_the_place_along_it() -> None:
    gray = step_edge()  # the edge is the line x = 100 (pixel 99 dark, pixel 100 bright)
    for x, y in [(96.3, 40.2), (103.9, 150.7), (100.0, 10.0)]:
        got = snap_to_edge(gray, x, y, 8.0)
        assert got is not None
        assert abs(got[0] - 100.0) < 1e-6 and abs(got[1] - y) < 1e-6
    assert snap_to_edge(gray, 80.0, 40.0, 8.0) is None  # the edge is out of reach
    assert snap_to_edge(gray, 80.0, 40.0, 25.0) is not None
    assert snap_to_edge(np.full((50, 50), 90, np.uint8), 20.0, 20.0, 8.0) is None  # flat
    assert snap_to_edge(step_edge(hi=58), 98.0, 40.0, 8.0) is None  # too faint (8 levels)
    assert snap_to_edge(gray, -3.0, 40.0, 8.0) is None  # off the image


def test_snaps_to_the_strongest_of_two_edges_and_along_a_diagonal() -> None:
    gray = step_edge(100, 50, 90)
    gray[:, 104:] = 250  # a weak edge at x = 100 and a strong one at x = 104
    got = snap_to_edge(gray, 101.0, 30.0, 8.0)
    assert got is not None and abs(got[0] - 104.0) < 0.05
    yy, xx = np.mgrid[0:200, 0:200]
    diag = np.where(xx + yy + 1.0 > 200.0, 220, 30).astype(np.uint8)  # the edge x + y = 200
    got = snap_to_edge(diag, 95.0, 95.0, 8.0)
    assert got is not None
    assert abs(got[0] + got[1] - 200.0) < 0.5 and abs(got[0] - got[1]) < 1e-6  # moved across


def test_ctrl_drag_of_a_vertex_snaps_to_the_screw_edge(canvas, project, qtbot) -> None:
    # The synthetic screw's bright block spans pixel columns 164-235 and rows 216-266
    # (conftest.synthetic_radiograph): its left edge is the line x = 164, its top y = 216.
    # At 2x the fit zoom, 8 screen pixels are 3.4 image pixels.
    sid = project.ids["screw"]
    canvas.zoom_at(2.0, g.at(canvas, 180, 230))
    g.click(qtbot, canvas, g.at(canvas, 200, 240))
    assert canvas.selected_ids() == [sid]
    g.drag(qtbot, canvas, [g.at(canvas, 160, 200), g.at(canvas, 161, 240)], mods=CTRL)
    x, y = project.ann("screw").shape.points[0]
    assert abs(x - 164.0) < 0.1 and abs(y - 240.0) < 1.0
    project.history.undo()
    g.drag(qtbot, canvas, [g.at(canvas, 160, 200), g.at(canvas, 161, 240)])  # no Ctrl
    x, _ = project.ann("screw").shape.points[0]
    assert abs(x - 161.0) < 0.5


def test_ctrl_click_places_polygon_points_on_edges(canvas, project, qtbot) -> None:
    canvas.zoom_at(2.0, g.at(canvas, 180, 230))
    canvas.set_tool("polygon")
    g.click(qtbot, canvas, g.at(canvas, 166, 240), mods=CTRL)  # 2 px inside the left edge
    g.click(qtbot, canvas, g.at(canvas, 200, 213.5), mods=CTRL)  # 2.5 px above the top
    g.click(qtbot, canvas, g.at(canvas, 200, 240))  # no Ctrl, inside the block: stays
    qtbot.keyClick(canvas, Qt.Key.Key_Return)
    new = project.model.annotation(canvas.selected_ids()[0])
    (x0, y0), (x1, y1), (x2, y2) = new.shape.points
    assert abs(x0 - 164.0) < 0.1 and abs(y0 - 240.0) < 1.0
    assert abs(y1 - 216.0) < 0.1 and abs(x1 - 200.0) < 1.0
    assert abs(x2 - 200.0) < 0.5 and abs(y2 - 240.0) < 0.5
