"""Background inference: one worker thread, immutable requests, latest wins, prefetch, cache,
cancellation and hot model reload. Qt-free and torch-free: it drives any ``Predictor``, and
scores uncertainty (active learning) on the same thread with any ``UncertaintyScorer``.

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
from enum import IntEnum, StrEnum
from typing import Any, Protocol, cast, runtime_checkable

from orthogui.core.annotation import Prediction
from orthogui.core.predictor import Predictor
from orthogui.core.project import ImageRecord
from orthogui.core.radiograph import Radiograph
from orthogui.ml.diversity import FEATURES, MASS, WHY, ScoredImage

Loader = Callable[[], Radiograph]
SCORED_BY = "uncertainty_model"
"""``ImageRecord.attributes`` key: the model ("name version") that scored the uncertainty."""
_log = logging.getLogger(__name__)


class Priority(IntEnum):
    """Lower runs first. The image on screen beats the prefetched ones, and both beat
    background work (uncertainty scores)."""

    CURRENT = 0
    PREFETCH = 1
    BACKGROUND = 2


class Kind(StrEnum):
    """What a request asks for: the image's predictions, or its uncertainty score."""

    PREDICT = "predict"
    SCORE = "score"


@runtime_checkable
class UncertaintyScorer(Protocol):
    """A predictor that can also say how unsure it is of an image (``MaskRCNNPredictor``)."""

    def uncertainty(self, radiograph: Radiograph) -> float: ...


def can_score(predictor: object) -> bool:
    """Whether ``predictor`` implements ``UncertaintyScorer``."""
    return isinstance(predictor, UncertaintyScorer)


def model_key(predictor: Predictor) -> str:
    """``"name version"`` of a predictor, as stored under ``SCORED_BY``."""
    return f"{predictor.model_name} {predictor.model_version}"


def with_uncertainty(
    record: ImageRecord, value: float | ScoredImage, predictor: Predictor
) -> ImageRecord:
    """``record`` with its uncertainty set and the model that scored it remembered.

    A ``ScoredImage`` also stores its reason (``WHY``, shown in the queue), its features
    (``FEATURES``, for diverse batches) and its summed doubt (``MASS``, for the
    ``uncertainty_sum`` order); a plain number drops those of an earlier score (they described
    another model's view)."""
    drop = (WHY, FEATURES, MASS)
    attrs = {k: v for k, v in record.attributes.items() if k not in drop}
    attrs[SCORED_BY] = model_key(predictor)
    if isinstance(value, ScoredImage):
        if value.why:
            attrs[WHY] = value.why
        if value.features is not None:
            attrs[FEATURES] = list(value.features)
        if value.mass is not None:
            attrs[MASS] = value.mass
    return record.evolve(uncertainty=float(value), attributes=attrs)


@dataclass(frozen=True)
class InferenceRequest:
    """One image to run: its id, how to read it (called on the worker), its priority, and
    what to compute (``Kind.PREDICT``: a list of ``Prediction``; ``Kind.SCORE``: a float)."""

    image_id: str
    loader: Loader
    priority: Priority = Priority.CURRENT
    kind: Kind = Kind.PREDICT


@dataclass(frozen=True)
class InferenceResult:
    """What ``on_result`` receives for every delivered result (cache hits included)."""

    image_id: str
    model_name: str
    model_version: str
    predictions: tuple[Prediction, ...]


_Key = tuple[Kind, str]  # a queued job: what, for which image
_CacheKey = tuple[Kind, str, str]  # what, image, model version


@dataclass
class _Job:
    request: InferenceRequest
    future: Future[Any]
    seq: int
    generation: int = field(default=0)

    @property
    def key(self) -> _Key:
        return (self.request.kind, self.request.image_id)

    def order(self) -> tuple[int, int]:
        # The newest "current" request first; prefetches and background work in the order
        # they were asked for.
        p = self.request.priority
        return (int(p), -self.seq if p is Priority.CURRENT else self.seq)


class InferenceService:
    """Runs a ``Predictor`` on a single worker thread.

    Parameters
    ----------
    predictor
        Any ``orthogui.core.predictor.Predictor``.
    cache_size
        How many results to keep per kind, keyed by ``(image_id, model_version)``.
    on_result
        Called on the worker thread with an ``InferenceResult`` whenever a prediction future
        gets a result (scores are not announced: read them from their futures).

    Notes
    -----
    - ``request`` for the current image cancels older queued current requests (latest wins);
      a request already running is not interrupted and delivers its result.
    - ``cancel`` removes queued requests and marks a running one cancelled: it finishes, its
      result is cached but never delivered (its future reports ``cancelled()``).
    - ``set_predictor`` clears the cache; a request running on the old model is re-run on the
      new one, so futures only ever resolve with results of the model set last.
    - ``score`` queues an uncertainty score at ``Priority.BACKGROUND``: it runs on the same
      thread as predictions, so the two never compete for the model, and only when no
      prediction is waiting. Predictions and scores of one image are separate requests.
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
        self._pending: dict[_Key, _Job] = {}
        self._running: _Job | None = None
        self._cache: OrderedDict[_CacheKey, Any] = OrderedDict()
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

    @property
    def can_score(self) -> bool:
        """Whether the current predictor scores uncertainty (see ``score``)."""
        return can_score(self.predictor)

    def cached(self, image_id: str) -> list[Prediction] | None:
        """The cached predictions of the current model for ``image_id``, if any."""
        with self._cond:
            hit = self._cache.get((Kind.PREDICT, image_id, self._predictor.model_version))
            return list(hit) if hit is not None else None

    def cached_score(self, image_id: str) -> float | None:
        """The cached uncertainty of ``image_id`` under the current model, if any."""
        with self._cond:
            hit = self._cache.get((Kind.SCORE, image_id, self._predictor.model_version))
            return float(hit) if hit is not None else None

    def pending_ids(self, kind: Kind = Kind.PREDICT) -> list[str]:
        """Queued image ids of one kind in the order they will run (the running one excluded)."""
        with self._cond:
            jobs = sorted(self._pending.values(), key=_Job.order)
            return [j.request.image_id for j in jobs if j.request.kind is kind]

    # -- requests --------------------------------------------------------------------------
    def request(
        self, image_id: str, loader: Loader, *, priority: Priority = Priority.CURRENT
    ) -> Future[list[Prediction]]:
        """Predictions for one image, as a future. ``CURRENT`` pre-empts older queued ones."""
        return cast(
            "Future[list[Prediction]]", self.submit(InferenceRequest(image_id, loader, priority))
        )

    def score(
        self, image_id: str, loader: Loader, *, priority: Priority = Priority.BACKGROUND
    ) -> Future[float]:
        """The uncertainty of one image under the current model, as a future.

        The future fails with ``TypeError`` when the predictor cannot score (see
        ``can_score``), and with the loader's or the model's exception otherwise.
        """
        req = InferenceRequest(image_id, loader, priority, Kind.SCORE)
        return cast("Future[float]", self.submit(req))

    def submit(self, req: InferenceRequest) -> Future[Any]:
        """Queue an immutable request; see ``request`` and ``score``."""
        hit_result: InferenceResult | None = None
        with self._cond:
            if self._closed:
                raise RuntimeError("the inference service is shut down")
            version = self._predictor.model_version
            cache_key = (req.kind, req.image_id, version)
            hit = self._cache.get(cache_key)
            if hit is not None:
                self._cache.move_to_end(cache_key)
                done: Future[Any] = Future()
                if req.kind is Kind.PREDICT:
                    done.set_result(list(hit))
                    hit_result = InferenceResult(
                        req.image_id, self._predictor.model_name, version, tuple(hit)
                    )
                else:
                    done.set_result(hit)
            else:
                if req.priority is Priority.CURRENT and req.kind is Kind.PREDICT:
                    self._cancel_pending_where(
                        lambda j: (
                            j.request.priority is Priority.CURRENT
                            and j.request.kind is Kind.PREDICT
                            and j.request.image_id != req.image_id
                        )
                    )
                fut = self._join_existing(req)
                if fut is not None:
                    return fut
                job = self._new_job(req, Future())
                self._pending[job.key] = job
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
                    j.request.priority is Priority.PREFETCH
                    and j.request.kind is Kind.PREDICT
                    and j.request.image_id not in wanted
                )
            )
        return [self.request(i, ld, priority=Priority.PREFETCH) for i, ld in items]

    def cancel(self, image_id: str, *, kind: Kind | None = None) -> bool:
        """Cancel the queued or running requests for ``image_id`` (of one ``kind``, or all);
        True if there was one."""

        def wanted(j: _Job) -> bool:
            return j.request.image_id == image_id and (kind is None or j.request.kind is kind)

        with self._cond:
            hit = self._cancel_pending_where(wanted) > 0
            running = self._running
            if running is not None and wanted(running):
                hit = running.future.cancel() or hit
            return hit

    def cancel_all(self, *, kind: Kind | None = None) -> int:
        """Cancel everything queued and the running request (of one ``kind``, or all);
        returns how many futures."""

        def wanted(j: _Job) -> bool:
            return kind is None or j.request.kind is kind

        with self._cond:
            n = self._cancel_pending_where(wanted)
            running = self._running
            if running is not None and wanted(running) and running.future.cancel():
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
    def _new_job(self, req: InferenceRequest, fut: Future[Any]) -> _Job:
        self._seq += 1
        return _Job(req, fut, self._seq, self._generation)

    def _join_existing(self, req: InferenceRequest) -> Future[Any] | None:
        key = (req.kind, req.image_id)
        running = self._running
        if running is not None and running.key == key and not running.future.done():
            return running.future
        job = self._pending.get(key)
        if job is None or job.future.done():
            return None
        if req.priority < job.request.priority:  # a prefetch became the current image
            self._pending[key] = self._new_job(req, job.future)
        return job.future

    def _cancel_pending_where(self, pred: Callable[[_Job], bool]) -> int:
        drop = [k for k, j in self._pending.items() if pred(j)]
        n = 0
        for k in drop:
            n += bool(self._pending.pop(k).future.cancel())
        return n

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
                del self._pending[job.key]
                if job.future.done():
                    continue
                predictor, generation = self._predictor, self._generation
                key = (job.request.kind, job.request.image_id, predictor.model_version)
                cached = self._cache.get(key)
                self._running = job
            value: Any = cached
            error: BaseException | None = None
            if value is None:
                try:
                    value = _compute(job.request, predictor)
                except Exception as exc:  # delivered through the future, never lost
                    error = exc
            with self._cond:
                self._running = None
                if generation != self._generation:
                    # The model changed under us: discard, and run again on the new one.
                    if not job.future.done() and not self._closed:
                        self._pending.setdefault(job.key, self._new_job(job.request, job.future))
                        self._cond.notify()
                    continue
                if error is None and value is not None and self._cache_size:
                    self._store(key, value)
            self._deliver(job, predictor, value, error)

    def _store(self, key: _CacheKey, value: Any) -> None:
        self._cache[key] = value
        self._cache.move_to_end(key)
        if sum(k[0] is key[0] for k in self._cache) > self._cache_size:
            oldest = next(k for k in self._cache if k[0] is key[0])
            del self._cache[oldest]

    def _deliver(
        self, job: _Job, predictor: Predictor, value: Any, error: BaseException | None
    ) -> None:
        predict = job.request.kind is Kind.PREDICT
        try:
            if error is not None:
                job.future.set_exception(error)
                return
            job.future.set_result(list(value or []) if predict else value)
        except InvalidStateError:  # cancelled while it ran: the result stays in the cache only
            return
        if predict:
            self._notify(
                InferenceResult(
                    job.request.image_id,
                    predictor.model_name,
                    predictor.model_version,
                    tuple(value or []),
                )
            )


def _compute(req: InferenceRequest, predictor: Predictor) -> Any:
    """Run one request on the worker thread: predictions, or a finite uncertainty score."""
    if req.kind is Kind.PREDICT:
        return list(predictor.predict(req.loader()))
    if not isinstance(predictor, UncertaintyScorer):
        raise TypeError(
            f"model {predictor.model_name} {predictor.model_version} cannot score "
            "uncertainty (it has no uncertainty() method)"
        )
    # A predictor that explains its score (``explained_uncertainty``: the value, the "why first"
    # text and compact features for the diverse queue) gives all of it; others give the number.
    explain = getattr(predictor, "explained_uncertainty", None)
    if callable(explain):
        result = explain(req.loader())
    else:
        result = predictor.uncertainty(req.loader())
    value = float(result)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{req.image_id}: the uncertainty score is not finite ({value})")
    return result if callable(explain) else value
