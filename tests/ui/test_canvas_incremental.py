"""Incremental overlay updates (issue 4, frame times): a review action (select, accept, reject,
type change, delete, add, vertex drag, undo) repaints only the changed areas of the overlay's
cached image on the GUI thread, and the image then equals, pixel for pixel, a full rendering
of the same shapes under the same plan. Large changes and changes beyond the planned bounds
render the image whole; a rendering in flight during an edit is patched when it lands."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, QRect, Qt
from PySide6.QtGui import QImage

from orthogui.core.annotation import Annotation, Prediction, ReviewState
from orthogui.core.categories import DEFAULT_CATEGORIES
from orthogui.core.commands import AddAnnotations, RemoveAnnotations
from orthogui.core.geometry import Box, Polygon
from orthogui.core.history import History
from orthogui.core.project import ImageRecord, ProjectModel
from orthogui.core.review import set_category, set_shape, set_state
from orthogui.ui.canvas.cache import merged
from orthogui.ui.canvas.overlay import rasterize_shapes
from tests.ui import _gestures as g
from tests.ui._render import gate_worker
from tests.ui.conftest import synthetic_radiograph

POLYGON_CATEGORIES = [c.name for c in DEFAULT_CATEGORIES if c.shape.value == "polygon"]


def ellipse(cx: float, cy: float, a: float, b: float, n: int = 24) -> Polygon:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return Polygon(np.c_[cx + a * np.cos(t), cy + b * np.sin(t)])


class Dense:
    """A canvas over 36 overlapping findings in a 6x6 grid (polygons of every polygon
    category, some fracture boxes; model proposals dashed, human findings solid), so that the
    repainted areas cut through the fills and outlines of neighbours."""

    def __init__(self, qtbot) -> None:  # type: ignore[no-untyped-def]
        from orthogui.ui.canvas import CanvasView

        rg = synthetic_radiograph(seed=4)
        self.model = ProjectModel()
        self.model.put_image(ImageRecord("img", rg.path, width=rg.columns, height=rg.rows))
        rng = np.random.default_rng(7)
        anns = []
        for i in range(36):
            cx, cy = 55 + 80 * (i % 6) + rng.uniform(-8, 8), 55 + 80 * (i // 6)
            a, b = rng.uniform(30, 52, 2)
            if i % 5 == 4:
                shape: Polygon | Box = Box(cx - a, cy - b, cx + a, cy + b)
                category = "fracture"
            else:
                shape = ellipse(cx, cy, a, b)
                category = POLYGON_CATEGORIES[i % len(POLYGON_CATEGORIES)]
            if i % 2:
                anns.append(Annotation.human(image_id="img", category=category, shape=shape))
            else:
                pred = Prediction(category, float(rng.uniform(0.3, 1.0)), shape, "fake", "1")
                anns.append(Annotation.from_prediction(pred, image_id="img"))
        self.model.load([], anns)
        self.ids = [a.id for a in anns]
        self.history = History(self.model)
        self.view = view = CanvasView()
        qtbot.addWidget(view)
        view.resize(700, 560)
        view.attach(self.model, self.history, user="tester")
        view.set_image(rg)
        view.show_annotations_of("img")
        view.show()
        qtbot.waitExposed(view)
        view.fit()
        view.setFocus()
        self.qtbot = qtbot

    @property
    def cache(self):  # type: ignore[no-untyped-def]
        return self.view.scene_.overlay.cache

    def ann(self, i: int) -> Annotation:
        return self.model.annotation(self.ids[i])

    def frame(self) -> QImage:
        """Paint a frame (the changed areas are repainted) and let background renders land."""
        self.view.viewport().repaint()
        self.qtbot.waitUntil(lambda: not self.view.rendering(), timeout=5000)
        self.view.viewport().repaint()
        return self.view.viewport().grab().toImage()

    def assert_equals_full_render(self) -> None:
        """The cached image equals a full rendering of the current shapes under its plan."""
        cache = self.cache
        plan, image = cache.plan(), cache.image()
        assert plan is not None and image is not None and not cache.dirty()
        full = rasterize_shapes(self.view.scene_.overlay.snaps(), plan).image
        got, want = pixels(image), pixels(full)
        assert got.shape == want.shape
        diff = np.argwhere(got != want)
        assert len(diff) == 0, f"{len(diff)} pixels differ, first at (row, col) {diff[:5]}"
        assert want.any()  # the shapes are there


def pixels(image: QImage) -> np.ndarray:
    """A copy of a 32-bit image's pixels, (rows, columns) uint32."""
    img = image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
    rows = [
        np.frombuffer(img.constScanLine(y), np.uint32, img.width()).copy()
        for y in range(img.height())
    ]
    return np.array(rows)


@pytest.fixture
def dense(qtbot) -> Dense:  # type: ignore[no-untyped-def]
    return Dense(qtbot)


def vertex_pos(d: Dense, i: int, k: int) -> QPoint:
    x, y = d.ann(i).shape.points[k]  # type: ignore[union-attr]
    return g.at(d.view, float(x), float(y))


@pytest.mark.parametrize("background", [True, False], ids=["worker", "gui-thread"])
@pytest.mark.parametrize("zoom", [1.0, 1.8], ids=["fit", "zoomed"])
def test_review_actions_repaint_only_what_changed_and_equal_a_full_render(
    dense: Dense, qtbot, background: bool, zoom: float
) -> None:
    view, history = dense.view, dense.history
    view.set_background_rendering(background)
    if zoom != 1.0:  # the cache covers the view plus a margin, at a fractional offset
        view.zoom_at(zoom, g.at(view, 230.3, 250.7))
        view.scene_.set_zooming(False)
    dense.frame()
    dense.assert_equals_full_render()
    renders = dense.cache.renders
    seen = view.mapToScene(view.viewport().rect()).boundingRect().adjusted(30, 30, -30, -30)
    polys = [
        i
        for i in range(36)
        if isinstance(dense.ann(i).shape, Polygon) and seen.contains(QPointF(*center(dense, i)))
    ]
    assert len(polys) >= 4

    def check(what: str) -> None:
        patches, px = dense.cache.patches, dense.cache.patched_px
        dense.frame()
        assert dense.cache.renders == renders, f"{what}: the whole image was rendered"
        assert dense.cache.patches > patches, f"{what}: nothing was repainted"
        image = dense.cache.image()
        assert dense.cache.patched_px - px < 0.25 * image.width() * image.height(), what
        dense.assert_equals_full_render()

    # Select with a real click, then "next finding" (what the window's N key does).
    g.click(qtbot, view, g.at(view, *center(dense, polys[0])))
    assert len(view.selected_ids()) == 1
    a = dense.ids.index(view.selected_ids()[0])
    check("click-select")
    others = [i for i in polys if i != a]
    e = [i for i in others if dense.ann(i).review.state == ReviewState.PROPOSED][-1]
    b, c = [i for i in others if i != e][:2]
    view.select([dense.ids[b]])
    check("next finding")
    # Accept the selection and go on (the window's A key), then accept an idle proposal.
    history.push(set_state([dense.ann(b)], ReviewState.ACCEPTED, user="tester"))
    view.select([dense.ids[c]])
    check("accept and next")
    history.push(set_state([dense.ann(e)], ReviewState.ACCEPTED, user="tester"))
    check("accept an idle finding")
    # Reject: hidden while rejected findings are hidden, dotted when they are shown.
    history.push(set_state([dense.ann(a)], ReviewState.REJECTED, user="tester"))
    check("reject (hidden)")
    view.set_show_rejected(True)
    check("show rejected")
    # A type change, a delete, an undo of it (the item comes back last in the scene).
    history.push(set_category([dense.ann(e)], POLYGON_CATEGORIES[-1], user="tester"))
    check("type change")
    history.push(RemoveAnnotations((dense.ann(b),)))
    check("delete")
    history.undo()
    check("undo delete")
    # A vertex drag with the mouse (the item draws itself while selected), then Esc.
    view.select([dense.ids[c]])
    dense.frame()
    before = dense.ann(c).shape
    start = vertex_pos(dense, c, 3)
    g.drag(qtbot, view, [start, start + QPoint(9, -7)])
    assert dense.ann(c).shape != before
    qtbot.keyClick(view, Qt.Key.Key_Escape)  # the vertex selection goes
    qtbot.keyClick(view, Qt.Key.Key_Escape)  # then the selection
    assert view.selected_ids() == []
    check("vertex drag, then deselect")
    # A shape moved by another writer while idle, a new finding, undo and redo.
    history.push(set_shape(dense.ann(e), dense.ann(e).shape.translated(6, 4), user="other"))
    check("idle move")
    x, y = center(dense, a)
    new = Annotation.human(
        image_id="img", category=POLYGON_CATEGORIES[0], shape=ellipse(x + 11, y - 9, 20, 14)
    )
    history.push(AddAnnotations((new,)))
    check("add")
    history.undo()
    check("undo add")
    history.redo()
    check("redo add")


def center(d: Dense, i: int) -> tuple[float, float]:
    x, y, w, h = d.ann(i).shape.bbox().xywh()
    return x + w / 2, y + h / 2


def test_accept_all_renders_the_whole_image_once(dense: Dense) -> None:
    dense.frame()
    renders, patches = dense.cache.renders, dense.cache.patches
    proposed = [a for a in dense.model.annotations("img") if a.review.state == ReviewState.PROPOSED]
    assert len(proposed) == 18
    dense.history.push(set_state(proposed, ReviewState.ACCEPTED, user="tester"))
    dense.frame()
    # Half the findings changed: one full rendering, no repaint of 18 areas.
    assert dense.cache.renders == renders + 1 and dense.cache.patches == patches
    dense.assert_equals_full_render()


def test_a_change_beyond_the_planned_bounds_renders_the_whole_image(dense: Dense) -> None:
    dense.frame()
    renders = dense.cache.renders
    corner = dense.ann(35)  # bottom right of the grid
    moved = corner.shape.translated(0, 70)  # below every shape: outside what was planned
    dense.history.push(set_shape(corner, moved, user="other"))
    dense.frame()
    assert dense.cache.renders == renders + 1
    dense.assert_equals_full_render()
    x, y, w, h = moved.bbox().xywh()
    assert dense.cache.plan().rect.contains(x + w / 2, y + h)  # type: ignore[union-attr]


def start_zoom_render(dense: Dense, started: threading.Event) -> None:
    """Zoom and pause: the overlay at the new scale is rendered on the (held) worker."""
    view = dense.view
    view.zoom_at(1.25, g.at(view, 250, 250))
    view.scene_.set_zooming(False)
    view.viewport().repaint()
    dense.qtbot.waitUntil(started.is_set, timeout=3000)
    assert dense.cache.pending()


def test_a_render_in_flight_during_edits_is_patched_when_it_lands(
    dense: Dense, monkeypatch
) -> None:
    dense.frame()
    gate, started, finished = gate_worker(monkeypatch)
    start_zoom_render(dense, started)
    renders, old_plan = dense.cache.renders, dense.cache.plan()
    view = dense.view
    view.select([dense.ids[14]])
    dense.history.push(set_state([dense.ann(20)], ReviewState.ACCEPTED, user="tester"))
    view.viewport().repaint()
    # The edits show at once: the image shown (at the old scale) is repainted in place.
    assert dense.cache.plan() is old_plan and dense.cache.renders == renders
    dense.assert_equals_full_render()
    assert dense.cache.pending()
    patches = dense.cache.patches
    gate.set()
    dense.qtbot.waitUntil(finished.is_set, timeout=5000)
    dense.frame()
    # The rendering made from the shapes before the edits lands, gets their areas repainted,
    # and equals a full rendering of the shapes now.
    assert dense.cache.renders == renders + 1 and dense.cache.patches > patches
    assert dense.cache.plan().scale == pytest.approx(view.scale_factor())  # type: ignore[union-attr]
    dense.assert_equals_full_render()


def test_a_render_in_flight_is_dropped_when_an_edit_reaches_beyond_its_bounds(
    dense: Dense, monkeypatch
) -> None:
    dense.frame()
    gate, started, finished = gate_worker(monkeypatch)
    start_zoom_render(dense, started)
    renders = dense.cache.renders
    corner = dense.ann(35)
    dense.history.push(set_shape(corner, corner.shape.translated(0, 70), user="other"))
    dense.view.viewport().repaint()  # the next frame renders the whole image at once
    assert dense.cache.renders == renders + 1
    assert not dense.cache.pending()  # dropped: its image would miss the moved shape
    dense.assert_equals_full_render()
    gate.set()
    dense.qtbot.waitUntil(finished.is_set, timeout=5000)
    dense.qtbot.wait(50)
    dense.view.viewport().repaint()
    assert dense.cache.renders == renders + 1  # the stale result never landed
    dense.assert_equals_full_render()


def test_incremental_and_full_rendering_show_the_same_frames(dense: Dense) -> None:
    """The same review actions with ``incremental`` off (every change renders the whole
    image, as before) give the same screen."""
    frames = []
    for incremental in (True, False):
        d = dense if incremental else Dense(dense.qtbot)
        d.cache.incremental = incremental
        d.frame()
        shots = []
        renders = d.cache.renders
        for step in range(3):
            d.view.select([d.ids[7 + step]])
            shots.append(d.frame())
            d.history.push(set_state([d.ann(20 + 2 * step)], ReviewState.ACCEPTED, user="tester"))
            shots.append(d.frame())
        assert d.cache.renders == renders + (0 if incremental else 6)
        frames.append(shots)
    assert frames[0] == frames[1]


def test_merged_joins_touching_rectangles() -> None:
    rects = [QRect(0, 0, 10, 10), QRect(30, 0, 5, 5), QRect(10, 0, 5, 5), QRect(100, 100, 1, 1)]
    out = merged(rects)
    assert sorted((r.x(), r.y(), r.width(), r.height()) for r in out) == [
        (0, 0, 15, 10),
        (30, 0, 5, 5),
        (100, 100, 1, 1),
    ]
    chain = merged([QRect(0, 0, 4, 4), QRect(20, 0, 4, 4), QRect(3, 0, 18, 2)])
    assert [(r.x(), r.width()) for r in chain] == [(0, 24)]
