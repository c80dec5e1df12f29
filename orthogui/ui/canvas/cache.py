"""A device-resolution cache for one big graphics item (the image, the shapes overlay).

The item's drawing is rendered once into a pixmap at the view's current scale; while only the
translation changes (pan, repaints, window/level of another item) that pixmap is blitted 1:1.
During an interactive zoom the last pixmap may be drawn scaled (within a factor of
``STALE_RATIO``), or a half-resolution stand-in rendered, until the zoom pauses; then the owner
calls ``update()`` and the next paint renders it afresh at full resolution.

Unlike ``QGraphicsItem.DeviceCoordinateCache`` this keeps one pixmap for a whole layer (not one
per item), can show a stale scale during a zoom, and covers a margin around the viewport so a
pan rarely re-renders.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPoint, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QTransform
from PySide6.QtWidgets import QWidget

# The whole item is cached when its device area is at most WHOLE_AREA viewports; else the
# viewport plus a margin of this fraction of its size on every side.
WHOLE_AREA = 2.0
MARGIN = 0.25
STALE_RATIO = 4.0  # a zoom may reuse a pixmap rendered at up to this factor off the scale

Render = Callable[[QPainter, QRectF, float], None]  # (painter in scene coords, area, scale)


def plain_scale(t: QTransform) -> float:
    """The scale of a transform made of one uniform scale and a translation, else 0."""
    if t.m12() != 0.0 or t.m21() != 0.0 or t.m11() <= 0.0 or abs(t.m11() - t.m22()) > 1e-12:
        return 0.0
    return float(t.m11())


class DeviceCache:
    """One pixmap of an item's drawing at one view scale.

    Parameters
    ----------
    render
        Draws the item into a painter that maps scene coordinates; receives the scene area
        to cover and the view scale (for level-of-detail choices).
    opaque
        The drawing covers its bounds fully (the image): the pixmap is RGB32 on black.
    """

    def __init__(self, render: Render, *, opaque: bool) -> None:
        self._render = render
        self._opaque = opaque
        self._pix: QImage | None = None  # a QImage: on the raster engine it blits as fast
        self._scale = 0.0  # the pixmap's scale
        self._view_scale = 0.0  # the view's scale when it was rendered
        self._rect = QRectF()  # the scene area the pixmap covers
        self.renders = 0  # how many times the pixmap was rendered (tests, benchmarks)

    def invalidate(self) -> None:
        self._pix = None

    def paint(
        self,
        painter: QPainter,
        area: QRectF,
        bounds: QRectF,
        widget: QWidget | None,
        *,
        zooming: bool,
        build_while_zooming: bool = True,
    ) -> bool:
        """Draw ``area`` (scene) of the item from the cache, rendering it first if needed.

        Returns False when the cache cannot serve this paint (a rotated or sheared view, a
        paint without a viewport such as ``QGraphicsScene.render``, or a zoom step with
        ``build_while_zooming=False``): the caller then draws directly.
        """
        s = plain_scale(painter.worldTransform())
        if s == 0.0 or widget is None:
            return False
        if area.isEmpty():
            return True
        pix = self._pix
        e = 0.25 / s  # a quarter device pixel: float noise must not force a re-render
        inner = (
            area.adjusted(e, e, -e, -e) if area.width() > 2 * e and area.height() > 2 * e else area
        )
        if pix is not None and self._rect.contains(inner):
            ratio = s / self._scale
            if abs(ratio - 1.0) < 1e-9:
                self._blit(painter, area)
                return True
            if zooming and 1.0 / STALE_RATIO <= ratio <= STALE_RATIO:
                self._draw_scaled(painter, area)
                return True
        if zooming and not build_while_zooming:
            return False
        t = painter.worldTransform()
        if zooming:
            # Mid-zoom the pixmap is a stand-in until the zoom pauses: half the resolution
            # (a quarter of the work), no margin; zooming out, twice the view's extent, so the
            # next steps out (until the scale halves) reuse it.
            out = pix is not None and s < self._view_scale
            self._build(t, s, s / 2.0, area, bounds, widget, grow=2.0 if out else 1.0, margin=0.0)
            self._draw_scaled(painter, area)
        else:
            self._build(t, s, s, area, bounds, widget)
            self._blit(painter, area)
        return True

    # -- internals -------------------------------------------------------------------------------
    def _region(
        self,
        t: QTransform,
        grow: float,
        margin: float,
        area: QRectF,
        bounds: QRectF,
        widget: QWidget,
    ) -> QRectF:
        """What to cache: the whole item when small, else the view (grown ``grow`` times
        about its centre) plus ``margin`` of its size on every side; always ``area``."""
        inv, _ = t.inverted()
        view = inv.mapRect(QRectF(widget.rect()))
        if grow != 1.0:
            c = view.center()
            view.setSize(view.size() * grow)
            view.moveCenter(c)
        if bounds.width() * bounds.height() <= WHOLE_AREA * view.width() * view.height():
            return QRectF(bounds)
        mx, my = margin * view.width(), margin * view.height()
        return view.adjusted(-mx, -my, mx, my).united(area).intersected(bounds)

    def _build(
        self,
        t: QTransform,
        s: float,
        scale: float,
        area: QRectF,
        bounds: QRectF,
        widget: QWidget,
        *,
        grow: float = 1.0,
        margin: float = MARGIN,
    ) -> None:
        """Render at ``scale``; at the view's scale ``s`` the pixels align with the device's."""
        region = self._region(t, grow, margin, area, bounds, widget)
        k = scale / s
        t = QTransform(scale, 0.0, 0.0, scale, t.dx() * k, t.dy() * k)
        dev: QRect = t.mapRect(region).toAlignedRect()
        fmt = (
            QImage.Format.Format_RGB32
            if self._opaque
            else QImage.Format.Format_ARGB32_Premultiplied
        )
        image = QImage(max(dev.width(), 1), max(dev.height(), 1), fmt)
        image.fill(QColor(0, 0, 0) if self._opaque else Qt.GlobalColor.transparent)
        p = QPainter(image)
        p.setTransform(QTransform(scale, 0.0, 0.0, scale, t.dx() - dev.x(), t.dy() - dev.y()))
        self._render(p, region, scale)
        p.end()
        inv, _ = t.inverted()
        self._pix = image
        self._scale = scale
        self._view_scale = s
        self._rect = inv.mapRect(QRectF(dev))
        self.renders += 1

    def _blit(self, painter: QPainter, area: QRectF) -> None:
        pix = self._pix
        assert pix is not None
        t = painter.worldTransform()
        o = t.map(self._rect.topLeft())
        ox, oy = round(o.x()), round(o.y())
        dev = t.mapRect(area).toAlignedRect().translated(-ox, -oy).intersected(pix.rect())
        if dev.isEmpty():
            return
        painter.save()
        painter.setWorldTransform(QTransform())
        painter.drawImage(QPoint(dev.x() + ox, dev.y() + oy), pix, dev)
        painter.restore()

    def _draw_scaled(self, painter: QPainter, area: QRectF) -> None:
        pix = self._pix
        assert pix is not None
        k = self._scale
        src = QRectF(
            (area.x() - self._rect.x()) * k,
            (area.y() - self._rect.y()) * k,
            area.width() * k,
            area.height() * k,
        )
        painter.save()
        # Nearest-pixel scaling: three times faster, and only seen until the zoom pauses.
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(area, pix, src)
        painter.restore()
