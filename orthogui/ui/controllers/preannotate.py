"""Pre-annotation: run a ``Predictor`` on images in the background, findings as proposals.

The Qt-free ``InferenceService`` (one worker, cancellation, a cache per model version) reads
and predicts; results reach the GUI thread through the bridge and become one undo step per
image (earlier unreviewed model proposals of that image are replaced).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from orthogui.core.annotation import Annotation, Prediction, ReviewState
from orthogui.core.commands import AddAnnotations, RemoveAnnotations, SetImageStatus
from orthogui.core.history import History
from orthogui.core.predictor import Predictor
from orthogui.core.project import ImageStatus, ProjectModel
from orthogui.core.radiograph import Radiograph
from orthogui.ml.service import InferenceService, Priority
from orthogui.ui.bridge import FutureBridge

Reader = Callable[[Path], Radiograph]


class PreannotateController(QObject):
    """``start(jobs)`` with (image id, path, cached radiograph or None) triples; ``cancel()``."""

    progress = Signal(int, int)  # done, total
    imageDone = Signal(str, int)  # image id, number of findings
    imageFailed = Signal(str, str)  # image id, message
    finished = Signal(str)  # summary ("12 findings on 3 images", "cancelled ...")

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
        self._futures: dict[str, Future[Any]] = {}
        self._total = 0
        self._done = 0
        self._found = 0
        self._cancelled = False

    @property
    def predictor(self) -> Predictor | None:
        return self._service.predictor if self._service is not None else None

    def busy(self) -> bool:
        return bool(self._futures)

    def start(self, jobs: list[tuple[str, Path, Radiograph | None]]) -> int:
        """Queue images for prediction; returns how many were queued."""
        if self._service is None:
            raise RuntimeError("no model is loaded")
        if not self._futures:
            self._total = self._done = self._found = 0
            self._cancelled = False
        queued = 0
        for image_id, path, cached in jobs:
            if image_id in self._futures:
                continue
            # Every image of a batch is wanted: PREFETCH requests never pre-empt each other.
            fut = self._service.request(
                image_id, _loader(self._reader, path, cached), priority=Priority.PREFETCH
            )
            self._futures[image_id] = fut
            self._bridge.watch(fut, image_id)
            queued += 1
        self._total += queued
        self.progress.emit(self._done, self._total)
        return queued

    def cancel(self) -> None:
        self._cancelled = True
        if self._service is not None:
            self._service.cancel_all()
        for fut in list(self._futures.values()):
            fut.cancel()

    def shutdown(self) -> None:
        self.cancel()
        if self._service is not None:
            self._service.shutdown(wait=False)

    # -- results (GUI thread) -------------------------------------------------------------------
    def apply(self, image_id: str, predictions: list[Prediction]) -> int:
        """Replace the image's unreviewed model proposals by these, as one undo step."""
        stale = tuple(
            a
            for a in self.model.annotations(image_id)
            if a.provenance.is_model and a.review.state == ReviewState.PROPOSED
        )
        fresh = tuple(Annotation.from_prediction(p, image_id=image_id) for p in predictions)
        name = Path(self.model.image(image_id).path).name
        with self.history.group(f"Pre-annotate {name}"):
            if stale:
                self.history.push(RemoveAnnotations(stale, "Remove old proposals"))
            if fresh:
                self.history.push(AddAnnotations(fresh, "Add proposals"))
            if self.model.image(image_id).status == ImageStatus.NEW:
                self.history.push(
                    SetImageStatus.to(self.model, image_id, ImageStatus.PRE_ANNOTATED)
                )
        return len(fresh)

    def _step(self, image_id: str) -> None:
        self._futures.pop(image_id, None)
        self._done += 1
        self.progress.emit(self._done, self._total)
        if not self._futures:
            verb = "cancelled after" if self._cancelled else "done:"
            self.finished.emit(
                f"Pre-annotation {verb} {self._found} findings on {self._done} of {self._total} images"
            )

    def _on_bridge_finished(self, key: object, result: object) -> None:
        image_id = str(key)
        if self.model.has_image(image_id) and isinstance(result, list):
            n = self.apply(image_id, result)
            self._found += n
            self.imageDone.emit(image_id, n)
        self._step(image_id)

    def _on_bridge_failed(self, key: object, exc: object) -> None:
        self.imageFailed.emit(str(key), str(exc))
        self._step(str(key))

    def _on_bridge_cancelled(self, key: object) -> None:
        self._step(str(key))


def _loader(reader: Reader, path: Path, cached: Radiograph | None) -> Callable[[], Radiograph]:
    # Called on the service's worker thread: file I/O there, never on the GUI thread.
    if cached is not None:
        return lambda: cached
    return lambda: reader(path)
