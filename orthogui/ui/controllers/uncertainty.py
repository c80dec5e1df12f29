"""Active learning in the workbench: each image's uncertainty, scored in the background.

When a project opens with a model loaded, every image without a score, or scored by another
model (``SCORED_BY``: name and version), is queued; after an image is pre-annotated, and for
every image when the model changes, it is scored again. The pre-annotation controller's
``InferenceService`` runs the scores (``Priority.BACKGROUND``: after every waiting prediction,
on the same worker thread, so review is never blocked). Scores become ``ImageRecord.uncertainty``
through the store (persisted bookkeeping, not an undo step) and the review queue re-sorts.
A scorer that returns a ``ScoredImage`` (value, reason, compact features, summed doubt) also
stores the reason (``WHY``, shown in the queue), the features (``FEATURES``, for diverse
batches) and the summed doubt (``MASS``, for the ``uncertainty_sum`` order).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from orthogui.core.project import ImageRecord
from orthogui.core.radiograph import Radiograph
from orthogui.io.store import ProjectStore, StoreWriteError
from orthogui.ml.diversity import ScoredImage
from orthogui.ml.service import SCORED_BY, InferenceService, Priority, model_key, with_uncertainty
from orthogui.ui.bridge import FutureBridge
from orthogui.ui.controllers.preannotate import PreannotateController
from orthogui.ui.panels.queue import ReviewQueuePanel
from orthogui.ui.services import Reader

if TYPE_CHECKING:
    from orthogui.ui.main_window import MainWindow

Cached = Callable[[str], Radiograph | None]
_log = logging.getLogger(__name__)


class UncertaintyController(QObject):
    """Requests scores, writes them into the project, re-sorts the queue.

    Parameters
    ----------
    store
        The open ``ProjectStore`` (its model's records receive the scores).
    predict
        The ``PreannotateController`` whose ``service`` runs the model; its ``imageDone`` and
        ``modelChanged`` trigger scoring.
    reader
        Reads an image file (called on the service's worker thread).
    cached
        Image id -> an already decoded radiograph or ``None`` (the window's image cache).
    queue_panel
        The ``ReviewQueuePanel`` to re-sort when it is sorted by uncertainty.
    """

    scored = Signal(str, float)  # image id, uncertainty (stored)
    failed = Signal(str, str)  # image id, message naming the file and the reason

    chunk = 200
    """Missing scores handed to the service per event-loop turn (``request_missing``): opening
    a project of thousands of images never stalls the GUI thread."""

    def __init__(
        self,
        store: ProjectStore,
        predict: PreannotateController,
        *,
        reader: Reader,
        cached: Cached | None = None,
        queue_panel: ReviewQueuePanel | None = None,
        parent: QObject | None = None,
        resort_ms: int = 250,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.model = store.model
        self._predict = predict
        self._reader = reader
        self._cached = cached or (lambda _image_id: None)
        self._queue = queue_panel
        self._tokens: dict[str, int] = {}  # image id -> its latest request; older ones are stale
        self._backlog: deque[str] = deque()  # missing scores not handed to the service yet
        self._backlog_force = False  # the backlog re-scores images already scored (new model)
        self._seq = 0
        self._bridge = FutureBridge(self)
        self._bridge.finished.connect(self._on_bridge_finished)
        self._bridge.failed.connect(self._on_bridge_failed)
        self._bridge.cancelled.connect(self._on_bridge_cancelled)
        # Scores arrive one by one: re-sort once they pause, not on every one.
        self._resort_timer = QTimer(self)
        self._resort_timer.setSingleShot(True)
        self._resort_timer.setInterval(resort_ms)
        self._resort_timer.timeout.connect(self._on_resort_timer_timeout)
        predict.imageDone.connect(self._on_predict_imageDone)
        predict.modelChanged.connect(self._on_predict_modelChanged)
        # Once the event loop runs (the window is built and shown): score what the open
        # project lacks. A child timer, so a controller deleted before then does nothing.
        self._open_timer = QTimer(self)
        self._open_timer.setSingleShot(True)
        self._open_timer.setInterval(0)
        self._open_timer.timeout.connect(self._on_open_timer_timeout)
        self._open_timer.start()
        self._backlog_timer = QTimer(self)
        self._backlog_timer.setSingleShot(True)
        self._backlog_timer.setInterval(0)
        self._backlog_timer.timeout.connect(self._on_backlog_timer_timeout)

    @classmethod
    def install(cls, win: MainWindow) -> UncertaintyController:
        """Wire one to a ``MainWindow`` (its store, pre-annotation, reader, cache and queue)."""
        return cls(
            win.store,
            win.predict,
            reader=win.services.reader,
            cached=win.loader.cached,
            queue_panel=win.queue_panel,
            parent=win,
        )

    # -- state ------------------------------------------------------------------------------------
    def service(self) -> InferenceService | None:
        """The pre-annotation controller's service, looked up each time (the first model
        set creates it)."""
        return self._predict.service

    def can_score(self) -> bool:
        svc = self.service()
        return svc is not None and svc.can_score

    def pending(self) -> list[str]:
        """Image ids whose score is still on its way (queued in the service or still to be
        handed to it)."""
        return list(self._tokens) + [i for i in self._backlog if i not in self._tokens]

    def _is_current(self, image_id: str, key: str) -> bool:
        """Whether ``image_id`` holds a score of the model ``key`` or is queued for one."""
        rec = self.model.image(image_id)
        return image_id in self._tokens or (
            rec.uncertainty is not None and rec.attributes.get(SCORED_BY) == key
        )

    # -- requests ---------------------------------------------------------------------------------
    def request(self, image_ids: Iterable[str], *, force: bool = False) -> int:
        """Queue scores for these images; returns how many were queued.

        Without ``force``, images already scored by the current model, or already queued,
        are skipped. Nothing is queued when the model cannot score or the project is closed.
        """
        svc = self.service()
        if svc is None or not svc.can_score or self.store.closed:
            return 0
        key = model_key(svc.predictor)
        queued = 0
        for image_id in image_ids:
            if not self.model.has_image(image_id):
                continue
            if not force and self._is_current(image_id, key):
                continue
            rec = self.model.image(image_id)
            try:
                fut = svc.score(image_id, self._loader(image_id, rec), priority=Priority.BACKGROUND)
            except RuntimeError:  # the service is shut down: the window is closing
                break
            self._seq += 1
            self._tokens[image_id] = self._seq
            self._bridge.watch(fut, (image_id, self._seq))
            queued += 1
        return queued

    def request_missing(self) -> int:
        """Score every image without a score or scored by another model (called once the
        project is open); returns how many will be scored.

        Images already scored by the current model, or queued, are skipped: reopening a
        project scores nothing again. The queue's order is kept, so the rows the reviewer
        sees first fill first. The images are handed to the service ``chunk`` per event-loop
        turn (``pending`` lists them all meanwhile).
        """
        svc = self.service()
        if svc is None or not svc.can_score or self.store.closed:
            return 0
        key = model_key(svc.predictor)
        ids = [r.id for r in self.model.images()]
        if self._queue is not None:
            shown = [i for i in self._queue.ordered_ids() if self.model.has_image(i)]
            first = set(shown)
            ids = shown + [i for i in ids if i not in first]  # hidden by a filter: last
        return self._hand_over([i for i in ids if not self._is_current(i, key)], force=False)

    def request_all(self) -> int:
        """Score every image of the project again (a new model), ``chunk`` per event-loop
        turn like ``request_missing``."""
        return self._hand_over([r.id for r in self.model.images()], force=True)

    def _hand_over(self, ids: list[str], *, force: bool) -> int:
        """Replace the backlog with ``ids`` and hand the first chunk to the service now."""
        self._backlog = deque(ids)
        self._backlog_force = force
        self._on_backlog_timer_timeout()
        return len(ids)

    def _loader(self, image_id: str, rec: ImageRecord) -> Callable[[], Radiograph]:
        cached = self._cached(image_id)  # GUI thread: a cheap dictionary look-up
        if cached is not None:
            return lambda: cached
        path, reader = self.store.image_path(rec), self._reader
        return lambda: reader(path)  # the worker thread reads the file

    # -- results (GUI thread) ---------------------------------------------------------------------
    def _take(self, key: object) -> str | None:
        """The image id of a current (not stale) result, forgetting its request."""
        assert isinstance(key, tuple)
        image_id, token = key
        if self._tokens.get(image_id) != token:
            return None
        del self._tokens[image_id]
        return str(image_id)

    def _on_bridge_finished(self, key: object, result: object) -> None:
        image_id = self._take(key)
        svc = self.service()
        if image_id is None or svc is None or self.store.closed:
            return
        if not self.model.has_image(image_id) or not isinstance(result, float | ScoredImage):
            return
        value = float(result)
        rec = with_uncertainty(self.model.image(image_id), result, svc.predictor)
        try:
            self.store.update_images([rec])
        except (StoreWriteError, KeyError) as exc:
            self.failed.emit(image_id, f"{rec.path}: cannot store the uncertainty ({exc})")
            return
        self.scored.emit(image_id, value)
        self._resort_timer.start()

    def _on_bridge_failed(self, key: object, exc: object) -> None:
        image_id = self._take(key)
        if image_id is not None:
            _log.warning("uncertainty of %s: %s", image_id, exc)
            self.failed.emit(image_id, str(exc))

    def _on_bridge_cancelled(self, key: object) -> None:
        self._take(key)

    def _on_predict_imageDone(self, image_id: str, _n: int) -> None:
        self.request([image_id])

    def _on_predict_modelChanged(self, _predictor: object) -> None:
        self.request_all()

    def _on_open_timer_timeout(self) -> None:
        n = self.request_missing()
        if n:
            _log.info("scoring the uncertainty of %d image(s) in the background", n)

    def _on_backlog_timer_timeout(self) -> None:
        if self.store.closed or not self.can_score():
            self._backlog.clear()
            return
        n = min(max(self.chunk, 1), len(self._backlog))
        self.request([self._backlog.popleft() for _ in range(n)], force=self._backlog_force)
        if self._backlog:
            self._backlog_timer.start()

    def _on_resort_timer_timeout(self) -> None:
        queue = self._queue
        if queue is not None and queue.sort_combo.currentData() == "uncertainty":
            queue.resort()
