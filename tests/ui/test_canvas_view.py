"""Canvas display: window/level by right-drag, zoom at the cursor, pan, fit, cursor position."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt

from tests.ui import _gestures as g

NO_MODS = Qt.KeyboardModifier.NoModifier


def test_image_is_shown_and_fitted(canvas, project) -> None:
    rect = canvas.mapFromScene(canvas.image_rect()).boundingRect()
    vp = canvas.viewport().rect()
    # KeepAspectRatio fit: the image fills one dimension of the 800x600 viewport.
    assert abs(rect.height() - vp.height()) <= 3 or abs(rect.width() - vp.width()) <= 3
    gray = canvas.scene_.image_item.gray()
    assert gray is not None and gray.shape == project.radiograph.shape


def test_right_drag_changes_window_and_pixels(canvas, qtbot) -> None:
    w0 = canvas.window_level()
    before = canvas.scene_.image_item.gray().copy()
    c = canvas.viewport().rect().center()
    seen: list[tuple[float, float]] = []
    canvas.windowChanged.connect(lambda c_, w_: seen.append((c_, w_)))
    with qtbot.waitSignal(canvas.windowChanged, timeout=1000):
        g.drag(qtbot, canvas, [c, c + QPoint(-100, 50)], button=Qt.MouseButton.RightButton)
    assert len(seen) >= 2  # one per drag step
    center, width = seen[-1]
    assert width < w0.width and center > w0.center
    w1 = canvas.window_level()
    assert (w1.center, w1.width) == (center, width)
    qtbot.waitUntil(lambda: not canvas.scene_.image_item.has_preview(), timeout=3000)
    after = canvas.scene_.image_item.gray()
    assert not np.array_equal(before, after)
    img = canvas.grab().toImage()
    assert not img.isNull()


def test_set_window_emits_and_rerenders(canvas, qtbot) -> None:
    with qtbot.waitSignal(canvas.windowChanged) as blocker:
        canvas.set_window(500.0, 10.0)
    assert blocker.args == [500.0, 10.0]
    qtbot.waitUntil(lambda: not canvas.scene_.image_item.has_preview(), timeout=3000)
    gray = canvas.scene_.image_item.gray()
    assert (gray == 255).mean() > 0.95  # the whole picture lies above 505


def test_wheel_zoom_keeps_image_point_under_cursor(canvas, qtbot) -> None:
    pos = g.at(canvas, 150.0, 330.0)
    before = canvas.to_scene(QPointF(pos))
    s0 = canvas.scale_factor()
    for _ in range(3):
        g.wheel(canvas, pos, 120)
    assert canvas.scale_factor() > s0 * 1.5
    after = canvas.to_scene(QPointF(pos))
    tol = 1.0 / canvas.scale_factor()  # one screen pixel
    assert abs(after.x() - before.x()) <= tol and abs(after.y() - before.y()) <= tol
    g.wheel(canvas, pos, -360)
    assert abs(canvas.scale_factor() - s0) / s0 < 1e-6


def test_cursor_moved_reports_image_coordinates(canvas, qtbot) -> None:
    canvas.zoom_at(4.0, g.at(canvas, 100, 100))
    pos = g.at(canvas, 100.5, 100.5)
    with qtbot.waitSignal(canvas.cursorMoved) as blocker:
        g.move(canvas, pos)
    x, y = blocker.args
    tol = 0.5 / canvas.scale_factor() + 1e-6
    assert abs(x - 100.5) <= tol and abs(y - 100.5) <= tol
    assert int(x) == 100 and int(y) == 100


def test_pan_by_middle_drag_and_space_drag_then_fit(canvas, qtbot) -> None:
    canvas.zoom_at(3.0)
    c = canvas.viewport().rect().center()
    p0 = canvas.to_scene(QPointF(c))
    g.drag(qtbot, canvas, [c, c + QPoint(60, 40)], button=Qt.MouseButton.MiddleButton)
    p1 = canvas.to_scene(QPointF(c))
    s = canvas.scale_factor()
    assert abs((p0.x() - p1.x()) * s - 60) <= 1.5 and abs((p0.y() - p1.y()) * s - 40) <= 1.5
    qtbot.keyPress(canvas, Qt.Key.Key_Space)
    g.drag(qtbot, canvas, [c, c + QPoint(-60, -40)])
    qtbot.keyRelease(canvas, Qt.Key.Key_Space)
    p2 = canvas.to_scene(QPointF(c))
    assert abs(p2.x() - p0.x()) * s <= 1.5 and abs(p2.y() - p0.y()) * s <= 1.5
    assert canvas.history.index == 0  # panning is no edit
    qtbot.keyClick(canvas, Qt.Key.Key_F)  # F is the fracture category, not "fit"
    assert canvas.scale_factor() == s and canvas.to_scene(QPointF(c)) == p2
    for key, mods in (
        (Qt.Key.Key_Home, NO_MODS),
        (Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier),
    ):
        canvas.zoom_at(3.0)
        qtbot.keyClick(canvas, key, mods)
        rect = canvas.mapFromScene(canvas.image_rect()).boundingRect()
        assert canvas.viewport().rect().adjusted(-3, -3, 3, 3).contains(rect)
        assert canvas.scale_factor() < s / 2


def test_cursor_left_on_leave(canvas, qtbot) -> None:
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    with qtbot.waitSignal(canvas.cursorLeft):
        QApplication.sendEvent(canvas, QEvent(QEvent.Type.Leave))
