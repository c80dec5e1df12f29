"""Approval means reviewed: Enter on an image with unreviewed findings asks first, and the
answer plus the approval is one undo step (real keys and clicks on the real window)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from orthogui.core.project import ImageStatus
from orthogui.ui.main_window import MainWindow
from tests.ui.test_main_window import make_window, states

K = Qt.Key
CTRL = Qt.KeyboardModifier.ControlModifier
LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def win(qtbot, tmp_path: Path) -> MainWindow:
    from tests.ui._workbench import write_png16

    folder = tmp_path / "images"
    folder.mkdir()
    images = [write_png16(folder / f"img{i}.png", seed=i) for i in range(2)]
    w = make_window(qtbot, tmp_path / "p.orthogui", images)
    with qtbot.waitSignal(w.predict.finished, timeout=10000):
        qtbot.keyClick(w, K.Key_M, CTRL)  # three proposals
    qtbot.keyClick(w, K.Key_A)  # the first accepted: two left unreviewed
    assert states(w) == ["accepted", "proposed", "proposed"]
    return w


def ask(qtbot, win: MainWindow):  # type: ignore[no-untyped-def]
    qtbot.keyClick(win, K.Key_Return)
    qtbot.waitUntil(lambda: win.approval.dialog is not None and win.approval.dialog.isVisible())
    dialog = win.approval.dialog
    assert dialog is not None
    assert "img0.png still has 2 findings proposed by the model" in dialog.text()
    return dialog


def test_enter_with_unreviewed_findings_asks_and_cancel_changes_nothing(qtbot, win) -> None:
    first, steps = win.image_id, len(win.history)
    dialog = ask(qtbot, win)
    assert win.model.image(first).status == ImageStatus.IN_REVIEW  # nothing yet
    qtbot.keyClick(dialog, K.Key_Return)  # Enter again by habit: Cancel is the default
    qtbot.waitUntil(lambda: win.approval.dialog is None)
    assert win.model.image(first).status == ImageStatus.IN_REVIEW
    assert states(win) == ["accepted", "proposed", "proposed"]
    assert len(win.history) == steps and win.image_id == first
    dialog = ask(qtbot, win)
    qtbot.keyClick(dialog, K.Key_Escape)
    qtbot.waitUntil(lambda: win.approval.dialog is None)
    assert len(win.history) == steps and win.image_id == first
    # Review the rest by hand: Enter then approves at once, without a question.
    qtbot.keyClick(win, K.Key_R)
    qtbot.keyClick(win, K.Key_A)
    with qtbot.waitSignal(win.loader.loaded, timeout=10000):
        qtbot.keyClick(win, K.Key_Return)
    assert win.approval.dialog is None
    assert win.model.image(first).status == ImageStatus.APPROVED and win.image_id != first
    win.close()


@pytest.mark.parametrize(("button", "state"), [("accept", "accepted"), ("reject", "rejected")])
def test_deciding_the_rest_and_approving_is_one_undo_step(
    qtbot, win, button: str, state: str
) -> None:
    first, steps = win.image_id, len(win.history)
    dialog = ask(qtbot, win)
    target = dialog.accept_button if button == "accept" else dialog.reject_button
    with qtbot.waitSignal(win.loader.loaded, timeout=10000):
        qtbot.mouseClick(target, LEFT)
    assert win.image_id != first  # the next image opened
    assert win.model.image(first).status == ImageStatus.APPROVED
    assert [a.review.state.value for a in win.model.annotations(first)] == [
        "accepted",
        state,
        state,
    ]
    assert {a.review.by for a in win.model.annotations(first)} == {"tester"}
    assert len(win.history) == steps + 1
    verb = button.capitalize()
    assert win.action_map["undo"].text() == f"&Undo {verb} 2 findings and approve (img0.png)"
    qtbot.keyClick(win, K.Key_Z, CTRL)  # one key undoes both
    assert win.model.image(first).status == ImageStatus.IN_REVIEW
    assert [a.review.state.value for a in win.model.annotations(first)] == [
        "accepted",
        "proposed",
        "proposed",
    ]
    win.close()
