"""ShapesOverlay: one item that draws every idle annotation (not selected, no gesture in flight).

Two hundred dense polygons cost 10-15 ms to rasterise; drawn as separate items they were
re-rasterised (each into its own device cache) on every zoom step. The overlay renders them
together into one ``DeviceCache`` image: fills one polygon at a time without antialiasing,
outlines grouped by style, vertices thinned to about one per screen pixel. Pans and repaints
blit that image; a zoom shows it scaled until the zoom pauses, and the image at the new scale
is rendered on the canvas's worker thread from ``ShapeSnap`` copies of the items (never the
live items), while the scaled one stays on screen. Labels are blitted on top each frame from
small pre-rendered images, so they keep their screen size during a zoom.

Edits are incremental: when members change (geometry, style, selection, visibility, added or
removed), the overlay compares its new copies with the last ones and marks only the old and new
extents of the changed items dirty in the cache, which repaints those areas of its image on the
GUI thread before the next frame (see ``DeviceCache.mark_dirty``); a large change renders the
image whole. Shapes are drawn in an order that does not depend on which of them a pass draws
(fills in member order, then outlines by style in a fixed style order), so a repaint of an
area gives the pixels a full rendering gives.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from functools import partial

import numpy as np
from numpy.typing import NDArray
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from orthogui.core.geometry import Box, Shape
from orthogui.ui.canvas.cache import (
    STALE_RATIO,
    DeviceCache,
    Plan,
    Raster,
    Rasterize,
    painted,
    plain_scale,
)
from orthogui.ui.canvas.items import AnnotationItem, LabelItem, decimate, lod_level, qpolygon
from orthogui.ui.canvas.worker import yield_gil

OVERLAY_Z = -1.0  # above the image (-10), below every selected item (1) and the tools (100)
# How far (device pixels) a shape's drawing may reach past its bounding box: half the 1 px
# cosmetic outline, the antialiased pixel beside it and the square cap's half pixel, rounded up.
PEN_REACH_PX = 2.0
YIELD_EVERY = 16  # polygons drawn on the worker between two chances for the GUI to take the GIL

StyleKey = tuple[int, int, float, int]
# Per drawn item: its shape's top-left corner (scene) and its label's box (device pixels).
LabelRow = tuple[float, float, float, float, float, float, LabelItem]


class ShapeSnap:
    """What the overlay draws of one item, copied on the GUI thread: the model's (immutable)
    shape, pen, brush and bounds. Its outlines per level of detail are made on first use, on
    whichever thread draws it."""

    __slots__ = ("_lod", "box", "brush", "fill", "key", "pen", "rect", "shape")

    def __init__(self, item: AnnotationItem) -> None:
        self.shape: Shape = item.shape_value
        self.key: StyleKey = item.style_key
        self.pen = QPen(item.pen())
        self.brush = QBrush(item.brush())
        self.fill = bool(self.key[3] >> 24)  # the fill is not transparent
        r = item.shape_rect()
        self.rect = QRectF(r)
        self.box = (r.left(), r.top(), r.right(), r.bottom())
        self._lod: dict[int, QPolygonF] = {}

    def current(self, item: AnnotationItem) -> bool:
        """Whether this copy still shows ``item``."""
        return self.shape is item.shape_value and self.key == item.style_key

    def outline(self, level: int) -> QPolygonF:
        """The outline with vertices about ``2**level`` scene units apart (as the item's)."""
        poly = self._lod.get(level)
        if poly is None:
            points = _outline_points(self.shape)
            if level > -2:
                points = decimate(points, 2.0**level)
            poly = self._lod[level] = qpolygon(points)  # a race only computes it twice
        return poly


def _outline_points(shape: Shape) -> NDArray[np.float64]:
    if isinstance(shape, Box):
        b = shape
        return np.array([(b.x0, b.y0), (b.x1, b.y0), (b.x1, b.y1), (b.x0, b.y1)], dtype=float)
    return np.asarray(shape.points, dtype=np.float64)


def _united(boxes: Iterable[tuple[float, float, float, float]]) -> QRectF:
    """The bounding rectangle of ``(left, top, right, bottom)`` boxes (empty for none)."""
    b = list(boxes)
    if not b:
        return QRectF()
    x0, y0 = min(t[0] for t in b), min(t[1] for t in b)
    return QRectF(x0, y0, max(t[2] for t in b) - x0, max(t[3] for t in b) - y0)


def draw_shapes(
    painter: QPainter,
    snaps: Sequence[ShapeSnap],
    area: QRectF,
    scale: float,
    ratio: float = 1.0,
) -> None:
    """The shapes whose drawing may touch ``area`` (scene): fills one by one in the order of
    ``snaps``, then outlines by style, styles in a fixed order (sorted by their key) and the
    shapes of one style in the order of ``snaps``. For every pixel the shapes covering it are
    drawn in the same order whatever the area, so a pass over part of an image (the overlay's
    incremental repaints) gives the pixels a pass over all of it gives.

    ``ratio`` is the device pixel ratio of an image rendered at device pixels: the outlines'
    cosmetic pens widen by it, so that they keep their on-screen width on a HiDPI screen and
    are drawn with its full sharpness. On a worker thread it lets the GUI thread take the GIL
    every ``YIELD_EVERY`` polygons.
    """
    level = lod_level(scale)
    reach = PEN_REACH_PX * ratio / scale if scale > 0 else 0.0
    x0, y0 = area.left() - reach, area.top() - reach
    x1, y1 = area.right() + reach, area.bottom() + reach
    chosen = [
        sn
        for sn in snaps
        if sn.box[0] <= x1 and sn.box[2] >= x0 and sn.box[1] <= y1 and sn.box[3] >= y0
    ]
    worker = threading.current_thread() is not threading.main_thread()
    # Fills need no antialiasing (the outline covers their edge; 3x faster without). One
    # polygon at a time: twice as fast as one path, and overlaps blend as items did.
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    painter.setPen(Qt.PenStyle.NoPen)
    brush_key = None
    groups: dict[StyleKey, list[ShapeSnap]] = {}
    for i, sn in enumerate(chosen):
        if sn.fill:
            if sn.key != brush_key:
                painter.setBrush(sn.brush)
                brush_key = sn.key
            painter.drawPolygon(sn.outline(level))
        groups.setdefault(sn.key, []).append(sn)
        if worker and i % YIELD_EVERY == YIELD_EVERY - 1:
            yield_gil()
    # Outlines one polygon at a time (each a short Qt call, as fast as one path per style).
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    i = 0
    for _, group in sorted(groups.items()):
        pen = group[0].pen
        if ratio != 1.0:
            pen = QPen(pen)
            pen.setWidthF(pen.widthF() * ratio)
        painter.setPen(pen)
        for sn in group:
            painter.drawPolygon(sn.outline(level))
            i += 1
            if worker and i % YIELD_EVERY == 0:
                yield_gil()


def rasterize_shapes(snaps: tuple[ShapeSnap, ...], plan: Plan) -> Raster:
    """The shapes under ``plan`` on a transparent image (safe on any thread)."""
    area = plan.rect
    return painted(plan, lambda p: draw_shapes(p, snaps, area, plan.scale, plan.ratio))


class ShapesOverlay(QGraphicsItem):
    """Draws the delegated annotation items returned by ``members`` (see ``AnnotationItem``)."""

    def __init__(self, members: Callable[[], Iterable[AnnotationItem]]) -> None:
        super().__init__()
        self._members = members
        self.setZValue(OVERLAY_Z)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)
        self.cache = DeviceCache(
            self._snapshot,
            channel="overlay",
            redraw=self._redraw,
            pad_px=PEN_REACH_PX,
            device_pixels=True,  # sharp outlines on a HiDPI screen, same on-screen width
        )
        self.cache.on_ready = self.update
        self.zooming = False  # set by the scene during an interactive zoom
        self._px = 1.0  # scene units per screen pixel (labels have a constant screen size)
        self._members_dirty = True
        self._drawn: list[AnnotationItem] = []
        self._snaps: tuple[ShapeSnap, ...] = ()
        self._snap_of: dict[int, ShapeSnap] = {}  # id(item) -> its last copy
        self._label_rows: list[LabelRow] = []
        # id(item) -> the copy and label text its row was made from, and the row.
        self._row_of: dict[int, tuple[ShapeSnap, str, LabelRow]] = {}
        self._shapes_rect = QRectF()  # the shapes drawn
        self._reach_rect = QRectF()  # every member's shape, drawn or not (the cache's bounds)
        self._label_size = (0.0, 0.0)  # the widest and tallest label, device pixels
        self.show_labels = True

    # -- state -------------------------------------------------------------------------------------
    def invalidate(self) -> None:
        """A member changed, appeared or went: the next paint repaints what changed (the
        members are compared with their last copies then, so a burst of changes costs one
        comparison and one repaint)."""
        if not self._members_dirty:
            self.prepareGeometryChange()
            self._members_dirty = True
        self.update()

    def rerender(self) -> None:
        """Render the whole image again on the next paint (tests, benchmarks)."""
        self.cache.invalidate()
        self.invalidate()

    def set_show_labels(self, show: bool) -> None:
        if show != self.show_labels:
            self.show_labels = show
            self.invalidate()  # the label rows (and the bounds they widen) are made anew

    def set_pixel_size(self, px: float) -> None:
        if px != self._px:
            self.prepareGeometryChange()  # labels keep their screen size: the bounds change
            self._px = px

    def drawn(self) -> list[AnnotationItem]:
        """The items the overlay draws now."""
        self._refresh()
        return self._drawn

    def _refresh(self) -> None:
        if not self._members_dirty:
            return
        members = list(self._members())
        self._drawn = [i for i in members if i.delegated and i.isVisible()]
        old, self._snap_of = self._snap_of, {}
        for item in self._drawn:
            snap = old.get(id(item))
            self._snap_of[id(item)] = (
                snap if snap is not None and snap.current(item) else ShapeSnap(item)
            )
        self._snaps = tuple(self._snap_of[id(i)] for i in self._drawn)
        self._label_rows = self._rows() if self.show_labels else []
        lw = max((row[2] + row[4] for row in self._label_rows), default=0.0)
        lh = max((-row[3] for row in self._label_rows), default=0.0)
        rect = _united(sn.box for sn in self._snaps)
        # The cache's bounds: every member, so that a selection change never moves them.
        drawn = set(self._snap_of)
        reach = QRectF(rect)
        for item in members:
            if id(item) not in drawn:
                reach = reach.united(item.shape_rect())
        self._shapes_rect, self._reach_rect, self._label_size = rect, reach, (lw, lh)
        self._members_dirty = False
        self._mark_changes(old, self._snap_of)

    def _mark_changes(self, old: dict[int, ShapeSnap], new: dict[int, ShapeSnap]) -> None:
        """Mark dirty in the cache the old and new extents of the copies that changed,
        appeared or went; render whole if the kept ones changed their drawing order."""
        dirty = [sn.rect for k, sn in old.items() if new.get(k) is not sn]
        dirty += [sn.rect for k, sn in new.items() if old.get(k) is not sn]
        if not dirty:
            return
        kept_before = [k for k, sn in old.items() if new.get(k) is sn]
        kept_after = [k for k, sn in new.items() if old.get(k) is sn]
        if kept_before != kept_after:
            self.cache.invalidate()  # never seen: items keep their order in the scene
        else:
            self.cache.mark_dirty(dirty)

    def boundingRect(self) -> QRectF:
        self._refresh()
        r = self._shapes_rect
        if r.isEmpty():
            return QRectF()
        # Labels sit above their shape's top-left corner at a constant screen size; the pad
        # covers antialiased outlines.
        px = self._px
        lw, lh = self._label_size
        pad = 2.0 * px
        return r.adjusted(-pad, -lh * px - pad, lw * px + pad, pad)

    # -- painting ----------------------------------------------------------------------------------
    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        area = option.exposedRect.intersected(self.boundingRect())  # type: ignore[attr-defined]
        if area.isEmpty():
            return
        pad = 2.0 * self._px
        shapes = self._shapes_rect.adjusted(-pad, -pad, pad, pad).intersected(area)
        if not shapes.isEmpty():
            # Outline room down to the smallest scale a zoom may reuse the pixmap at.
            pad *= STALE_RATIO
            reach = self._reach_rect.adjusted(-pad, -pad, pad, pad)
            if not self.cache.paint(painter, shapes, reach, widget, zooming=self.zooming):
                painter.save()
                painter.setClipRect(shapes)
                draw_shapes(
                    painter, self.snaps(), shapes, plain_scale(painter.worldTransform()) or 1.0
                )
                painter.restore()
        self._paint_labels(painter, area)

    def snaps(self) -> tuple[ShapeSnap, ...]:
        """Copies of the items the overlay draws now (what a background rendering reads)."""
        self._refresh()
        return self._snaps

    def _snapshot(self) -> Rasterize:
        return partial(rasterize_shapes, self.snaps())

    def _redraw(self, painter: QPainter, area: QRectF, scale: float, ratio: float) -> None:
        """The current shapes touching ``area`` (the cache's in-place repaints)."""
        draw_shapes(painter, self.snaps(), area, scale, ratio)

    def _paint_labels(self, painter: QPainter, area: QRectF) -> None:
        """The labels over ``area``, drawn every frame (not cached) so that they keep their
        screen size during a zoom; each is a pre-rendered image. Plain float arithmetic: this
        runs for every label on every frame."""
        t = painter.worldTransform()
        s, tx, ty, px = t.m11(), t.dx(), t.dy(), self._px
        ax0, ay0, ax1, ay1 = area.left(), area.top(), area.right(), area.bottom()
        painter.save()
        painter.resetTransform()
        for x0, y0, lx, ly, lw, lh, label in self._labels():
            sx, sy = x0 + lx * px, y0 + ly * px
            if sx > ax1 or sy > ay1 or sx + lw * px < ax0 or sy + lh * px < ay0:
                continue
            painter.drawImage(round(x0 * s + tx + lx), round(y0 * s + ty + ly), label.image())
        painter.restore()

    def _labels(self) -> list[LabelRow]:
        """The label rows of the drawn items (see ``LabelRow``)."""
        self._refresh()
        return self._label_rows

    def _rows(self) -> list[LabelRow]:
        """The label rows of the drawn items, those of unchanged items (same copy, same label
        and text) kept from the last refresh."""
        old, self._row_of = self._row_of, {}
        rows = []
        for item, snap in zip(self._drawn, self._snaps, strict=True):
            label = item.label
            text = label.text()
            kept = old.get(id(item))
            if kept is not None and kept[0] is snap and kept[1] == text and kept[2][6] is label:
                row = kept[2]
            else:
                r, lab = snap.rect, label.boundingRect()
                row = (r.x(), r.y(), lab.x(), lab.y(), lab.width(), lab.height(), label)
            self._row_of[id(item)] = (snap, text, row)
            rows.append(row)
        return rows
