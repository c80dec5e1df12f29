"""The canvas's fast paths: the shapes overlay and its cache, coalesced window/level previews,
region rendering, polygon conversion and level of detail. Each fast path must look right."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QImage, QMouseEvent
from PySide6.QtWidgets import QApplication, QGraphicsItem

from orthogui.core.radiograph import Radiograph
from orthogui.io.display import render, render_region
from orthogui.ui.canvas.items import decimate, lod_level, qpolygon
from tests.ui import _gestures as g

RIGHT = Qt.MouseButton.RightButton
NO_CONTENTS = QGraphicsItem.GraphicsItemFlag.ItemHasNoContents


def grab(canvas) -> QImage:  # type: ignore[no-untyped-def]
    canvas.viewport().repaint()
    return canvas.viewport().grab().toImage()


def coloured(img: QImage, pos: QPoint, test, r: int = 1, rx: int | None = None) -> bool:  # type: ignore[no-untyped-def]
    """Whether a pixel within ``r`` (``rx`` across) of ``pos`` passes ``test(red, green, blue)``."""
    rx = r if rx is None else rx
    for dy in range(-r, r + 1):
        for dx in range(-rx, rx + 1):
            c = img.pixelColor(pos.x() + dx, pos.y() + dy)
            if test(c.red(), c.green(), c.blue()):
                return True
    return False


def along(canvas, a: tuple[float, float], b: tuple[float, float], n: int = 60) -> list[QPoint]:  # type: ignore[no-untyped-def]
    ts = np.linspace(0.08, 0.92, n)
    return [g.at(canvas, a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])) for t in ts]


def blue(r: int, gr: int, b: int) -> bool:  # the locking screw, #4363d8
    return b - r > 70 and b > 120


def cyan(r: int, gr: int, b: int) -> bool:  # the vertebral compression fracture, #42d4f4
    return b - r > 80 and gr > 120


# -- the overlay ----------------------------------------------------------------------------------
def test_idle_items_are_drawn_by_the_overlay_selected_ones_by_themselves(canvas, project) -> None:
    scene = canvas.scene_
    items = scene.items_by_id
    screw, vcf, rejected = (items[project.ids[k]] for k in ("screw", "vcf", "rejected"))
    assert screw.delegated and screw.flags() & NO_CONTENTS and not screw.label.isVisible()
    drawn = scene.overlay.drawn()
    assert screw in drawn and vcf in drawn and rejected not in drawn  # rejected: hidden
    canvas.select([screw.ann.id])
    assert not screw.delegated and not screw.flags() & NO_CONTENTS and screw.label.isVisible()
    assert screw not in scene.overlay.drawn() and vcf in scene.overlay.drawn()
    canvas.set_show_rejected(True)
    assert rejected in scene.overlay.drawn()
    canvas.select([])
    assert screw in scene.overlay.drawn()


def test_overlay_draws_dashed_proposals_solid_human_findings_and_labels(canvas, project) -> None:
    img = grab(canvas)
    # The model's proposed screw is dashed: its top edge is partly drawn, partly not.
    top = [coloured(img, p, blue, rx=0) for p in along(canvas, (160, 200), (240, 200), 90)]
    assert 0.3 < np.mean(top) < 0.95, np.mean(top)
    # The human vertebral fracture is solid.
    edge = [coloured(img, p, cyan) for p in along(canvas, (300, 300), (400, 310))]
    assert np.mean(edge) > 0.95, np.mean(edge)
    # Its label sits above the shape's top-left corner: dark box with light text.
    item = canvas.scene_.items_by_id[project.ids["vcf"]]
    corner = g.at(canvas, item.shape_rect().x(), item.shape_rect().y())
    box = item.label.boundingRect().translated(corner.x(), corner.y()).toRect()
    text = [
        coloured(img, QPoint(x, y), cyan, 0)
        for x in range(box.left() + 2, box.right() - 1)
        for y in range(box.top() + 2, box.bottom() - 1)
    ]
    assert any(text) and not all(text)
    # Selected, the screw draws itself (and its handles) the same colour.
    canvas.select([project.ids["screw"]])
    img = grab(canvas)
    assert np.mean([coloured(img, p, blue) for p in along(canvas, (160, 200), (240, 200))]) > 0.3


def test_overlay_cache_blits_pans_and_rerenders_only_when_needed(canvas, project, qtbot) -> None:
    cache = canvas.scene_.overlay.cache
    image_cache = canvas.scene_.image_item.cache
    grab(canvas)
    qtbot.waitUntil(lambda: not canvas.rendering(), timeout=3000)  # the image renders aside
    grab(canvas)
    n, m = cache.renders, image_cache.renders
    assert n >= 1 and m >= 1
    grab(canvas)
    c = canvas.viewport().rect().center()
    g.drag(qtbot, canvas, [c, c + QPoint(40, 25)], button=Qt.MouseButton.MiddleButton)
    grab(canvas)
    assert (cache.renders, image_cache.renders) == (n, m)  # repaint and pan: blits only
    patches = cache.patches
    canvas.select([project.ids["vcf"]])
    grab(canvas)
    # The overlay lost a shape: only its area of the pixmap is repainted.
    assert cache.renders == n and cache.patches == patches + 1 and image_cache.renders == m
    canvas.zoom_at(1.3)
    grab(canvas)
    assert cache.renders == n  # during a zoom the last pixmap is shown scaled
    assert canvas.scene_.zooming
    qtbot.waitUntil(lambda: not canvas.scene_.zooming, timeout=3000)
    grab(canvas)  # the zoom paused: both render at the new scale on the worker
    qtbot.waitUntil(lambda: not canvas.rendering(), timeout=3000)
    grab(canvas)
    assert cache.renders == n + 1 and image_cache.renders == m + 1
    img = grab(canvas)  # and it still looks right at the new scale
    edge = [coloured(img, p, cyan) for p in along(canvas, (310, 390), (300, 300))]
    assert np.mean(edge) > 0.95


def test_overlay_follows_model_edits(canvas, project) -> None:
    from orthogui.core.review import set_shape

    cache = canvas.scene_.overlay.cache
    grab(canvas)
    n, patches = cache.renders, cache.patches
    moved = project.ann("vcf").shape.translated(40, 0)
    project.history.push(set_shape(project.ann("vcf"), moved, user="elsewhere"))
    img = grab(canvas)
    assert cache.renders == n and cache.patches == patches + 1  # its old and new area only
    assert np.mean([coloured(img, p, cyan) for p in along(canvas, (340, 300), (440, 310))]) > 0.95
    assert not coloured(img, g.at(canvas, 305, 345), cyan)  # the old left edge is gone


# -- window/level ---------------------------------------------------------------------------------
def right_drag_moves(canvas, points: list[QPoint]) -> None:  # type: ignore[no-untyped-def]
    vp = canvas.viewport()
    for pos in points:
        ev = QMouseEvent(
            QEvent.Type.MouseMove,
            QPointF(pos),
            QPointF(vp.mapToGlobal(pos)),
            Qt.MouseButton.NoButton,
            RIGHT,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(vp, ev)


def test_window_drag_renders_one_decimated_preview_per_pass(canvas, project, qtbot) -> None:
    canvas.zoom_at(0.3)  # the 512 px image on about 180 screen pixels
    canvas.scene_.set_zooming(False)
    before = canvas.scene_.image_item.gray().copy()
    c = canvas.viewport().rect().center()
    seen: list[tuple[float, float]] = []
    canvas.windowChanged.connect(lambda c_, w_: seen.append((c_, w_)))
    qtbot.mousePress(canvas.viewport(), RIGHT, Qt.KeyboardModifier.NoModifier, c)
    right_drag_moves(canvas, [c + QPoint(-10 * k, 6 * k) for k in range(1, 6)])
    assert len(seen) == 5 and canvas.preview_renders == 0  # nothing rendered yet
    qtbot.waitUntil(lambda: canvas.preview_renders == 1, timeout=2000)
    qtbot.wait(30)
    assert canvas.preview_renders == 1  # five moves, one render
    info = canvas.scene_.image_item.preview_info()
    assert info is not None
    target, w, h = info
    step = int(1 / canvas.scale_factor())
    assert step >= 2 and target == QRectF(0, 0, 512, 512)
    assert (w, h) == (-(-512 // step), -(-512 // step))  # decimated to screen resolution
    assert np.array_equal(canvas.scene_.image_item.gray(), before)  # the full image waits
    qtbot.mouseRelease(canvas.viewport(), RIGHT, Qt.KeyboardModifier.NoModifier, c)
    qtbot.waitUntil(lambda: not canvas.scene_.image_item.has_preview(), timeout=3000)
    full = render(project.radiograph, canvas.window_level())
    assert np.array_equal(canvas.scene_.image_item.gray(), full)
    assert not np.array_equal(full, before)


def test_window_drag_zoomed_in_renders_only_the_visible_part(canvas, project, qtbot) -> None:
    canvas.zoom_at(4.0, g.at(canvas, 200, 240))
    canvas.scene_.set_zooming(False)
    seen = canvas.mapToScene(canvas.viewport().rect()).boundingRect()
    c = canvas.viewport().rect().center()
    qtbot.mousePress(canvas.viewport(), RIGHT, Qt.KeyboardModifier.NoModifier, c)
    right_drag_moves(canvas, [c + QPoint(-30, 20)])
    qtbot.waitUntil(lambda: canvas.preview_renders == 1, timeout=2000)
    info = canvas.scene_.image_item.preview_info()
    assert info is not None
    target, w, h = info
    assert seen.adjusted(-2, -2, 2, 2).contains(target) and target.contains(
        seen.adjusted(1, 1, -1, -1)
    )
    assert (w, h) == (int(target.width()), int(target.height()))  # step 1
    assert w * h < 512 * 512 / 4
    # The preview shows the new window: its pixels equal the full render's.
    img = grab(canvas)
    full = render(project.radiograph, canvas.window_level())
    pos = g.at(canvas, 130.5, 230.5)  # outside every shape
    assert abs(img.pixelColor(pos).red() - int(full[230, 130])) <= 2
    qtbot.mouseRelease(canvas.viewport(), RIGHT, Qt.KeyboardModifier.NoModifier, c)
    qtbot.waitUntil(lambda: not canvas.scene_.image_item.has_preview(), timeout=3000)
    assert np.array_equal(canvas.scene_.image_item.gray(), full)


# -- pure helpers ---------------------------------------------------------------------------------
def _rg(stored: np.ndarray) -> Radiograph:
    return Radiograph(
        path="mem.png", format="png", stored=stored, bits_stored=16, rescale_slope=1.5
    )


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.int32, np.float32])
def test_render_region_equals_a_slice_of_render(dtype: type) -> None:
    rng = np.random.default_rng(3)
    stored = rng.uniform(0, 200 if dtype == np.uint8 else 3000, (61, 47)).astype(dtype)
    rg = _rg(stored)
    window = (1500.0, 2000.0)
    full = render(rg, window)
    for rows, cols, step in [((0, 61), (0, 47), 1), ((5, 40), (3, 44), 3), ((-5, 99), (10, 11), 2)]:
        got = render_region(rg, window, rows, cols, step)
        r0, r1 = max(rows[0], 0), min(rows[1], 61)
        np.testing.assert_array_equal(got, full[r0:r1:step, cols[0] : cols[1] : step])


def test_render_region_refuses_bad_input() -> None:
    rg = _rg(np.zeros((10, 10), np.uint16))
    with pytest.raises(ValueError, match=r"mem\.png: render step must be 1 or more"):
        render_region(rg, None, (0, 10), (0, 10), 0)
    with pytest.raises(ValueError, match=r"mem\.png: empty render region"):
        render_region(rg, None, (12, 20), (0, 10))


def test_qpolygon_matches_the_points() -> None:
    pts = np.random.default_rng(0).uniform(-5000, 5000, (1000, 2))
    poly = qpolygon(pts)
    assert poly.size() == 1000
    assert all((poly.at(i).x(), poly.at(i).y()) == (pts[i, 0], pts[i, 1]) for i in (0, 1, 500, 999))
    assert qpolygon(np.zeros((0, 2))).size() == 0
    assert qpolygon([(1.0, 2.0), (3.0, 4.0), (5.0, 0.5)]).at(2) == QPointF(5.0, 0.5)


def test_decimate_keeps_about_one_vertex_per_step() -> None:
    t = np.linspace(0, 2 * np.pi, 1000, endpoint=False)
    ring = np.c_[100 * np.cos(t), 100 * np.sin(t)]  # perimeter 628, vertices 0.63 apart
    assert len(decimate(ring, 0.1)) == 1000
    kept = decimate(ring, 4.0)
    assert 150 <= len(kept) <= 160  # about 628 / 4
    assert np.array_equal(kept[0], ring[0]) and {tuple(p) for p in kept} <= {tuple(p) for p in ring}
    tiny = ring * 0.001
    assert len(decimate(tiny, 4.0)) == 1000  # would fall below 3 vertices: kept whole
    assert lod_level(1.0) == 0 and lod_level(0.25) == 2 and lod_level(4.0) == -2
