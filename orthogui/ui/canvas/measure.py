"""Measurements on the canvas: their items, the layer that projects them, the ruler and angle tools.

The layer mirrors the model's measurements of the shown image, hit-tests them, and turns an
endpoint drag or Delete into one command; tools push ``AddMeasurements`` when a gesture ends.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from orthogui.core.commands import AddMeasurements, RemoveMeasurements, UpdateMeasurements
from orthogui.core.measurement import Measurement, MeasurementKind, Point, measure, value_of
from orthogui.core.project import ProjectModel
from orthogui.ui.canvas.ruler import _RulerLabel
from orthogui.ui.canvas.scene import AnnotationScene
from orthogui.ui.canvas.tools import Tool

if TYPE_CHECKING:
    from orthogui.ui.canvas.view import CanvasView

IDLE, SELECTED = "#00ff90", "#ffff00"


def _pen(color: str) -> QPen:
    pen = QPen(QColor(color), 2.0)
    pen.setCosmetic(True)
    return pen


class MeasurementItem(QGraphicsItem):
    """A ruler (2 points) or an angle (3, vertex in the middle) with its value label; a draft
    may have fewer points. It draws; it never changes the model."""

    def __init__(self, points: list[Point] | tuple[Point, ...] = ()) -> None:
        super().__init__()
        self.setZValue(200)
        self.points: list[QPointF] = [QPointF(x, y) for x, y in points]
        self.selected = False
        self.label = _RulerLabel(self)
        self.label.setVisible(False)

    def set_points(self, points: list[Point] | tuple[Point, ...]) -> None:
        self.prepareGeometryChange()
        self.points = [QPointF(x, y) for x, y in points]
        self.update()

    def set_text(self, text: str) -> None:
        self.label.set_text(text, warn=text.endswith("no pixel spacing") or "detector" in text)
        anchor = self.points[1] if len(self.points) == 3 else self.points[-1]
        self.label.setPos(anchor)
        self.label.setVisible(bool(text))

    def text(self) -> str:
        return self.label.text if self.label.isVisible() else ""

    def set_selected(self, on: bool) -> None:
        self.selected = on
        self.update()

    def boundingRect(self) -> QRectF:
        if not self.points:
            return QRectF()
        scene = self.scene()
        pad = 8.0 * (scene.pixel_size if isinstance(scene, AnnotationScene) else 1.0)
        xs = [p.x() for p in self.points]
        ys = [p.y() for p in self.points]
        rect = QRectF(QPointF(min(xs), min(ys)), QPointF(max(xs), max(ys)))
        return rect.adjusted(-pad, -pad, pad, pad)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if not self.points:
            return
        pen = _pen(SELECTED if self.selected else IDLE)
        painter.setPen(pen)
        for a, b in zip(self.points, self.points[1:], strict=False):
            painter.drawLine(QLineF(a, b))
        t = painter.worldTransform()
        screen = [t.map(p) for p in self.points]
        painter.save()
        painter.resetTransform()
        painter.setPen(pen)
        if len(screen) == 2 and QLineF(*screen).length() >= 1:
            n = QLineF(*screen).normalVector().unitVector()
            off = QPointF(n.dx() * 6, n.dy() * 6)
            for p in screen:
                painter.drawLine(QLineF(p - off, p + off))
        if self.selected:
            for p in screen:
                painter.drawRect(QRectF(p.x() - 4, p.y() - 4, 8, 8))
        painter.restore()


def _segment_distance(p: Point, a: Point, b: Point) -> float:
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    den = dx * dx + dy * dy
    t = 0.0 if den == 0 else max(0.0, min(1.0, ((p[0] - ax) * dx + (p[1] - ay) * dy) / den))
    return math.hypot(p[0] - ax - t * dx, p[1] - ay - t * dy)


class MeasurementLayer:
    """The shown image's measurements as items: selection, endpoint drags, Delete."""

    def __init__(self, view: CanvasView) -> None:
        self.view = view
        self.model: ProjectModel | None = None
        self.image_id: str | None = None
        self.items: dict[str, MeasurementItem] = {}
        self.selected: str | None = None
        self._drag: tuple[str, int, QPointF, bool] | None = None  # id, point, start, moved

    # -- model wiring --------------------------------------------------------------------------
    def attach(self, model: ProjectModel) -> None:
        if self.model is not None:
            self.model.measurement_added.disconnect(self._on_model_measurement_added)
            self.model.measurement_changed.disconnect(self._on_model_measurement_changed)
            self.model.measurement_removed.disconnect(self._on_model_measurement_removed)
        self.model = model
        model.measurement_added.connect(self._on_model_measurement_added)
        model.measurement_changed.connect(self._on_model_measurement_changed)
        model.measurement_removed.connect(self._on_model_measurement_removed)
        self.show_image(None)

    def show_image(self, image_id: str | None) -> None:
        self._drag = None
        self.selected = None
        for item in self.items.values():
            self.view.scene_.removeItem(item)
        self.items.clear()
        self.image_id = image_id
        if self.model is not None and image_id is not None:
            for m in self.model.measurements(image_id):
                self._on_model_measurement_added(m)

    def refresh(self) -> None:
        """Re-label every item (a new radiograph, so perhaps a new pixel spacing)."""
        if self.model is None:
            return
        for mid, item in self.items.items():
            item.set_text(value_of(self.model.measurement(mid), self.view.radiograph())[1])

    def value(self, measurement_id: str) -> float:
        """The value shown for a measurement (mm, px without spacing, or degrees)."""
        assert self.model is not None
        return value_of(self.model.measurement(measurement_id), self.view.radiograph())[0]

    def _on_model_measurement_added(self, m: Measurement) -> None:
        if m.image_id != self.image_id:
            return
        item = MeasurementItem(m.points)
        self.items[m.id] = item
        self.view.scene_.addItem(item)
        item.set_text(value_of(m, self.view.radiograph())[1])

    def _on_model_measurement_changed(self, before: Measurement, after: Measurement) -> None:
        item = self.items.get(after.id)
        if item is not None:
            item.set_points(after.points)
            item.set_text(value_of(after, self.view.radiograph())[1])

    def _on_model_measurement_removed(self, m: Measurement) -> None:
        item = self.items.pop(m.id, None)
        if item is not None:
            self.view.scene_.removeItem(item)
        if self.selected == m.id:
            self.selected = None

    # -- selection and gestures ----------------------------------------------------------------
    def set_selected(self, measurement_id: str | None) -> None:
        if self.selected in self.items:
            self.items[self.selected].set_selected(False)
        self.selected = measurement_id if measurement_id in self.items else None
        if self.selected is not None:
            self.items[self.selected].set_selected(True)
            self.view.select([])

    def deselect(self) -> bool:
        """Clear the measurement selection (Esc); True if there was one."""
        had = self.selected is not None
        self.set_selected(None)
        return had

    def hit(self, p: QPointF, *, body: bool) -> tuple[str, int] | None:
        """(id, point index) under ``p``; index -1 for a line (only with ``body``)."""
        if self.model is None:
            return None
        tol = self.view.tolerance()
        q = (p.x(), p.y())
        order = sorted(self.items, key=lambda i: i != self.selected)
        for mid in order:
            pts = self.model.measurement(mid).points
            for i, pt in enumerate(pts):
                if math.dist(pt, q) <= tol:
                    return mid, i
        if body:
            for mid in order:
                pts = self.model.measurement(mid).points
                if any(_segment_distance(q, a, b) <= tol for a, b in itertools.pairwise(pts)):
                    return mid, -1
        return None

    def press(self, p: QPointF, tool: Tool) -> bool:
        """Take a left press when it falls on a measurement; True if taken."""
        if tool.name != "select":
            return False  # the ruler and angle tools always draw (even from a ruler's end)
        found = self.hit(p, body=True)
        if found is None:
            self.set_selected(None)
            return False
        mid, index = found
        self.set_selected(mid)
        self._drag = (mid, index, QPointF(p), False)
        return True

    def move(self, p: QPointF) -> bool:
        if self._drag is None:
            return False
        mid, index, start, moved = self._drag
        if index < 0 or self.model is None:
            return True  # a line grabbed: selection only
        if not moved and math.dist((p.x(), p.y()), (start.x(), start.y())) < (
            0.5 * self.view.tolerance()
        ):
            return True
        self._drag = (mid, index, start, True)
        m = self.model.measurement(mid).with_point(index, p.x(), p.y())
        self.items[mid].set_points(m.points)
        self.items[mid].set_text(value_of(m, self.view.radiograph())[1])
        return True

    def release(self, p: QPointF) -> bool:
        if self._drag is None:
            return False
        mid, index, _, moved = self._drag
        self._drag = None
        if moved and self.model is not None and mid in self.items:
            before = self.model.measurement(mid)
            self.view.push(UpdateMeasurements((before,), (before.with_point(index, p.x(), p.y()),)))
        return True

    def cancel_drag(self) -> bool:
        if self._drag is None or self.model is None:
            return False
        mid = self._drag[0]
        self._drag = None
        self._on_model_measurement_changed(*(2 * (self.model.measurement(mid),)))
        return True

    def key(self, key: int) -> bool:
        """Delete/Backspace removes the selected measurement (one step)."""
        if key not in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) or self.model is None:
            return False
        if self.selected is None:
            return False
        m = self.model.measurement(self.selected)
        self.set_selected(None)
        self.view.push(RemoveMeasurements((m,), f"Delete {_NAMES[m.kind]}"))
        return True


_NAMES = {"length": "ruler", "angle": "angle"}


class _MeasureTool(Tool):
    """Shared draft and the push of a finished measurement."""

    kind: MeasurementKind = "length"

    def __init__(self, view: CanvasView) -> None:
        super().__init__(view)
        self.points: list[Point] = []
        self.draft = MeasurementItem()

    @property
    def busy(self) -> bool:
        return bool(self.points)

    def _show(self, points: list[Point]) -> None:
        if not points:
            if self.draft.scene() is not None:
                self.view.scene_.removeItem(self.draft)
            return
        if self.draft.scene() is None:
            self.view.scene_.addItem(self.draft)
        self.draft.set_points(points)

    def _finish(self, points: list[Point]) -> Measurement | None:
        self.points = []
        self._show([])
        v = self.view
        if v.image_id is None or v.model is None:
            v.message.emit("No image to measure on")
            return None
        m = Measurement.new(image_id=v.image_id, kind=self.kind, points=points, created_by=v.user)
        v.push(AddMeasurements((m,), f"Add {_NAMES[self.kind]}"))
        v.measures.set_selected(m.id)
        return m

    def cancel(self) -> bool:
        had = bool(self.points)
        self.points = []
        self._show([])
        return had


class RulerTool(_MeasureTool):
    """Drag to measure; the ruler stays on the image as a measurement (one undo step)."""

    name = "ruler"
    kind = "length"

    def press(self, p: QPointF, mods: Qt.KeyboardModifier) -> None:
        self.points = [(p.x(), p.y()), (p.x(), p.y())]
        self._show(self.points)

    def move(self, p: QPointF, mods: Qt.KeyboardModifier) -> None:
        if self.points:
            self.points[1] = (p.x(), p.y())
            self._show(self.points)
            (x0, y0), (x1, y1) = self.points
            self.draft.set_text(measure(x0, y0, x1, y1, self.view.radiograph())[2])

    def release(self, p: QPointF, mods: Qt.KeyboardModifier) -> None:
        if not self.points:
            return
        start = self.points[0]
        end = (p.x(), p.y())
        if math.dist(start, end) < self.view.tolerance():
            self.cancel()  # a click, not a ruler
            return
        if self._finish([start, end]) is not None:
            px, mm, _ = measure(*start, *end, self.view.radiograph())
            self.view.measured.emit(px, mm)


class AngleTool(_MeasureTool):
    """Click, click, click: an arm's end, the vertex, the other arm's end."""

    name = "angle"
    kind = "angle"

    def press(self, p: QPointF, mods: Qt.KeyboardModifier) -> None:
        q = (p.x(), p.y())
        if self.points and math.dist(self.points[-1], q) <= 0.5 * self.view.tolerance():
            return  # the second press of a double-click
        self.points.append(q)
        if len(self.points) == 3:
            m = self._finish(self.points)
            if m is not None:
                self.view.message.emit(f"Angle: {value_of(m, self.view.radiograph())[1]}")
            return
        self._show(self.points)

    def move(self, p: QPointF, mods: Qt.KeyboardModifier) -> None:
        if self.points:
            self._show([*self.points, (p.x(), p.y())])

    def key(self, key: int, mods: Qt.KeyboardModifier) -> bool:
        if key == Qt.Key.Key_Backspace and self.points:
            self.points.pop()
            self._show(self.points)
            return True
        return False
