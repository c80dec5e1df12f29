"""Uncertainty scores through the inference service: background priority behind predictions,
one worker thread for both, a cache per model version, reload, cancellation, errors (no torch).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

import pytest

from orthogui.core.radiograph import Radiograph
from orthogui.ml.service import InferenceService, Kind, Priority, can_score
from tests.unit.ml.test_service import TIMEOUT, GatedPredictor, loader


class ScoringPredictor(GatedPredictor):
    """A GatedPredictor that also scores: ``len(image id) / 10`` (+1 for version "2"), and
    records ``score:<id>`` in ``seen`` on the same list as predictions."""

    def __init__(self, version: str = "1", gates: dict[str, threading.Event] | None = None) -> None:
        super().__init__(version, gates)
        self.threads: set[str] = set()

    def uncertainty(self, radiograph: Radiograph) -> float:
        image_id = radiograph.path
        with self._lock:
            self.seen.append(f"score:{image_id}")
            self.threads.add(threading.current_thread().name)
        gate = self.gates.get(f"score:{image_id}")
        if gate is not None:
            self.started[f"score:{image_id}"].set()
            assert gate.wait(TIMEOUT)
        if image_id == "nan":
            return float("nan")
        return len(image_id) / 10 + (1.0 if self.version == "2" else 0.0)


def value(f: Future[float]) -> float:
    return f.result(timeout=TIMEOUT)


def test_scores_wait_behind_every_prediction_and_share_its_thread() -> None:
    gate = threading.Event()
    pred = ScoringPredictor(gates={"a": gate})
    with InferenceService(pred) as svc:
        assert svc.can_score
        svc.request("a", loader("a"))
        assert pred.started["a"].wait(TIMEOUT)
        s1 = svc.score("s1", loader("s1"))
        s2 = svc.score("a", loader("a"))  # same image as a prediction: a separate request
        fp = svc.prefetch([("p1", loader("p1"))])
        fc = svc.request("c", loader("c"))
        assert svc.pending_ids() == ["c", "p1"]
        assert svc.pending_ids(Kind.SCORE) == ["s1", "a"]
        gate.set()
        assert value(s1) == pytest.approx(0.2) and value(s2) == pytest.approx(0.1)
        fp[0].result(timeout=TIMEOUT)
        fc.result(timeout=TIMEOUT)
    assert pred.seen == ["a", "c", "p1", "score:s1", "score:a"]
    assert pred.threads == {"orthogui-inference"}


def test_scores_are_cached_per_model_version() -> None:
    pred = ScoringPredictor()
    with InferenceService(pred) as svc:
        assert value(svc.score("img", loader("img"))) == pytest.approx(0.3)
        again = svc.score("img", loader("img"))
        assert again.done() and value(again) == pytest.approx(0.3)
        assert svc.cached_score("img") == pytest.approx(0.3)
        assert svc.cached("img") is None  # a score is not a prediction
        svc.set_predictor(ScoringPredictor("2"))
        assert svc.cached_score("img") is None
        assert value(svc.score("img", loader("img"))) == pytest.approx(1.3)
    assert pred.seen == ["score:img"]


def test_reload_while_scoring_reruns_the_score_on_the_new_model() -> None:
    gate = threading.Event()
    old = ScoringPredictor("1", gates={"score:x": gate})
    new = ScoringPredictor("2")
    with InferenceService(old) as svc:
        fut = svc.score("x", loader("x"))
        assert old.started["score:x"].wait(TIMEOUT)
        svc.set_predictor(new)
        gate.set()
        assert value(fut) == pytest.approx(1.1)
    assert new.seen == ["score:x"]


def test_cancel_by_kind_leaves_the_other_kind() -> None:
    gate = threading.Event()
    pred = ScoringPredictor(gates={"a": gate})
    with InferenceService(pred) as svc:
        svc.request("a", loader("a"))
        assert pred.started["a"].wait(TIMEOUT)
        fs = svc.score("b", loader("b"))
        fp = svc.request("b", loader("b"), priority=Priority.PREFETCH)
        other = svc.score("c", loader("c"))
        assert svc.cancel("b", kind=Kind.SCORE)
        assert not svc.cancel("b", kind=Kind.SCORE)
        assert svc.cancel_all(kind=Kind.SCORE) == 1  # "c"; the running prediction stays
        gate.set()
        assert fp.result(timeout=TIMEOUT)[0].attributes["image"] == "b"
        assert fs.cancelled() and other.cancelled()
    assert pred.seen == ["a", "b"]


def test_a_predictor_that_cannot_score_fails_the_future_with_the_reason() -> None:
    plain = GatedPredictor()
    assert not can_score(plain) and can_score(ScoringPredictor())
    with InferenceService(plain) as svc:
        assert not svc.can_score
        with pytest.raises(TypeError, match="model fake 1 cannot score uncertainty"):
            value(svc.score("a", loader("a")))
        assert svc.request("a", loader("a")).result(timeout=TIMEOUT)  # the worker goes on


def test_a_non_finite_score_is_an_error_naming_the_image() -> None:
    with InferenceService(ScoringPredictor()) as svc:
        with pytest.raises(ValueError, match="nan: the uncertainty score is not finite"):
            value(svc.score("nan", loader("nan")))
        assert svc.cached_score("nan") is None


def test_cache_size_applies_per_kind() -> None:
    with InferenceService(ScoringPredictor(), cache_size=1) as svc:
        svc.request("a", loader("a")).result(timeout=TIMEOUT)
        value(svc.score("a", loader("a")))
        assert svc.cached("a") is not None and svc.cached_score("a") is not None
        value(svc.score("b", loader("b")))
        assert svc.cached_score("a") is None and svc.cached_score("b") is not None
        assert svc.cached("a") is not None  # scores never evict predictions
