"""The "screw by axis" tool: the two ends of a screw's axis (tip, then head; two clicks or one
drag) become a polygon hugging its metal, outlined by ``io.axis_outline`` on the displayed
8-bit image (what the expert sees under the current window/level).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtGui import QColor, QPainterPath
from PySide6.QtWidgets import QGraphicsPathItem

from orthogui.core.geometry import Polygon
from orthogui.io.axis_outline import AxisOutline, outline_along_axis
from orthogui.ui.canvas.tools import _cosmetic, _DraftTool

if TYPE_CHECKING:
    from orthogui.ui.canvas.view import CanvasView

MIN_AXIS_PX = 2.0  # image pixels between the two ends, as outline_along_axis requires
TIP_MARK_PX = 3.0  # radius (screen pixels) of the mark on the placed tip
FOUND, NOT_FOUND = "#ffff00", "#ff8c00"  # preview outline: metal found / fallback rectangle
LABEL = "Draw screw by axis"


class AxisTool(_DraftTool):
    """Tip, then head: press-release at the tip and click the head, or press at the tip and
    release at the head. While the head is sought, a dashed axis follows the cursor with a
    live preview of the outline. Nothing enters history until the head is placed; Esc
    abandons the tip."""

    name = "axis"

    def __init__(self, view: CanvasView) -> None:
        super().__init__(view)
        self.tip: QPointF | None = None
        self.preview: AxisOutline | None = None  # the outline shown for the cursor, if any
        self._head: QPointF | None = None
        self._down = False  # the press that placed the tip is still held
        self._last_head: QPointF | None = None  # where the last screw was finished
        self._outline = QGraphicsPathItem()
        self._outline.setZValue(101)
        # The preview is computed at most once per event-loop pass: a burst of moves costs one.
        self._timer = QTimer(view)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._update_preview)

    # -- gestures ----------------------------------------------------------------------------
    def press(self, p: QPointF, mods: Qt.KeyboardModifier) -> None:
        if self.tip is None:
            self.tip, self._head, self._down = QPointF(p), QPointF(p), True
            self._last_head = None
            self._redraw()
            return
        self._finish(p)

    def move(self, p: QPointF, mods: Qt.KeyboardModifier) -> None:
        if self.tip is None:
            return
        self._head = QPointF(p)
        self._redraw()
        if not self._timer.isActive():
            self._timer.start()

    def release(self, p: QPointF, mods: Qt.KeyboardModifier) -> None:
        if self.tip is None or not self._down:
            return
        self._down = False
        if _dist(self.tip, p) > 0.5 * self.view.tolerance():
            self._finish(p)  # pressed at the tip, dragged to the head
        # else a click on the tip: the head is the next click

    def double_click(self, p: QPointF, mods: Qt.KeyboardModifier) -> None:
        # A quick second click arrives as a double-click instead of a press: with a tip placed
        # it is the head. A double-click on the head just placed (the polygon tool's habit) is
        # not the tip of another screw.
        last = self._last_head
        if self.tip is None and last is not None and _dist(last, p) <= self.view.tolerance():
            return
        self.press(p, mods)

    def cancel(self) -> bool:
        had = self.tip is not None
        self._reset()
        return had

    # -- internals -----------------------------------------------------------------------------
    def _finish(self, head: QPointF) -> None:
        tip = self.tip
        self._reset()
        self._last_head = QPointF(head)
        assert tip is not None
        v = self.view
        gray = v.scene_.image_item.gray()
        if gray is None or v.image_id is None or v.model is None:
            v.message.emit("No image to draw on")
            return
        length = _dist(tip, head)
        if length < MIN_AXIS_PX:
            v.message.emit(
                f"Screw by axis: the two ends are {length:.1f} px apart; click the tip, then "
                f"the head at least {MIN_AXIS_PX:g} px away"
            )
            return
        try:
            out = outline_along_axis(gray, (tip.x(), tip.y()), (head.x(), head.y()))
        except ValueError as e:
            v.message.emit(f"Screw by axis: {e}")
            return
        if not out.found:
            v.message.emit(
                "Screw by axis: no metal edge found along the axis; drew a plain rectangle "
                "(adjust its vertices, or check the window/level)"
            )
        self._add(Polygon(out.polygon), LABEL)

    def _reset(self) -> None:
        self.tip, self._head, self.preview, self._down = None, None, None, False
        self._timer.stop()
        self._show(None)
        if self._outline.scene() is not None:
            self.view.scene_.removeItem(self._outline)

    def _redraw(self) -> None:
        """The dashed axis from the tip (marked) to the cursor."""
        if self.tip is None or self._head is None:
            self._show(None)
            return
        r = TIP_MARK_PX * self.view.scene_.pixel_size
        path = QPainterPath()
        path.addEllipse(self.tip, r, r)
        path.moveTo(self.tip)
        path.lineTo(self._head)
        self._show(path)

    def _update_preview(self) -> None:
        tip, head = self.tip, self._head
        gray = self.view.scene_.image_item.gray()
        out = None
        if (
            tip is not None
            and head is not None
            and gray is not None
            and _dist(tip, head) >= MIN_AXIS_PX
        ):
            out = outline_along_axis(gray, (tip.x(), tip.y()), (head.x(), head.y()))
        self.preview = out
        if out is None:
            if self._outline.scene() is not None:
                self.view.scene_.removeItem(self._outline)
            return
        color = QColor(FOUND if out.found else NOT_FOUND)
        style = Qt.PenStyle.SolidLine if out.found else Qt.PenStyle.DotLine
        self._outline.setPen(_cosmetic(color.name(), 1.2, style))
        color.setAlpha(45)
        self._outline.setBrush(color)
        path = QPainterPath(QPointF(*out.polygon[0]))
        for x, y in out.polygon[1:]:
            path.lineTo(x, y)
        path.closeSubpath()
        self._outline.setPath(path)
        if self._outline.scene() is None:
            self.view.scene_.addItem(self._outline)


def _dist(a: QPointF, b: QPointF) -> float:
    return math.hypot(b.x() - a.x(), b.y() - a.y())
