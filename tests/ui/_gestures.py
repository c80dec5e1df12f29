"""Real mouse, wheel and key events on a CanvasView's viewport, addressed in image coordinates.

QTest's mouseMove carries no held buttons on a QWidget target, so drags send QMouseEvent moves
with the button held through QApplication.sendEvent; presses and releases go through qtbot.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication, QGraphicsView

Button = Qt.MouseButton
Mods = Qt.KeyboardModifier
NO_MODS = Qt.KeyboardModifier.NoModifier


def at(view: QGraphicsView, x: float, y: float) -> QPoint:
    """Viewport position of image point (x, y)."""
    return view.mapFromScene(QPointF(x, y))


def move(
    view: QGraphicsView,
    pos: QPoint,
    *,
    buttons: Qt.MouseButton = Button.NoButton,
    mods: Qt.KeyboardModifier = NO_MODS,
) -> None:
    vp = view.viewport()
    ev = QMouseEvent(
        QEvent.Type.MouseMove,
        QPointF(pos),
        QPointF(vp.mapToGlobal(pos)),
        Button.NoButton,
        buttons,
        mods,
    )
    QApplication.sendEvent(vp, ev)


def drag(
    qtbot,  # type: ignore[no-untyped-def]
    view: QGraphicsView,
    path: Sequence[QPoint],
    *,
    button: Qt.MouseButton = Button.LeftButton,
    mods: Qt.KeyboardModifier = NO_MODS,
    steps: int = 4,
) -> None:
    """Press at path[0], move through the points (``steps`` moves per segment), release."""
    vp = view.viewport()
    qtbot.mousePress(vp, button, mods, path[0])
    for a, b in itertools.pairwise(path):
        for k in range(1, steps + 1):
            t = k / steps
            p = QPoint(round(a.x() + (b.x() - a.x()) * t), round(a.y() + (b.y() - a.y()) * t))
            move(view, p, buttons=button, mods=mods)
    qtbot.mouseRelease(vp, button, mods, path[-1])


def click(
    qtbot,  # type: ignore[no-untyped-def]
    view: QGraphicsView,
    pos: QPoint,
    *,
    button: Qt.MouseButton = Button.LeftButton,
    mods: Qt.KeyboardModifier = NO_MODS,
) -> None:
    move(view, pos, mods=mods)
    qtbot.mouseClick(view.viewport(), button, mods, pos)


def double_click(qtbot, view: QGraphicsView, pos: QPoint) -> None:  # type: ignore[no-untyped-def]
    """Press, release, double-click, release, as a real double-click arrives.

    QTest.mouseDClick sends the double-click event alone on a QWidget, so build the sequence.
    """
    vp = view.viewport()
    qtbot.mousePress(vp, Button.LeftButton, NO_MODS, pos)
    qtbot.mouseRelease(vp, Button.LeftButton, NO_MODS, pos)
    ev = QMouseEvent(
        QEvent.Type.MouseButtonDblClick,
        QPointF(pos),
        QPointF(vp.mapToGlobal(pos)),
        Button.LeftButton,
        Button.LeftButton,
        NO_MODS,
    )
    QApplication.sendEvent(vp, ev)
    qtbot.mouseRelease(vp, Button.LeftButton, NO_MODS, pos)


def wheel(view: QGraphicsView, pos: QPoint, delta: int = 120) -> None:
    vp = view.viewport()
    ev = QWheelEvent(
        QPointF(pos),
        QPointF(vp.mapToGlobal(pos)),
        QPoint(0, 0),
        QPoint(0, delta),
        Button.NoButton,
        NO_MODS,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(vp, ev)
