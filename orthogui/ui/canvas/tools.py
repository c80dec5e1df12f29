"""Canvas tools: what a left-button gesture means (select and edit, draw polygon/box; the
measurement tools live in ``measure``, the screw-by-axis tool in ``axis_tool``).

A tool shows the gesture in flight as item previews and pushes exactly one command on release;
items and tools never mutate the model directly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsRectItem

from orthogui.core.annotation import Annotation
from orthogui.core.commands import AddAnnotations, RemoveAnnotations, UpdateAnnotations
from orthogui.core.geometry import Box, Polygon, Shape
from orthogui.core.review import set_shape
from orthogui.ui.canvas.items import AnnotationItem, resized_box

if TYPE_CHECKING:
    from orthogui.ui.canvas.view import CanvasView

Mods = Qt.KeyboardModifier


def _cosmetic(color: str, width: float = 1.5, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(QColor(color), width, style)
    pen.setCosmetic(True)
    return pen


def update_shapes(
    view: CanvasView,
    changes: Sequence[tuple[Annotation, Shape]],
    label: str,
    merge_key: str = "",
) -> UpdateAnnotations:
    """One command changing several shapes (review state follows ``review.set_shape``)."""
    parts = [set_shape(a, s, user=view.user, label=label) for a, s in changes]
    before = tuple(p.before[0] for p in parts)
    after = tuple(p.after[0] for p in parts)
    return UpdateAnnotations(before, after, label, merge_key)


class Tool:
    """Base: ignores everything."""

    name = ""

    def __init__(self, view: CanvasView) -> None:
        self.view = view

    def press(self, p: QPointF, mods: Qt.KeyboardModifier) -> None: ...

    def move(self, p: QPointF, mods: Qt.KeyboardModifier) -> None: ...

    def release(self, p: QPointF, mods: Qt.KeyboardModifier) -> None: ...

    def double_click(self, p: QPointF, mods: Qt.KeyboardModifier) -> None: ...

    def key(self, key: int, mods: Qt.KeyboardModifier) -> bool:
        """Handle a key; True when it was used."""
        return False

    def cancel(self) -> bool:
        """Abandon the gesture in flight (Esc); True if there was one."""
        return False

    def deactivate(self) -> None:
        """Another tool takes over."""
        self.cancel()


@dataclass
class _Drag:
    kind: str  # "vertex" | "insert" | "move" | "resize" | "band"
    start: QPointF
    items: list[AnnotationItem] = field(default_factory=list)
    index: int = -1
    handle: str = ""
    base: Shape | None = None
    moved: bool = False


class SelectTool(Tool):
    """Select, move, drag vertices and handles, insert/delete vertices, rubber-band lasso."""

    name = "select"

    def __init__(self, view: CanvasView) -> None:
        super().__init__(view)
        self._drag: _Drag | None = None
        self._band = QGraphicsRectItem()
        self._band.setPen(_cosmetic("#ffffff", 1.0, Qt.PenStyle.DashLine))
        self._band.setBrush(QColor(255, 255, 255, 30))
        self._band.setZValue(100)

    # -- press/move/release ------------------------------------------------------------------
    def press(self, p: QPointF, mods: Qt.KeyboardModifier) -> None:
        v = self.view
        shift = bool(mods & Mods.ShiftModifier)
        found = v.scene_.hit_at(p.x(), p.y(), v.tolerance())
        if found is None:
            self._drag = _Drag("band", p)
            return
        item, hit = found
        selected = item.ann.id in v.selected_ids()
        if selected and hit.kind == "vertex":
            vsel = set(item.selected_vertices)
            if shift:
                vsel ^= {hit.index}
                v.set_vertex_selection(item, frozenset(vsel))
                return
            if hit.index not in vsel:
                v.set_vertex_selection(item, frozenset({hit.index}))
            self._drag = _Drag("vertex", p, [item], hit.index, base=item.ann.shape)
        elif selected and hit.kind == "midpoint":
            poly = item.ann.shape
            assert isinstance(poly, Polygon)
            a, b = poly.points[hit.index], poly.points[(hit.index + 1) % len(poly)]
            mid = (a + b) / 2.0
            base = poly.with_vertex_inserted(hit.index + 1, float(mid[0]), float(mid[1]))
            item.set_preview(base)
            v.set_vertex_selection(item, frozenset({hit.index + 1}))
            self._drag = _Drag("insert", p, [item], hit.index + 1, base=base)
        elif selected and hit.kind == "handle":
            self._drag = _Drag("resize", p, [item], handle=hit.handle, base=item.ann.shape)
        elif shift:
            ids = v.selected_ids()
            ids = [i for i in ids if i != item.ann.id] if selected else [*ids, item.ann.id]
            v.select(ids)
        else:
            if not selected:
                v.select([item.ann.id])
            items = [v.scene_.items_by_id[i] for i in v.selected_ids()]
            self._drag = _Drag("move", p, items)

    def move(self, p: QPointF, mods: Qt.KeyboardModifier) -> None:
        d = self._drag
        if d is None:
            return
        dx, dy = p.x() - d.start.x(), p.y() - d.start.y()
        if not d.moved and math.hypot(dx, dy) < 0.5 * self.view.tolerance():
            return  # a click, not a drag yet
        d.moved = True
        if d.kind in ("vertex", "insert"):
            assert isinstance(d.base, Polygon)
            q = self.view.snap(p, mods)  # Ctrl: onto the nearest strong edge
            d.items[0].set_preview(d.base.with_vertex_moved(d.index, q.x(), q.y()))
        elif d.kind == "move":
            for item in d.items:
                item.set_preview(item.ann.shape.translated(dx, dy))
        elif d.kind == "resize":
            assert isinstance(d.base, Box)
            d.items[0].set_preview(resized_box(d.base, d.handle, p.x(), p.y()))
        elif d.kind == "band":
            if self._band.scene() is None:
                self.view.scene_.addItem(self._band)
            self._band.setRect(QRectF(d.start, p).normalized())

    def release(self, p: QPointF, mods: Qt.KeyboardModifier) -> None:
        d, self._drag = self._drag, None
        if d is None:
            return
        v = self.view
        if d.kind == "band":
            self._finish_band(d, p, mods)
            return
        if not d.moved:
            for item in d.items:
                item.set_preview(None)
            return
        labels = {
            "vertex": "Move vertex",
            "insert": "Insert vertex",
            "move": "Move",
            "resize": "Resize box",
        }
        changes = [(item.ann, item.shape_value) for item in d.items]
        for item in d.items:
            item.set_preview(None)
        v.push(update_shapes(v, changes, labels[d.kind]))

    def _finish_band(self, d: _Drag, p: QPointF, mods: Qt.KeyboardModifier) -> None:
        v = self.view
        if self._band.scene() is not None:
            v.scene_.removeItem(self._band)
        if not d.moved:
            v.select([])
            return
        rect = QRectF(d.start, p).normalized()
        shift = bool(mods & Mods.ShiftModifier)
        polys = v.selected_polygon_item()
        if polys is not None:
            pts = polys.ann.shape.points  # type: ignore[union-attr]
            inside = (
                (pts[:, 0] >= rect.left())
                & (pts[:, 0] <= rect.right())
                & (pts[:, 1] >= rect.top())
                & (pts[:, 1] <= rect.bottom())
            )
            chosen = {int(i) for i in np.flatnonzero(inside)}
            if shift:
                chosen |= set(polys.selected_vertices)
            v.set_vertex_selection(polys, frozenset(chosen))
            return
        ids = [
            ann_id
            for ann_id, item in v.scene_.items_by_id.items()
            if item.isVisible() and rect.contains(QRectF(*item.ann.shape.bbox().xywh()))
        ]
        v.select([*v.selected_ids(), *ids] if shift else ids)

    def double_click(self, p: QPointF, mods: Qt.KeyboardModifier) -> None:
        v = self.view
        item = v.selected_polygon_item()
        if item is None:
            return
        found = v.scene_.hit_at(p.x(), p.y(), v.tolerance())
        if found is None or found[0] is not item or found[1].kind not in ("edge", "midpoint"):
            return
        poly = item.ann.shape
        assert isinstance(poly, Polygon)
        i, _, (x, y) = poly.nearest_edge(p.x(), p.y())
        self._drag = None
        v.set_vertex_selection(item, frozenset({i + 1}))
        v.push(
            update_shapes(v, [(item.ann, poly.with_vertex_inserted(i + 1, x, y))], "Insert vertex")
        )

    # -- keys ----------------------------------------------------------------------------------
    def key(self, key: int, mods: Qt.KeyboardModifier) -> bool:
        if key not in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            return False
        v = self.view
        item = v.selected_polygon_item()
        if item is not None and item.selected_vertices:
            poly = item.ann.shape
            assert isinstance(poly, Polygon)
            n = len(item.selected_vertices)
            if len(poly) - n < 3:
                # Refuse rather than delete the shape: deleting an instance is a separate,
                # deliberate gesture (clear the vertex selection with Esc, then Delete).
                v.message.emit("A polygon keeps at least 3 vertices; Esc then Delete removes it")
                return True
            shape = poly.without_vertices(set(item.selected_vertices))
            v.set_vertex_selection(item, frozenset())
            label = f"Delete {n} vert{'ices' if n > 1 else 'ex'}"
            v.push(update_shapes(v, [(item.ann, shape)], label))
            return True
        anns = [v.scene_.items_by_id[i].ann for i in v.selected_ids()]
        if anns:
            n = len(anns)
            v.push(RemoveAnnotations(tuple(anns), f"Delete {n} finding{'s' * (n != 1)}"))
            return True
        return False

    def cancel(self) -> bool:
        d, self._drag = self._drag, None
        if d is None:
            v = self.view
            selected = v.selected_polygon_item()
            if selected is not None and selected.selected_vertices:
                v.set_vertex_selection(selected, frozenset())
                return True
            return False
        for item in d.items:
            item.set_preview(None)
        if self._band.scene() is not None:
            self.view.scene_.removeItem(self._band)
        return True


class _DraftTool(Tool):
    """Shared draft outline for the drawing tools."""

    def __init__(self, view: CanvasView) -> None:
        super().__init__(view)
        self._draft = QGraphicsPathItem()
        self._draft.setPen(_cosmetic("#ffff00", 1.5, Qt.PenStyle.DashLine))
        self._draft.setBrush(QColor(255, 255, 0, 30))
        self._draft.setZValue(100)

    def _show(self, path: QPainterPath | None) -> None:
        if path is None:
            if self._draft.scene() is not None:
                self.view.scene_.removeItem(self._draft)
            return
        if self._draft.scene() is None:
            self.view.scene_.addItem(self._draft)
        self._draft.setPath(path)

    def _add(self, shape: Shape, label: str) -> None:
        v = self.view
        if v.image_id is None or v.model is None:
            v.message.emit("No image to draw on")
            return
        ann = Annotation.human(image_id=v.image_id, category=v.draw_category(), shape=shape)
        v.push(AddAnnotations((ann,), label))
        v.select([ann.id])


class PolygonTool(_DraftTool):
    """Click vertices; close on the first vertex, by double-click or Enter. Nothing enters
    history until the polygon closes."""

    name = "polygon"

    def __init__(self, view: CanvasView) -> None:
        super().__init__(view)
        self.points: list[tuple[float, float]] = []
        self._cursor: QPointF | None = None

    def press(self, p: QPointF, mods: Qt.KeyboardModifier) -> None:
        tol = self.view.tolerance()
        if len(self.points) >= 3 and math.dist(self.points[0], (p.x(), p.y())) <= tol:
            self.close()
            return
        if self.points and math.dist(self.points[-1], (p.x(), p.y())) <= 0.5 * tol:
            return  # the second press of a double-click
        q = self.view.snap(p, mods)  # Ctrl: onto the nearest strong edge
        self.points.append((q.x(), q.y()))
        self._redraw()

    def move(self, p: QPointF, mods: Qt.KeyboardModifier) -> None:
        self._cursor = self.view.snap(p, mods)
        if self.points:
            self._redraw()

    def double_click(self, p: QPointF, mods: Qt.KeyboardModifier) -> None:
        self.close()

    def key(self, key: int, mods: Qt.KeyboardModifier) -> bool:
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.points:
            self.close()
            return True
        if key == Qt.Key.Key_Backspace and self.points:
            self.points.pop()
            self._redraw()
            return True
        return False

    def close(self) -> None:
        pts, self.points = self.points, []
        self._show(None)
        if len(pts) < 3:
            self.view.message.emit("A polygon needs at least 3 vertices")
            return
        self._add(Polygon(pts), "Draw polygon")

    def cancel(self) -> bool:
        had = bool(self.points)
        self.points = []
        self._show(None)
        return had

    def _redraw(self) -> None:
        if not self.points:
            self._show(None)
            return
        path = QPainterPath(QPointF(*self.points[0]))
        for pt in self.points[1:]:
            path.lineTo(QPointF(*pt))
        if self._cursor is not None:
            path.lineTo(self._cursor)
        self._show(path)


class BoxTool(_DraftTool):
    """Press, drag, release: one box."""

    name = "box"

    def __init__(self, view: CanvasView) -> None:
        super().__init__(view)
        self._start: QPointF | None = None

    def press(self, p: QPointF, mods: Qt.KeyboardModifier) -> None:
        self._start = p

    def move(self, p: QPointF, mods: Qt.KeyboardModifier) -> None:
        if self._start is not None:
            path = QPainterPath()
            path.addRect(QRectF(self._start, p).normalized())
            self._show(path)

    def release(self, p: QPointF, mods: Qt.KeyboardModifier) -> None:
        start, self._start = self._start, None
        self._show(None)
        if start is None:
            return
        box = Box(start.x(), start.y(), p.x(), p.y())
        if min(box.width, box.height) < self.view.tolerance():
            return  # a click, not a box
        self._add(box, "Draw box")

    def cancel(self) -> bool:
        had = self._start is not None
        self._start = None
        self._show(None)
        return had
