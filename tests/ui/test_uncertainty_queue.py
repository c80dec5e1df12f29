"""Uncertainty scores reach the review queue: pre-annotating (real keys) scores each image in
the background, the queue shows the numbers and sorts by them, they are stored in the project
(reopen) and never become undo steps; a model change scores every image again."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from orthogui.core.radiograph import Radiograph
from orthogui.io.store import ProjectStore
from orthogui.ml.service import SCORED_BY
from orthogui.ui.main_window import MainWindow
from orthogui.ui.services import Services
from tests.ui._workbench import (
    FakePredictor,
    queue_uncertainty,
    show_window,
    sort_by_uncertainty,
    write_png16,
)

K = Qt.Key
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
SCORES = {"img0.png": 0.25, "img1.png": 0.9, "img2.png": 0.5}


class ScoringFakePredictor(FakePredictor):
    """FakePredictor that also scores uncertainty: a known value per file name, and
    remembers on which threads it ran."""

    model_name = "fake-scoring"

    def __init__(self, version: str = "1", scores: dict[str, float] = SCORES) -> None:
        super().__init__()
        self.model_version = version
        self.scores = scores
        self.scored: list[str] = []
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def uncertainty(self, radiograph: Radiograph) -> float:
        name = Path(radiograph.path).name
        with self._lock:
            self.scored.append(name)
            self.threads.add(threading.current_thread().name)
        return self.scores[name]


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "images"
    folder.mkdir()
    return [write_png16(folder / f"img{i}.png", seed=i) for i in range(3)]


def open_window(qtbot, project: Path, predictor: FakePredictor, images=None) -> MainWindow:  # type: ignore[no-untyped-def]
    store = ProjectStore.open(project) if project.exists() else ProjectStore.create(project)
    win = MainWindow(Services(store, user="tester"), predictor=predictor)
    show_window(qtbot, win)
    if images:
        with qtbot.waitSignal(win.loader.loaded, timeout=10000):
            win.add_paths(images)
    return win


def test_scores_fill_the_queue_sort_it_and_are_stored_not_undoable(
    qtbot, tmp_path: Path, images: list[Path]
) -> None:
    project = tmp_path / "al.orthogui"
    pred = ScoringFakePredictor()
    win = open_window(qtbot, project, pred, images)
    assert [u for _, u in queue_uncertainty(win)] == ["", "", ""]
    sort_by_uncertainty(qtbot, win)  # before any score: the order must follow them later
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=5000)

    with qtbot.waitSignal(win.predict.finished, timeout=10000):
        qtbot.keyClick(win, K.Key_M, CTRL_SHIFT)  # pre-annotate the whole queue
    qtbot.waitUntil(lambda: all(u for _, u in queue_uncertainty(win)), timeout=10000)
    assert sorted(queue_uncertainty(win), key=lambda r: r[0]) == [
        ("img0.png", "0.25"),
        ("img1.png", "0.90"),
        ("img2.png", "0.50"),
    ]
    qtbot.waitUntil(
        lambda: [n for n, _ in queue_uncertainty(win)] == ["img1.png", "img2.png", "img0.png"],
        timeout=5000,
    )
    assert pred.threads == {"orthogui-inference"}  # the predictions' worker, not the GUI
    assert sorted(pred.scored) == ["img0.png", "img1.png", "img2.png"]
    # Paging follows the uncertainty order: PgDown from the top goes to the next most unsure.
    top = win.queue_panel.ordered_ids()[0]
    with qtbot.waitSignal(win.loader.loaded, timeout=10000):
        win.queue_panel.imageActivated.emit(top)
    with qtbot.waitSignal(win.loader.loaded, timeout=10000):
        qtbot.keyClick(win, K.Key_PageDown)
    assert Path(win.model.image(win.image_id or "").path).name == "img2.png"

    # Bookkeeping, not history: one undo step per pre-annotated image, none per score.
    assert len(win.history) == 3
    # Pre-annotating again with the same model does not score again, and undoing that keeps
    # every score.
    with qtbot.waitSignal(win.predict.finished, timeout=10000):
        qtbot.keyClick(win, K.Key_M, Qt.KeyboardModifier.ControlModifier)
    assert len(win.history) == 4 and win.uncertainty.pending() == []
    qtbot.keyClick(win, K.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert win.history.can_redo()
    assert sorted(r.uncertainty or 0 for r in win.model.images()) == [0.25, 0.5, 0.9]
    assert len(pred.scored) == 3
    win.close()

    with ProjectStore.open(project) as store:  # stored in the project file
        recs = {Path(r.path).name: r for r in store.model.images()}
        assert {n: r.uncertainty for n, r in recs.items()} == SCORES
        assert {r.attributes[SCORED_BY] for r in recs.values()} == {"fake-scoring 1"}


def test_a_new_model_scores_every_image_again(qtbot, tmp_path: Path, images) -> None:
    win = open_window(qtbot, tmp_path / "m.orthogui", ScoringFakePredictor(), images)
    sort_by_uncertainty(qtbot, win)
    with qtbot.waitSignal(win.predict.finished, timeout=10000):
        win.preannotate([r.id for r in win.model.images()])
    qtbot.waitUntil(lambda: all(u for _, u in queue_uncertainty(win)), timeout=10000)

    # A promoted model, unsure of other images.
    newer = ScoringFakePredictor("2", {"img0.png": 0.8, "img1.png": 0.1, "img2.png": 0.4})
    with qtbot.waitSignal(win.predict.modelChanged, timeout=5000):
        win.predict.set_predictor(newer)
    assert len(win.uncertainty.pending()) == 3
    qtbot.waitUntil(
        lambda: sorted(u for _, u in queue_uncertainty(win)) == ["0.10", "0.40", "0.80"],
        timeout=10000,
    )
    qtbot.waitUntil(
        lambda: [n for n, _ in queue_uncertainty(win)] == ["img0.png", "img2.png", "img1.png"],
        timeout=5000,
    )
    assert {r.attributes[SCORED_BY] for r in win.model.images()} == {"fake-scoring 2"}
    win.close()


def test_a_model_that_cannot_score_leaves_the_queue_alone(qtbot, tmp_path: Path, images) -> None:
    win = open_window(qtbot, tmp_path / "n.orthogui", FakePredictor(), images)
    with qtbot.waitSignal(win.predict.finished, timeout=10000):
        qtbot.keyClick(win, K.Key_M, CTRL_SHIFT)
    assert not win.uncertainty.can_score()
    assert win.uncertainty.pending() == []
    assert all(r.uncertainty is None for r in win.model.images())
    win.close()
