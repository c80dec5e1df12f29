"""Opening a project with a model loaded scores, in the background, every image that has no
uncertainty or was scored by another model: the queue's column fills and can be sorted, the
scores are stored in the project, a reopen scores nothing again, and another model version
scores every image again. Review goes on meanwhile: the image on screen is predicted before the
waiting scores."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from orthogui.core.radiograph import Radiograph
from orthogui.io.files import records_for
from orthogui.io.store import ProjectStore
from orthogui.ml.diversity import MASS, WHY
from orthogui.ml.service import SCORED_BY
from orthogui.ui.main_window import MainWindow
from orthogui.ui.panels.queue import WHY_COLUMN, score_text
from orthogui.ui.services import Services
from tests.ui._workbench import (
    FakePredictor,
    queue_uncertainty,
    show_window,
    sort_by_uncertainty,
    write_png16,
)

K = Qt.Key
CTRL = Qt.KeyboardModifier.ControlModifier
LITE = "maskrcnn_mobilenet_v3_large_fpn_lite"
SCORES = {"img0.png": 0.25, "img1.png": 0.9, "img2.png": 0.5, "img3.png": 0.6}


class LoggingScorer(FakePredictor):
    """FakePredictor that scores a known value per file name and logs every call in order
    (``predict:<name>``, ``score:<name>``). ``gate``: the first score waits for it."""

    model_name = "logging"

    def __init__(
        self,
        version: str = "1",
        scores: dict[str, float] = SCORES,
        gate: threading.Event | None = None,
    ) -> None:
        super().__init__()
        self.model_version = version
        self.scores = scores
        self.gate = gate
        self.waiting = threading.Event()  # set while the first score waits for the gate
        self.log: list[str] = []
        self._lock = threading.Lock()

    def scored(self) -> list[str]:
        with self._lock:
            return sorted(e.split(":", 1)[1] for e in self.log if e.startswith("score:"))

    def predict(self, radiograph: Radiograph) -> list:  # type: ignore[type-arg]
        with self._lock:
            self.log.append(f"predict:{Path(radiograph.path).name}")
        return super().predict(radiograph)

    def uncertainty(self, radiograph: Radiograph) -> float:
        name = Path(radiograph.path).name
        if self.gate is not None and not self.waiting.is_set():
            self.waiting.set()
            assert self.gate.wait(20), "test gate never opened"
        with self._lock:
            self.log.append(f"score:{name}")
        return self.scores[name]


def make_project(tmp_path: Path, n: int = 4) -> Path:
    """A project of ``n`` 16-bit PNGs (img0.png ...), none scored."""
    folder = tmp_path / "images"
    folder.mkdir(exist_ok=True)
    paths = [write_png16(folder / f"img{i}.png", seed=i) for i in range(n)]
    project = tmp_path / "p.orthogui"
    with ProjectStore.create(project) as store:
        store.add_images(records_for(paths))
    return project


def open_window(qtbot, project: Path, predictor: object, **kwargs: object) -> MainWindow:  # type: ignore[no-untyped-def]
    win = MainWindow(
        Services(ProjectStore.open(project), user="tester", **kwargs), predictor=predictor
    )  # type: ignore[arg-type]
    show_window(qtbot, win)
    return win


def by_name(project: Path) -> dict[str, tuple[float | None, str | None]]:
    """File name -> (stored uncertainty, model that scored it), read from the project file."""
    with ProjectStore.open(project) as store:
        return {
            Path(r.path).name: (r.uncertainty, r.attributes.get(SCORED_BY))
            for r in store.model.images()
        }


def test_opening_scores_missing_and_stale_images_once_per_model(qtbot, tmp_path: Path) -> None:
    project = make_project(tmp_path)
    with ProjectStore.open(project) as store:
        recs = {Path(r.path).name: r for r in store.model.images()}
        store.update_images(
            [
                # Scored by the very model the app will load: kept as it is.
                recs["img1.png"].evolve(uncertainty=0.7, attributes={SCORED_BY: "logging 1"}),
                # Scored by another version, and a score with no model named: both stale.
                recs["img2.png"].evolve(uncertainty=0.05, attributes={SCORED_BY: "logging 0"}),
                recs["img3.png"].evolve(uncertainty=0.01),
            ]
        )
    pred = LoggingScorer()
    win = open_window(qtbot, project, pred)
    sort_by_uncertainty(qtbot, win)
    qtbot.waitUntil(
        lambda: win.uncertainty.pending() == [] and len(pred.scored()) == 3, timeout=10000
    )
    assert pred.scored() == ["img0.png", "img2.png", "img3.png"]
    qtbot.waitUntil(
        lambda: (
            queue_uncertainty(win)
            == [
                ("img1.png", "0.70"),
                ("img3.png", "0.60"),
                ("img2.png", "0.50"),
                ("img0.png", "0.25"),
            ]
        ),
        timeout=5000,
    )
    assert len(win.history) == 0  # bookkeeping, not an undo step
    win.close()
    assert by_name(project) == {
        "img0.png": (0.25, "logging 1"),
        "img1.png": (0.7, "logging 1"),
        "img2.png": (0.5, "logging 1"),
        "img3.png": (0.6, "logging 1"),
    }

    # Reopened with the same model: nothing is scored again.
    again = LoggingScorer()
    win = open_window(qtbot, project, again)
    qtbot.wait(300)  # the open request runs on the first event-loop turn
    assert again.log == [] and win.uncertainty.pending() == []
    assert win.uncertainty.request_missing() == 0
    win.close()

    # Opened with another version of the model: every image is scored again.
    newer = LoggingScorer("2", {n: round(1 - v, 2) for n, v in SCORES.items()})
    win = open_window(qtbot, project, newer)
    qtbot.waitUntil(
        lambda: len(newer.scored()) == 4 and win.uncertainty.pending() == [], timeout=10000
    )
    win.close()
    assert by_name(project) == {
        "img0.png": (0.75, "logging 2"),
        "img1.png": (0.1, "logging 2"),
        "img2.png": (0.5, "logging 2"),
        "img3.png": (0.4, "logging 2"),
    }


def test_review_goes_on_while_the_open_project_is_scored(qtbot, tmp_path: Path) -> None:
    project = make_project(tmp_path, n=3)
    gate = threading.Event()
    pred = LoggingScorer(gate=gate)
    win = open_window(qtbot, project, pred)
    assert pred.waiting.wait(10)  # the first score is running, two more are queued
    assert len(win.uncertainty.pending()) == 3

    # The reviewer opens an image and pre-annotates it while the scores wait.
    with qtbot.waitSignal(win.loader.loaded, timeout=10000):
        qtbot.keyClick(win, K.Key_PageDown)
    current = Path(win.model.image(win.image_id or "").path).name
    qtbot.keyClick(win, K.Key_M, CTRL)
    with qtbot.waitSignal(win.predict.finished, timeout=10000):
        gate.set()
    qtbot.waitUntil(lambda: win.uncertainty.pending() == [], timeout=10000)
    first_score = pred.log[0]
    assert first_score.startswith("score:")
    assert pred.log[1] == f"predict:{current}"  # before every queued score
    rest = pred.log[2:]
    last_predict = max(i for i, e in enumerate(rest) if e.startswith("predict:"))
    assert all(e.startswith("score:") for e in rest[last_predict + 1 :])
    assert sorted(e for e in pred.log if e.startswith("score:")) == [
        "score:img0.png",
        "score:img1.png",
        "score:img2.png",
    ]
    assert [u for _, u in queue_uncertainty(win)] == ["0.25", "0.90", "0.50"]  # sorted by name
    win.close()


def test_a_large_project_is_handed_to_the_model_a_chunk_per_turn(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The GUI thread queues ``chunk`` scores per event-loop turn, never all at once."""
    from orthogui.ml.service import Kind
    from orthogui.ui.controllers.uncertainty import UncertaintyController

    monkeypatch.setattr(UncertaintyController, "chunk", 2)
    project = make_project(tmp_path, n=4)
    gate = threading.Event()
    pred = LoggingScorer(gate=gate)
    win = MainWindow(Services(ProjectStore.open(project), user="tester"), predictor=pred)
    qtbot.addWidget(win)
    svc = win.uncertainty.service()
    assert svc is not None
    assert win.uncertainty.request_missing() == 4  # before the event loop ran
    assert len(svc.pending_ids(Kind.SCORE)) + pred.waiting.is_set() <= 2
    assert sorted(win.uncertainty.pending()) == sorted(r.id for r in win.model.images())
    assert pred.waiting.wait(10)
    qtbot.waitUntil(lambda: len(svc.pending_ids(Kind.SCORE)) == 3, timeout=5000)  # + 1 running
    gate.set()
    qtbot.waitUntil(lambda: win.uncertainty.pending() == [], timeout=10000)
    assert pred.scored() == ["img0.png", "img1.png", "img2.png", "img3.png"]
    win.close()


@pytest.mark.slow
def test_a_real_model_fills_the_column_on_open_and_a_new_version_scores_again(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random-weight light Mask R-CNNs at 128 px (versions 1 and 2) on three PNGs."""
    torch = pytest.importorskip("torch")
    from orthogui.ml.architectures import BuildOptions, build_model
    from orthogui.ml.card import CardCategory, ModelCard, Preprocessing
    from orthogui.ml.predictor import MaskRCNNPredictor
    from orthogui.ml.scoring import ImageScores
    from orthogui.ml.weights import save_weights

    calls: list[str] = []  # "<version> <file name>" per score, on any instance
    lock = threading.Lock()

    class CountingMaskRCNN(MaskRCNNPredictor):
        # Every score (plain or explained) scores the image's predictions once.
        def image_scores(self, radiograph: Radiograph, **kwargs: object) -> ImageScores:
            with lock:
                calls.append(f"{self.model_version} {Path(radiograph.path).name}")
            return super().image_scores(radiograph, **kwargs)  # type: ignore[arg-type]

    models = tmp_path / "models"
    monkeypatch.setenv("ORTHOGUI_MODELS_DIR", str(models))
    base = ModelCard(
        name="tiny",
        version="1",
        architecture=LITE,
        num_classes=3,
        categories=(
            CardCategory(1, "cortical_screw", "cortical_screw"),
            CardCategory(2, "fracture", "fracture"),
        ),
        weights_file="none.safetensors",
        weights_sha256="0" * 64,
        preprocessing=Preprocessing(min_size=128, max_size=128),
    )
    cards = {}
    for version in ("1", "2"):
        torch.manual_seed(int(version))
        net = build_model(LITE, BuildOptions(num_classes=3, min_size=128, max_size=128))
        cards[version] = save_weights(net, replace(base, version=version), models)
    project = make_project(tmp_path, n=3)

    pred = CountingMaskRCNN.from_card(cards["1"], device="cpu")
    win = open_window(qtbot, project, pred, model_loader=CountingMaskRCNN.from_card)
    sort_by_uncertainty(qtbot, win)
    qtbot.waitUntil(lambda: all(u for _, u in queue_uncertainty(win)), timeout=60000)
    assert sorted(calls) == ["1 img0.png", "1 img1.png", "1 img2.png"]
    values = {Path(r.path).name: r.uncertainty for r in win.model.images()}
    # The real model's reason reaches the queue's "Why first" column.
    qtbot.waitUntil(lambda: all(r.attributes.get(WHY) for r in win.model.images()), timeout=5000)
    whys = [win.queue_panel._items[r.id].text(WHY_COLUMN) for r in win.model.images()]
    assert all(whys) and whys == [r.attributes[WHY] for r in win.model.images()]
    # The default order sorts on the summed doubt stored beside each value, and shows it.
    masses = {Path(r.path).name: r.attributes[MASS] for r in win.model.images()}
    expected = sorted(masses, key=lambda n: (-masses[n], n))
    qtbot.waitUntil(lambda: [n for n, _ in queue_uncertainty(win)] == expected, timeout=5000)
    assert [u for _, u in queue_uncertainty(win)] == [score_text(masses[n]) for n in expected]
    win.close()
    assert by_name(project) == {n: (v, "tiny 1") for n, v in values.items()}

    # Reopened with the same model: no score is computed again.
    win = open_window(
        qtbot,
        project,
        CountingMaskRCNN.from_card(cards["1"], device="cpu"),
        model_loader=CountingMaskRCNN.from_card,
    )
    qtbot.wait(300)
    assert len(calls) == 3 and win.uncertainty.pending() == []
    assert [u for _, u in sorted(queue_uncertainty(win))] == [
        score_text(masses[n]) for n in sorted(masses)
    ]

    # Version 2 chosen in the Model menu: every image is scored again, by version 2.
    win.models.refresh()
    action = next(a for a in win.models.entries() if a.text().startswith("tiny 2"))
    with qtbot.waitSignal(win.predict.modelChanged, timeout=60000):
        action.trigger()
    qtbot.waitUntil(lambda: win.uncertainty.pending() == [], timeout=60000)
    assert sorted(calls[3:]) == ["2 img0.png", "2 img1.png", "2 img2.png"]
    win.close()
    assert {s for _, s in by_name(project).values()} == {"tiny 2"}
