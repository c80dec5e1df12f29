"""Background rendering of the canvas (issue 4, frame times): the full-resolution window/level
render and the cached layers at a new scale are made on the worker thread; the screen keeps its
preview until they land, a newer request or an edit drops a stale result, and what lands equals
what the GUI thread would have drawn."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QObject, QPoint, Qt
from PySide6.QtGui import QImage

from orthogui.core.review import set_shape
from orthogui.io.display import render
from orthogui.ui.canvas import overlay as overlay_mod
from orthogui.ui.canvas import view as view_mod
from orthogui.ui.canvas.worker import RenderWorker
from tests.ui import _gestures as g
from tests.ui._render import gate_worker
from tests.ui.test_canvas_perf_paths import along, coloured, cyan, right_drag_moves

RIGHT = Qt.MouseButton.RightButton
NO_MODS = Qt.KeyboardModifier.NoModifier


def grab(canvas) -> QImage:  # type: ignore[no-untyped-def]
    canvas.viewport().repaint()
    return canvas.viewport().grab().toImage()


def settled(canvas, qtbot) -> QImage:  # type: ignore[no-untyped-def]
    """Paint, let every background render land, paint again: the sharp picture."""
    grab(canvas)
    qtbot.waitUntil(lambda: not canvas.rendering(), timeout=5000)
    return grab(canvas)


def threads_of(monkeypatch, module, name: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Record the thread each call of ``module.name`` runs on."""
    seen: list[str] = []
    original = getattr(module, name)

    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(threading.current_thread().name)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return seen


def test_window_drag_end_renders_the_full_image_on_the_worker(
    canvas, project, qtbot, monkeypatch
) -> None:
    settled(canvas, qtbot)
    before = canvas.scene_.image_item.gray().copy()
    full_renders = canvas.full_renders
    renders = threads_of(monkeypatch, view_mod, "render")
    c = canvas.viewport().rect().center()
    qtbot.mousePress(canvas.viewport(), RIGHT, NO_MODS, c)
    right_drag_moves(canvas, [c + QPoint(-12 * k, 7 * k) for k in range(1, 6)])
    qtbot.waitUntil(lambda: canvas.preview_renders >= 1, timeout=3000)
    image_renders = canvas.scene_.image_item.cache.renders
    qtbot.mouseRelease(canvas.viewport(), RIGHT, NO_MODS, c)
    # The release returns at once: the preview stays, the old full image is still the one kept.
    assert canvas.scene_.image_item.has_preview() and canvas.rendering()
    assert np.array_equal(canvas.scene_.image_item.gray(), before)
    qtbot.waitUntil(lambda: not canvas.scene_.image_item.has_preview(), timeout=5000)
    assert canvas.full_renders == full_renders + 1
    assert renders and all(name.startswith("orthogui-canvas-render") for name in renders)
    window = canvas.window_level()
    sharp = render(project.radiograph, window)
    assert np.array_equal(canvas.scene_.image_item.gray(), sharp)
    assert not np.array_equal(sharp, before)
    shown = settled(canvas, qtbot)
    # The worker rasterized what the view shows with it: the cache just blits that.
    assert canvas.scene_.image_item.cache.renders == image_renders + 1
    # The same window rendered on the GUI thread gives the same screen, pixel for pixel.
    canvas.set_background_rendering(False)
    canvas.set_window(window.center, window.width)
    assert not canvas.rendering() and not canvas.scene_.image_item.has_preview()
    assert np.array_equal(canvas.scene_.image_item.gray(), sharp)
    assert grab(canvas) == shown


def test_a_newer_window_drops_the_full_render_in_flight(canvas, project, qtbot) -> None:
    settled(canvas, qtbot)
    n = canvas.full_renders
    canvas.set_window(1500.0, 900.0)
    canvas.set_window(2600.0, 700.0)  # before the first one landed
    assert canvas.scene_.image_item.has_preview()
    qtbot.waitUntil(lambda: not canvas.scene_.image_item.has_preview(), timeout=5000)
    qtbot.wait(100)  # a stale result would land now
    assert canvas.full_renders == n + 1  # the first window's image never showed
    assert np.array_equal(
        canvas.scene_.image_item.gray(), render(project.radiograph, (2600.0, 700.0))
    )


def test_zoom_pause_renders_the_overlay_at_the_new_scale_on_the_worker(
    canvas, project, qtbot, monkeypatch
) -> None:
    settled(canvas, qtbot)
    cache = canvas.scene_.overlay.cache
    n = cache.renders
    rasterized = threads_of(monkeypatch, overlay_mod, "rasterize_shapes")
    # Hold the worker until the pause has been checked: on a loaded machine it could
    # otherwise land before the first grab after the pause.
    gate, _started, _finished = gate_worker(monkeypatch)
    pos = g.at(canvas, 350, 350)
    for _ in range(3):
        g.wheel(canvas, pos, 120)
    s = canvas.scale_factor()
    grab(canvas)
    assert canvas.scene_.zooming and cache.renders == n  # mid-zoom: the last image, scaled
    qtbot.waitUntil(lambda: not canvas.scene_.zooming, timeout=3000)
    grab(canvas)  # the pause: the scaled image is shown, the new one is asked for
    assert cache.plan().scale != s
    gate.set()
    qtbot.waitUntil(lambda: not canvas.rendering(), timeout=5000)
    assert cache.renders == n + 1 and cache.plan().scale == s
    assert rasterized and all(name.startswith("orthogui-canvas-render") for name in rasterized)
    img = grab(canvas)
    assert cache.renders == n + 1  # it lands once and is blitted from then on
    edge = [coloured(img, p, cyan) for p in along(canvas, (310, 390), (300, 300))]
    assert np.mean(edge) > 0.95
    # It equals a rendering made on the GUI thread at the same scale.
    canvas.set_background_rendering(False)
    canvas.scene_.overlay.rerender()
    assert grab(canvas) == img and cache.renders == n + 2


def test_an_edit_during_an_overlay_render_shows_at_once_and_the_render_in_flight_is_patched(
    canvas, project, qtbot, monkeypatch
) -> None:
    settled(canvas, qtbot)
    cache = canvas.scene_.overlay.cache
    gate, started, finished = gate_worker(monkeypatch)
    canvas.zoom_at(1.25, g.at(canvas, 350, 350))
    canvas.scene_.set_zooming(False)  # the zoom pauses
    grab(canvas)
    qtbot.waitUntil(started.is_set, timeout=3000)  # the worker renders the old shapes
    assert cache.pending()
    n = cache.renders
    moved = project.ann("vcf").shape.translated(40, 0)
    project.history.push(set_shape(project.ann("vcf"), moved, user="elsewhere"))
    patches = cache.patches
    img = grab(canvas)  # the next frame shows the edit (repainted in place, GUI thread)
    assert cache.renders == n and cache.patches > patches
    assert cache.pending()  # the render in flight goes on: it is patched when it lands
    assert np.mean([coloured(img, p, cyan) for p in along(canvas, (340, 300), (440, 310))]) > 0.95
    assert not coloured(img, g.at(canvas, 305, 345), cyan)
    patches = cache.patches
    gate.set()
    qtbot.waitUntil(finished.is_set, timeout=5000)
    qtbot.waitUntil(lambda: not cache.pending(), timeout=5000)  # it reaches the GUI thread
    img = grab(canvas)
    assert cache.renders == n + 1 and cache.plan().scale == canvas.scale_factor()
    assert cache.patches > patches  # the edit, repainted on the landed image
    assert np.mean([coloured(img, p, cyan) for p in along(canvas, (340, 300), (440, 310))]) > 0.95
    assert not coloured(img, g.at(canvas, 305, 345), cyan)


# -- the worker alone -----------------------------------------------------------------------------
@pytest.fixture
def worker(qtbot):  # type: ignore[no-untyped-def]
    owner = QObject()
    w = RenderWorker(owner)
    yield w
    w.shutdown()
    owner.deleteLater()


def test_worker_delivers_only_the_latest_request_of_a_channel(worker, qtbot) -> None:
    gate = threading.Event()
    ran: list[str] = []
    got: list[str] = []

    def job(name: str):  # type: ignore[no-untyped-def]
        def run() -> str:
            if name == "a":
                gate.wait(10)
            ran.append(name)
            return name

        return run

    worker.submit("x", job("a"), got.append)  # starts, then waits
    worker.submit("x", job("b"), got.append)  # superseded before it starts: skipped
    worker.submit("x", job("c"), got.append)
    worker.submit("y", job("d"), got.append)  # another channel is not affected
    assert worker.busy("x") and worker.busy("y")
    gate.set()
    qtbot.waitUntil(lambda: not worker.busy(), timeout=5000)
    qtbot.wait(50)
    assert sorted(got) == ["c", "d"] and "b" not in ran
    worker.submit("x", job("e"), got.append)
    worker.drop("x")
    assert not worker.busy("x")
    qtbot.wait(200)
    assert "e" not in got


def test_a_failing_render_falls_back_to_the_gui_thread_with_a_message(
    canvas, project, qtbot, monkeypatch
) -> None:
    settled(canvas, qtbot)

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise MemoryError("no room for the pyramid")

    monkeypatch.setattr(view_mod, "Pyramid", broken)
    messages: list[str] = []
    canvas.message.connect(messages.append)
    canvas.set_window(1500.0, 900.0)
    qtbot.waitUntil(lambda: bool(messages), timeout=5000)
    assert "full-render" in messages[0] and "no room for the pyramid" in messages[0]
    assert not canvas.background_rendering() and not canvas.scene_.image_item.has_preview()
    assert np.array_equal(
        canvas.scene_.image_item.gray(), render(project.radiograph, (1500.0, 900.0))
    )
