"""The screw-by-axis tool: two clicks (or a drag) at a screw's ends make a polygon hugging its
metal, with real mouse and key events on the canvas and on the main window."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication
from shapely.geometry import Polygon as ShapelyPolygon

from orthogui.core.annotation import ReviewState
from orthogui.core.geometry import Polygon
from orthogui.core.radiograph import Radiograph, WindowPreset
from orthogui.ui.canvas.axis_tool import AxisTool
from tests.ui import _gestures as g
from tests.ui.test_main_window import make_window

K = Qt.Key
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
TIP, HEAD, WIDTH = (150.0, 330.0), (330.0, 200.0), 12.0  # a bar rotated about -36 degrees


def true_bar(
    p0: tuple[float, float] = TIP, p1: tuple[float, float] = HEAD, width: float = WIDTH
) -> ShapelyPolygon:
    (x0, y0), (x1, y1) = p0, p1
    n = math.hypot(x1 - x0, y1 - y0)
    vx, vy = -(y1 - y0) / n * width / 2, (x1 - x0) / n * width / 2
    return ShapelyPolygon(
        [(x0 + vx, y0 + vy), (x1 + vx, y1 + vy), (x1 - vx, y1 - vy), (x0 - vx, y0 - vy)]
    )


def bar_image(
    size: int = 512, *, background: int = 600, metal: int = 3600, bar: bool = True
) -> NDArray[np.uint16]:
    """12-bit: a dark, slightly noisy background and (optionally) the bright bar, anti-aliased
    by 8x supersampling."""
    s = 8
    big = np.full((size * s, size * s), background, np.uint16)
    if bar:
        pts = (np.asarray(true_bar().exterior.coords) * s).round().astype(np.int32)
        cv2.fillPoly(big, [pts], metal)
    img = cv2.resize(big.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)
    img += np.random.default_rng(0).normal(0, 10, img.shape).astype(np.float32)
    return np.clip(img, 0, 4095).astype(np.uint16)


def radiograph(stored: NDArray[np.uint16]) -> Radiograph:
    return Radiograph(
        path="bar.png",
        format="png",
        stored=stored,
        bits_stored=12,
        windows=(WindowPreset(2000.0, 4000.0, "Default"),),
        pixel_spacing=(0.2, 0.2),
        spacing_source="PixelSpacing",
    )


def iou(a: ShapelyPolygon, b: ShapelyPolygon) -> float:
    return float(a.intersection(b).area / a.union(b).area)


def created(project, before: set[str]) -> list[str]:  # type: ignore[no-untyped-def]
    return [a.id for a in project.model.annotations(project.image_id) if a.id not in before]


@pytest.fixture
def bar_canvas(canvas):  # type: ignore[no-untyped-def]
    """The canvas fixture showing the bar image, axis tool, locking screws."""
    canvas.set_image(radiograph(bar_image()))
    canvas.set_draw_category("locking_screw")
    canvas.set_tool("axis")
    return canvas


def test_two_clicks_outline_the_bar(bar_canvas, project, qtbot) -> None:
    canvas = bar_canvas
    tool = canvas.tool_object()
    assert isinstance(tool, AxisTool)
    before = {a.id for a in project.model.annotations()}
    g.click(qtbot, canvas, g.at(canvas, *TIP))
    assert tool.tip is not None and project.history.index == 0
    # The dashed axis follows the cursor, with a live preview of the outline.
    g.move(canvas, g.at(canvas, 300, 222))
    qtbot.waitUntil(lambda: tool.preview is not None)
    assert tool.preview is not None and tool.preview.found
    assert tool._draft.scene() is canvas.scene_ and tool._outline.scene() is canvas.scene_
    assert project.history.index == 0  # nothing enters history before the head
    g.move(canvas, g.at(canvas, *HEAD))
    with qtbot.waitSignal(project.model.annotation_added):
        g.click(qtbot, canvas, g.at(canvas, *HEAD))
    (nid,) = created(project, before)
    ann = project.model.annotation(nid)
    assert isinstance(ann.shape, Polygon) and len(ann.shape) >= 4
    assert iou(ShapelyPolygon(ann.shape.points), true_bar()) >= 0.8
    assert ann.category == "locking_screw" and ann.provenance.source == "human"
    assert ann.review.state == ReviewState.ACCEPTED
    assert project.history.index == 1 and project.history.undo_label() == "Draw screw by axis"
    assert canvas.selected_ids() == [nid]
    assert tool.tip is None and tool._draft.scene() is None and tool._outline.scene() is None
    # One undo step removes it; redo brings back the same polygon.
    project.history.undo()
    assert project.model.get(nid) is None and nid not in canvas.scene_.items_by_id
    project.history.redo()
    assert project.model.annotation(nid) == ann and nid in canvas.scene_.items_by_id


def test_drag_from_tip_to_head(bar_canvas, project, qtbot) -> None:
    before = {a.id for a in project.model.annotations()}
    with qtbot.waitSignal(project.model.annotation_added):
        g.drag(qtbot, bar_canvas, [g.at(bar_canvas, *TIP), g.at(bar_canvas, *HEAD)], steps=8)
    (nid,) = created(project, before)
    shape = project.model.annotation(nid).shape
    assert isinstance(shape, Polygon)
    assert iou(ShapelyPolygon(shape.points), true_bar()) >= 0.8
    assert project.history.index == 1


def test_quick_clicks_arriving_as_double_clicks(bar_canvas, project, qtbot) -> None:
    """A second click soon after the tip comes as a double-click event: it is the head. A
    double-click on the head (as closing a polygon) makes one screw and no new tip."""
    canvas = bar_canvas
    tool = canvas.tool_object()
    n = len(project.model.annotations())
    g.click(qtbot, canvas, g.at(canvas, *TIP))
    g.double_click(qtbot, canvas, g.at(canvas, *HEAD))
    assert len(project.model.annotations()) == n + 1 and project.history.index == 1
    assert tool.tip is None
    vp = canvas.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=g.at(canvas, *TIP))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=g.at(canvas, *TIP))
    ev = QMouseEvent(
        QEvent.Type.MouseButtonDblClick,
        QPointF(g.at(canvas, *HEAD)),
        QPointF(vp.mapToGlobal(g.at(canvas, *HEAD))),
        Qt.MouseButton.LeftButton,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(vp, ev)  # the second press, delivered as a double-click
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=g.at(canvas, *HEAD))
    assert len(project.model.annotations()) == n + 2 and project.history.index == 2
    assert tool.tip is None


def test_escape_after_the_tip_creates_nothing(bar_canvas, project, qtbot) -> None:
    canvas = bar_canvas
    tool = canvas.tool_object()
    n = len(project.model.annotations())
    g.click(qtbot, canvas, g.at(canvas, *TIP))
    g.move(canvas, g.at(canvas, 250, 260))
    qtbot.waitUntil(lambda: tool.preview is not None)
    qtbot.keyClick(canvas, K.Key_Escape)
    assert tool.tip is None and tool.preview is None
    assert tool._draft.scene() is None and tool._outline.scene() is None
    assert len(project.model.annotations()) == n and project.history.index == 0
    # The next click is a new tip, not a head.
    g.click(qtbot, canvas, g.at(canvas, *HEAD))
    assert tool.tip is not None and len(project.model.annotations()) == n


def test_flat_background_makes_the_fallback_rectangle_and_says_so(canvas, project, qtbot) -> None:
    canvas.set_image(radiograph(bar_image(bar=False)))
    canvas.set_draw_category("cortical_screw")
    canvas.set_tool("axis")
    before = {a.id for a in project.model.annotations()}
    g.click(qtbot, canvas, g.at(canvas, *TIP))
    with qtbot.waitSignal(canvas.message) as blocker:
        g.click(qtbot, canvas, g.at(canvas, *HEAD))
    assert "no metal edge" in blocker.args[0]
    (nid,) = created(project, before)
    ann = project.model.annotation(nid)
    assert isinstance(ann.shape, Polygon) and len(ann.shape) == 4
    assert ann.category == "cortical_screw" and project.history.index == 1
    length = math.dist(TIP, HEAD)
    # A rectangle along the clicked axis, a tenth of its length wide.
    assert ann.shape.area == pytest.approx(length * length / 10, rel=0.05)


def test_ends_closer_than_two_pixels_create_nothing(bar_canvas, project, qtbot) -> None:
    canvas = bar_canvas
    canvas.zoom_at(10.0, g.at(canvas, *TIP))  # 1 image px is many screen px: two real clicks
    n = len(project.model.annotations())
    g.click(qtbot, canvas, g.at(canvas, *TIP))
    with qtbot.waitSignal(canvas.message) as blocker:
        g.click(qtbot, canvas, g.at(canvas, TIP[0] + 1.2, TIP[1]))
    assert "px apart" in blocker.args[0]
    assert len(project.model.annotations()) == n and project.history.index == 0
    assert canvas.tool_object().tip is None


def test_outline_follows_the_displayed_window(canvas, project, qtbot) -> None:
    """A faint bar (100 of 4095 above the background) has no edge in the full window; narrowed
    to it, as the expert sees it, the outline hugs it."""
    canvas.set_background_rendering(False)
    canvas.set_image(radiograph(bar_image(metal=700)))
    canvas.set_tool("axis")
    before = {a.id for a in project.model.annotations()}
    g.click(qtbot, canvas, g.at(canvas, *TIP))
    with qtbot.waitSignal(canvas.message):
        g.click(qtbot, canvas, g.at(canvas, *HEAD))  # full window: the fallback
    canvas.set_window(650.0, 300.0)
    g.click(qtbot, canvas, g.at(canvas, *TIP))
    g.click(qtbot, canvas, g.at(canvas, *HEAD))
    fallback, hugged = (project.model.annotation(i).shape for i in created(project, before))
    assert isinstance(hugged, Polygon) and isinstance(fallback, Polygon)
    assert iou(ShapelyPolygon(hugged.points), true_bar()) >= 0.8
    assert iou(ShapelyPolygon(fallback.points), true_bar()) < 0.8


def write_bar_png(path: Path) -> Path:
    assert cv2.imwrite(str(path), (bar_image().astype(np.uint32) * 16).astype(np.uint16))
    return path


def test_x_key_draws_screws_and_ctrl_z_undoes_them(qtbot, tmp_path: Path) -> None:
    win = make_window(qtbot, tmp_path / "p.orthogui", [write_bar_png(tmp_path / "bar.png")])
    canvas = win.canvas
    action = win.action_map["tool_axis"]
    assert action.text() == "Screw by a&xis" and action.isCheckable()
    qtbot.keyClick(win, K.Key_X)
    assert canvas.tool() == "axis" and action.isChecked()
    assert not win.action_map["tool_polygon"].isChecked()
    qtbot.keyClick(win, K.Key_3)  # nothing selected: locking screws are drawn
    steps = len(win.history)
    g.click(qtbot, canvas, g.at(canvas, *TIP))
    g.move(canvas, g.at(canvas, *HEAD))
    g.click(qtbot, canvas, g.at(canvas, *HEAD))
    assert len(win.history) == steps + 1
    (ann,) = win.model.annotations(win.image_id)
    assert ann.category == "locking_screw" and isinstance(ann.shape, Polygon)
    assert iou(ShapelyPolygon(ann.shape.points), true_bar()) >= 0.8

    qtbot.keyClick(win, K.Key_Z, CTRL)  # one undo removes the screw
    assert win.model.annotations(win.image_id) == []
    qtbot.keyClick(win, K.Key_Z, CTRL | SHIFT)  # redo brings it back
    assert win.model.annotations(win.image_id) == [ann]

    # Flat background: the fallback rectangle, and the status bar says why.
    g.click(qtbot, canvas, g.at(canvas, 40, 40))
    g.click(qtbot, canvas, g.at(canvas, 120, 60))
    assert len(win.model.annotations(win.image_id)) == 2
    assert "no metal edge" in win.statusBar().currentMessage()
    qtbot.keyClick(win, K.Key_S)
    assert canvas.tool() == "select" and not action.isChecked()
    win.close()
