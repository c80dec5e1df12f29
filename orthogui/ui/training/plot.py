"""A small line plot painted with QPainter (no matplotlib in the GUI): loss per step."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QWidget


class LossPlot(QWidget):
    """Draws ``(step, value)`` points scaled to the widget, with the last value written."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.points: list[tuple[float, float]] = []
        self.setMinimumHeight(80)

    def sizeHint(self) -> QSize:
        return QSize(240, 100)

    def add(self, step: float, value: float) -> None:
        if value == value:  # skip NaN
            self.points.append((float(step), float(value)))
            self.update()

    def clear(self) -> None:
        self.points.clear()
        self.update()

    def polyline(self) -> QPolygonF:
        """The points in widget coordinates (what ``paintEvent`` draws)."""
        if not self.points:
            return QPolygonF()
        w, h, pad = self.width(), self.height(), 6.0
        xs = [p[0] for p in self.points]
        ys = [p[1] for p in self.points]
        x0, x1 = min(xs), max(xs)
        y0, y1 = min(ys), max(ys)
        sx = (w - 2 * pad) / (x1 - x0) if x1 > x0 else 0.0
        sy = (h - 2 * pad) / (y1 - y0) if y1 > y0 else 0.0
        return QPolygonF(
            [QPointF(pad + (x - x0) * sx, h - pad - (y - y0) * sy) for x, y in self.points]
        )

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().base())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor("#3c78d8"), 1.5))
        painter.drawPolyline(self.polyline())
        if self.points:
            painter.setPen(self.palette().text().color())
            painter.drawText(
                self.rect().adjusted(4, 2, -4, -2),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop,
                f"loss {self.points[-1][1]:.3f}",
            )
        painter.end()
