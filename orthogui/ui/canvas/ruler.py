"""The ruler's measure (from ``core.measurement``) and the value label of measurement items.

Spacing is (row, column) mm and may be anisotropic; without spacing the ruler shows pixels, and
with only ImagerPixelSpacing it says the length is at the detector (no magnification correction).
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from orthogui.core.measurement import AT_DETECTOR, NO_SPACING, measure

__all__ = ["AT_DETECTOR", "NO_SPACING", "measure"]


class _RulerLabel(QGraphicsItem):
    """Constant-size text box beside a measurement."""

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
