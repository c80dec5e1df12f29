"""Prediction prefetch: opening an image predicts the next new images of the queue into the
service cache (never into the project), so pre-annotating them later does not run the model."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from orthogui.core.project import ImageStatus
from tests.ui.test_model_picker import CountingPredictor, open_first, open_window

K = Qt.Key
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def test_next_new_images_are_predicted_ahead_and_served_from_the_cache(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pred = CountingPredictor("alpha", "1")
    win = open_window(
        qtbot, tmp_path, monkeypatch, predictor=pred, n_images=5, statuses={1: ImageStatus.APPROVED}
    )
    ids = win.queue_panel.ordered_ids()
    steps = len(win.history)
    first = open_first(qtbot, win)
    assert first == ids[0]
    # img1 is approved: the next two *new* images in queue order are img2 and img3.
    qtbot.waitUntil(lambda: win.predict.cached(ids[3]) is not None, timeout=10000)
    assert win.predict.cached(ids[2]) is not None
    assert pred.seen == ["img2.png", "img3.png"]
    assert win.predict.cached(ids[4]) is None
    # Cached only: nothing added to the project, no status changed, no undo step.
    assert win.model.annotations() == []
    assert [win.model.image(i).status for i in ids[2:]] == [ImageStatus.NEW] * 3
    assert len(win.history) == steps
    assert not win.progress.bar.isVisible()

    for _ in range(2):  # page to img2 (through the approved img1)
        with qtbot.waitSignal(win.loader.loaded, timeout=10000):
            qtbot.keyClick(win, K.Key_PageDown)
    assert win.image_id == ids[2]
    qtbot.waitUntil(lambda: win.predict.cached(ids[4]) is not None, timeout=10000)
    assert pred.seen == ["img2.png", "img3.png", "img4.png"]  # only img4 was new work
    with qtbot.waitSignal(win.predict.finished, timeout=10000) as done:
        qtbot.keyClick(win, K.Key_M, CTRL)
    assert done.args == ["Pre-annotation done: 1 findings on 1 of 1 images"]
    assert pred.calls == 3  # served from the cache: the predictor did not run again
    assert len(win.model.annotations(ids[2])) == 1
    assert win.model.annotations(ids[2])[0].review.state.value == "proposed"
    win.close()


def test_opening_images_during_a_batch_does_not_cancel_it(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Event()
    pred = CountingPredictor("alpha", "1", gate=gate)
    win = open_window(qtbot, tmp_path, monkeypatch, predictor=pred, n_images=5)
    ids = win.queue_panel.ordered_ids()
    qtbot.keyClick(win, K.Key_M, CTRL | SHIFT)  # the whole queue, held at the first image
    qtbot.waitUntil(lambda: pred.calls == 1, timeout=10000)
    with qtbot.waitSignal(win.loader.loaded, timeout=10000):
        win.open_image(ids[2])  # would prefetch img3 and img4, cancelling the batch's queue
    with qtbot.waitSignal(win.predict.finished, timeout=20000) as done:
        gate.set()
    assert done.args == ["Pre-annotation done: 5 findings on 5 of 5 images"]
    assert sorted(pred.seen) == [f"img{i}.png" for i in range(5)]
    assert [len(win.model.annotations(i)) for i in ids] == [1] * 5
    win.close()


def test_no_prefetch_without_a_model_and_after_a_switch_only_the_new_one_serves(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    win = open_window(qtbot, tmp_path, monkeypatch, predictor=None, n_images=3)
    ids = win.queue_panel.ordered_ids()
    open_first(qtbot, win)
    assert win.predict.service is None and win.predict.cached(ids[1]) is None

    old, new = CountingPredictor("alpha", "1"), CountingPredictor("alpha", "2")
    win.predict.set_predictor(old)
    with qtbot.waitSignal(win.loader.loaded, timeout=10000):
        win.open_image(ids[0])  # re-open: prefetch with the model now loaded
    qtbot.waitUntil(lambda: old.calls == 2, timeout=10000)
    qtbot.waitUntil(lambda: win.predict.cached(ids[2]) is not None, timeout=10000)
    win.predict.set_predictor(new)
    assert win.predict.cached(ids[1]) is None  # the old version's results are not reused
    with qtbot.waitSignal(win.loader.loaded, timeout=10000):
        win.open_image(ids[1])
    with qtbot.waitSignal(win.predict.finished, timeout=10000):
        qtbot.keyClick(win, K.Key_M, CTRL)
    assert "img1.png" in new.seen and old.calls == 2
    assert [a.provenance.model_version for a in win.model.annotations(ids[1])] == ["2"]
    win.close()
