"""A device-resolution cache for one big graphics item (the image, the shapes overlay).

The item's drawing is rendered once into an image at the view's current scale; while only the
translation changes (pan, repaints, window/level of another item) that image is blitted 1:1.
During an interactive zoom the last image may be drawn scaled (within a factor of
``STALE_RATIO``) until the zoom pauses; then the owner calls ``update()`` and the next paint
asks for a new rendering at the new scale.

With a ``RenderWorker`` attached, new renderings are made on the worker from an immutable
snapshot of the item's content (``snapshot()`` returns a thread-safe ``Rasterize``) and swapped
in when they land; until then the last image is drawn scaled (``fallback=False``) or the owner
draws directly (``fallback=True``, for a cheap direct draw such as the image pyramid). A
content change (``invalidate``) drops the image and any result in flight, so the first paint
after an edit renders synchronously and shows it. Without a worker every rendering is
synchronous (the view's ``set_background_rendering(False)``).

Unlike ``QGraphicsItem.DeviceCoordinateCache`` this keeps one image for a whole layer (not one
per item), can show a stale scale during a zoom, and covers a margin around the viewport so a
pan rarely re-renders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
from PySide6.QtCore import QPoint, QRect, QRectF
from PySide6.QtGui import QImage, QPainter, QTransform
from PySide6.QtWidgets import QWidget

from orthogui.ui.canvas.worker import RenderWorker

# The whole item is cached when its device area is at most WHOLE_AREA viewports; else the
# viewport plus a margin of this fraction of its size on every side.
WHOLE_AREA = 2.0
MARGIN = 0.25
STALE_RATIO = 4.0  # a zoom may reuse an image rendered at up to this factor off the scale


@dataclass(frozen=True)
class Plan:
    """What to render: the scene area ``rect`` at ``scale`` image pixels per scene unit,
    into an image of ``size``; image pixel (0, 0) starts at scene point ``rect.topLeft()``.

    ``view_scale`` is the view's scale when it was planned (at ``scale`` the pixels align with
    the device's). Plain numbers, so that a worker thread may read it.
    """

    scale: float
    view_scale: float
    x: float  # rect.x(), scene units
    y: float
    width: int  # image pixels
    height: int

    @property
    def rect(self) -> QRectF:
        """The scene area the image covers."""
        return QRectF(self.x, self.y, self.width / self.scale, self.height / self.scale)

    def transform(self) -> QTransform:
        """Scene coordinates to image pixels."""
        s = self.scale
        return QTransform(s, 0.0, 0.0, s, -self.x * s, -self.y * s)


@dataclass(frozen=True)
class Raster:
    """A rendering; ``keep`` holds the memory ``image`` shares (a numpy array), if any."""

    image: QImage
    keep: object = None


Rasterize = Callable[[Plan], Raster]  # thread-safe: bound to an immutable snapshot


def plain_scale(t: QTransform) -> float:
    """The scale of a transform made of one uniform scale and a translation, else 0."""
    if t.m12() != 0.0 or t.m21() != 0.0 or t.m11() <= 0.0 or abs(t.m11() - t.m22()) > 1e-12:
        return 0.0
    return float(t.m11())


def plan_for(
    t: QTransform,
    scale: float,
    area: QRectF,
    bounds: QRectF,
    viewport: QRect,
    *,
    grow: float = 1.0,
    margin: float = MARGIN,
) -> Plan:
    """Plan a rendering at ``scale`` for a view of transform ``t`` (a plain scale ``s`` and a
    translation): at ``scale == s`` its pixels align with the device's.

    It covers the whole item when small, else the view (grown ``grow`` times about its
    centre) plus ``margin`` of its size on every side; always ``area`` (within ``bounds``).
    """
    s = float(t.m11())
    inv, _ = t.inverted()
    view = inv.mapRect(QRectF(viewport))
    if grow != 1.0:
        c = view.center()
        view.setSize(view.size() * grow)
        view.moveCenter(c)
    if bounds.width() * bounds.height() <= WHOLE_AREA * view.width() * view.height():
        region = QRectF(bounds)
    else:
        mx, my = margin * view.width(), margin * view.height()
        region = view.adjusted(-mx, -my, mx, my).united(area).intersected(bounds)
    k = scale / s
    st = QTransform(scale, 0.0, 0.0, scale, t.dx() * k, t.dy() * k)
    dev: QRect = st.mapRect(region).toAlignedRect()
    return Plan(
        scale=scale,
        view_scale=s,
        x=(dev.x() - st.dx()) / scale,
        y=(dev.y() - st.dy()) / scale,
        width=max(dev.width(), 1),
        height=max(dev.height(), 1),
    )


def painted(plan: Plan, draw: Callable[[QPainter], None]) -> Raster:
    """A transparent ``plan``-sized image that ``draw`` paints on through a painter mapping
    scene coordinates. Safe on any thread (the zeroed memory comes from numpy, so no Qt call
    holds the GIL to clear it)."""
    buf = np.zeros((plan.height, plan.width), np.uint32)
    image = QImage(
        buf.data, plan.width, plan.height, buf.strides[0], QImage.Format.Format_ARGB32_Premultiplied
    )
    p = QPainter(image)
    p.setTransform(plan.transform())
    draw(p)
    p.end()
    return Raster(image, buf)


class DeviceCache:
    """One image of an item's drawing at one view scale.

    Parameters
    ----------
    snapshot
        Returns a ``Rasterize`` bound to the item's current content; it may run on the worker
        thread, so it must not read live scene items.
    channel
        The worker channel of this cache's renderings (one per cache).
    """

    def __init__(self, snapshot: Callable[[], Rasterize], *, channel: str) -> None:
        self._snapshot = snapshot
        self.channel = channel
        self.worker: RenderWorker | None = None  # set by the view; None: render synchronously
        self.on_ready: Callable[[], None] = lambda: None  # a background rendering landed
        self._raster: Raster | None = None
        self._plan: Plan | None = None
        self._rect = QRectF()  # the scene area the image covers
        self.renders = 0  # renderings installed, synchronous or not (tests, benchmarks)

    def invalidate(self) -> None:
        """The content changed: drop the image and any rendering in flight."""
        self._raster = None
        self._plan = None
        if self.worker is not None:
            self.worker.drop(self.channel)

    def set_worker(self, worker: RenderWorker | None) -> None:
        if self.worker is not None and worker is not self.worker:
            self.worker.drop(self.channel)
        self.worker = worker

    def adopt(self, plan: Plan, raster: Raster) -> None:
        """Show ``raster``, rendered under ``plan`` from the current content (e.g. by the job
        that made the content)."""
        self._install(raster, plan)

    def pending(self) -> bool:
        """Whether a background rendering is in flight."""
        return self.worker is not None and self.worker.busy(self.channel)

    def plan(self) -> Plan | None:
        """The plan of the image shown (tests)."""
        return self._plan

    def paint(
        self,
        painter: QPainter,
        area: QRectF,
        bounds: QRectF,
        widget: QWidget | None,
        *,
        zooming: bool,
        fallback: bool = False,
    ) -> bool:
        """Draw ``area`` (scene) of the item from the cache, rendering it first if needed.

        Returns False when the caller must draw directly: a rotated or sheared view, a paint
        without a viewport such as ``QGraphicsScene.render``, or, with ``fallback``, whenever
        the image does not fit (a zoom step, or while a rendering is made in the background).
        """
        s = plain_scale(painter.worldTransform())
        if s == 0.0 or widget is None:
            return False
        if area.isEmpty():
            return True
        plan = self._plan
        e = 0.25 / s  # a quarter device pixel: float noise must not force a re-render
        inner = (
            area.adjusted(e, e, -e, -e) if area.width() > 2 * e and area.height() > 2 * e else area
        )
        covers = plan is not None and self._rect.contains(inner)
        if plan is not None and covers:
            ratio = s / plan.scale
            if abs(ratio - 1.0) < 1e-9:
                self._blit(painter, area)
                return True
            if zooming and 1.0 / STALE_RATIO <= ratio <= STALE_RATIO:
                self._draw_scaled(painter, area)
                return True
        if fallback and zooming:
            return False  # the owner's direct draw is cheap: render when the zoom pauses
        t = painter.worldTransform()
        viewport = widget.rect()
        if self.worker is not None and (plan is not None or fallback):
            # The content is unchanged (or the owner can draw it): render in the background
            # and show the last image (or the owner's drawing) until it lands.
            out = zooming and plan is not None and s < plan.view_scale
            self._request(plan_for(t, s, area, bounds, viewport, grow=2.0 if out else 1.0))
            if fallback:
                return False
            self._draw_scaled(painter, area)
        elif zooming:
            # Mid-zoom, synchronous: a half-resolution stand-in (a quarter of the work), no
            # margin; zooming out, twice the view's extent, so the next steps out (until the
            # scale halves) reuse it.
            out = plan is not None and s < plan.view_scale
            grow = 2.0 if out else 1.0
            p = plan_for(t, s / 2.0, area, bounds, viewport, grow=grow, margin=0.0)
            self._install(self._snapshot()(p), p)
            self._draw_scaled(painter, area)
        else:
            p = plan_for(t, s, area, bounds, viewport)
            self._install(self._snapshot()(p), p)
            self._blit(painter, area)
        return True

    # -- internals -------------------------------------------------------------------------------
    def _request(self, plan: Plan) -> None:
        """Render ``plan`` on the worker unless a rendering is in flight (its landing repaints
        the item, and the next paint asks again if still needed)."""
        worker = self.worker
        assert worker is not None
        if worker.busy(self.channel):
            return
        worker.submit(self.channel, partial(self._snapshot(), plan), partial(self._landed, plan))

    def _landed(self, plan: Plan, raster: Raster) -> None:
        self._install(raster, plan)
        self.on_ready()

    def _install(self, raster: Raster, plan: Plan) -> None:
        self._raster = raster
        self._plan = plan
        self._rect = plan.rect
        self.renders += 1

    def _blit(self, painter: QPainter, area: QRectF) -> None:
        raster = self._raster
        assert raster is not None
        image = raster.image
        t = painter.worldTransform()
        o = t.map(self._rect.topLeft())
        ox, oy = round(o.x()), round(o.y())
        dev = t.mapRect(area).toAlignedRect().translated(-ox, -oy).intersected(image.rect())
        if dev.isEmpty():
            return
        painter.save()
        painter.setWorldTransform(QTransform())
        painter.drawImage(QPoint(dev.x() + ox, dev.y() + oy), image, dev)
        painter.restore()

    def _draw_scaled(self, painter: QPainter, area: QRectF) -> None:
        """The part of ``area`` the image covers, scaled (nearest pixel) to the view."""
        raster, plan = self._raster, self._plan
        assert raster is not None and plan is not None
        part = area.intersected(self._rect)
        if part.isEmpty():
            return
        k = plan.scale
        src = QRectF(
            (part.x() - self._rect.x()) * k,
            (part.y() - self._rect.y()) * k,
            part.width() * k,
            part.height() * k,
        )
        painter.save()
        # Nearest-pixel scaling: three times faster, and only seen until the new image lands.
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(part, raster.image, src)
        painter.restore()
