"""The ruler: a measured line in mm from the radiograph's pixel spacing, with honest warnings.

Spacing is (row, column) mm and may be anisotropic; without spacing the ruler shows pixels, and
with only ImagerPixelSpacing it says the length is at the detector (no magnification correction).
"""

from __future__ import annotations

import math

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from orthogui.core.radiograph import Radiograph

NO_SPACING = "px — no pixel spacing"
AT_DETECTOR = "mm at detector, not corrected for magnification"


def measure(
    x0: float, y0: float, x1: float, y1: float, rg: Radiograph | None
) -> tuple[float, float, str]:
    """Length in pixels, in mm (nan without spacing) and the label text."""
    dx, dy = x1 - x0, y1 - y0
    px = math.hypot(dx, dy)
    spacing = rg.pixel_spacing if rg is not None else None
    if not spacing or rg is None or rg.spacing_source == "none":
        return px, float("nan"), f"{px:.1f} {NO_SPACING}"
    row_mm, col_mm = spacing
    mm = math.hypot(dx * col_mm, dy * row_mm)
    if rg.spacing_source == "ImagerPixelSpacing":
        return px, mm, f"{mm:.1f} {AT_DETECTOR}"
    return px, mm, f"{mm:.1f} mm"


class _RulerLabel(QGraphicsItem):
    """Constant-size text box beside the ruler."""

    _font = QFont()
    _font.setPointSizeF(9.0)

    def __init__(self, parent: QGraphicsItem) -> None:
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.text = ""
        self.warn = False
        self._rect = QRectF()

    def set_text(self, text: str, warn: bool) -> None:
        self.prepareGeometryChange()
        self.text, self.warn = text, warn
        fm = QFontMetricsF(self._font)
        self._rect = QRectF(8, 4, fm.horizontalAdvance(text) + 8, fm.height() + 4)
        self.update()

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.fillRect(self._rect, QColor(0, 0, 0, 180))
        painter.setFont(self._font)
        painter.setPen(QColor("#ffb000") if self.warn else QColor("#00ff90"))
        painter.drawText(self._rect, Qt.AlignmentFlag.AlignCenter, self.text)


class RulerItem(QGraphicsItem):
    """A line with end ticks and a label; lives in the scene, never in the model."""

    def __init__(self) -> None:
        super().__init__()
        self.setZValue(200)
        self.start = QPointF()
        self.end = QPointF()
        self.length_px = 0.0
        self.length_mm = float("nan")
        self.label = _RulerLabel(self)
        self._pen = QPen(QColor("#00ff90"), 2.0)
        self._pen.setCosmetic(True)

    def set_ends(self, start: QPointF, end: QPointF, rg: Radiograph | None) -> None:
        self.prepareGeometryChange()
        self.start, self.end = QPointF(start), QPointF(end)
        self.length_px, self.length_mm, text = measure(start.x(), start.y(), end.x(), end.y(), rg)
        self.label.set_text(text, warn=not text.endswith(" mm"))
        self.label.setPos(end)
        self.update()

    def text(self) -> str:
        return self.label.text

    def boundingRect(self) -> QRectF:
        pad = 8.0 * float(getattr(self.scene(), "pixel_size", 1.0))
        return QRectF(self.start, self.end).normalized().adjusted(-pad, -pad, pad, pad)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.setPen(self._pen)
        painter.drawLine(QLineF(self.start, self.end))
        t = painter.worldTransform()
        a, b = t.map(self.start), t.map(self.end)
        line = QLineF(a, b)
        if line.length() < 1:
            return
        n = line.normalVector().unitVector()
        off = QPointF(n.dx() * 6, n.dy() * 6)
        painter.save()
        painter.resetTransform()
        painter.setPen(self._pen)
        for p in (a, b):
            painter.drawLine(QLineF(p - off, p + off))
        painter.restore()
