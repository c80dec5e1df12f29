"""Rulers and angles on the main window: drawn with the mouse, saved, undoable, editable."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QPointF, Qt

from orthogui.core.measurement import angle_degrees
from orthogui.ui.main_window import MainWindow
from tests.ui import _gestures as g
from tests.ui.test_main_window import make_window

K = Qt.Key
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
DICOM = Path(__file__).resolve().parents[1] / "data" / "dicom" / "RG2_JPLY_fixed.dcm"
SPACING = 0.2  # mm, PixelSpacing of that file (isotropic)


def scene(win: MainWindow, x: float, y: float) -> tuple[float, float]:
    """The image point under the viewport position of image point (x, y), as the tools see it."""
    c = win.canvas
    p = c.to_scene(QPointF(g.at(c, x, y)))
    return p.x(), p.y()


def values(win: MainWindow) -> dict[str, float]:
    assert win.image_id is not None
    ms = win.model.measurements(win.image_id)
    return {m.id: win.canvas.measures.value(m.id) for m in ms}


def open_dicom(qtbot, tmp_path: Path) -> tuple[MainWindow, Path]:  # type: ignore[no-untyped-def]
    folder = tmp_path / "images"
    folder.mkdir()
    image = shutil.copy(DICOM, folder / "knee.dcm")
    project = tmp_path / "p.orthogui"
    return make_window(qtbot, project, [Path(image)]), project


def test_rulers_and_angle_saved_undone_edited_deleted_and_reopened(qtbot, tmp_path) -> None:
    win, project = open_dicom(qtbot, tmp_path)
    c, iid = win.canvas, win.image_id
    assert iid is not None and win.radiograph is not None
    assert win.radiograph.pixel_spacing == (SPACING, SPACING)
    n_anns, steps = len(win.model.annotations()), len(win.history)

    qtbot.keyClick(win, K.Key_M)  # the ruler
    assert c.tool() == "ruler"
    g.drag(qtbot, c, [g.at(c, 400, 500), g.at(c, 1400, 500)])
    g.drag(qtbot, c, [g.at(c, 300, 300), g.at(c, 300, 1800)])
    qtbot.keyClick(win, K.Key_G)  # the angle
    assert c.tool() == "angle" and win.action_map["tool_angle"].isChecked()  # type: ignore[index]
    arm, vertex, other = (1200, 800), (800, 1200), (1400, 1400)
    for p in (arm, vertex, other):
        g.click(qtbot, c, g.at(c, *p))

    ms = win.model.measurements(iid)
    assert [m.kind for m in ms] == ["length", "length", "angle"]
    assert len(win.history) == steps + 3 and len(win.model.annotations()) == n_anns
    r1, r2, ang = (m.id for m in ms)
    a, b = scene(win, 400, 500), scene(win, 1400, 500)
    assert values(win)[r1] == pytest.approx(math.dist(a, b) * SPACING)
    assert 195 < values(win)[r1] < 205  # 1000 px at 0.2 mm
    a, b = scene(win, 300, 300), scene(win, 300, 1800)
    assert values(win)[r2] == pytest.approx(math.dist(a, b) * SPACING)
    expected = angle_degrees(scene(win, *arm), scene(win, *vertex), scene(win, *other))
    assert values(win)[ang] == pytest.approx(expected)
    assert 62 < values(win)[ang] < 65  # 45° above the horizontal + atan(1/3) below: 63.4°
    assert c.measures.items[r1].text() == f"{values(win)[r1]:.1f} mm"
    assert c.measures.items[ang].text() == f"{values(win)[ang]:.1f}°"
    saved = values(win)

    qtbot.keyClick(win, K.Key_Z, CTRL)  # undo removes the angle
    assert [m.id for m in win.model.measurements(iid)] == [r1, r2]
    assert ang not in c.measures.items
    qtbot.keyClick(win, K.Key_Z, CTRL | SHIFT)  # redo restores it
    assert values(win) == saved and ang in c.measures.items

    qtbot.keyClick(win, K.Key_S)  # drag the first ruler's end with the select tool
    with qtbot.waitSignal(win.model.measurement_changed):
        g.drag(qtbot, c, [g.at(c, 1400, 500), g.at(c, 1400, 1000)])
    moved = values(win)[r1]
    a, b = scene(win, 400, 500), scene(win, 1400, 1000)
    assert moved == pytest.approx(math.dist(a, b) * SPACING) and moved > saved[r1] + 10
    assert c.measures.items[r1].text() == f"{moved:.1f} mm"
    qtbot.keyClick(win, K.Key_Z, CTRL)
    assert values(win) == saved
    assert c.measures.items[r1].text() == f"{saved[r1]:.1f} mm"

    g.click(qtbot, c, g.at(c, 300, 1000))  # on the second ruler's line
    assert c.measures.selected == r2 and c.selected_ids() == []
    qtbot.keyClick(win, K.Key_Delete)
    assert [m.id for m in win.model.measurements(iid)] == [r1, ang]
    assert len(win.model.annotations()) == n_anns  # Delete took no finding with it
    qtbot.keyClick(win, K.Key_Z, CTRL)
    assert values(win) == saved
    win.close()

    win2 = make_window(qtbot, project)
    if win2.canvas.image_id != iid or win2.radiograph is None:
        with qtbot.waitSignal(win2.loader.loaded, timeout=10000):
            win2.open_image(iid)
    assert [m.id for m in win2.model.measurements(iid)] == [r1, ang, r2]
    assert values(win2) == pytest.approx(saved)
    assert set(win2.canvas.measures.items) == {r1, r2, ang}
    assert win2.canvas.measures.items[r2].text() == f"{saved[r2]:.1f} mm"
    qtbot.keyClick(win2, K.Key_Z, CTRL)  # the history survived: undo the angle, redo it
    assert ang not in win2.canvas.measures.items
    qtbot.keyClick(win2, K.Key_Z, CTRL | SHIFT)
    assert values(win2) == pytest.approx(saved)
    win2.close()


def test_escape_abandons_an_angle_in_flight(qtbot, tmp_path) -> None:
    win, _ = open_dicom(qtbot, tmp_path)
    c, steps = win.canvas, len(win.history)
    qtbot.keyClick(win, K.Key_G)
    g.click(qtbot, c, g.at(c, 500, 500))
    g.click(qtbot, c, g.at(c, 900, 900))
    assert c.tool_object().busy  # type: ignore[attr-defined]
    qtbot.keyClick(c, K.Key_Escape)
    assert not c.tool_object().busy  # type: ignore[attr-defined]
    assert len(win.history) == steps and win.model.measurements() == []
    win.close()
