"""The workbench end to end: real keys on the main window, one undo step per key, reopen."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from orthogui.core.annotation import ReviewState
from orthogui.core.project import ImageStatus
from orthogui.io.store import ProjectStore
from orthogui.ui.main_window import MainWindow
from orthogui.ui.services import Services
from tests.ui._workbench import FakePredictor, show_window, write_png16

K = Qt.Key
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "images"
    folder.mkdir()
    return [write_png16(folder / f"img{i}.png", seed=i) for i in range(3)]


def make_window(qtbot, project: Path, images: list[Path] | None = None) -> MainWindow:
    store = ProjectStore.open(project) if project.exists() else ProjectStore.create(project)
    win = MainWindow(Services(store, user="tester"), predictor=FakePredictor())
    show_window(qtbot, win)
    if images:
        with qtbot.waitSignal(win.loader.loaded, timeout=10000):
            win.add_paths(images)
    return win


def states(win: MainWindow) -> list[str]:
    assert win.image_id is not None
    return [a.review.state.value for a in win.model.annotations(win.image_id)]


def press(qtbot, win: MainWindow, key: Qt.Key, mods=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(win, key, mods)


def test_keyboard_review_pass_undo_redo_and_reopen(qtbot, tmp_path: Path, images) -> None:
    project = tmp_path / "p.orthogui"
    win = make_window(qtbot, project, images)
    first = win.image_id
    assert first is not None and win.radiograph is not None
    assert win.windowTitle().startswith("OrthoGUI — p") and "•" not in win.windowTitle()

    with qtbot.waitSignal(win.predict.finished, timeout=10000):
        press(qtbot, win, K.Key_M, CTRL)  # pre-annotate the current image
    assert states(win) == ["proposed"] * 3
    assert win.model.image(first).status == ImageStatus.IN_REVIEW  # opened with proposals
    assert win.findings_panel.tree.topLevelItemCount() == 3
    steps = len(win.history)

    press(qtbot, win, K.Key_A)  # nothing selected: the first proposal
    assert states(win) == ["accepted", "proposed", "proposed"]
    assert win.canvas.selected_ids() == [win.model.annotations(first)[1].id]  # moved on
    press(qtbot, win, K.Key_R)
    assert states(win)[1] == "rejected"
    ann0 = win.model.annotations(first)[0]
    win.canvas.select([ann0.id])
    press(qtbot, win, K.Key_3)  # screw type 3 = locking
    after = win.model.annotation(ann0.id)
    assert after.category == "locking_screw" and after.review.state == ReviewState.CORRECTED
    assert after.original_category == "cortical_screw" and after.provenance.is_model
    press(qtbot, win, K.Key_A, SHIFT)  # accept all remaining
    assert states(win) == ["corrected", "rejected", "accepted"]
    assert len(win.history) == steps + 4  # one step per key

    anns = win.model.annotations(first)
    press(qtbot, win, K.Key_N)  # from ann0, skipping the hidden rejected one
    assert win.canvas.selected_ids() == [anns[2].id]
    assert win.properties_panel.annotation().id == anns[2].id
    assert win.findings_panel.selected_ids() == [anns[2].id]
    press(qtbot, win, K.Key_P)
    assert win.canvas.selected_ids() == [ann0.id]

    with qtbot.waitSignal(win.loader.loaded, timeout=10000):
        press(qtbot, win, K.Key_Return)  # approve and next
    assert win.model.image(first).status == ImageStatus.APPROVED
    assert win.image_id != first
    assert len(win.history) == steps + 5

    final = {a.id: a for a in win.model.annotations()}
    n = win.history.index
    while win.history.can_undo():
        press(qtbot, win, K.Key_Z, CTRL)
    assert win.model.annotations() == [] and win.model.image(first).status == ImageStatus.NEW
    for _ in range(n - 1):
        press(qtbot, win, K.Key_Z, CTRL | SHIFT)
    press(qtbot, win, K.Key_Y, CTRL)
    assert {a.id: a for a in win.model.annotations()} == final
    assert win.model.image(first).status == ImageStatus.APPROVED
    win.close()

    win2 = make_window(qtbot, project)
    assert {a.id: a for a in win2.model.annotations()} == final
    assert win2.history.index == n and len(win2.history) == n
    assert win2.model.image(first).status == ImageStatus.APPROVED
    assert win2.action_map["undo"].text().startswith("&Undo Mark approved")
    press(qtbot, win2, K.Key_Z, CTRL)  # history survived the restart
    assert win2.model.image(first).status != ImageStatus.APPROVED
    win2.close()


def test_corrupt_file_shows_error_and_next_image_opens(qtbot, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    write_png16(folder / "b_good.png", seed=3)
    win = make_window(qtbot, tmp_path / "q.orthogui")
    with qtbot.waitSignal(win.loader.loaded, timeout=10000):
        win.add_paths([folder])
    assert win.radiograph is not None and Path(win.radiograph.path).name == "b_good.png"
    broken = next(r.id for r in win.model.images() if r.path.endswith("a_broken.png"))
    assert win.queue_panel.is_failed(broken)
    item = win.queue_panel._items[broken]
    assert item.text(1) == "failed" and "a_broken.png" in item.toolTip(0)
    assert "a_broken.png" in win.statusBar().currentMessage()
    win.close()


def test_pgdown_pgup_and_queue_sort_filter(qtbot, tmp_path: Path, images) -> None:
    win = make_window(qtbot, tmp_path / "r.orthogui", images)
    order = win.queue_panel.ordered_ids()
    assert [Path(win.model.image(i).path).name for i in order] == [
        "img0.png",
        "img1.png",
        "img2.png",
    ]
    assert win.image_id == order[0]
    with qtbot.waitSignal(win.loader.loaded, timeout=10000):
        press(qtbot, win, K.Key_PageDown)
    assert win.image_id == order[1]
    with qtbot.waitSignal(win.loader.loaded, timeout=10000):
        press(qtbot, win, K.Key_PageUp)
    assert win.image_id == order[0]
    recs = [win.model.image(i) for i in order]
    win.store.update_images([recs[0].evolve(uncertainty=0.1), recs[2].evolve(uncertainty=0.9)])
    win.queue_panel.sort_combo.setCurrentIndex(win.queue_panel.sort_combo.findData("uncertainty"))
    assert win.queue_panel.ordered_ids() == [order[2], order[0], order[1]]  # None last
    win.queue_panel.filter_combo.setCurrentIndex(
        win.queue_panel.filter_combo.findData(ImageStatus.APPROVED)
    )
    assert win.queue_panel.ordered_ids() == [order[0]]  # only the current one stays visible
    win.close()


def test_status_bar_shows_value_position_window_and_zoom(qtbot, tmp_path: Path, images) -> None:
    win = make_window(qtbot, tmp_path / "s.orthogui", images[:1])
    win.canvas.cursorMoved.emit(100.5, 128.2)
    assert win.readout.value.text().startswith("value 60000")
    assert "x 100.5 y 128.2 px" in win.readout.position.text()
    assert "mm unknown" in win.readout.position.text()
    assert win.readout.window.text().startswith("C ")
    assert win.readout.zoom.text().startswith("zoom ")
    win.close()
