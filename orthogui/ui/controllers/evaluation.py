"""Evaluate a model version on the project's approved images, off the GUI thread.

One worker thread loads the model, reads and predicts image by image (so Cancel stops between
images), then scores everything with ``orthogui.evaluation.project``; futures reach the GUI
thread through the ``FutureBridge``. Torch is imported only when a model card is loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from orthogui.core.annotation import Prediction
from orthogui.core.predictor import Predictor
from orthogui.core.project import ImageRecord, ProjectModel
from orthogui.evaluation.project import ProjectEvaluation, evaluate_project, save_report
from orthogui.ml.card import ModelCard, list_cards
from orthogui.ui.bridge import BackgroundJobs
from orthogui.ui.services import ModelLoader, Reader

PredictorLoader = Callable[[ModelCard], Predictor]

EVAL_SCORE_THRESHOLD = 0.05
"""Detections kept when a card is loaded for evaluation: AP needs the low-score tail too
(torchvision's default box threshold); the dialog's threshold only drives P/R and confusion."""


def evaluation_loader(model_loader: ModelLoader) -> PredictorLoader:
    """``model_loader`` (the window's, from its ``Services``) with the low score threshold AP
    needs; the ``ui`` layer never imports torch itself."""
    return lambda card: model_loader(card, score_threshold=EVAL_SCORE_THRESHOLD)


@dataclass(frozen=True)
class ModelChoice:
    """A model the dialog offers: an installed card, or the predictor the app has loaded."""

    label: str
    card: ModelCard | None = None
    predictor: Predictor | None = None


def model_choices(models_dir: Path | None, loaded: Predictor | None) -> list[ModelChoice]:
    """The loaded model first (if any), then every valid card in ``models_dir``, newest last."""
    out = []
    if loaded is not None:
        out.append(
            ModelChoice(f"{loaded.model_name} {loaded.model_version} (loaded)", predictor=loaded)
        )
    for card in list_cards(models_dir):
        where = card.source.name if card.source is not None else ""
        out.append(ModelChoice(f"{card.name} {card.version} — {where}", card=card))
    return out


def _failure(choice: ModelChoice, exc: BaseException) -> str:
    if choice.card is not None:
        src = choice.card.source or choice.card.name
        return f"Cannot load the model card {src}: {exc}"
    return f"The model failed: {exc}"


class EvaluationController(QObject):
    """``start(choice, records)``; ``progress(done, total)``, then ``finished(result)``,
    ``failed(message)`` or ``cancelled()``. ``save(result, folder)`` writes the report."""

    progress = Signal(int, int)
    finished = Signal(object)  # ProjectEvaluation
    failed = Signal(str)
    cancelled = Signal()
    saved = Signal(object)  # list of written paths
    saveFailed = Signal(str)

    def __init__(
        self,
        model: ProjectModel,
        *,
        image_path_of: Callable[[ImageRecord], Path],
        reader: Reader,
        load_predictor: PredictorLoader,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self._path_of = image_path_of
        self._reader = reader
        self._load = load_predictor
        self._jobs = BackgroundJobs(self, name="evaluate")
        self._jobs.finished.connect(self._on_jobs_finished)
        self._jobs.failed.connect(self._on_jobs_failed)
        self._run = 0  # results of an older run are ignored
        self._futures: list[Future[object]] = []
        self._choice: ModelChoice | None = None
        self._records: list[ImageRecord] = []
        self._threshold = 0.5
        self._predictor: Predictor | None = None
        self._predictions: dict[str, list[Prediction]] = {}
        self._sizes: dict[str, tuple[int, int]] = {}
        self._skipped: dict[str, str] = {}  # image id -> "name (reason)"
        self._done = 0

    def busy(self) -> bool:
        return any(not f.done() for f in self._futures)

    def start(
        self, choice: ModelChoice, records: list[ImageRecord], *, score_threshold: float = 0.5
    ) -> None:
        """Load the model (if a card), predict every record, score; emits as it goes."""
        self._run += 1
        self._futures = []
        self._choice, self._records, self._threshold = choice, list(records), score_threshold
        self._predictions, self._sizes, self._skipped, self._done = {}, {}, {}, 0
        self.progress.emit(0, len(self._records))
        if choice.predictor is not None:
            self._on_loaded(choice.predictor)
            return
        assert choice.card is not None
        card = choice.card
        self._submit(("load", self._run), lambda: self._load(card))

    def cancel(self) -> None:
        """Stop: queued images are dropped, the image being predicted finishes unseen."""
        if not self.busy():
            return
        self._run += 1
        for fut in self._futures:
            fut.cancel()
        self._futures = []
        self.cancelled.emit()

    def save(self, result: ProjectEvaluation, folder: Path) -> None:
        """Write the report (JSON, inputs, PR curves) to ``folder`` on the worker thread."""
        self._jobs.submit(("save", self._run), save_report, result, folder)

    def shutdown(self) -> None:
        self.cancel()
        self._jobs.shutdown()

    # -- worker side ------------------------------------------------------------------------
    def _submit(self, key: tuple[object, ...], fn: Callable[[], object]) -> None:
        self._futures.append(self._jobs.submit(key, fn))

    def _predict_one(
        self, predictor: Predictor, path: Path
    ) -> tuple[list[Prediction], tuple[int, int]]:
        rg = self._reader(path)
        return predictor.predict(rg), (rg.rows, rg.columns)

    # -- GUI side ------------------------------------------------------------------------------
    def _on_loaded(self, predictor: Predictor) -> None:
        self._predictor = predictor
        if not self._records:
            self._score()
            return
        for rec in self._records:
            key = ("image", self._run, rec.id)
            self._futures.append(
                self._jobs.submit(key, self._predict_one, predictor, Path(self._path_of(rec)))
            )

    def _score(self) -> None:
        predictor = self._predictor
        assert predictor is not None
        records = [r for r in self._records if r.id not in self._skipped]
        # The worker scores a copy: the reviewer may go on editing the project meanwhile.
        frozen = ProjectModel(self.model.categories)
        frozen.load(records, [a for r in records for a in self.model.annotations(r.id)])
        predictions = dict(self._predictions)
        sizes = dict(self._sizes)
        name, version, threshold = predictor.model_name, predictor.model_version, self._threshold
        self._submit(
            ("score", self._run),
            lambda: evaluate_project(
                frozen,
                predictions,
                records=records,
                sizes=sizes,
                model_name=name,
                model_version=version,
                score_threshold=threshold,
            ),
        )

    def _on_jobs_finished(self, key: object, result: object) -> None:
        assert isinstance(key, tuple)
        kind, run = key[0], key[1]
        if kind == "save":
            self.saved.emit(result)
            return
        if run != self._run:
            return
        if kind == "load":
            assert isinstance(result, Predictor)
            self._on_loaded(result)
        elif kind == "image":
            assert isinstance(result, tuple)
            predictions, size = result
            self._predictions[key[2]] = list(predictions)
            self._sizes[key[2]] = size
            self._image_done()
        elif kind == "score":
            assert isinstance(result, ProjectEvaluation)
            if self._skipped:
                left = "; ".join(self._skipped.values())
                result.warnings.insert(0, f"left out (not evaluated): {left}")
            self._futures = []
            self.finished.emit(result)

    def _image_done(self) -> None:
        self._done += 1
        self.progress.emit(self._done, len(self._records))
        if self._done == len(self._records):
            if len(self._skipped) == len(self._records):
                self._futures = []
                self.failed.emit(
                    "No image could be evaluated: " + "; ".join(self._skipped.values())
                )
                return
            self._score()

    def _on_jobs_failed(self, key: object, exc: object) -> None:
        assert isinstance(key, tuple)
        kind, run = key[0], key[1]
        if kind == "save":
            self.saveFailed.emit(f"Cannot save the report: {exc}")
            return
        if run != self._run:
            return
        if kind == "image":
            rec = next(r for r in self._records if r.id == key[2])
            self._skipped[rec.id] = f"{Path(rec.path).name} ({exc})"
            self._image_done()
            return
        self._run += 1
        for fut in self._futures:
            fut.cancel()
        self._futures = []
        assert isinstance(exc, BaseException)
        if kind == "load" and self._choice is not None:
            self.failed.emit(_failure(self._choice, exc))
        else:
            self.failed.emit(f"Evaluation failed: {exc}")
