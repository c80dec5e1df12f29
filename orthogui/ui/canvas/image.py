"""The radiograph on the canvas: an 8-bit display rendering with a small mip pyramid.

Zoomed out, a 3000x3000 image is drawn from a pre-reduced level, which keeps frames short and
avoids aliasing; zoomed in, pixels are drawn as crisp squares. What the view shows is kept in a
``DeviceCache`` so pans and repaints blit it. During a window/level drag the item shows a
preview (the visible part, decimated to about screen resolution) instead of the full image.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from orthogui.ui.canvas.cache import DeviceCache, plain_scale

_MIN_LEVEL_SIDE = 600  # stop reducing below this many pixels on the longer side


def to_qimage(gray: NDArray[np.uint8]) -> QImage:
    """A QImage sharing a contiguous uint8 array (the caller keeps the array alive)."""
    rows, cols = gray.shape
    return QImage(gray.data, cols, rows, gray.strides[0], QImage.Format.Format_Grayscale8)


def to_qpixmap(gray: NDArray[np.uint8]) -> QPixmap:
    """A QPixmap copy of a uint8 array."""
    return QPixmap.fromImage(to_qimage(np.ascontiguousarray(gray)))


def _halve(gray: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """2x2 box average (the odd last row/column is dropped)."""
    r, c = gray.shape[0] // 2, gray.shape[1] // 2
    even = np.ascontiguousarray(gray[: 2 * r, : 2 * c])
    return np.asarray(cv2.resize(even, (c, r), interpolation=cv2.INTER_AREA), dtype=np.uint8)


class ImageItem(QGraphicsItem):
    """Shows the current display rendering; pixel (c, r) covers [c, c+1) x [r, r+1)."""

    def __init__(self) -> None:
        super().__init__()
        self.setAcceptedMouseButtons(self.acceptedMouseButtons().NoButton)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)
        self.setZValue(-10)
        self._gray: NDArray[np.uint8] | None = None
        self._arrays: list[NDArray[np.uint8]] = []  # the pyramid; level k is 2**k smaller
        self._pixmaps: dict[int, QPixmap] = {}  # made on first use
        self._rect = QRectF()
        self._preview: tuple[QPixmap, QRectF, QRectF] | None = None  # pixmap, target, source
        self.cache = DeviceCache(self._draw_levels, opaque=True)
        self.zooming = False  # set by the scene during an interactive zoom

    # -- content -----------------------------------------------------------------------------------
    def set_gray(self, gray: NDArray[np.uint8] | None) -> None:
        """Show a new full rendering (or nothing); ends any preview."""
        rect = QRectF() if gray is None else QRectF(0, 0, gray.shape[1], gray.shape[0])
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = rect
        self._gray = None if gray is None else np.ascontiguousarray(gray)
        self._arrays = [] if self._gray is None else [self._gray]
        self._pixmaps = {}
        self._preview = None
        self.cache.invalidate()
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
        return self._gray

    def _level(self, k: int) -> QPixmap:
        pix = self._pixmaps.get(k)
        if pix is None:
            while len(self._arrays) <= k:
                self._arrays.append(_halve(self._arrays[-1]))
            pix = self._pixmaps[k] = to_qpixmap(self._arrays[k])
        return pix

    def _level_count(self) -> int:
        if self._gray is None:
            return 0
        n, side = 1, max(self._gray.shape)
        while side >= 2 * _MIN_LEVEL_SIDE:
            side //= 2
            n += 1
        return n

    # -- painting ----------------------------------------------------------------------------------
    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if self._gray is None:
            return
        area = option.exposedRect.intersected(self._rect)  # type: ignore[attr-defined]
        if area.isEmpty():
            return
        if self._preview is not None:
            pix, target, source = self._preview
            if not target.contains(area):
                self._draw_levels(painter, area, plain_scale(painter.worldTransform()) or 1.0)
            # About one preview pixel per screen pixel: nearest sampling, 3x faster.
            e = plain_scale(painter.worldTransform()) * target.width() / source.width()
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, abs(e - 1.0) > 0.1)
            painter.drawPixmap(target, pix, source)
            return
        # Zooming: draw from the pyramid (as fast as a cache build, and never blurred).
        if not self.cache.paint(
            painter, area, self._rect, widget, zooming=self.zooming, build_while_zooming=False
        ):
            lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
            self._draw_levels(painter, area, lod, smooth=not self.zooming)

    def _draw_levels(
        self, painter: QPainter, area: QRectF, scale: float, *, smooth: bool = True
    ) -> None:
        """The pyramid level for ``scale`` (screen pixels per image pixel) over ``area``;
        ``smooth=False`` samples the nearest pixel (faster, for the frames of a zoom)."""
        k, n = 0, self._level_count()
        while k + 1 < n and scale * (2 ** (k + 1)) <= 1.0:
            k += 1
        pix = self._level(k)
        fx, fy = pix.width() / self._rect.width(), pix.height() / self._rect.height()
        src = QRectF(area.x() * fx, area.y() * fy, area.width() * fx, area.height() * fy)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth and scale < 2.0)
        painter.drawPixmap(area, pix, src)
