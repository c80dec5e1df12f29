"""ShapesOverlay: one item that draws every idle annotation (not selected, no gesture in flight).

Two hundred dense polygons cost 10-15 ms to rasterise; drawn as separate items they were
re-rasterised (each into its own device cache) on every zoom step. The overlay renders them
together into one ``DeviceCache`` pixmap: outlines grouped into one path per style, vertices
thinned to about one per screen pixel. Pans and repaints blit that pixmap; a zoom shows it
scaled until the zoom pauses. Labels are blitted on top each frame from small pre-rendered
images, so they keep their screen size during a zoom.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QPainter, QPainterPath
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from orthogui.ui.canvas.cache import STALE_RATIO, DeviceCache, plain_scale
from orthogui.ui.canvas.items import AnnotationItem, LabelItem, lod_level

OVERLAY_Z = -1.0  # above the image (-10), below every selected item (1) and the tools (100)


class ShapesOverlay(QGraphicsItem):
    """Draws the delegated annotation items returned by ``members`` (see ``AnnotationItem``)."""

    def __init__(self, members: Callable[[], Iterable[AnnotationItem]]) -> None:
        super().__init__()
        self._members = members
        self.setZValue(OVERLAY_Z)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)
        self.cache = DeviceCache(self._render, opaque=False)
        self.zooming = False  # set by the scene during an interactive zoom
        self._px = 1.0  # scene units per screen pixel (labels have a constant screen size)
        self._members_dirty = True
        self._drawn: list[AnnotationItem] = []
        self._label_rows: list[tuple[float, float, float, float, float, float, LabelItem]] | None
        self._label_rows = None
        self._shapes_rect = QRectF()
        self._label_size = (0.0, 0.0)  # the widest and tallest label, device pixels

    # -- state -------------------------------------------------------------------------------------
    def invalidate(self) -> None:
        """A member changed, appeared or went: render again on the next paint."""
        self.cache.invalidate()
        if not self._members_dirty:
            self.prepareGeometryChange()
            self._members_dirty = True
        self.update()

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
        self._drawn = [i for i in self._members() if i.delegated and i.isVisible()]
        self._label_rows = None
        rect, lw, lh = QRectF(), 0.0, 0.0
        for item in self._drawn:
            rect = rect.united(item.shape_rect())
            lab = item.label.boundingRect()
            lw, lh = max(lw, lab.right()), max(lh, -lab.top())
        self._shapes_rect, self._label_size = rect, (lw, lh)
        self._members_dirty = False

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
            reach = self._shapes_rect.adjusted(-pad, -pad, pad, pad)
            if not self.cache.paint(painter, shapes, reach, widget, zooming=self.zooming):
                painter.save()
                painter.setClipRect(shapes)
                self._render(painter, shapes, plain_scale(painter.worldTransform()) or 1.0)
                painter.restore()
        self._paint_labels(painter, area)

    def _render(self, painter: QPainter, area: QRectF, scale: float) -> None:
        """All idle shapes touching ``area``: fills one by one, outlines one path per style."""
        level = lod_level(scale)
        items = [i for i in self.drawn() if i.shape_rect().intersects(area)]
        styles: dict[tuple[int, int, float, int], tuple[AnnotationItem, QPainterPath]] = {}
        # Fills need no antialiasing (the outline covers their edge; 3x faster without). One
        # polygon at a time: twice as fast as one path, and overlaps blend as items did.
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(Qt.PenStyle.NoPen)
        brush_key = None
        for item in items:
            poly = item.outline(level)
            key = item.style_key
            if key[3] >> 24:  # the fill is not transparent
                if key != brush_key:
                    painter.setBrush(item.brush())
                    brush_key = key
                painter.drawPolygon(poly)
            entry = styles.get(key)
            if entry is None:
                entry = styles[key] = (item, QPainterPath())
            entry[1].addPolygon(poly)
            entry[1].closeSubpath()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for first, path in styles.values():
            painter.setPen(first.pen())
            painter.drawPath(path)

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

    def _labels(self) -> list[tuple[float, float, float, float, float, float, LabelItem]]:
        """Per drawn item: its shape's top-left corner and its label's box (device pixels)."""
        self._refresh()
        if self._label_rows is None:
            rows = []
            for item in self._drawn:
                r, lab = item.shape_rect(), item.label.boundingRect()
                rows.append((r.x(), r.y(), lab.x(), lab.y(), lab.width(), lab.height(), item.label))
            self._label_rows = rows
        return self._label_rows
