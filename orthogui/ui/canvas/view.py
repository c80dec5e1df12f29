"""CanvasView: shows a radiograph with its annotations; zoom, pan, window/level and the tools.

The view turns mouse and key events into tool gestures and view changes. Edits go to the
``History`` as one command per gesture; the scene then re-syncs from the model's signals.

Slow renders run on one ``RenderWorker`` thread: the cached image and overlay at a new scale
(after a zoom pauses), and the full-resolution window/level rendering (after a drag ends or a
new window is set); the screen keeps the scaled, decimated or preview picture until the sharp
one lands. ``set_background_rendering(False)`` does all of it on the GUI thread instead.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPixmapCache,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QFrame, QGraphicsView, QWidget

from orthogui.core.annotation import Annotation
from orthogui.core.commands import Command
from orthogui.core.geometry import Polygon
from orthogui.core.history import History
from orthogui.core.project import ProjectModel
from orthogui.core.radiograph import Radiograph, WindowPreset
from orthogui.io.display import choose_window, render, render_region, value_range
from orthogui.io.snap import snap_to_edge
from orthogui.ui.canvas.axis_tool import AxisTool
from orthogui.ui.canvas.cache import (
    Plan,
    Raster,
    device_rect,
    plain_scale,
    plan_for,
    to_device,
)
from orthogui.ui.canvas.image import Pyramid
from orthogui.ui.canvas.items import HIT_PX, AnnotationItem, PolygonItem
from orthogui.ui.canvas.measure import AngleTool, MeasurementLayer, RulerTool
from orthogui.ui.canvas.scene import AnnotationScene
from orthogui.ui.canvas.tools import (
    BoxTool,
    PolygonTool,
    SelectTool,
    Tool,
    update_shapes,
)
from orthogui.ui.canvas.worker import RenderWorker

TOOLS = ("select", "polygon", "axis", "box", "ruler", "angle")
FULL_RENDER = "full-render"  # the worker channel of the full-resolution window/level render
LEVELS = "levels"  # the worker channel that prepares the pyramid's RGB32 levels of a new image
MIN_SCALE, MAX_SCALE = 0.01, 64.0
WINDOW_DRAG_PX = 500.0  # dragging this many pixels changes the window by the whole value range
ZOOM_SETTLE_MS = 150  # after the last zoom step, cached layers render at the new scale
SNAP_PX = 8.0  # Ctrl snaps a vertex to the strongest edge within this many screen pixels
# Ctrl, not Shift: Shift+click already toggles vertices and shapes in and out of the selection.
SNAP_MODIFIER = Qt.KeyboardModifier.ControlModifier
# Keys the canvas handles itself (besides the tools' Enter, Backspace and Delete). The fit keys
# equal the window's "fit" action; none may be a window shortcut of another command.
FIT_KEYS = ("Home", "Ctrl+0")
CANVAS_KEYS = ("Space", "Esc", *FIT_KEYS)


class CanvasView(QGraphicsView):
    """The image canvas. Right-drag: window/level (x = width, y = centre); wheel: zoom at the
    cursor; middle-drag or Space+left-drag: pan; Home or Ctrl+0: fit; Esc: cancel/clear
    selection. Letter keys are left to the window (category and review shortcuts)."""

    cursorMoved = Signal(float, float)
    cursorLeft = Signal()
    windowChanged = Signal(float, float)
    selectionChanged = Signal()
    toolChanged = Signal(str)
    measured = Signal(float, float)
    message = Signal(str)  # short user-facing notices (refused edits), for the status bar

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scene_ = AnnotationScene(self)
        self.setScene(self.scene_)
        self.setBackgroundBrush(QBrush(QColor(0, 0, 0)))
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState, True)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.viewport().setMouseTracking(True)
        # Item caches of 200 dense polygons at 1:1 need more than Qt's default 10 MB.
        QPixmapCache.setCacheLimit(max(QPixmapCache.cacheLimit(), 128 * 1024))
        self._rg: Radiograph | None = None
        self._window = WindowPreset(0.5, 1.0)
        self._range = (0.0, 1.0)
        self.model: ProjectModel | None = None
        self.history: History | None = None
        self.user = ""
        self.image_id: str | None = None
        self._selected: list[str] = []
        self._draw_category = ""
        self._show_rejected = False
        self._tools: dict[str, Tool] = {
            "select": SelectTool(self),
            "polygon": PolygonTool(self),
            "axis": AxisTool(self),
            "box": BoxTool(self),
            "ruler": RulerTool(self),
            "angle": AngleTool(self),
        }
        self.measures = MeasurementLayer(self)  # rulers and angles of the shown image
        self._tool = self._tools["select"]
        self._space = False
        self._pan_last: QPointF | None = None
        self._wl_start: tuple[QPointF, WindowPreset] | None = None
        self._left_down = False
        self._scroll_rest = (0.0, 0.0)
        self._simplify_base: dict[str, tuple[Polygon, Polygon]] = {}  # id -> (base, last result)
        # Window/level drags render a preview at most once per event-loop pass (zero timer).
        self._wl_timer = QTimer(self)
        self._wl_timer.setSingleShot(True)
        self._wl_timer.setInterval(0)
        self._wl_timer.timeout.connect(self._render_preview)
        self._wl_pending = False
        self.preview_renders = 0  # window/level previews rendered (tests, benchmarks)
        self._zoom_settle = QTimer(self)
        self._zoom_settle.setSingleShot(True)
        self._zoom_settle.setInterval(ZOOM_SETTLE_MS)
        self._zoom_settle.timeout.connect(lambda: self.scene_.set_zooming(False))
        self._worker = RenderWorker(self)
        self._worker.failed.connect(self._on_worker_failed)
        self._background = False
        self.full_renders = 0  # full-resolution window/level renders shown (tests, benchmarks)
        self.set_background_rendering(True)

    # -- background rendering ----------------------------------------------------------------------
    def set_background_rendering(self, on: bool) -> None:
        """Render the slow frames on the worker thread (default) or all on the GUI thread."""
        self._background = on
        worker = self._worker if on else None
        self.scene_.image_item.cache.set_worker(worker)
        self.scene_.overlay.cache.set_worker(worker)
        if not on:
            self._worker.drop(FULL_RENDER)

    def background_rendering(self) -> bool:
        return self._background

    def rendering(self) -> bool:
        """Whether a background render of what the screen shows is in flight (the RGB32
        levels made for later zooms do not count)."""
        channels = (
            FULL_RENDER,
            self.scene_.image_item.cache.channel,
            self.scene_.overlay.cache.channel,
        )
        return any(self._worker.busy(c) for c in channels)

    def _on_worker_failed(self, channel: str, message: str) -> None:
        # A broken background render must not leave a stale picture: draw on the GUI thread
        # from now on, where a failure shows as an error of the paint itself.
        self.set_background_rendering(False)
        self.message.emit(
            f"Background rendering ({channel}) failed, now drawing directly: {message}"
        )
        if channel == FULL_RENDER and self._rg is not None:
            self._rerender()
        self.scene_.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        # One Python frame around the whole paint: the GUI thread takes the GIL once per frame
        # (not once per item callback), so the worker's renders delay a frame at most once.
        super().paintEvent(event)

    # -- image ---------------------------------------------------------------------------------
    def set_image(
        self, radiograph: Radiograph | None, *, window: WindowPreset | None = None
    ) -> None:
        """Show a radiograph (or nothing) and fit it to the view."""
        self._rg = radiograph
        self._wl_timer.stop()
        self._worker.drop(FULL_RENDER)
        if radiograph is None:
            self.scene_.image_item.set_gray(None)
            self.scene_.setSceneRect(QRectF(0, 0, 1, 1))
            return
        self._range = value_range(radiograph)
        self._window = window or choose_window(radiograph).window
        self._wl_pending = False
        self._rerender()
        pyramid = self.scene_.image_item.pyramid()
        if self._background and pyramid is not None:
            self._prepare_levels(pyramid)
        w, h = radiograph.columns, radiograph.rows
        m = float(max(w, h))
        self.scene_.setSceneRect(QRectF(-m, -m, w + 2 * m, h + 2 * m))
        self.fit()
        self.measures.refresh()
        self.windowChanged.emit(self._window.center, self._window.width)

    def radiograph(self) -> Radiograph | None:
        return self._rg

    def set_window(self, center: float, width: float) -> None:
        """Change the window: at once on screen (the visible part at screen resolution, then
        the full image from the worker), or the full image at once without background
        rendering."""
        self._window = WindowPreset(float(center), max(float(width), 1.0))
        self._wl_timer.stop()
        if self._rg is not None:
            if self._background:
                self._wl_pending = True
                self._render_preview()
                self._render_full()
            else:
                self._wl_pending = False
                self._rerender()
        self.windowChanged.emit(self._window.center, self._window.width)

    def window_level(self) -> WindowPreset:
        """The window/level the film is shown in (``QWidget.window()`` stays Qt's)."""
        return self._window

    def _rerender(self) -> None:
        """The full image in the current window, on the GUI thread."""
        assert self._rg is not None
        self._worker.drop(FULL_RENDER)
        self.scene_.image_item.set_gray(render(self._rg, self._window))
        self.full_renders += 1

    def _render_full(self) -> None:
        """The full image in the current window, on the worker, with what the view shows of
        it rasterized for the image's cache; the preview stays until it lands (a newer window
        drops it)."""
        assert self._rg is not None
        rg, window = self._rg, self._window
        ratio = float(self.viewport().devicePixelRatioF())
        t = to_device(self.viewportTransform(), ratio)
        bounds = self.image_rect()
        seen = self.mapToScene(self.viewport().rect()).boundingRect().intersected(bounds)
        plan = None
        if plain_scale(t) > 0.0 and not seen.isEmpty():
            viewport = device_rect(self.viewport().rect(), ratio)
            plan = plan_for(t, plain_scale(t), seen, bounds, viewport)

        def job() -> tuple[Pyramid, tuple[Plan, Raster] | None]:
            pyramid = Pyramid(render(rg, window))
            return pyramid, None if plan is None else (plan, pyramid.rasterize(plan))

        self._worker.submit(FULL_RENDER, job, self._show_full)

    def _show_full(self, result: tuple[Pyramid, tuple[Plan, Raster] | None]) -> None:
        pyramid, cached = result
        self.scene_.image_item.set_pyramid(pyramid, cached)
        self.full_renders += 1
        self._prepare_levels(pyramid)

    def _prepare_levels(self, pyramid: Pyramid) -> None:
        """Make the RGB32 levels on the worker (for direct draws during a zoom): converting
        the 9 Mpx level on the GUI thread would cost a frame."""
        self._worker.submit(LEVELS, pyramid.prepare_rgb, lambda _: None)

    def _drag_window(self, center: float, width: float) -> None:
        """A window/level drag step: the preview renders on the next event-loop pass, so a
        burst of mouse moves costs one render."""
        self._window = WindowPreset(float(center), max(float(width), 1.0))
        self._wl_pending = True
        self._worker.drop(FULL_RENDER)  # a full render of an older window must not land
        if not self._wl_timer.isActive():
            self._wl_timer.start()
        self.windowChanged.emit(self._window.center, self._window.width)

    def _render_preview(self) -> None:
        """Render the visible part of the image at about screen resolution."""
        if not self._wl_pending or self._rg is None:
            return
        self._wl_pending = False
        rg = self._rg
        step = max(1, int(1.0 / self.scale_factor()))
        seen = self.mapToScene(self.viewport().rect()).boundingRect()
        r0 = max(0, math.floor(seen.top()) - 1) // step * step
        c0 = max(0, math.floor(seen.left()) - 1) // step * step
        r1 = min(rg.rows, math.ceil(seen.bottom()) + 1)
        c1 = min(rg.columns, math.ceil(seen.right()) + 1)
        if r0 >= r1 or c0 >= c1:
            return  # the image is out of sight
        gray = render_region(rg, self._window, (r0, r1), (c0, c1), step)
        self.scene_.image_item.set_preview(gray, (r0, r1), (c0, c1), step)
        self.preview_renders += 1

    def _end_window_drag(self) -> None:
        """The drag ends: the full-resolution image in the final window (from the worker,
        after a last preview of the final window)."""
        self._wl_timer.stop()
        if self._rg is not None and (self._wl_pending or self.scene_.image_item.has_preview()):
            if self._background:
                self._render_preview()
                self._render_full()
            else:
                self._rerender()
        self._wl_pending = False

    def image_rect(self) -> QRectF:
        rg = self._rg
        return QRectF(0, 0, rg.columns, rg.rows) if rg is not None else QRectF()

    # -- model -----------------------------------------------------------------------------------
    def attach(self, model: ProjectModel, history: History, *, user: str) -> None:
        """Project this model (once per project); edits go through ``history`` as ``user``."""
        if self.model is not None:
            self.model.annotation_removed.disconnect(self._on_model_annotation_removed)
            self.model.annotation_changed.disconnect(self._on_model_annotation_changed)
        self._cancel_tool()
        self._selected = []
        self.scene_.attach(model)
        self.measures.attach(model)
        self.model, self.history, self.user = model, history, user
        model.annotation_removed.connect(self._on_model_annotation_removed)
        model.annotation_changed.connect(self._on_model_annotation_changed)
        self.image_id = None

    def show_annotations_of(self, image_id: str | None) -> None:
        self._cancel_tool()
        had = bool(self._selected)
        self._selected = []
        self.image_id = image_id
        self.scene_.show_image(image_id)
        self.measures.show_image(image_id)
        if had:
            self.selectionChanged.emit()

    def push(self, command: Command) -> None:
        """One gesture = one step: push and close the merge window."""
        if self.history is None:
            self.message.emit("No project open")
            return
        self.history.push(command)
        self.history.close_merge()

    def _on_model_annotation_removed(self, ann: Annotation) -> None:
        if ann.id in self._selected:
            self._selected.remove(ann.id)
            self.selectionChanged.emit()

    def _on_model_annotation_changed(self, before: Annotation, after: Annotation) -> None:
        item = self.scene_.items_by_id.get(after.id)
        if item is None:
            return
        if after.id in self._selected:
            n = len(after.shape) if isinstance(after.shape, Polygon) else 0
            item.set_highlight(True, frozenset(i for i in item.selected_vertices if i < n))
            if not item.isVisible():
                self.select([i for i in self._selected if i != after.id])

    # -- tools and selection ------------------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        if tool not in self._tools:
            raise ValueError(f"unknown tool {tool!r}; known: {TOOLS}")
        if self._tools[tool] is self._tool:
            return
        self._tool.deactivate()
        self._tool = self._tools[tool]
        cursor = Qt.CursorShape.ArrowCursor if tool == "select" else Qt.CursorShape.CrossCursor
        self.viewport().setCursor(cursor)
        self.toolChanged.emit(tool)

    def tool(self) -> str:
        return self._tool.name

    def tool_object(self) -> Tool:
        return self._tool

    def set_draw_category(self, name: str) -> None:
        self._draw_category = name

    def draw_category(self) -> str:
        if self._draw_category:
            return self._draw_category
        if self.model is not None and len(self.model.categories):
            return self.model.categories.names()[0]
        return "cortical_screw"

    def selected_ids(self) -> list[str]:
        return list(self._selected)

    def select(self, ids: list[str], *, center: bool = False) -> None:
        items = self.scene_.items_by_id
        new = [i for i in dict.fromkeys(ids) if i in items and items[i].isVisible()]
        for i in self._selected:
            if i not in new and i in items:
                items[i].set_highlight(False)
        for i in new:
            items[i].set_pixel_size(self.scene_.pixel_size)
            items[i].set_highlight(
                True, items[i].selected_vertices if i in self._selected else frozenset()
            )
        changed = new != self._selected
        self._selected = new
        if new:
            self.measures.set_selected(None)
        if center and new:
            rect = QRectF()
            for i in new:
                rect = rect.united(QRectF(*items[i].ann.shape.bbox().xywh()))
            self.centerOn(rect.center())
        if changed:
            self.selectionChanged.emit()

    def set_vertex_selection(self, item: AnnotationItem, vertices: frozenset[int]) -> None:
        item.set_highlight(True, vertices)

    def selected_polygon_item(self) -> PolygonItem | None:
        if len(self._selected) != 1:
            return None
        item = self.scene_.items_by_id.get(self._selected[0])
        return item if isinstance(item, PolygonItem) else None

    def set_show_rejected(self, show: bool) -> None:
        self.scene_.set_show_rejected(show)
        if not show:
            self.select([i for i in self._selected if self.scene_.items_by_id[i].isVisible()])

    def set_score_threshold(self, threshold: float) -> None:
        """Hide the proposals scored below ``threshold`` (a view setting; 0 hides none)."""
        self.scene_.set_score_threshold(threshold)
        self.select([i for i in self._selected if self.scene_.items_by_id[i].isVisible()])

    def set_show_labels(self, show: bool) -> None:
        self.scene_.set_show_labels(show)

    def simplify_selected(self, tolerance_px: float) -> None:
        """Simplify the selected polygons from their detail before this slider gesture.

        Pushes ``UpdateAnnotations`` with merge key ``simplify:<ids>``; the steps of one slider
        drag merge into one undo step until ``history.close_merge()`` (the slider's release).
        """
        if self.model is None or self.history is None:
            return
        changes = []
        for i in self._selected:
            ann = self.model.get(i)
            if ann is None or not isinstance(ann.shape, Polygon):
                continue
            base, last = self._simplify_base.get(i, (ann.shape, ann.shape))
            if ann.shape != last:
                base = ann.shape  # edited since: simplify from what is there now
            result = base.simplified(tolerance_px) if tolerance_px > 0 else base
            self._simplify_base[i] = (base, result)
            if result != ann.shape:
                changes.append((ann, result))
        if not changes:
            return
        key = "simplify:" + ",".join(a.id for a, _ in changes)
        self.history.push(update_shapes(self, changes, "Simplify", merge_key=key))

    def tolerance(self) -> float:
        """Grab distance in scene units (HIT_PX screen pixels)."""
        return HIT_PX * self.scene_.pixel_size

    def snap(self, p: QPointF, mods: Qt.KeyboardModifier) -> QPointF:
        """With Ctrl held, ``p`` moved onto the strongest edge of the displayed image within
        SNAP_PX screen pixels (unchanged where there is none); else ``p``."""
        gray = self.scene_.image_item.gray()
        if not mods & SNAP_MODIFIER or gray is None:
            return p
        radius = max(SNAP_PX * self.scene_.pixel_size, 1.5)
        snapped = snap_to_edge(gray, p.x(), p.y(), radius)
        return p if snapped is None else QPointF(*snapped)

    def _cancel_tool(self) -> bool:
        return self._tool.cancel()

    # -- zoom and pan ---------------------------------------------------------------------------
    def scale_factor(self) -> float:
        return float(self.transform().m11())

    def fit(self) -> None:
        if self._rg is None:
            return
        self._zoom_settle.stop()
        self.scene_.set_zooming(False)
        self.resetTransform()
        self._scroll_rest = (0.0, 0.0)
        self.fitInView(self.image_rect(), Qt.AspectRatioMode.KeepAspectRatio)
        self._on_transform_changed()

    def zoom_at(self, factor: float, view_pos: QPoint | None = None) -> None:
        """Zoom by ``factor`` keeping the image point under ``view_pos`` (default: centre) fixed."""
        s = self.scale_factor()
        factor = min(max(s * factor, MIN_SCALE), MAX_SCALE) / s
        if factor == 1.0:
            return
        pos = (
            QPointF(view_pos) if view_pos is not None else QPointF(self.viewport().rect().center())
        )
        before = self.to_scene(pos)
        self.scene_.set_zooming(True)
        self._zoom_settle.start()
        # The whole viewport repaints anyway: spare the two scrolls their pixel moves.
        mode = self.viewportUpdateMode()
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.scale(factor, factor)
        after = self.to_scene(pos)
        s = self.scale_factor()
        self._scroll_by((before.x() - after.x()) * s, (before.y() - after.y()) * s)
        self.setViewportUpdateMode(mode)
        self._on_transform_changed()

    def _scroll_by(self, dx: float, dy: float) -> None:
        # Scroll positions are integers: carry the fraction so repeated zooms do not drift.
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        tx, ty = h.value() + dx + self._scroll_rest[0], v.value() + dy + self._scroll_rest[1]
        h.setValue(round(tx))
        v.setValue(round(ty))
        self._scroll_rest = (tx - h.value(), ty - v.value())

    def _on_transform_changed(self) -> None:
        self.scene_.set_pixel_size(1.0 / max(self.scale_factor(), 1e-9))

    def to_scene(self, pos: QPointF) -> QPointF:
        """Viewport position (float) to scene/image coordinates."""
        inv, _ = self.viewportTransform().inverted()
        return inv.map(QPointF(pos))

    # -- events ----------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        button = event.button()
        if button == Qt.MouseButton.RightButton and self._rg is not None:
            self._wl_start = (pos, self._window)
        elif button == Qt.MouseButton.MiddleButton or (
            button == Qt.MouseButton.LeftButton and self._space
        ):
            self._pan_last = pos
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
        elif button == Qt.MouseButton.LeftButton:
            self._left_down = True
            if not self.measures.press(self.to_scene(pos), self._tool):
                self._tool.press(self.to_scene(pos), event.modifiers())
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        sp = self.to_scene(pos)
        self.cursorMoved.emit(sp.x(), sp.y())
        if self._wl_start is not None:
            start, w0 = self._wl_start
            lo, hi = self._range
            k = max(hi - lo, 1.0) / WINDOW_DRAG_PX
            self._drag_window(
                w0.center + (pos.y() - start.y()) * k, w0.width + (pos.x() - start.x()) * k
            )
        elif self._pan_last is not None:
            d = pos - self._pan_last
            self._pan_last = pos
            self._scroll_by(-d.x(), -d.y())
        elif not self.measures.move(sp):
            self._tool.move(sp, event.modifiers())
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        button = event.button()
        if button == Qt.MouseButton.RightButton:
            if self._wl_start is not None:
                self._end_window_drag()
            self._wl_start = None
        elif self._pan_last is not None and button in (
            Qt.MouseButton.MiddleButton,
            Qt.MouseButton.LeftButton,
        ):
            self._pan_last = None
            cursor = (
                Qt.CursorShape.ArrowCursor
                if self.tool() == "select"
                else Qt.CursorShape.CrossCursor
            )
            self.viewport().setCursor(cursor)
        elif button == Qt.MouseButton.LeftButton and self._left_down:
            self._left_down = False
            if not self.measures.release(self.to_scene(event.position())):
                self._tool.release(self.to_scene(event.position()), event.modifiers())
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and not self._space:
            self._left_down = True  # the release that follows belongs to this click
            self._tool.double_click(self.to_scene(event.position()), event.modifiers())
        event.accept()

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y() or event.pixelDelta().y()
        if delta:
            self.zoom_at(math.pow(1.0015, delta), event.position().toPoint())
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space = True
                self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        elif key == Qt.Key.Key_Escape:
            if not (self.measures.cancel_drag() or self._cancel_tool() or self.measures.deselect()):
                self.select([])
        elif self.measures.key(key) or self._tool.key(key, event.modifiers()):
            pass
        elif QKeySequence(event.keyCombination()).toString() in FIT_KEYS:
            self.fit()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            cursor = (
                Qt.CursorShape.ArrowCursor
                if self.tool() == "select"
                else Qt.CursorShape.CrossCursor
            )
            self.viewport().setCursor(cursor)
            event.accept()
            return
        super().keyReleaseEvent(event)

    def leaveEvent(self, event: object) -> None:
        self.cursorLeft.emit()
        super().leaveEvent(event)  # type: ignore[arg-type]

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._on_transform_changed()
