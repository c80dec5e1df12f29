"""Background inference: one worker thread, immutable requests, latest wins, prefetch, cache,
cancellation and hot model reload. Qt-free and torch-free: it drives any ``Predictor``.

Thread-safety: every public method may be called from any thread (the GUI thread included);
none blocks on inference. Futures resolve, and ``on_result`` runs, on the worker thread: a GUI
must hop to its own thread (the ``ui`` bridge does) before touching widgets.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from enum import IntEnum

from orthogui.core.annotation import Prediction
from orthogui.core.predictor import Predictor
from orthogui.core.radiograph import Radiograph

Loader = Callable[[], Radiograph]
_log = logging.getLogger(__name__)


class Priority(IntEnum):
    """Lower runs first. The image on screen beats the prefetched ones."""

    CURRENT = 0
    PREFETCH = 1


@dataclass(frozen=True)
class InferenceRequest:
    """One image to run: its id, how to read it (called on the worker), and its priority."""

    image_id: str
    loader: Loader
    priority: Priority = Priority.CURRENT


@dataclass(frozen=True)
class InferenceResult:
    """What ``on_result`` receives for every delivered result (cache hits included)."""

    image_id: str
    model_name: str
    model_version: str
    predictions: tuple[Prediction, ...]


@dataclass
class _Job:
    request: InferenceRequest
    future: Future[list[Prediction]]
    seq: int
    generation: int = field(default=0)

    def order(self) -> tuple[int, int]:
        # The newest "current" request first; prefetches in the order they were asked for.
        p = self.request.priority
        return (int(p), -self.seq if p is Priority.CURRENT else self.seq)


class InferenceService:
    """Runs a ``Predictor`` on a single worker thread.

    Parameters
    ----------
    predictor
        Any ``orthogui.core.predictor.Predictor``.
    cache_size
        How many results to keep, keyed by ``(image_id, model_version)``.
    on_result
        Called on the worker thread with an ``InferenceResult`` whenever a future gets a result.

    Notes
    -----
    - ``request`` for the current image cancels older queued current requests (latest wins);
      a request already running is not interrupted and delivers its result.
    - ``cancel`` removes queued requests and marks a running one cancelled: it finishes, its
      result is cached but never delivered (its future reports ``cancelled()``).
    - ``set_predictor`` clears the cache; a request running on the old model is re-run on the
      new one, so futures only ever resolve with results of the model set last.
    """

    def __init__(
        self,
        predictor: Predictor,
        *,
        cache_size: int = 64,
        on_result: Callable[[InferenceResult], None] | None = None,
    ) -> None:
        self._predictor = predictor
        self._cache_size = max(0, int(cache_size))
        self._on_result = on_result
        self._cond = threading.Condition()
        self._pending: dict[str, _Job] = {}
        self._running: _Job | None = None
        self._cache: OrderedDict[tuple[str, str], list[Prediction]] = OrderedDict()
        self._generation = 0
        self._seq = 0
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="orthogui-inference", daemon=True)
        self._thread.start()

    # -- queries ---------------------------------------------------------------------------
    @property
    def predictor(self) -> Predictor:
        with self._cond:
            return self._predictor

    def cached(self, image_id: str) -> list[Prediction] | None:
        """The cached result of the current model for ``image_id``, if any."""
        with self._cond:
            hit = self._cache.get((image_id, self._predictor.model_version))
            return list(hit) if hit is not None else None

    def pending_ids(self) -> list[str]:
        """Queued image ids in the order they will run (the running one excluded)."""
        with self._cond:
            return [j.request.image_id for j in sorted(self._pending.values(), key=_Job.order)]

    # -- requests --------------------------------------------------------------------------
    def request(
        self, image_id: str, loader: Loader, *, priority: Priority = Priority.CURRENT
    ) -> Future[list[Prediction]]:
        """Predictions for one image, as a future. ``CURRENT`` pre-empts older queued ones."""
        return self.submit(InferenceRequest(image_id, loader, priority))

    def submit(self, req: InferenceRequest) -> Future[list[Prediction]]:
        """Queue an immutable request; see ``request``."""
        hit_result: InferenceResult | None = None
        with self._cond:
            if self._closed:
                raise RuntimeError("the inference service is shut down")
            version = self._predictor.model_version
            hit = self._cache.get((req.image_id, version))
            if hit is not None:
                self._cache.move_to_end((req.image_id, version))
                done: Future[list[Prediction]] = Future()
                done.set_result(list(hit))
                hit_result = InferenceResult(
                    req.image_id, self._predictor.model_name, version, tuple(hit)
                )
            else:
                if req.priority is Priority.CURRENT:
                    self._cancel_pending_where(
                        lambda j: (
                            j.request.priority is Priority.CURRENT
                            and j.request.image_id != req.image_id
                        )
                    )
                fut = self._join_existing(req)
                if fut is not None:
                    return fut
                job = self._new_job(req, Future())
                self._pending[req.image_id] = job
                self._cond.notify()
                return job.future
        self._notify(hit_result)
        return done

    def prefetch(self, items: Iterable[tuple[str, Loader]]) -> list[Future[list[Prediction]]]:
        """Queue the next images of the review queue after any current request.

        Queued prefetches not in ``items`` are cancelled: the newest queue order wins.
        """
        items = list(items)
        wanted = {image_id for image_id, _ in items}
        with self._cond:
            self._cancel_pending_where(
                lambda j: (
                    j.request.priority is Priority.PREFETCH and j.request.image_id not in wanted
                )
            )
        return [self.submit(InferenceRequest(i, ld, Priority.PREFETCH)) for i, ld in items]

    def cancel(self, image_id: str) -> bool:
        """Cancel the queued or running request for ``image_id``; True if there was one."""
        with self._cond:
            job = self._pending.pop(image_id, None)
            hit = job is not None and job.future.cancel()
            running = self._running
            if running is not None and running.request.image_id == image_id:
                hit = running.future.cancel() or hit
            return hit

    def cancel_all(self) -> int:
        """Cancel everything queued and the running request; returns how many futures."""
        with self._cond:
            n = self._cancel_pending_where(lambda j: True)
            if self._running is not None and self._running.future.cancel():
                n += 1
            return n

    def set_predictor(self, predictor: Predictor) -> None:
        """Switch models (a new version was published). Clears the cache; a request running
        on the old model is re-run on the new one."""
        with self._cond:
            self._predictor = predictor
            self._generation += 1
            self._cache.clear()
            for job in self._pending.values():
                job.generation = self._generation

    def shutdown(self, *, wait: bool = True) -> None:
        """Cancel queued work and stop the worker (after the running request, if ``wait``)."""
        with self._cond:
            self._closed = True
            self._cancel_pending_where(lambda j: True)
            self._cond.notify_all()
        if wait:
            self._thread.join()

    def __enter__(self) -> InferenceService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # -- internals (call with the lock held) ---------------------------------------------------
    def _new_job(self, req: InferenceRequest, fut: Future[list[Prediction]]) -> _Job:
        self._seq += 1
        return _Job(req, fut, self._seq, self._generation)

    def _join_existing(self, req: InferenceRequest) -> Future[list[Prediction]] | None:
        running = self._running
        if (
            running is not None
            and running.request.image_id == req.image_id
            and not running.future.done()
        ):
            return running.future
        job = self._pending.get(req.image_id)
        if job is None or job.future.done():
            return None
        if req.priority < job.request.priority:  # a prefetch became the current image
            self._pending[req.image_id] = self._new_job(req, job.future)
        return job.future

    def _cancel_pending_where(self, pred: Callable[[_Job], bool]) -> int:
        drop = [k for k, j in self._pending.items() if pred(j)]
        for k in drop:
            self._pending.pop(k).future.cancel()
        return len(drop)

    def _notify(self, result: InferenceResult | None) -> None:
        if result is None or self._on_result is None:
            return
        try:
            self._on_result(result)
        except Exception:  # a faulty listener must not kill the worker thread
            _log.exception("on_result callback failed for %s", result.image_id)

    # -- worker ----------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending:
                    return
                job = min(self._pending.values(), key=_Job.order)
                del self._pending[job.request.image_id]
                if job.future.done():
                    continue
                predictor, generation = self._predictor, self._generation
                key = (job.request.image_id, predictor.model_version)
                cached = self._cache.get(key)
                self._running = job
            preds: list[Prediction] | None = cached
            error: BaseException | None = None
            if preds is None:
                try:
                    preds = list(predictor.predict(job.request.loader()))
                except Exception as exc:  # delivered through the future, never lost
                    error = exc
            with self._cond:
                self._running = None
                if generation != self._generation:
                    # The model changed under us: discard, and run again on the new one.
                    if not job.future.done() and not self._closed:
                        self._pending.setdefault(
                            job.request.image_id, self._new_job(job.request, job.future)
                        )
                        self._cond.notify()
                    continue
                if error is None and preds is not None and self._cache_size:
                    self._cache[key] = preds
                    self._cache.move_to_end(key)
                    while len(self._cache) > self._cache_size:
                        self._cache.popitem(last=False)
            self._deliver(job, predictor, preds, error)

    def _deliver(
        self,
        job: _Job,
        predictor: Predictor,
        preds: list[Prediction] | None,
        error: BaseException | None,
    ) -> None:
        try:
            if error is not None:
                job.future.set_exception(error)
                return
            job.future.set_result(list(preds or []))
        except InvalidStateError:  # cancelled while it ran: the result stays in the cache only
            return
        self._notify(
            InferenceResult(
                job.request.image_id,
                predictor.model_name,
                predictor.model_version,
                tuple(preds or []),
            )
        )
