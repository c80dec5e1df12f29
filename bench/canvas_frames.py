"""Canvas frame times (issue 4, item 7): 200 polygons of 100 vertices on a 3000x3000 16-bit image.

Prints JSON: mean/p95 ms per frame for full redraw, zoom, pan and window/level, for the
CanvasView and for a reference scene (plain QGraphicsPolygonItem/QGraphicsPixmapItem, Qt's
default view settings). Every frame is painted before its clock stops: the scroll pan sends the
window its UpdateRequest (``processEvents`` alone leaves the paint to Qt's next update timer,
which made the reference's pan look like 0.2 ms while it painted nothing).
Run: QT_QPA_PLATFORM=offscreen python bench/canvas_frames.py [--frames N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable

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

from orthogui.core.annotation import Annotation, Prediction
from orthogui.core.categories import DEFAULT_CATEGORIES
from orthogui.core.geometry import Polygon
from orthogui.core.history import History
from orthogui.core.project import ImageRecord, ProjectModel
from orthogui.core.radiograph import Radiograph
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


CLOCK = time.perf_counter  # --clock cpu: time.process_time (steadier on a shared machine)


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
    res["redraw_fit"] = stats(timed(lambda i: vp.repaint(), frames))

    # Zoom: in and out around the fit scale (x0.5 .. x4), each step one frame.
    factors = [1.15] * 10 + [1 / 1.15] * 10

    def zoom_step(i: int) -> None:
        zoom(view, factors[i % len(factors)])
        vp.repaint()

    fit(view)
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
    res["redraw_zoomed_2x"] = stats(timed(lambda i: vp.repaint(), frames))
    res["window_level_step"] = stats(timed(lambda i: window_step(view, i), 15))
    if canvas is not None:
        res["window_level_drag_step"] = stats(window_drag(app, canvas, frames))
    view.hide()
    return res


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

    right = Qt.MouseButton.RightButton
    send(QEvent.Type.MouseButtonPress, c, right)

    def step(i: int) -> None:
        send(QEvent.Type.MouseMove, c + QPoint(3 * (i % 9), 2 * (i % 7)), right)
        app.processEvents()  # the preview renders on a zero timer
        flush(view)  # and is painted (unless processEvents did)

    out = timed(step, frames)
    send(QEvent.Type.MouseButtonRelease, c, right)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall: perf_counter; cpu: this process's CPU time (all threads), which other "
        "processes on a busy machine disturb less",
    )
    args = ap.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    app = QApplication.instance() or QApplication([])
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
        "canvas": measure(app, canvas, args.frames),
    }
    canvas.hide()
    ref = reference_view(rg, anns)
    ref.rg = rg  # type: ignore[attr-defined]
    out["reference"] = measure(app, ref, args.frames)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
