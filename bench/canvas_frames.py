"""Canvas frame times (issue 4, item 7): 200 polygons of 100 vertices on a 3000x3000 16-bit image.

Prints JSON: mean/p95 ms per frame for full redraw, zoom, pan and window/level, for the
CanvasView and for a reference scene (plain QGraphicsPolygonItem/QGraphicsPixmapItem, Qt's
default view settings). Every frame is painted before its clock stops: the scroll pan sends the
window its UpdateRequest (``processEvents`` alone leaves the paint to Qt's next update timer,
which made the reference's pan look like 0.2 ms while it painted nothing).

The canvas renders its slow frames on a worker thread ("background"): the ``background``
section times, for the frames that used to be slow (the zoom pause, zoom steps with the event
loop delivering landed renders, the end of a window/level drag, a new window), the GUI thread's
CPU ms (``time.thread_time``) and wall ms of the frame, the wall ms from the event until every
background render landed and was painted (``latency_gui_idle``; ``latency_gui_painting_60hz``
while the GUI paints a full frame every 1/60 s, as during a pan), the frames painted meanwhile
(``frames_while_rendering_60hz``: they share the GIL and the CPU with the worker) and the frame
after (``next_frame``, a blit again). Beside them, the same cases with
``set_background_rendering(False)``: everything on the GUI thread, as before. The other
sections use ``--clock``: ``thread`` counts the GUI thread only (``cpu`` would add the worker's
CPU time to a frame that overlaps it); ``canvas_gui_thread_only`` repeats them without the
worker.

The ``edits`` section times the reviewer's most common actions, each the action plus the frame
that shows it (``--clock``): select the next finding, accept the selection and go to the next
one (the window's A), accept an idle finding, change an idle finding's type, delete one, and the
release of a vertex drag (real mouse events); at fit zoom (the next finding centred, as the
window does) and at 2x (the next finding already in view). ``incremental`` repaints only the
changed areas of the overlay's image; ``full_rerender`` (``DeviceCache.incremental = False``,
in the same process) renders the whole image on every change, as before. ``renders`` and
``patches`` count the full renderings and the repainted areas in the timed frames of a case.
Run: QT_QPA_PLATFORM=offscreen python bench/canvas_frames.py [--frames N] [--clock thread]
[--no-reference] [--background-only] [--edits-only]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import cast

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QMouseEvent, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QGraphicsItem,
    QGraphicsPixmapItem,
    QGraphicsPolygonItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
)

from orthogui.core.annotation import Annotation, Prediction, ReviewState
from orthogui.core.categories import DEFAULT_CATEGORIES
from orthogui.core.commands import RemoveAnnotations
from orthogui.core.geometry import Polygon
from orthogui.core.history import History
from orthogui.core.project import ImageRecord, ProjectModel
from orthogui.core.radiograph import Radiograph
from orthogui.core.review import set_category, set_state
from orthogui.io.display import default_window, render
from orthogui.ui.canvas import CanvasView
from orthogui.ui.canvas.items import qpolygon

SIDE, N_POLY, N_VERT = 3000, 200, 100
VIEW_W, VIEW_H = 1600, 1000


def make_data(seed: int = 0) -> tuple[Radiograph, list[Annotation]]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE]
    stored = (1000 + 0.5 * yy + 0.2 * xx + rng.normal(0, 40, (SIDE, SIDE))).astype(np.uint16)
    rg = Radiograph("bench.png", "png", stored, 16, pixel_spacing=(0.15, 0.15))
    rg = Radiograph(
        "bench.png", "png", stored, 16, pixel_spacing=(0.15, 0.15), spacing_source="PixelSpacing"
    )
    names = [c.name for c in DEFAULT_CATEGORIES if c.shape.value == "polygon"]
    anns = []
    t = np.linspace(0, 2 * np.pi, N_VERT, endpoint=False)
    for i in range(N_POLY):
        cx, cy = rng.uniform(100, SIDE - 100, 2)
        a, b = rng.uniform(20, 90, 2)
        r = 1 + 0.08 * rng.normal(size=N_VERT)
        pts = np.c_[cx + a * r * np.cos(t), cy + b * r * np.sin(t)]
        pred = Prediction(names[i % len(names)], float(rng.uniform(0.3, 1)), Polygon(pts), "b", "1")
        anns.append(Annotation.from_prediction(pred, image_id="img"))
        if i % 2:  # half of them accepted (solid), half proposed (dashed)
            anns[-1] = Annotation.human(
                image_id="img", category=anns[-1].category, shape=Polygon(pts)
            )
    return rg, anns


def reference_view(rg: Radiograph, anns: list[Annotation]) -> QGraphicsView:
    """What a first attempt looks like: full-resolution pixmap, plain items, default flags."""
    scene = QGraphicsScene()
    gray = render(rg, default_window(rg))
    img = QImage(gray.data, SIDE, SIDE, SIDE, QImage.Format.Format_Grayscale8).copy()
    pix = QGraphicsPixmapItem(QPixmap.fromImage(img))
    pix.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
    scene.addItem(pix)
    for ann in anns:
        color = QColor(DEFAULT_CATEGORIES.by_name(ann.category).color)
        item = QGraphicsPolygonItem(qpolygon(ann.shape.points))  # type: ignore[union-attr]
        pen = QPen(color, 1.5)
        pen.setCosmetic(True)
        item.setPen(pen)
        fill = QColor(color)
        fill.setAlpha(55)
        item.setBrush(QBrush(fill))
        label = QGraphicsSimpleTextItem(ann.category, item)
        label.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        label.setBrush(color)
        label.setPos(ann.shape.bbox().x0, ann.shape.bbox().y0)
        scene.addItem(item)
    view = QGraphicsView(scene)
    view.scene_ref = scene  # type: ignore[attr-defined]  # keep the scene alive
    view.pixmap_item = pix  # type: ignore[attr-defined]
    view.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    view.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
    return view


def canvas_view(rg: Radiograph, anns: list[Annotation]) -> CanvasView:
    model = ProjectModel()
    model.put_image(ImageRecord("img", "bench.png", width=SIDE, height=SIDE))
    model.load([], anns)
    view = CanvasView()
    view.attach(model, History(model), user="bench")
    view.set_image(rg)
    view.show_annotations_of("img")
    return view


def stats(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1e3 for s in samples)
    return {
        "mean_ms": round(statistics.fmean(ms), 2),
        "p95_ms": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 2),
        "frames": len(ms),
    }


CLOCK = time.perf_counter  # --clock cpu: time.process_time; thread: time.thread_time


def timed(step: Callable[[int], None], frames: int) -> list[float]:
    out = []
    for i in range(frames):
        t0 = CLOCK()
        step(i)
        out.append(CLOCK() - t0)
    return out


def scale_of(view: QGraphicsView) -> float:
    return float(view.transform().m11())


def zoom(view: QGraphicsView, factor: float) -> None:
    if isinstance(view, CanvasView):
        view.zoom_at(factor)
    else:
        view.scale(factor, factor)


def fit(view: QGraphicsView) -> None:
    view.resetTransform()
    view.fitInView(
        QGraphicsPixmapItem().boundingRect().adjusted(0, 0, SIDE, SIDE),
        Qt.AspectRatioMode.KeepAspectRatio,
    )
    if isinstance(view, CanvasView):
        view.fit()


def settle(view: QGraphicsView) -> None:
    """The zoom pauses (as ``ZOOM_SETTLE_MS`` after the last wheel step)."""
    if isinstance(view, CanvasView) and hasattr(view.scene_, "set_zooming"):
        view.scene_.set_zooming(False)


def flush(view: QGraphicsView) -> None:
    """Paint what is pending now, as the window's next update would."""
    QApplication.sendEvent(view.windowHandle(), QEvent(QEvent.Type.UpdateRequest))


def measure(app: QApplication, view: QGraphicsView, frames: int) -> dict[str, object]:
    view.resize(VIEW_W, VIEW_H)
    view.show()
    app.processEvents()
    vp = view.viewport()
    res: dict[str, object] = {}
    canvas = view if isinstance(view, CanvasView) else None

    fit(view)
    app.processEvents()
    vp.repaint()  # warm caches
    drain(app, view)
    res["redraw_fit"] = stats(timed(lambda i: vp.repaint(), frames))

    # Zoom: in and out around the fit scale (x0.5 .. x4), each step one frame.
    factors = [1.15] * 10 + [1 / 1.15] * 10

    def zoom_step(i: int) -> None:
        zoom(view, factors[i % len(factors)])
        vp.repaint()

    fit(view)
    drain(app, view)
    res["zoom"] = stats(timed(zoom_step, max(frames, len(factors))))
    if canvas is not None and hasattr(canvas.scene_, "set_zooming"):
        # The frame after a zoom pauses: the cached layers render at the new scale.
        fit(view)
        zoom(view, 1.15**3)
        samples = []
        for i in range(10):
            zoom(view, 1.15 if i % 2 else 1 / 1.15)
            vp.repaint()
            t0 = CLOCK()
            settle(view)
            vp.repaint()
            samples.append(CLOCK() - t0)
        res["zoom_pause_rerender"] = stats(samples)

    # Pan at 2x the fit scale (about 1:1 pixels on a 1600x1000 view), 25 px per frame.
    fit(view)
    zoom(view, 2.0)
    settle(view)
    app.processEvents()
    drain(app, view)
    h = view.horizontalScrollBar()
    direction = [1]

    def pan_step(i: int) -> None:
        if i % 20 == 0:
            direction[0] *= -1
        h.setValue(h.value() + 25 * direction[0])
        flush(view)  # paints the exposed strip, as a real drag does

    def pan_full(i: int) -> None:
        if i % 20 == 0:
            direction[0] *= -1
        h.setValue(h.value() + 25 * direction[0])
        vp.repaint()  # worst case: the whole viewport redrawn every frame

    res["pan"] = stats(timed(pan_step, frames))
    res["pan_full_repaint"] = stats(timed(pan_full, frames))

    # All 200 polygons visible and large: zoomed to show a quarter of the image.
    fit(view)
    zoom(view, 2.0)
    settle(view)
    vp.repaint()
    drain(app, view)
    res["redraw_zoomed_2x"] = stats(timed(lambda i: vp.repaint(), frames))
    w_steps = []
    for i in range(15):
        drain(app, view)  # the last window's background renders have landed
        w_steps.extend(timed(lambda _, i=i: window_step(view, i), 1))  # type: ignore[misc]
    res["window_level_step"] = stats(w_steps)
    if canvas is not None:
        res["window_level_drag_step"] = stats(window_drag(app, canvas, frames))
    view.hide()
    return res


def drain(app: QApplication, view: QGraphicsView) -> None:
    """Let the canvas's background renders land (untimed), as the event loop would."""
    if isinstance(view, CanvasView):
        until_landed(app, view, [])


def window_step(view: QGraphicsView, i: int) -> None:
    """Set a window: the whole image re-rendered at full resolution, then a repaint."""
    if isinstance(view, CanvasView):
        w0 = default_window(view.radiograph())  # type: ignore[arg-type]
        view.set_window(w0.center + 10 * (i % 7), w0.width - 20 * (i % 5))
    else:
        rg = view.rg  # type: ignore[attr-defined]
        w0 = default_window(rg)
        gray = render(rg, (w0.center + 10 * (i % 7), w0.width - 20 * (i % 5)))
        img = QImage(gray.data, SIDE, SIDE, SIDE, QImage.Format.Format_Grayscale8)
        view.pixmap_item.setPixmap(QPixmap.fromImage(img))  # type: ignore[attr-defined]
    view.viewport().repaint()


def window_drag(app: QApplication, view: CanvasView, frames: int) -> list[float]:
    """Right-drag window/level at fit zoom: one real mouse move, the event loop, one paint."""
    fit(view)
    vp = view.viewport()
    c = vp.rect().center()

    def send(kind: QEvent.Type, pos: QPoint, button: Qt.MouseButton) -> None:
        send_mouse(view, kind, pos, button)

    right = Qt.MouseButton.RightButton
    send(QEvent.Type.MouseButtonPress, c, right)

    def step(i: int) -> None:
        send(QEvent.Type.MouseMove, c + QPoint(3 * (i % 9), 2 * (i % 7)), right)
        app.processEvents()  # the preview renders on a zero timer
        flush(view)  # and is painted (unless processEvents did)

    out = timed(step, frames)
    send(QEvent.Type.MouseButtonRelease, c, right)
    return out


# -- background rendering -------------------------------------------------------------------------
Sample = tuple[float, float]  # GUI thread CPU seconds, wall seconds


def both_clocks(fn: Callable[[], None]) -> Sample:
    c0, w0 = time.thread_time(), time.perf_counter()
    fn()
    return time.thread_time() - c0, time.perf_counter() - w0


def both_stats(samples: list[Sample]) -> dict[str, object]:
    if not samples:
        return {}
    return {
        "gui_thread": stats([c for c, _ in samples]),
        "wall": stats([w for _, w in samples]),
    }


def until_landed(
    app: QApplication, view: CanvasView, frames: list[Sample], *, timeout: float = 30.0
) -> float:
    """Run the event loop until every background render has landed and been painted; paint a
    full frame every 1/60 s meanwhile (timed into ``frames``). Returns the wall time."""
    vp = view.viewport()
    t0 = time.perf_counter()
    next_frame = t0 + 1 / 60
    while True:
        while view.rendering():
            now = time.perf_counter()
            if now - t0 > timeout:
                raise RuntimeError(f"background renders did not land within {timeout} s")
            app.processEvents()
            if now >= next_frame:
                frames.append(both_clocks(vp.repaint))
                next_frame += 1 / 60
            else:
                time.sleep(0.0005)  # sleeping releases the GIL to the worker
        app.processEvents()
        vp.repaint()  # the frame that shows what landed (and may ask for the next layer)
        if not view.rendering():
            return time.perf_counter() - t0


def measure_background(
    app: QApplication, view: CanvasView, *, background: bool, repeats: int = 8
) -> dict[str, object]:
    """The formerly slow frames, each followed by the wait for its background renders."""
    view.set_background_rendering(background)
    view.resize(VIEW_W, VIEW_H)
    view.show()
    app.processEvents()
    vp = view.viewport()
    res: dict[str, object] = {"background_rendering": background}
    during: list[Sample] = []

    def case(name: str, prepare: Callable[[int], None], trigger: Callable[[int], None]) -> None:
        first: list[Sample] = []
        landed: list[Sample] = []
        idle: list[float] = []
        busy: list[float] = []
        for i in range(repeats):
            until_landed(app, view, [])
            prepare(i)
            first.append(both_clocks(lambda i=i: trigger(i)))  # type: ignore[misc]
            # Every other time the GUI paints frames at 60 Hz while it waits (a user who
            # keeps panning): those frames share the GIL and the CPU with the worker.
            wait = until_landed(app, view, during if i % 2 else [])
            (busy if i % 2 else idle).append(wait + first[-1][1])
            landed.append(both_clocks(vp.repaint))  # the next frame: a blit again
        res[name] = {
            "frame": both_stats(first),
            "latency_gui_idle": stats(idle),
            "latency_gui_painting_60hz": stats(busy),
            "next_frame": both_stats(landed),
        }

    # The zoom pauses: the pause frame (cached layers at the new scale).
    fit(view)
    zoom(view, 1.15**3)
    view.scene_.set_zooming(False)

    def zoom_once(i: int) -> None:
        zoom(view, 1.15 if i % 2 else 1 / 1.15)
        vp.repaint()

    def pause(i: int) -> None:
        settle(view)
        vp.repaint()

    case("zoom_pause", zoom_once, pause)

    # Zoom steps with the event loop between them (landed renders are shown), x0.5 .. x4.
    fit(view)
    until_landed(app, view, [])
    factors = [1.15] * 10 + [1 / 1.15] * 10
    steps: list[Sample] = []
    for _ in range(2):
        for f in factors:

            def step(f: float = f) -> None:
                # As a wheel event in the event loop: the zoom, then one pass of the loop
                # (landed renders, the scene's update, the paint).
                zoom(view, f)
                app.processEvents()
                flush(view)

            steps.append(both_clocks(step))
    settle(view)
    until_landed(app, view, [])
    res["zoom_step_with_events"] = both_stats(steps)

    # Window/level: the end of a right-drag at fit zoom (release: the full-resolution image).
    fit(view)
    c = vp.rect().center()
    right = Qt.MouseButton.RightButton

    def send(kind: QEvent.Type, pos: QPoint) -> None:
        send_mouse(view, kind, pos, right)

    def drag(i: int) -> None:
        send(QEvent.Type.MouseButtonPress, c)
        for k in range(1, 4):
            send(QEvent.Type.MouseMove, c + QPoint(5 * k * (1 + i % 3), 3 * k))
            app.processEvents()
            vp.repaint()

    def release(i: int) -> None:
        send(QEvent.Type.MouseButtonRelease, c)
        vp.repaint()

    case("window_level_drag_end", drag, release)

    # A new window (a preset key): preview of the visible part, then the full image.
    w0 = default_window(view.radiograph())  # type: ignore[arg-type]

    def set_window(i: int) -> None:
        view.set_window(w0.center + 10 * (i % 7), w0.width - 20 * (i % 5))
        vp.repaint()

    case("window_level_set", lambda i: None, set_window)
    res["frames_while_rendering_60hz"] = both_stats(during)
    return res


# -- review actions -------------------------------------------------------------------------------
def send_mouse(view: CanvasView, kind: QEvent.Type, pos: QPoint, button: Qt.MouseButton) -> None:
    """A real mouse event on the viewport (``button`` held on moves)."""
    vp = view.viewport()
    held = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseButtonRelease else button
    ev = QMouseEvent(
        kind,
        QPointF(pos),
        QPointF(vp.mapToGlobal(pos)),
        button,
        held,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(vp, ev)


def measure_edits(app: QApplication, view: CanvasView, frames: int) -> dict[str, object]:
    """Review actions (GUI thread, ``--clock``), incremental overlay updates beside full
    re-renders of the overlay's image, at fit zoom and at 2x."""
    view.set_background_rendering(True)
    view.resize(VIEW_W, VIEW_H)
    view.show()
    app.processEvents()
    cache = view.scene_.overlay.cache
    out: dict[str, object] = {}
    for zoom_name, factor in (("fit", 1.0), ("zoomed_2x", 2.0)):
        res: dict[str, object] = {}
        for mode in ("incremental", "full_rerender"):
            cache.incremental = mode == "incremental"
            view.select([])
            fit(view)
            if factor != 1.0:
                zoom(view, factor)
                settle(view)
            res[mode] = edit_cases(app, view, frames, center=factor == 1.0)
        out[zoom_name] = res
    cache.incremental = True
    view.hide()
    return out


def edit_cases(
    app: QApplication, view: CanvasView, frames: int, *, center: bool
) -> dict[str, object]:
    """Each case: ``prepare`` (untimed, settled), then the action and one frame (timed), then
    the background renders land (untimed); ``restore`` puts the model back after the case.
    Findings come from those wholly in view; ``center``: the next finding is centred."""
    vp = view.viewport()
    model, history = view.model, view.history
    assert model is not None and history is not None
    cache = view.scene_.overlay.cache
    vp.repaint()
    drain(app, view)
    seen = view.mapToScene(vp.rect()).boundingRect()
    in_view = []
    for a in model.annotations("img"):
        b = a.shape.bbox()
        if seen.contains(QPointF(b.x0, b.y0)) and seen.contains(QPointF(b.x1, b.y1)):
            in_view.append(a)
    ids = [a.id for a in in_view]
    proposed = [a.id for a in in_view if a.review.state == ReviewState.PROPOSED]
    n = min(frames, len(proposed) - 1)
    undo_steps = [0]
    drag_end = [QPoint()]
    polygon_names = [c.name for c in DEFAULT_CATEGORIES if c.shape.value == "polygon"]
    cases: dict[str, object] = {}

    def case(
        name: str,
        prepare: Callable[[int], None],
        action: Callable[[int], None],
        restore: Callable[[], None],
    ) -> None:
        samples = []
        renders = patches = 0
        for i in range(n):
            prepare(i)
            vp.repaint()
            drain(app, view)  # untimed: the state before the action, settled
            r0, p0 = cache.renders, cache.patches
            t0 = CLOCK()
            action(i)
            vp.repaint()  # the frame that shows it
            samples.append(CLOCK() - t0)
            renders += cache.renders - r0
            patches += cache.patches - p0
            drain(app, view)
        cases[name] = {**stats(samples), "renders": renders, "patches": patches}
        restore()
        view.select([])
        vp.repaint()
        drain(app, view)

    def nothing(i: int) -> None:
        pass

    def reopen() -> None:
        anns = [model.annotation(i) for i in proposed]
        changed = [a for a in anns if a.review.state != ReviewState.PROPOSED]
        if changed:
            history.push(set_state(changed, ReviewState.PROPOSED, user="bench"))

    def undo_all() -> None:
        for _ in range(undo_steps[0]):
            history.undo()
        undo_steps[0] = 0

    def select(i: int) -> None:
        view.select([ids[i % len(ids)]], center=center)

    def select_next(i: int) -> None:
        view.select([ids[(i + 1) % len(ids)]], center=center)

    def select_proposal(i: int) -> None:
        view.select([proposed[i]], center=center)

    def accept(i: int) -> None:
        history.push(set_state([model.annotation(proposed[i])], ReviewState.ACCEPTED, user="b"))

    def accept_and_next(i: int) -> None:
        accept(i)
        view.select([proposed[i + 1]], center=center)

    def type_change(i: int) -> None:
        ann = model.annotation(proposed[i])
        other = polygon_names[(polygon_names.index(ann.category) + 1) % len(polygon_names)]
        history.push(set_category([ann], other, user="b"))
        undo_steps[0] += 1

    def delete(i: int) -> None:
        history.push(RemoveAnnotations((model.annotation(proposed[i]),)))
        undo_steps[0] += 1

    def drag_vertex(i: int) -> None:
        """Select a finding, press on one of its vertices and drag it (untimed)."""
        ann = model.annotation(ids[i % len(ids)])
        view.select([ann.id], center=center)
        pts = ann.shape.points  # type: ignore[union-attr]
        x, y = pts[i % len(pts)]
        pos = view.mapFromScene(QPointF(float(x), float(y)))
        left = Qt.MouseButton.LeftButton
        send_mouse(view, QEvent.Type.MouseButtonPress, pos, left)
        for k in range(1, 4):
            send_mouse(view, QEvent.Type.MouseMove, pos + QPoint(2 * k, -k), left)
            vp.repaint()
        drag_end[0] = pos + QPoint(6, -3)
        undo_steps[0] += 1

    def release(i: int) -> None:
        left = Qt.MouseButton.LeftButton
        send_mouse(view, QEvent.Type.MouseButtonRelease, drag_end[0], left)

    case("select_next", select, select_next, lambda: None)
    case("accept_and_next", select_proposal, accept_and_next, reopen)
    case("accept_idle", nothing, accept, reopen)
    case("type_change_idle", nothing, type_change, undo_all)
    case("delete_idle", nothing, delete, undo_all)
    case("vertex_drag_end", drag_vertex, release, undo_all)
    return cases


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument(
        "--clock",
        choices=("wall", "cpu", "thread"),
        default="wall",
        help="wall: perf_counter; cpu: this process's CPU time (all threads), which other "
        "processes on a busy machine disturb less; thread: the GUI thread's CPU time (what a "
        "frame costs the GUI thread while renders run on the worker)",
    )
    ap.add_argument("--no-reference", action="store_true", help="skip the plain-items scene")
    ap.add_argument(
        "--background-only", action="store_true", help="only the background-rendering section"
    )
    ap.add_argument("--edits-only", action="store_true", help="only the review-actions section")
    args = ap.parse_args()
    global CLOCK
    CLOCK = {"cpu": time.process_time, "thread": time.thread_time}.get(
        args.clock, time.perf_counter
    )
    app = cast(QApplication, QApplication.instance() or QApplication([]))
    rg, anns = make_data()
    canvas = canvas_view(rg, anns)
    out: dict[str, object] = {
        "image": f"{SIDE}x{SIDE} uint16",
        "polygons": N_POLY,
        "vertices_each": N_VERT,
        "viewport": f"{VIEW_W}x{VIEW_H}",
        "qt_platform": QApplication.platformName(),
        "clock": args.clock,
        "machine": f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cpus".strip(),
    }
    if args.edits_only:
        out["edits"] = measure_edits(app, canvas, args.frames)
        print(json.dumps(out, indent=2))
        return
    if not args.background_only:
        out["canvas"] = measure(app, canvas, args.frames)
        canvas.set_background_rendering(False)
        out["canvas_gui_thread_only"] = measure(app, canvas, args.frames)
    out["background"] = {
        mode: measure_background(app, canvas, background=mode == "worker")
        for mode in ("worker", "gui_thread_only")
    }
    if not args.background_only:
        out["edits"] = measure_edits(app, canvas, args.frames)
    canvas.hide()
    if args.no_reference or args.background_only:
        print(json.dumps(out, indent=2))
        return
    ref = reference_view(rg, anns)
    ref.rg = rg  # type: ignore[attr-defined]
    out["reference"] = measure(app, ref, args.frames)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
