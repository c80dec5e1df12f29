"""Graphics items that project annotations on the canvas: polygons, boxes and their labels.

Items draw and hit-test only; gestures are reported to the tools, which push commands.
Scene coordinates are continuous image pixel coordinates (see ``orthogui.core.geometry``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray
from PySide6.QtCore import QByteArray, QDataStream, QIODevice, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QPainter,
    QPen,
    QPolygonF,
    QTransform,
)
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from orthogui.core.annotation import Annotation, ReviewState
from orthogui.core.categories import Category
from orthogui.core.geometry import Box, Polygon, Shape

HANDLE_PX = 4.0  # half size of a vertex/resize handle on screen
HIT_PX = 6.0  # how close (screen pixels) the cursor must be to grab a handle or an edge

HitKind = Literal["vertex", "midpoint", "handle", "edge", "body"]
BOX_HANDLES = ("nw", "n", "ne", "e", "se", "s", "sw", "w")


@dataclass(frozen=True)
class Hit:
    """What a point touches on an item: a vertex/midpoint index, a box handle, or the body."""

    kind: HitKind
    index: int = -1
    handle: str = ""


def qpolygon(points: NDArray[np.floating] | list[tuple[float, float]]) -> QPolygonF:
    """A QPolygonF from ``(n, 2)`` points, read from QDataStream bytes built by numpy.

    Fifty times faster than one ``QPointF`` per vertex (20,000 vertices: 1.4 ms, not 70 ms).
    """
    pts = np.ascontiguousarray(np.asarray(points, dtype=np.float64).reshape(-1, 2), dtype=">f8")
    data = np.array([len(pts)], dtype=">u4").tobytes() + pts.tobytes()
    poly = QPolygonF()
    buf = QByteArray(data)  # must outlive the stream (the stream does not own it)
    stream = QDataStream(buf, QIODevice.OpenModeFlag.ReadOnly)
    stream >> poly
    if stream.status() != QDataStream.Status.Ok or poly.size() != len(pts):
        raise ValueError(f"cannot build a polygon of {len(pts)} vertices: {stream.status()}")
    return poly


def decimate(points: NDArray[np.float64], step: float) -> NDArray[np.float64]:
    """Level of detail: keep at most one vertex per ``step`` of outline length.

    The first vertex of each ``step``-long stretch of the (open) outline survives; shapes that
    would drop below 3 vertices are returned whole.
    """
    n = len(points)
    if n <= 3 or step <= 0.0:
        return points
    seg = np.hypot(*np.diff(points, axis=0).T)
    bucket = np.floor(np.concatenate(([0.0], np.cumsum(seg))) / step)
    keep = np.flatnonzero(np.diff(bucket, prepend=-1.0) > 0)
    return points if len(keep) < 3 else points[keep]


def device_points(t: QTransform, points: NDArray[np.float64]) -> NDArray[np.float64]:
    """Scene points (n, 2) mapped by an affine transform (as ``QTransform.map``)."""
    x, y = points[:, 0], points[:, 1]
    return np.c_[t.m11() * x + t.m21() * y + t.dx(), t.m12() * x + t.m22() * y + t.dy()]


def lod_level(scale: float) -> int:
    """The level of detail for a view scale: vertices about one screen pixel apart."""
    return round(math.log2(1.0 / scale)) if scale > 0 else 0


class Overlay(Protocol):
    """What an item tells the layer that draws it while it is not selected."""

    def invalidate(self) -> None:
        """The item's look or geometry changed, or it was handed over or taken back: the
        layer repaints what changed (it compares its members with its last copies of them)."""
        ...


def resized_box(box: Box, handle: str, x: float, y: float) -> Box:
    """The box with the edges named by ``handle`` ("nw", "e", ...) moved to (x, y)."""
    x0, y0, x1, y1 = box.x0, box.y0, box.x1, box.y1
    if "w" in handle:
        x0 = x
    if "e" in handle:
        x1 = x
    if "n" in handle:
        y0 = y
    if "s" in handle:
        y1 = y
    return Box(x0, y0, x1, y1)


def _box_handle_points(box: Box) -> list[tuple[str, float, float]]:
    cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
    pos = {
        "nw": (box.x0, box.y0),
        "n": (cx, box.y0),
        "ne": (box.x1, box.y0),
        "e": (box.x1, cy),
        "se": (box.x1, box.y1),
        "s": (cx, box.y1),
        "sw": (box.x0, box.y1),
        "w": (box.x0, cy),
    }
    return [(h, *pos[h]) for h in BOX_HANDLES]


class LabelItem(QGraphicsItem):
    """Category name and score, drawn at a constant screen size above its shape."""

    _font = QFont()
    _font.setPointSizeF(8.5)

    def __init__(self, parent: QGraphicsItem) -> None:
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self._text = ""
        self._color = QColor("white")
        self._rect = QRectF()
        self._image: QImage | None = None

    def set_text(self, text: str, color: QColor) -> None:
        self.prepareGeometryChange()
        self._text = text
        self._color = color
        fm = QFontMetricsF(self._font)
        w = fm.horizontalAdvance(text) + 6
        h = fm.height() + 2
        self._rect = QRectF(0, -h - 2, w, h)
        self._image = None
        self.update()

    def text(self) -> str:
        return self._text

    def image(self) -> QImage:
        """The label drawn once into an image (the overlay blits it: text layout is slow)."""
        if self._image is None:
            r = self._rect.toAlignedRect()
            img = QImage(
                max(r.width(), 1), max(r.height(), 1), QImage.Format.Format_ARGB32_Premultiplied
            )
            img.fill(Qt.GlobalColor.transparent)
            p = QPainter(img)
            self.draw(p, QRectF(0, 0, self._rect.width(), self._rect.height()))
            p.end()
            self._image = img
        return self._image

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        self.draw(painter, self._rect)

    def draw(self, painter: QPainter, rect: QRectF) -> None:
        """Draw the label into ``rect`` (device pixels); the overlay uses it too."""
        painter.fillRect(rect, QColor(0, 0, 0, 150))
        painter.setFont(self._font)
        painter.setPen(self._color)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self._text)


class AnnotationItem(QGraphicsItem):
    """Common look of an annotation: colour by category, line style by review state.

    While it is neither selected nor previewing a gesture, the item paints nothing itself
    (``ItemHasNoContents``, label hidden): the scene's overlay draws it with all the others
    from one cached pixmap. Selected items paint themselves, with their handles.
    """

    def __init__(self, ann: Annotation, category: Category | None) -> None:
        super().__init__()
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setAcceptHoverEvents(False)
        self.ann = ann
        self._category = category
        self._preview: Shape | None = None
        self._selected = False
        self._vertex_sel: frozenset[int] = frozenset()
        self._px = 1.0  # scene units per screen pixel, for handle sizes
        self._pen = QPen()
        self._brush = QBrush()
        self._shape_rect = QRectF()  # the shape's bounding box
        self._bounds = QRectF()  # boundingRect(): the box plus handle room when selected
        self._overlay: Overlay | None = None
        self._delegated = False
        self._label_shown = True
        self.label = LabelItem(self)
        self._restyle()
        self._geometry_changed()

    # -- state set by the scene and the tools ------------------------------------------------
    @property
    def shape_value(self) -> Shape:
        """The shape shown: the in-flight preview during a gesture, else the model's."""
        return self._preview if self._preview is not None else self.ann.shape

    def set_annotation(self, ann: Annotation, category: Category | None) -> None:
        self.ann = ann
        self._category = category
        self._preview = None
        self._restyle()
        self._geometry_changed()

    def set_preview(self, shape: Shape | None) -> None:
        self._preview = shape
        self._geometry_changed()

    def set_highlight(self, selected: bool, vertices: frozenset[int] = frozenset()) -> None:
        if selected == self._selected and vertices == self._vertex_sel:
            return
        self._selected = selected
        self._vertex_sel = vertices if selected else frozenset()
        self.setZValue(1.0 if selected else 0.0)
        self._restyle()
        self.prepareGeometryChange()
        self._update_bounds()
        self.update()
        self._sync_overlay(changed=False)

    @property
    def selected_vertices(self) -> frozenset[int]:
        return self._vertex_sel

    def set_pixel_size(self, px: float) -> None:
        if px != self._px:
            if self._selected:
                self.prepareGeometryChange()
            self._px = px
            if self._selected:
                self._update_bounds()

    # -- drawn by the overlay while idle ---------------------------------------------------------
    def set_overlay(self, overlay: Overlay | None) -> None:
        """Let ``overlay`` draw this item while it is idle (None: the item draws itself)."""
        self._overlay = overlay
        self._sync_overlay(changed=True)

    @property
    def delegated(self) -> bool:
        """Whether the overlay draws this item now (not selected, no gesture preview)."""
        return self._delegated

    def _sync_overlay(self, *, changed: bool) -> None:
        """Hand drawing to the overlay or take it back; ``changed``: the look changed."""
        was = self._delegated
        now = self._overlay is not None and not self._selected and self._preview is None
        if now != was:
            self._delegated = now
            self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents, now)
            self.label.setVisible(not now and self._label_shown)
        if self._overlay is not None and (now != was or (now and changed)):
            self._overlay.invalidate()

    def set_label_shown(self, show: bool) -> None:
        """Show or hide the class+score label (the overlay draws those of idle items)."""
        self._label_shown = show
        self.label.setVisible(show and not self._delegated)

    def shape_rect(self) -> QRectF:
        """The shape's bounding box in scene coordinates."""
        return self._shape_rect

    def pen(self) -> QPen:
        return self._pen

    def brush(self) -> QBrush:
        return self._brush

    # -- look --------------------------------------------------------------------------------
    def color(self) -> QColor:
        return QColor(self._category.color if self._category else "#ffffff")

    def _restyle(self) -> None:
        state = self.ann.review.state
        base = self.color()
        # Width 1 keeps Qt's fast cosmetic-line path (a 1.5 px pen is 2-3x slower to stroke).
        pen = QPen(base, 2.0 if self._selected else 1.0)
        pen.setCosmetic(True)
        fill = QColor(base)
        fill.setAlpha(55)
        if state == ReviewState.PROPOSED and self.ann.provenance.is_model:
            pen.setStyle(Qt.PenStyle.DashLine)
            fill.setAlpha(25)
        elif state == ReviewState.REJECTED:
            faint = QColor(base)
            faint.setAlpha(110)
            pen.setColor(faint)
            pen.setStyle(Qt.PenStyle.DotLine)
            fill.setAlpha(0)
        self._pen = pen
        self._brush = QBrush(fill)
        self.style_key = (pen.color().rgba(), pen.style().value, pen.widthF(), fill.rgba())
        name = self._category.display_name if self._category else self.ann.category
        score = self.ann.score
        text = name if score is None else f"{name} {score:.2f}"
        if state == ReviewState.REJECTED:
            text += " (rejected)"
        elif state == ReviewState.PROPOSED and self.ann.provenance.is_model:
            text += " ?"
        self.label.set_text(text, base.lighter(130))

    def _geometry_changed(self) -> None:
        self.prepareGeometryChange()
        bb = self.shape_value.bbox()
        self._shape_rect = QRectF(bb.x0, bb.y0, bb.width, bb.height)
        self._update_bounds()
        self.label.setPos(bb.x0, bb.y0)
        self._on_geometry()
        self.update()
        self._sync_overlay(changed=True)

    def _on_geometry(self) -> None:
        """Subclasses cache their drawing primitives here."""

    def _update_bounds(self) -> None:
        pad = (HANDLE_PX + 2) * self._px if self._selected else 0.0
        self._bounds = self._shape_rect.adjusted(-pad, -pad, pad, pad)

    def boundingRect(self) -> QRectF:
        # Cached: Qt asks for it several times per item and frame.
        return self._bounds

    def _draw_handles(
        self, painter: QPainter, points: NDArray[np.float64], chosen: frozenset[int]
    ) -> None:
        """Square handles of constant screen size at scene ``points`` (n, 2), the ``chosen``
        ones red; each drawn over the ones before it."""
        dev = device_points(painter.worldTransform(), points)
        painter.save()
        painter.resetTransform()
        painter.setPen(QPen(QColor("black"), 1))
        r = HANDLE_PX
        normal, picked = QColor("white"), QColor("#ff3030")
        current = None
        for i, (x, y) in enumerate(dev.tolist()):
            color = picked if i in chosen else normal
            if color is not current:
                painter.setBrush(color)
                current = color
            painter.drawRect(QRectF(x - r, y - r, 2 * r, 2 * r))
        painter.restore()

    # -- hit testing ---------------------------------------------------------------------------
    def hit(self, x: float, y: float, tol: float) -> Hit | None:
        raise NotImplementedError


class PolygonItem(AnnotationItem):
    """A polygon finding (screws, vertebral fractures); vertex handles when selected."""

    def _on_geometry(self) -> None:
        shape = self.shape_value
        assert isinstance(shape, Polygon)
        self._qpoly = qpolygon(shape.points)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        # The translucent fill needs no antialiasing (the outline covers its edge) and costs
        # five times more with it; the outline keeps it.
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self._brush)
        painter.drawPolygon(self._qpoly)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(self._pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPolygon(self._qpoly)
        if self._selected:
            pts = self.shape_value.points  # type: ignore[union-attr]
            mids = device_points(painter.worldTransform(), (pts + np.roll(pts, -1, axis=0)) / 2.0)
            painter.save()
            painter.resetTransform()
            painter.setPen(QPen(QColor(0, 0, 0, 160), 1))
            painter.setBrush(QColor(255, 255, 255, 120))
            for x, y in mids.tolist():
                painter.drawEllipse(QRectF(x - 2.5, y - 2.5, 5.0, 5.0))
            painter.restore()
            self._draw_handles(painter, pts, self._vertex_sel)

    def hit(self, x: float, y: float, tol: float) -> Hit | None:
        poly = self.shape_value
        assert isinstance(poly, Polygon)
        if self._selected:
            pts = poly.points
            d = np.hypot(pts[:, 0] - x, pts[:, 1] - y)
            i = int(np.argmin(d))
            if d[i] <= tol:
                return Hit("vertex", i)
            mids = (pts + np.roll(pts, -1, axis=0)) / 2.0
            d = np.hypot(mids[:, 0] - x, mids[:, 1] - y)
            i = int(np.argmin(d))
            if d[i] <= tol:
                return Hit("midpoint", i)
        bb = poly.bbox()
        if not (bb.x0 - tol <= x <= bb.x1 + tol and bb.y0 - tol <= y <= bb.y1 + tol):
            return None
        if poly.contains(x, y):
            return Hit("body")
        i, dist, _ = poly.nearest_edge(x, y)
        if dist <= tol:
            return Hit("edge", i)
        return None


class BoxItem(AnnotationItem):
    """A box finding (fractures); eight resize handles when selected."""

    def _on_geometry(self) -> None:
        b = self.shape_value
        assert isinstance(b, Box)
        self._rect = QRectF(b.x0, b.y0, b.width, b.height)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.setPen(self._pen)
        painter.setBrush(self._brush)
        painter.drawRect(self._rect)
        if self._selected:
            box = self.shape_value
            assert isinstance(box, Box)
            handles = np.array([(x, y) for _, x, y in _box_handle_points(box)], dtype=np.float64)
            self._draw_handles(painter, handles, frozenset())

    def hit(self, x: float, y: float, tol: float) -> Hit | None:
        box = self.shape_value
        assert isinstance(box, Box)
        if self._selected:
            for name, hx, hy in _box_handle_points(box):
                if abs(hx - x) <= tol and abs(hy - y) <= tol:
                    return Hit("handle", handle=name)
        if box.x0 - tol <= x <= box.x1 + tol and box.y0 - tol <= y <= box.y1 + tol:
            return Hit("body")
        return None


def make_item(ann: Annotation, category: Category | None) -> AnnotationItem:
    return BoxItem(ann, category) if ann.is_box else PolygonItem(ann, category)
