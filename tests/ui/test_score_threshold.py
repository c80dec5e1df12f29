"""The score threshold and the label toggle are view settings: real keys and drags on the
slider hide low-score proposals on the canvas and in the findings list without an edit,
keyboard review passes over them, approval still counts them as not reviewed, and both
settings survive a restart of the window (settings file, not project file)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, QSettings, Qt
from PySide6.QtGui import QImage, QMouseEvent
from PySide6.QtWidgets import QApplication, QStyle, QStyleOptionSlider

from orthogui.core.annotation import ReviewState
from orthogui.core.project import ImageStatus
from orthogui.io.store import ProjectStore
from orthogui.ui.main_window import MainWindow
from orthogui.ui.panels.annotations import ID_ROLE
from orthogui.ui.services import Services
from tests.ui._workbench import FakePredictor, show_window, write_png16

K = Qt.Key
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
LEFT = Qt.MouseButton.LeftButton


def make_window(qtbot, project: Path, settings: QSettings) -> MainWindow:  # type: ignore[no-untyped-def]
    store = ProjectStore.open(project) if project.exists() else ProjectStore.create(project)
    win = MainWindow(Services(store, user="tester", settings=settings), predictor=FakePredictor())
    return show_window(qtbot, win)


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "cfg" / "orthogui.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def win(qtbot, tmp_path: Path, settings: QSettings) -> MainWindow:  # type: ignore[no-untyped-def]
    """Two images; the first pre-annotated by the fake model: screw 0.91, locking screw 0.72,
    fracture box 0.55 (all proposed)."""
    folder = tmp_path / "images"
    folder.mkdir()
    images = [write_png16(folder / f"img{i}.png", seed=i) for i in range(2)]
    w = make_window(qtbot, tmp_path / "p.orthogui", settings)
    with qtbot.waitSignal(w.loader.loaded, timeout=10000):
        w.add_paths(images)
    with qtbot.waitSignal(w.predict.finished, timeout=10000):
        qtbot.keyClick(w, K.Key_M, CTRL)
    assert [a.score for a in w.model.annotations(w.image_id)] == [0.91, 0.72, 0.55]
    return w


def ids(win: MainWindow) -> dict[str, str]:
    """category -> id of the findings of the image shown (one per category here)."""
    return {a.category: a.id for a in win.model.annotations(win.image_id)}


def on_canvas(win: MainWindow) -> set[str]:
    """The categories of the findings the canvas shows."""
    items = win.canvas.scene_.items_by_id
    return {items[i].ann.category for i in items if items[i].isVisible()}


def in_list(win: MainWindow) -> set[str]:
    """The categories of the findings whose rows the findings list shows."""
    tree, by_id = win.findings_panel.tree, {v: k for k, v in ids(win).items()}
    rows = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    return {by_id[str(r.data(0, ID_ROLE))] for r in rows if not r.isHidden()}


ALL = {"cortical_screw", "locking_screw", "fracture"}


def focus_slider(qtbot, win: MainWindow):  # type: ignore[no-untyped-def]
    """View › Score threshold… puts the keyboard on the slider above the findings list."""
    win.action_map["score_threshold"].trigger()
    slider = win.visibility.bar.slider
    qtbot.waitUntil(slider.hasFocus)
    return slider


def test_slider_keys_hide_low_score_proposals_without_an_edit(qtbot, win) -> None:
    first, steps = win.image_id, len(win.history)
    before = {a.id: a for a in win.model.annotations()}
    assert on_canvas(win) == in_list(win) == ALL
    slider = focus_slider(qtbot, win)
    for _ in range(6):  # PgUp: +0.10 on the focused slider (not "previous image")
        qtbot.keyClick(slider, K.Key_PageUp)
    assert slider.value() == 60 and win.image_id == first
    assert on_canvas(win) == in_list(win) == {"cortical_screw", "locking_screw"}
    assert win.visibility.bar.note.text() == "1 finding below 0.60 hidden"
    qtbot.keyClick(slider, K.Key_Right)  # +0.05
    qtbot.keyClick(slider, K.Key_Right)
    assert win.visibility.bar.value_label.text() == "0.70"
    assert on_canvas(win) == {"cortical_screw", "locking_screw"}
    qtbot.keyClick(slider, K.Key_Right)
    assert on_canvas(win) == in_list(win) == {"cortical_screw"}
    assert win.visibility.bar.note.text() == "2 findings below 0.75 hidden"
    # A view setting: nothing deleted or changed, no undo step.
    assert len(win.history) == steps and {a.id: a for a in win.model.annotations()} == before

    qtbot.keyClick(slider, K.Key_Home)  # off (Home is "fit" elsewhere, the slider's here)
    assert slider.value() == 0 and on_canvas(win) == in_list(win) == ALL
    assert win.visibility.bar.note.text() == "" and win.visibility.bar.value_label.text() == "off"
    # Reviewed findings always show, whatever their score: accept the fracture (0.55).
    tree = win.findings_panel.tree
    row = next(
        tree.topLevelItem(i)
        for i in range(tree.topLevelItemCount())
        if tree.topLevelItem(i).data(0, ID_ROLE) == ids(win)["fracture"]
    )
    qtbot.mouseClick(tree.viewport(), LEFT, pos=tree.visualItemRect(row).center())
    assert win.canvas.selected_ids() == [ids(win)["fracture"]]
    qtbot.keyClick(win, K.Key_A)
    slider = focus_slider(qtbot, win)
    qtbot.keyClick(slider, K.Key_End)  # 1.00: every proposal hidden
    assert on_canvas(win) == in_list(win) == {"fracture"}
    assert win.visibility.bar.note.text() == "2 findings below 1.00 hidden"
    win.close()


def test_dragging_the_slider_handle_hides_proposals_below_it(qtbot, win) -> None:
    slider = win.visibility.bar.slider
    opt = QStyleOptionSlider()
    slider.initStyleOption(opt)
    style = slider.style()
    cc = QStyle.ComplexControl.CC_Slider
    handle = style.subControlRect(cc, opt, QStyle.SubControl.SC_SliderHandle, slider)
    groove = style.subControlRect(cc, opt, QStyle.SubControl.SC_SliderGroove, slider)
    span = groove.width() - handle.width()
    target = QPoint(groove.x() + handle.width() // 2 + round(span * 0.635), handle.center().y())
    qtbot.mousePress(slider, LEFT, pos=handle.center())
    for k in range(1, 6):
        x = handle.center().x() + (target.x() - handle.center().x()) * k // 5
        pos = QPointF(x, target.y())
        ev = QMouseEvent(
            QEvent.Type.MouseMove,
            pos,
            QPointF(slider.mapToGlobal(pos)),
            Qt.MouseButton.NoButton,
            LEFT,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(slider, ev)
    qtbot.mouseRelease(slider, LEFT, pos=target)
    assert 56 <= slider.value() <= 71, slider.value()
    assert on_canvas(win) == in_list(win) == {"cortical_screw", "locking_screw"}
    assert win.visibility.bar.note.text().startswith("1 finding below 0.")
    win.close()


def test_keyboard_review_passes_over_hidden_proposals(qtbot, win) -> None:
    slider = focus_slider(qtbot, win)
    for _ in range(6):
        qtbot.keyClick(slider, K.Key_PageUp)  # 0.60: the fracture (0.55) is hidden
    f = ids(win)
    qtbot.keyClick(win, K.Key_N)
    assert win.canvas.selected_ids() == [f["cortical_screw"]]
    qtbot.keyClick(win, K.Key_N)
    assert win.canvas.selected_ids() == [f["locking_screw"]]
    qtbot.keyClick(win, K.Key_Tab)  # wraps past the hidden fracture
    assert win.canvas.selected_ids() == [f["cortical_screw"]]
    qtbot.keyClick(win, K.Key_P)
    assert win.canvas.selected_ids() == [f["locking_screw"]]
    win.canvas.select([])
    qtbot.keyClick(win, K.Key_A)  # nothing selected: the first *shown* proposal
    assert win.canvas.selected_ids() == [f["locking_screw"]]  # moved on
    qtbot.keyClick(win, K.Key_A)  # no shown proposal left: the hidden one is not selected
    assert win.canvas.selected_ids() == [f["locking_screw"]]
    qtbot.keyClick(win, K.Key_A, SHIFT)  # accept all remaining: none is shown
    states = {a.category: a.review.state for a in win.model.annotations(win.image_id)}
    assert states == {
        "cortical_screw": ReviewState.ACCEPTED,
        "locking_screw": ReviewState.ACCEPTED,
        "fracture": ReviewState.PROPOSED,
    }
    win.close()


def test_approval_counts_hidden_proposals_as_not_reviewed(qtbot, win) -> None:
    first = win.image_id
    slider = focus_slider(qtbot, win)
    for _ in range(6):
        qtbot.keyClick(slider, K.Key_PageUp)
    qtbot.keyClick(win, K.Key_A)
    qtbot.keyClick(win, K.Key_A)  # every shown proposal accepted; the fracture is hidden
    steps = len(win.history)

    qtbot.keyClick(win, K.Key_Return)
    qtbot.waitUntil(lambda: win.approval.dialog is not None and win.approval.dialog.isVisible())
    dialog = win.approval.dialog
    assert dialog.text() == (
        "img0.png still has 1 finding proposed by the model and not reviewed. "
        "It is hidden below the score threshold 0.60."
    )
    assert not dialog.accept_button.isEnabled()  # nobody accepts what they did not see
    assert dialog.show_button is not None and dialog.show_button.text() == "Show the 1 hidden"
    qtbot.mouseClick(dialog.show_button, LEFT)
    qtbot.waitUntil(lambda: win.approval.dialog is None)
    assert win.model.image(first).status == ImageStatus.IN_REVIEW and len(win.history) == steps
    assert slider.value() == 0 and on_canvas(win) == in_list(win) == ALL  # shown now

    qtbot.keyClick(win, K.Key_Return)  # nothing hidden now: the usual question
    qtbot.waitUntil(lambda: win.approval.dialog is not None and win.approval.dialog.isVisible())
    dialog = win.approval.dialog
    assert "hidden" not in dialog.text() and dialog.accept_button.isEnabled()
    assert dialog.show_button is None
    qtbot.keyClick(dialog, K.Key_Escape)
    qtbot.waitUntil(lambda: win.approval.dialog is None)

    slider = focus_slider(qtbot, win)
    for _ in range(6):
        qtbot.keyClick(slider, K.Key_PageUp)  # hidden again: rejecting the rest is offered
    qtbot.keyClick(win, K.Key_Return)
    qtbot.waitUntil(lambda: win.approval.dialog is not None and win.approval.dialog.isVisible())
    with qtbot.waitSignal(win.loader.loaded, timeout=10000):
        qtbot.mouseClick(win.approval.dialog.reject_button, LEFT)
    assert win.model.image(first).status == ImageStatus.APPROVED
    box = next(a for a in win.model.annotations(first) if a.category == "fracture")
    assert box.review.state == ReviewState.REJECTED
    win.close()


def label_box(win: MainWindow, category: str) -> QRect:
    """Where the label of a finding sits in the canvas viewport: above its top-left corner."""
    item = win.canvas.scene_.items_by_id[ids(win)[category]]
    corner = win.canvas.mapFromScene(item.shape_rect().topLeft())
    rect = item.label.boundingRect().toAlignedRect()
    return rect.translated(corner).adjusted(1, 1, -1, -1)


def pixels(image: QImage, rect: QRect) -> np.ndarray:
    img = image.convertToFormat(QImage.Format.Format_RGB32).copy(rect)
    rows = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    return rows[:, : rect.width() * 4].copy()  # a copy: the bits die with ``img``


def test_label_toggle_removes_the_labels(qtbot, win) -> None:
    f = ids(win)
    win.canvas.select([f["locking_screw"]])  # drawn by its own item; the others by the overlay
    selected = win.canvas.scene_.items_by_id[f["locking_screw"]]
    assert win.action_map["show_labels"].isChecked() and selected.label.isVisible()
    idle = label_box(win, "cortical_screw")
    with_labels = win.canvas.viewport().grab().toImage()

    qtbot.keyClick(win, K.Key_L)
    assert not win.action_map["show_labels"].isChecked()
    assert not selected.label.isVisible()
    assert not any(
        it.label.isVisible() for it in win.canvas.scene_.items_by_id.values()
    )  # no label item is left on the canvas
    without = win.canvas.viewport().grab().toImage()
    assert not np.array_equal(pixels(with_labels, idle), pixels(without, idle))  # overlay's too

    qtbot.keyClick(win, K.Key_L)
    assert win.action_map["show_labels"].isChecked() and selected.label.isVisible()
    again = win.canvas.viewport().grab().toImage()
    assert np.array_equal(pixels(with_labels, idle), pixels(again, idle))
    assert len(win.history) > 0 and win.history.can_undo()  # the toggle added no step
    win.close()


def test_settings_survive_a_restart_and_stay_out_of_the_project(
    qtbot, win, tmp_path: Path, settings: QSettings
) -> None:
    steps = len(win.history)
    slider = focus_slider(qtbot, win)
    for _ in range(6):
        qtbot.keyClick(slider, K.Key_PageUp)
    qtbot.keyClick(win, K.Key_L)
    assert len(win.history) == steps
    win.close()
    project = tmp_path / "p.orthogui"
    assert b"score_threshold" not in project.read_bytes()

    win2 = make_window(qtbot, project, settings)
    with qtbot.waitSignal(win2.loader.loaded, timeout=10000):
        qtbot.keyClick(win2, K.Key_PageDown)  # open the first image of the queue
    assert win2.visibility.bar.slider.value() == 60
    assert on_canvas(win2) == in_list(win2) == {"cortical_screw", "locking_screw"}
    assert win2.visibility.bar.note.text() == "1 finding below 0.60 hidden"
    assert not win2.action_map["show_labels"].isChecked()
    win2.canvas.select([ids(win2)["locking_screw"]])
    assert not win2.canvas.scene_.items_by_id[ids(win2)["locking_screw"]].label.isVisible()
    win2.close()
