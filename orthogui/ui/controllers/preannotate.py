"""Pre-annotation: run a ``Predictor`` on images in the background, findings as proposals.

The Qt-free ``InferenceService`` (one worker, cancellation, a cache per model version) reads
and predicts; results reach the GUI thread through the bridge and become one undo step per
image (earlier unreviewed model proposals of that image are replaced). The next new images of
the queue are predicted ahead (prefetch) into the service cache only, so pre-annotating them
later is instant; the model can be swapped while the app runs (``set_predictor``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from orthogui.core.annotation import Prediction
from orthogui.core.history import History
from orthogui.core.predictor import Predictor
from orthogui.core.project import ImageRecord, ImageStatus, ProjectModel
from orthogui.core.radiograph import Radiograph
from orthogui.core.review import preannotation
from orthogui.ml.service import InferenceService, Priority
from orthogui.ui.bridge import FutureBridge
from orthogui.ui.services import Reader

PathOf = Callable[[ImageRecord], Path]
PREFETCH_PREDICTIONS = 2  # new images after the open one whose predictions are cached ahead


class ReadFailed(Exception):
    """The image could not be read for the model (the message names the file)."""


class PreannotateController(QObject):
    """``start(jobs)`` with (image id, path, cached radiograph or None) triples; ``cancel()``.

    ``imageFailed`` fires for images that cannot be read; a model error on an image is
    counted in the ``finished`` summary instead (the file itself is fine).
    """

    progress = Signal(int, int)  # done, total
    imageDone = Signal(str, int)  # image id, number of findings
    imageFailed = Signal(str, str)  # image id, message naming the file
    finished = Signal(str)  # summary ("12 findings on 3 images", "cancelled ...")
    modelChanged = Signal(object)  # the new Predictor, after set_predictor

    def __init__(
        self,
        model: ProjectModel,
        history: History,
        *,
        reader: Reader,
        predictor: Predictor | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.history = history
        self._reader = reader
        self._service = InferenceService(predictor) if predictor is not None else None
        self._bridge = FutureBridge(self)
        self._bridge.finished.connect(self._on_bridge_finished)
        self._bridge.failed.connect(self._on_bridge_failed)
        self._bridge.cancelled.connect(self._on_bridge_cancelled)
        self._futures: dict[str, Future[list[Prediction]]] = {}
        self._urgent: str | None = None  # the one image asked for at CURRENT priority
        self._total = 0
        self._done = 0
        self._found = 0
        self._applied = 0
        self._errors: list[str] = []
        self._cancelled = False

    @property
    def predictor(self) -> Predictor | None:
        return self._service.predictor if self._service is not None else None

    @property
    def service(self) -> InferenceService | None:
        """The service running the model (None until a model is set); shared with scoring."""
        return self._service

    def busy(self) -> bool:
        return bool(self._futures)

    def cached(self, image_id: str) -> list[Prediction] | None:
        """The current model's cached predictions for ``image_id`` (prefetched or earlier)."""
        return self._service.cached(image_id) if self._service is not None else None

    def set_predictor(self, predictor: Predictor) -> None:
        """Use ``predictor`` from now on. Queued and running images are re-run on it; cached
        results of the previous model are never reused. Emits ``modelChanged``."""
        if self._service is None:
            self._service = InferenceService(predictor)
        else:
            self._service.set_predictor(predictor)
        self.modelChanged.emit(predictor)

    def start(self, jobs: list[tuple[str, Path, Radiograph | None]]) -> int:
        """Queue images for prediction; returns how many were queued.

        A single image asked for while no other single image is waiting runs before any
        prefetch or batch (``Priority.CURRENT``); the images of a batch run in their order.
        """
        if self._service is None:
            raise RuntimeError("no model is loaded")
        if not self._futures:
            self._total = self._done = self._found = self._applied = 0
            self._errors = []
            self._cancelled = False
        if not jobs and not self._futures:
            self.finished.emit("Pre-annotation: no image to run the model on")
            return 0
        urgent = len(jobs) == 1 and self._urgent is None
        queued = 0
        for image_id, path, cached in jobs:
            if image_id in self._futures:
                continue
            # PREFETCH requests never pre-empt each other: every image of a batch is wanted.
            fut = self._service.request(
                image_id,
                _loader(self._reader, path, cached),
                priority=Priority.CURRENT if urgent else Priority.PREFETCH,
            )
            if urgent:
                self._urgent = image_id
            self._futures[image_id] = fut
            self._bridge.watch(fut, image_id)
            queued += 1
        self._total += queued
        self.progress.emit(self._done, self._total)
        return queued

    def prefetch_next(
        self, ids: Sequence[str], path_of: PathOf, *, count: int = PREFETCH_PREDICTIONS
    ) -> list[str]:
        """Predict the first ``count`` of ``ids`` still NEW ahead, into the cache only.

        Nothing is added to the project. Skipped while a batch runs (it covers those images,
        and a newer prefetch would cancel its queued requests). Returns the ids requested.
        """
        if self._service is None or any(i != self._urgent for i in self._futures):
            return []
        picked = [
            i
            for i in ids
            if self.model.has_image(i) and self.model.image(i).status == ImageStatus.NEW
        ][: max(count, 0)]
        self._service.prefetch(
            (i, _loader(self._reader, path_of(self.model.image(i)), None)) for i in picked
        )
        return picked

    def cancel(self) -> None:
        """Stop the images asked for and the prefetches; other work of the service (e.g.
        uncertainty scores) goes on. A running image finishes into the cache only."""
        self._cancelled = True
        if self._service is not None:
            self._service.prefetch([])
        for fut in list(self._futures.values()):
            fut.cancel()

    def shutdown(self) -> None:
        self.cancel()
        if self._service is not None:
            self._service.shutdown(wait=False)

    # -- results (GUI thread) -------------------------------------------------------------------
    def apply(self, image_id: str, predictions: list[Prediction]) -> int:
        """Replace the image's unreviewed model proposals by these, as one undo step."""
        name = Path(self.model.image(image_id).path).name
        step = preannotation(self.model, image_id, predictions, label=f"Pre-annotate {name}")
        if step is not None:
            self.history.push(step)
        return len(predictions)

    def _step(self, image_id: str) -> None:
        self._futures.pop(image_id, None)
        if image_id == self._urgent:
            self._urgent = None
        self._done += 1
        self.progress.emit(self._done, self._total)
        if not self._futures:
            verb = "cancelled after" if self._cancelled else "done:"
            summary = f"Pre-annotation {verb} {self._found} findings on {self._applied} of {self._total} images"
            if self._errors:
                summary += f"; the model failed on {len(self._errors)} ({self._errors[0]})"
            self.finished.emit(summary)

    def _on_bridge_finished(self, key: object, result: object) -> None:
        image_id = str(key)
        if self.model.has_image(image_id) and isinstance(result, list):
            n = self.apply(image_id, result)
            self._found += n
            self._applied += 1
            self.imageDone.emit(image_id, n)
        self._step(image_id)

    def _on_bridge_failed(self, key: object, exc: object) -> None:
        if isinstance(exc, ReadFailed):
            self.imageFailed.emit(str(key), str(exc))
        else:
            name = (
                Path(self.model.image(str(key)).path).name
                if self.model.has_image(str(key))
                else key
            )
            self._errors.append(f"{name}: {type(exc).__name__}: {exc}")
        self._step(str(key))

    def _on_bridge_cancelled(self, key: object) -> None:
        self._step(str(key))


def _loader(reader: Reader, path: Path, cached: Radiograph | None) -> Callable[[], Radiograph]:
    # Called on the service's worker thread: file I/O there, never on the GUI thread.
    if cached is not None:
        return lambda: cached

    def load() -> Radiograph:
        try:
            return reader(path)
        except Exception as exc:  # told apart from model errors: the image is unreadable
            raise ReadFailed(str(exc)) from exc

    return load
