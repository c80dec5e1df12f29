"""The radiograph on the canvas: an 8-bit display rendering with a small mip pyramid.

Zoomed out, a 3000x3000 image is drawn from a pre-reduced level, which keeps frames short and
avoids aliasing; zoomed in, pixels are drawn as crisp squares. What the view shows is kept in a
``DeviceCache``, rendered with OpenCV from the pyramid (the worker thread can do it: OpenCV
releases the GIL), so pans and repaints blit it; while that rendering is made the item draws
the pyramid level directly. During a window/level drag the item shows a preview (the visible
part, decimated to about screen resolution) instead of the full image, until the view hands
it the full rendering as a ``Pyramid`` built off the GUI thread.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from orthogui.ui.canvas.cache import (
    DeviceCache,
    Plan,
    Raster,
    Rasterize,
    device_ratio,
    plain_scale,
)

_MIN_LEVEL_SIDE = 600  # stop reducing below this many pixels on the longer side
CRISP_SCALE = 2.0  # from this many screen pixels per image pixel on, pixels are squares


def to_qimage(gray: NDArray[np.uint8]) -> QImage:
    """A QImage sharing a contiguous uint8 array (the caller keeps the array alive)."""
    rows, cols = gray.shape
    return QImage(gray.data, cols, rows, gray.strides[0], QImage.Format.Format_Grayscale8)


def to_qpixmap(gray: NDArray[np.uint8]) -> QPixmap:
    """A QPixmap copy of a uint8 array."""
    return QPixmap.fromImage(to_qimage(np.ascontiguousarray(gray)))


def rgb32(gray: NDArray[np.uint8]) -> Raster:
    """An RGB32 QImage of a uint8 array (it draws 2-3x faster than a grayscale one)."""
    bgra = np.ascontiguousarray(cv2.cvtColor(np.ascontiguousarray(gray), cv2.COLOR_GRAY2BGRA))
    rows, cols = gray.shape
    return Raster(QImage(bgra.data, cols, rows, bgra.strides[0], QImage.Format.Format_RGB32), bgra)


def _halve(gray: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """2x2 box average (the odd last row/column is dropped)."""
    r, c = gray.shape[0] // 2, gray.shape[1] // 2
    even = np.ascontiguousarray(gray[: 2 * r, : 2 * c])
    return np.asarray(cv2.resize(even, (c, r), interpolation=cv2.INTER_AREA), dtype=np.uint8)


class Pyramid:
    """A display rendering and its reductions; level k is 2**k times smaller.

    Immutable once made, except for the RGB32 images of the levels (for direct draws), which
    are made on first use or all at once by ``prepare_rgb`` (``rgb=True``), on any thread: a
    level made twice at the same time is kept once. ``rasterize`` reads the gray levels only.
    """

    def __init__(self, gray: NDArray[np.uint8], *, rgb: bool = False) -> None:
        if gray.ndim != 2 or gray.dtype != np.uint8 or gray.size == 0:
            raise ValueError(
                f"a display rendering must be a non-empty 2-D uint8 array, got {gray.dtype} {gray.shape}"
            )
        levels = [np.ascontiguousarray(gray)]
        side = max(gray.shape)
        while side >= 2 * _MIN_LEVEL_SIDE:
            levels.append(_halve(levels[-1]))
            side //= 2
        self.levels: tuple[NDArray[np.uint8], ...] = tuple(levels)
        self.rows, self.cols = gray.shape
        self._rgb: dict[int, Raster] = {}
        if rgb:
            self.prepare_rgb()

    @property
    def gray(self) -> NDArray[np.uint8]:
        return self.levels[0]

    def level_for(self, scale: float) -> int:
        """The level for ``scale`` screen pixels per image pixel: the smallest whose pixels
        are at most one screen pixel each."""
        k = 0
        while k + 1 < len(self.levels) and scale * (2 ** (k + 1)) <= 1.0:
            k += 1
        return k

    def rgb_level(self, k: int) -> QImage:
        """Level ``k`` as an RGB32 image."""
        raster = self._rgb.get(k)
        if raster is None:
            raster = self._rgb.setdefault(k, rgb32(self.levels[k]))  # atomic under the GIL
        return raster.image

    def prepare_rgb(self) -> Pyramid:
        """Make the RGB32 images of all levels now (a worker does it for the GUI thread)."""
        for k in range(len(self.levels)):
            self.rgb_level(k)
        return self

    def rasterize(self, plan: Plan) -> Raster:
        """The image under ``plan``: bilinear from the level for its scale, or nearest (crisp
        squares) from ``CRISP_SCALE`` on; device pixels whose centre lies off the image are
        black. Safe on any thread."""
        k = self.level_for(plan.scale)
        level = self.levels[k]
        fx, fy = level.shape[1] / self.cols, level.shape[0] / self.rows
        s = plan.scale
        # Output pixel j has its centre at scene x + (j + 0.5) / s, i.e. at level pixel
        # (x + (j + 0.5) / s) * fx - 0.5 in OpenCV's centre-based indexing.
        m = np.array(
            [
                [fx / s, 0.0, (plan.x + 0.5 / s) * fx - 0.5],
                [0.0, fy / s, (plan.y + 0.5 / s) * fy - 0.5],
            ]
        )
        crisp = s >= CRISP_SCALE  # then level 0 (fx == 1)
        flags = (cv2.INTER_NEAREST if crisp else cv2.INTER_LINEAR) | cv2.WARP_INVERSE_MAP
        out = cv2.warpAffine(
            level, m, (plan.width, plan.height), flags=flags, borderMode=cv2.BORDER_REPLICATE
        )
        # Black outside the image (the aligned device rectangle overlaps it by < 1 pixel).
        j = (plan.x + (np.arange(plan.width) + 0.5) / s) / self.cols
        i = (plan.y + (np.arange(plan.height) + 0.5) / s) / self.rows
        out[:, (j < 0) | (j >= 1)] = 0
        out[(i < 0) | (i >= 1), :] = 0
        return rgb32(out.astype(np.uint8, copy=False))


class ImageItem(QGraphicsItem):
    """Shows the current display rendering; pixel (c, r) covers [c, c+1) x [r, r+1)."""

    def __init__(self) -> None:
        super().__init__()
        self.setAcceptedMouseButtons(self.acceptedMouseButtons().NoButton)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)
        self.setZValue(-10)
        self._pyramid: Pyramid | None = None
        self._rect = QRectF()
        self._preview: tuple[QPixmap, QRectF, QRectF] | None = None  # pixmap, target, source
        self.cache = DeviceCache(self._snapshot, channel="image", device_pixels=True)
        self.cache.on_ready = self.update
        self.zooming = False  # set by the scene during an interactive zoom

    # -- content -----------------------------------------------------------------------------------
    def set_gray(self, gray: NDArray[np.uint8] | None) -> None:
        """Show a new full rendering (or nothing); ends any preview."""
        self.set_pyramid(None if gray is None else Pyramid(gray))

    def set_pyramid(
        self, pyramid: Pyramid | None, cached: tuple[Plan, Raster] | None = None
    ) -> None:
        """Show a full rendering made beforehand (e.g. on a worker), with what the view shows
        of it already rasterized (``cached``, from ``pyramid.rasterize``); ends any preview."""
        rect = QRectF() if pyramid is None else QRectF(0, 0, pyramid.cols, pyramid.rows)
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = rect
        self._pyramid = pyramid
        self._preview = None
        self.cache.invalidate()
        if pyramid is not None and cached is not None:
            self.cache.adopt(*cached)
        self.update()

    def set_preview(
        self, gray: NDArray[np.uint8], rows: tuple[int, int], cols: tuple[int, int], step: int
    ) -> None:
        """Show ``gray`` (= rendering[r0:r1:step, c0:c1:step]) in place of the full image."""
        (r0, r1), (c0, c1) = rows, cols
        h, w = gray.shape
        target = QRectF(c0, r0, c1 - c0, r1 - r0)
        source = QRectF(0, 0, (c1 - c0) / step, (r1 - r0) / step)
        if source.width() > w or source.height() > h:
            raise ValueError(f"preview of {w}x{h} px cannot cover {target} at step {step}")
        self._preview = (to_qpixmap(gray), target, source)
        self.update()

    def has_preview(self) -> bool:
        return self._preview is not None

    def preview_info(self) -> tuple[QRectF, int, int] | None:
        """The preview's image area and its pixmap's width and height, if one is shown."""
        if self._preview is None:
            return None
        pix, target, _ = self._preview
        return target, pix.width(), pix.height()

    def gray(self) -> NDArray[np.uint8] | None:
        """The full-resolution rendering shown (the last one, during a preview)."""
        return None if self._pyramid is None else self._pyramid.gray

    def pyramid(self) -> Pyramid | None:
        return self._pyramid

    def _snapshot(self) -> Rasterize:
        assert self._pyramid is not None
        return self._pyramid.rasterize

    # -- painting ----------------------------------------------------------------------------------
    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if self._pyramid is None:
            return
        area = option.exposedRect.intersected(self._rect)  # type: ignore[attr-defined]
        if area.isEmpty():
            return
        # Screen pixels per scene unit count device pixels (a 200 % screen has twice as many).
        ratio = device_ratio(painter)
        if self._preview is not None:
            pix, target, source = self._preview
            if not target.contains(area):
                scale = plain_scale(painter.worldTransform()) * ratio
                self._draw_level(painter, area, scale or ratio)
            # About one preview pixel per screen pixel: nearest sampling, 3x faster.
            e = plain_scale(painter.worldTransform()) * ratio * target.width() / source.width()
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, abs(e - 1.0) > 0.1)
            painter.drawPixmap(target, pix, source)
            return
        # Zooming, or while the cache renders: draw from the pyramid (a few ms, never blurred).
        if not self.cache.paint(
            painter, area, self._rect, widget, zooming=self.zooming, fallback=True
        ):
            lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
            self._draw_level(painter, area, lod * ratio, smooth=not self.zooming)

    def _draw_level(
        self, painter: QPainter, area: QRectF, scale: float, *, smooth: bool = True
    ) -> None:
        """The pyramid level for ``scale`` (screen pixels per image pixel) over ``area``;
        ``smooth=False`` samples the nearest pixel (faster, for the frames of a zoom)."""
        pyramid = self._pyramid
        assert pyramid is not None
        k = pyramid.level_for(scale)
        image = pyramid.rgb_level(k)
        fx, fy = image.width() / self._rect.width(), image.height() / self._rect.height()
        src = QRectF(area.x() * fx, area.y() * fy, area.width() * fx, area.height() * fy)
        painter.setRenderHint(
            QPainter.RenderHint.SmoothPixmapTransform, smooth and scale < CRISP_SCALE
        )
        painter.drawImage(area, image, src)
