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

A cache built with ``redraw`` takes small content changes incrementally: ``mark_dirty`` records
the scene areas that changed, and the next paint repaints only those areas of the image on the
GUI thread (each one cleared, then redrawn by ``redraw`` with the painter clipped to it, in
whole device pixels of the same image, so the pixels equal a full rendering's). A rendering in
flight when an area changes gets the same repaint when it lands. Past ``FULL_FRACTION`` of the
image, or where a change reaches outside the area the image was planned for, the image is
dropped and rendered whole instead.

Unlike ``QGraphicsItem.DeviceCoordinateCache`` this keeps one image for a whole layer (not one
per item), can show a stale scale during a zoom, and covers a margin around the viewport so a
pan rarely re-renders.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
from PySide6.QtCore import QPoint, QRect, QRectF, Qt
from PySide6.QtGui import QImage, QPainter, QTransform
from PySide6.QtWidgets import QWidget

from orthogui.ui.canvas.worker import RenderWorker

# The whole item is cached when its device area is at most WHOLE_AREA viewports; else the
# viewport plus a margin of this fraction of its size on every side.
WHOLE_AREA = 2.0
MARGIN = 0.25
STALE_RATIO = 4.0  # a zoom may reuse an image rendered at up to this factor off the scale
# Changed areas covering more than this fraction of the image: render it whole instead (a
# repaint costs about what a rendering of the same area costs, plus one pass per area).
FULL_FRACTION = 0.25


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
    ratio: float = 1.0  # device pixels per logical pixel it was planned for (pens scale by it)

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
# Draws the current content touching a scene area at a scale on a painter that maps scene
# coordinates (GUI thread only: it may read the live content).
Redraw = Callable[[QPainter, QRectF, float, float], None]  # painter, area, scale, ratio


def plain_scale(t: QTransform) -> float:
    """The scale of a transform made of one uniform scale and a translation, else 0."""
    if t.m12() != 0.0 or t.m21() != 0.0 or t.m11() <= 0.0 or abs(t.m11() - t.m22()) > 1e-12:
        return 0.0
    return float(t.m11())


def device_ratio(painter: QPainter) -> float:
    """Device pixels per logical pixel of what ``painter`` paints on (2 on a 200 % screen)."""
    device = painter.device()
    return float(device.devicePixelRatioF()) if device is not None else 1.0


def to_device(t: QTransform, ratio: float) -> QTransform:
    """``t`` (scene to logical pixels) followed by the screen's scaling: scene to device
    pixels, the unit every plan and rendering of this module counts in."""
    return t if ratio == 1.0 else t * QTransform.fromScale(ratio, ratio)


def device_rect(rect: QRect, ratio: float) -> QRect:
    """A logical rectangle (a widget's) in device pixels."""
    if ratio == 1.0:
        return QRect(rect)
    return QRectF(
        rect.x() * ratio, rect.y() * ratio, rect.width() * ratio, rect.height() * ratio
    ).toAlignedRect()


def plan_for(
    t: QTransform,
    scale: float,
    area: QRectF,
    bounds: QRectF,
    viewport: QRect,
    *,
    grow: float = 1.0,
    margin: float = MARGIN,
    ratio: float = 1.0,
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
        ratio=ratio,
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


def merged(rects: Sequence[QRect]) -> list[QRect]:
    """``rects`` with every group of overlapping or touching rectangles replaced by its
    bounding rectangle (the result covers the input; no two of its rectangles touch)."""
    out: list[QRect] = []
    for r in rects:
        r = QRect(r)
        again = True
        while again:
            again = False
            for i, o in enumerate(out):
                if o.adjusted(-1, -1, 1, 1).intersects(r):
                    r = r.united(out.pop(i))
                    again = True
                    break
        out.append(r)
    return out


class DeviceCache:
    """One image of an item's drawing at one view scale.

    Parameters
    ----------
    snapshot
        Returns a ``Rasterize`` bound to the item's current content; it may run on the worker
        thread, so it must not read live scene items.
    channel
        The worker channel of this cache's renderings (one per cache).
    redraw
        Draws the current content over a scene area (GUI thread); with it, ``mark_dirty``
        repaints changed areas in place. Without it every change must ``invalidate``.
    pad_px
        How far (logical pixels) the drawing of a shape may reach beyond the scene area
        reported for it (pen width, antialiasing): changed areas grow by this much (times
        the device pixel ratio of a ``device_pixels`` cache).
    device_pixels
        Render at the paint device's pixel ratio (HiDPI screens) instead of logical pixels.
    """

    def __init__(
        self,
        snapshot: Callable[[], Rasterize],
        *,
        channel: str,
        redraw: Redraw | None = None,
        pad_px: float = 2.0,
        device_pixels: bool = False,
    ) -> None:
        self._snapshot = snapshot
        # True: render at the screen's device pixels (the film on a 200 % screen keeps every
        # pixel); False: at logical pixels, which Qt scales up (outlines keep their width).
        self.device_pixels = device_pixels
        self.channel = channel
        self._redraw = redraw
        self._pad_px = pad_px
        self.worker: RenderWorker | None = None  # set by the view; None: render synchronously
        self.on_ready: Callable[[], None] = lambda: None  # a background rendering landed
        self.incremental = redraw is not None  # False: every change renders the whole image
        self._raster: Raster | None = None
        self._plan: Plan | None = None
        self._rect = QRectF()  # the scene area the image covers
        self._bounds = QRectF()  # the item's bounds when the image was planned
        self._dirty: list[QRectF] = []  # scene areas changed since the image was made
        self._flight: tuple[Plan, QRectF] | None = None  # the rendering in flight, its bounds
        self._flight_dirty: list[QRectF] = []  # scene areas changed since it was requested
        self.renders = 0  # renderings installed, synchronous or not (tests, benchmarks)
        self.patches = 0  # areas repainted in place (tests, benchmarks)
        self.patched_px = 0  # device pixels repainted in place, in all (tests, benchmarks)

    def invalidate(self) -> None:
        """The content changed: drop the image and any rendering in flight."""
        self._raster = None
        self._plan = None
        self._dirty = []
        self._drop_flight()

    def mark_dirty(self, rects: Sequence[QRectF]) -> None:
        """The content changed inside ``rects`` (scene; the old and the new extent of what
        changed): the next paint repaints them in the image (and a rendering in flight gets
        the same when it lands). Falls back to ``invalidate`` without ``redraw`` (or with
        ``incremental`` off), or where a rectangle reaches outside the item's bounds at
        planning time (the image may not cover the new content)."""
        if not rects:
            return
        if not self.incremental or self._redraw is None:
            self.invalidate()
            return
        if self._raster is not None and self._plan is not None:
            if self._inside(rects, self._bounds, self._plan):
                self._dirty.extend(rects)
            else:
                self.invalidate()
                return
        if self.pending():
            flight = self._flight
            if flight is not None and self._inside(rects, flight[1], flight[0]):
                self._flight_dirty.extend(rects)
            else:
                self._drop_flight()

    def set_worker(self, worker: RenderWorker | None) -> None:
        if self.worker is not None and worker is not self.worker:
            self._drop_flight()
        self.worker = worker

    def adopt(self, plan: Plan, raster: Raster) -> None:
        """Show ``raster``, rendered under ``plan`` from the current content (e.g. by the job
        that made the content)."""
        self._install(raster, plan, plan.rect)

    def pending(self) -> bool:
        """Whether a background rendering is in flight."""
        return self.worker is not None and self.worker.busy(self.channel)

    def plan(self) -> Plan | None:
        """The plan of the image shown (tests)."""
        return self._plan

    def image(self) -> QImage | None:
        """The image shown, without the changes not yet repainted (tests, benchmarks)."""
        return None if self._raster is None else self._raster.image

    def dirty(self) -> bool:
        """Whether changed areas wait for the next paint to be repainted."""
        return bool(self._dirty)

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
        ratio = device_ratio(painter) if self.device_pixels else 1.0
        t = to_device(painter.worldTransform(), ratio)
        s = plain_scale(t)
        if s == 0.0 or widget is None:
            return False
        if area.isEmpty():
            return True
        self.flush()
        plan = self._plan
        e = 0.25 / s  # a quarter device pixel: float noise must not force a re-render
        inner = (
            area.adjusted(e, e, -e, -e) if area.width() > 2 * e and area.height() > 2 * e else area
        )
        covers = plan is not None and self._rect.contains(inner)
        if plan is not None and covers:
            k = s / plan.scale
            if abs(k - 1.0) < 1e-9:
                self._blit(painter, area)
                return True
            if zooming and 1.0 / STALE_RATIO <= k <= STALE_RATIO:
                self._draw_scaled(painter, area)
                return True
        if fallback and zooming:
            return False  # the owner's direct draw is cheap: render when the zoom pauses
        viewport = device_rect(widget.rect(), ratio)
        if self.worker is not None and (plan is not None or fallback):
            # The content is unchanged (or the owner can draw it): render in the background
            # and show the last image (or the owner's drawing) until it lands.
            out = zooming and plan is not None and s < plan.view_scale
            grow = 2.0 if out else 1.0
            self._request(plan_for(t, s, area, bounds, viewport, grow=grow, ratio=ratio), bounds)
            if fallback:
                return False
            self._draw_scaled(painter, area)
        elif zooming:
            # Mid-zoom, synchronous: a half-resolution stand-in (a quarter of the work), no
            # margin; zooming out, twice the view's extent, so the next steps out (until the
            # scale halves) reuse it.
            out = plan is not None and s < plan.view_scale
            grow = 2.0 if out else 1.0
            p = plan_for(t, s / 2.0, area, bounds, viewport, grow=grow, margin=0.0, ratio=ratio)
            self._install(self._snapshot()(p), p, bounds)
            self._draw_scaled(painter, area)
        else:
            p = plan_for(t, s, area, bounds, viewport, ratio=ratio)
            self._install(self._snapshot()(p), p, bounds)
            self._blit(painter, area)
        return True

    def flush(self) -> None:
        """Repaint the changed areas in the image now (GUI thread), or drop the image when
        they cover more than ``FULL_FRACTION`` of it (the next paint renders it whole)."""
        if not self._dirty:
            return
        rects, self._dirty = self._dirty, []
        raster, plan = self._raster, self._plan
        if raster is None or plan is None or self._redraw is None:
            return
        if not self._repaint(raster, plan, rects):
            self.invalidate()

    # -- internals -------------------------------------------------------------------------------
    def _inside(self, rects: Sequence[QRectF], bounds: QRectF, plan: Plan) -> bool:
        pad = self._pad_px * plan.ratio / plan.scale
        return all(bounds.contains(r.adjusted(-pad, -pad, pad, pad)) for r in rects)

    def _repaint(self, raster: Raster, plan: Plan, rects: Sequence[QRectF]) -> bool:
        """Clear and redraw ``rects`` (scene) of ``raster``; False (nothing done) when they
        cover more than ``FULL_FRACTION`` of it.

        Each area becomes whole device pixels of this image (grown by ``pad_px``), the painter
        is clipped to it with a plain rectangle (Qt's raster engine then takes the same span
        and cosmetic-line paths as an unclipped full rendering, and lines are pre-clipped to
        the same device rectangle), the area is cleared and every shape ``redraw`` finds
        touching it is drawn again in the full rendering's order: the pixels equal those of
        a full rendering of the current content under ``plan``.
        """
        redraw = self._redraw
        assert redraw is not None
        image = raster.image
        t = plan.transform()
        pad = math.ceil(self._pad_px * plan.ratio)
        bounds = image.rect()
        dev = []
        for r in rects:
            d = t.mapRect(r).toAlignedRect().adjusted(-pad, -pad, pad, pad).intersected(bounds)
            if not d.isEmpty():
                dev.append(d)
        areas = merged(dev)
        px = sum(a.width() * a.height() for a in areas)
        if px > FULL_FRACTION * image.width() * image.height():
            return False
        if not areas:
            return True
        inv, _ = t.inverted()
        p = QPainter(image)
        for a in areas:
            p.resetTransform()
            p.setClipRect(a)
            p.setCompositionMode(QPainter.CompositionMode.CompositionMode_Clear)
            p.fillRect(a, Qt.GlobalColor.transparent)
            p.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceOver)
            p.setTransform(t)
            redraw(p, inv.mapRect(QRectF(a)), plan.scale, plan.ratio)
        p.end()
        self.patches += len(areas)
        self.patched_px += px
        return True

    def _drop_flight(self) -> None:
        self._flight = None
        self._flight_dirty = []
        if self.worker is not None:
            self.worker.drop(self.channel)

    def _request(self, plan: Plan, bounds: QRectF) -> None:
        """Render ``plan`` on the worker unless a rendering is in flight (its landing repaints
        the item, and the next paint asks again if still needed)."""
        worker = self.worker
        assert worker is not None
        if worker.busy(self.channel):
            return
        job = partial(self._snapshot(), plan)  # the content now: later changes are marked
        self._flight = (plan, QRectF(bounds))
        self._flight_dirty = []
        worker.submit(self.channel, job, partial(self._landed, plan, QRectF(bounds)))

    def _landed(self, plan: Plan, bounds: QRectF, raster: Raster) -> None:
        # The areas changed since the request are repainted at the next paint (its update
        # follows at once), with the content of then.
        dirty, self._flight, self._flight_dirty = self._flight_dirty, None, []
        self._install(raster, plan, bounds)
        self._dirty = dirty
        self.on_ready()

    def _install(self, raster: Raster, plan: Plan, bounds: QRectF) -> None:
        self._raster = raster
        self._plan = plan
        self._rect = plan.rect
        self._bounds = QRectF(bounds)
        self._dirty = []
        self.renders += 1

    def _blit(self, painter: QPainter, area: QRectF) -> None:
        raster = self._raster
        assert raster is not None
        image = raster.image
        ratio = device_ratio(painter) if self.device_pixels else 1.0
        t = to_device(painter.worldTransform(), ratio)
        o = t.map(self._rect.topLeft())
        ox, oy = round(o.x()), round(o.y())
        dev = t.mapRect(area).toAlignedRect().translated(-ox, -oy).intersected(image.rect())
        if dev.isEmpty():
            return
        painter.save()
        # One image pixel per device pixel: the painter scales logical units by ``ratio``.
        painter.setWorldTransform(QTransform.fromScale(1.0 / ratio, 1.0 / ratio))
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
