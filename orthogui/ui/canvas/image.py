"""The radiograph on the canvas: an 8-bit display rendering with a small mip pyramid.

Zoomed out, a 3000x3000 image is drawn from a pre-reduced level, which keeps frames short and
avoids aliasing; zoomed in, pixels are drawn as crisp squares.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPixmapItem, QStyleOptionGraphicsItem, QWidget

_MIN_LEVEL_SIDE = 600  # stop reducing below this many pixels on the longer side


def to_qimage(gray: NDArray[np.uint8]) -> QImage:
    """A QImage sharing a contiguous uint8 array (the caller keeps the array alive)."""
    rows, cols = gray.shape
    return QImage(gray.data, cols, rows, gray.strides[0], QImage.Format.Format_Grayscale8)


def _halve(gray: NDArray[np.uint8]) -> NDArray[np.uint8]:
    r, c = gray.shape[0] // 2 * 2, gray.shape[1] // 2 * 2
    g = gray[:r, :c].astype(np.uint16)
    s = g[0::2, 0::2] + g[1::2, 0::2] + g[0::2, 1::2] + g[1::2, 1::2]
    return np.ascontiguousarray((s + 2) >> 2).astype(np.uint8)


class ImageItem(QGraphicsPixmapItem):
    """Shows the current display rendering; pixel (c, r) covers [c, c+1) x [r, r+1)."""

    def __init__(self) -> None:
        super().__init__()
        self.setAcceptedMouseButtons(self.acceptedMouseButtons().NoButton)
        self.setShapeMode(QGraphicsPixmapItem.ShapeMode.BoundingRectShape)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)
        self._gray: NDArray[np.uint8] | None = None
        self._levels: list[QPixmap] = []
        self.setZValue(-10)

    def set_gray(self, gray: NDArray[np.uint8] | None) -> None:
        """Show a new rendering (or nothing); builds the reduced levels."""
        self._levels = []
        if gray is None:
            self._gray = None
            self.setPixmap(QPixmap())
            return
        self._gray = np.ascontiguousarray(gray)
        level = self._gray
        while True:
            # Keep each level's array alive only as long as the QImage copy is made.
            self._levels.append(QPixmap.fromImage(to_qimage(level)))
            if max(level.shape) < 2 * _MIN_LEVEL_SIDE:
                break
            level = _halve(level)
        self.setPixmap(self._levels[0])

    def gray(self) -> NDArray[np.uint8] | None:
        return self._gray

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if not self._levels:
            return
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        k = 0
        while k + 1 < len(self._levels) and lod * (2 ** (k + 1)) <= 1.0:
            k += 1
        pix = self._levels[k]
        full = self._levels[0]
        scale = pix.width() / full.width()
        exposed = option.exposedRect.intersected(QRectF(0, 0, full.width(), full.height()))
        if exposed.isEmpty():
            return
        src = QRectF(
            exposed.x() * scale,
            exposed.y() * scale,
            exposed.width() * scale,
            exposed.height() * scale,
        )
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, lod < 2.0)
        painter.drawPixmap(exposed, pix, src)
