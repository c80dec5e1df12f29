"""The inference service: ordering, latest wins, cancellation, reload, errors (no torch)."""

from __future__ import annotations

import threading
from concurrent.futures import CancelledError, Future

import numpy as np
import pytest

from orthogui.core.annotation import Prediction
from orthogui.core.geometry import Box
from orthogui.core.radiograph import Radiograph
from orthogui.ml.service import InferenceResult, InferenceService

TIMEOUT = 10.0


class GatedPredictor:
    """Records the order it sees images in; blocks on images listed in ``gates``."""

    def __init__(self, version: str = "1", gates: dict[str, threading.Event] | None = None) -> None:
        self.version = version
        self.gates = gates or {}
        self.started: dict[str, threading.Event] = {k: threading.Event() for k in self.gates}
        self.seen: list[str] = []
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return "fake"

    @property
    def model_version(self) -> str:
        return self.version

    def predict(self, radiograph: Radiograph) -> list[Prediction]:
        image_id = radiograph.path
        with self._lock:
            self.seen.append(image_id)
        if image_id in self.gates:
            self.started[image_id].set()
            assert self.gates[image_id].wait(TIMEOUT)
        if image_id.startswith("bad"):
            raise ValueError(f"{image_id}: cannot predict")
        return [
            Prediction("fracture", 0.9, Box(0, 0, 4, 4), "fake", self.version, {"image": image_id})
        ]


def loader(image_id: str):
    return lambda: Radiograph(
        path=image_id, format="png", stored=np.zeros((4, 4), np.uint8), bits_stored=8
    )


def result(f: Future[list[Prediction]]) -> list[Prediction]:
    return f.result(timeout=TIMEOUT)


@pytest.fixture
def gate() -> threading.Event:
    return threading.Event()


def test_current_runs_before_prefetch_and_latest_wins(gate: threading.Event) -> None:
    pred = GatedPredictor(gates={"a": gate})
    with InferenceService(pred) as svc:
        fa = svc.request("a", loader("a"))
        assert pred.started["a"].wait(TIMEOUT)  # the worker is busy with "a"
        fp = svc.prefetch([("p1", loader("p1")), ("p2", loader("p2"))])
        fb = svc.request("b", loader("b"))
        fc = svc.request("c", loader("c"))  # the reviewer moved on: "b" is no longer wanted
        assert svc.pending_ids() == ["c", "p1", "p2"]
        gate.set()
        assert result(fa)[0].attributes["image"] == "a"
        assert result(fc)[0].attributes["image"] == "c"
        assert [result(f)[0].attributes["image"] for f in fp] == ["p1", "p2"]
        assert fb.cancelled()
    assert pred.seen == ["a", "c", "p1", "p2"]


def test_new_prefetch_list_replaces_queued_prefetches(gate: threading.Event) -> None:
    pred = GatedPredictor(gates={"a": gate})
    with InferenceService(pred) as svc:
        svc.request("a", loader("a"))
        assert pred.started["a"].wait(TIMEOUT)
        old = svc.prefetch([("p1", loader("p1")), ("p2", loader("p2"))])
        new = svc.prefetch([("p2", loader("p2")), ("p3", loader("p3"))])
        assert old[0].cancelled() and new[0] is old[1]
        gate.set()
        for f in new:
            result(f)
    assert pred.seen == ["a", "p2", "p3"]


def test_requesting_a_prefetched_image_promotes_it(gate: threading.Event) -> None:
    pred = GatedPredictor(gates={"a": gate})
    with InferenceService(pred) as svc:
        svc.request("a", loader("a"))
        assert pred.started["a"].wait(TIMEOUT)
        fp = svc.prefetch([("p1", loader("p1")), ("p2", loader("p2"))])
        f2 = svc.request("p2", loader("p2"))
        assert f2 is fp[1]
        assert svc.pending_ids() == ["p2", "p1"]
        gate.set()
        result(fp[0])
    assert pred.seen == ["a", "p2", "p1"]


def test_cache_serves_repeated_requests_without_predicting() -> None:
    pred = GatedPredictor()
    delivered: list[InferenceResult] = []
    with InferenceService(pred, on_result=delivered.append) as svc:
        first = result(svc.request("a", loader("a")))
        again = svc.request("a", loader("a"))
        assert again.done() and result(again) == first
        assert svc.cached("a") == first
    assert pred.seen == ["a"]
    assert [r.image_id for r in delivered] == ["a", "a"]


def test_cancel_pending_and_running(gate: threading.Event) -> None:
    pred = GatedPredictor(gates={"a": gate})
    with InferenceService(pred) as svc:
        fa = svc.request("a", loader("a"))
        assert pred.started["a"].wait(TIMEOUT)
        fp = svc.prefetch([("p1", loader("p1")), ("p2", loader("p2"))])
        assert svc.cancel("p1")
        assert svc.cancel("a")  # running: it finishes, but the result is not delivered
        assert not svc.cancel("nothing")
        gate.set()
        result(fp[1])
        assert fa.cancelled() and fp[0].cancelled()
        with pytest.raises(CancelledError):
            fa.result(timeout=TIMEOUT)
        assert svc.cached("a") is not None  # the work is not wasted
    assert pred.seen == ["a", "p2"]


def test_reload_discards_results_of_the_old_model(gate: threading.Event) -> None:
    old = GatedPredictor("1", gates={"a": gate})
    new = GatedPredictor("2")
    with InferenceService(old) as svc:
        fa = svc.request("a", loader("a"))
        assert old.started["a"].wait(TIMEOUT)
        fp = svc.prefetch([("p1", loader("p1"))])
        svc.set_predictor(new)
        gate.set()
        assert result(fa)[0].model_version == "2"  # re-run on the new model
        assert result(fp[0])[0].model_version == "2"
        assert svc.cached("a") is not None and svc.cached("a")[0].model_version == "2"  # type: ignore[index]
    assert old.seen == ["a"]
    assert new.seen == ["a", "p1"]


def test_reload_clears_the_cache() -> None:
    with InferenceService(GatedPredictor("1")) as svc:
        result(svc.request("a", loader("a")))
        svc.set_predictor(GatedPredictor("2"))
        assert svc.cached("a") is None
        assert result(svc.request("a", loader("a")))[0].model_version == "2"


def test_exceptions_fail_the_future_and_the_worker_goes_on() -> None:
    def broken_loader() -> Radiograph:
        raise OSError("scan.dcm: truncated")

    with InferenceService(GatedPredictor()) as svc:
        bad = svc.request("bad1", loader("bad1"))
        with pytest.raises(ValueError, match="bad1: cannot predict"):
            bad.result(timeout=TIMEOUT)
        broken = svc.request("x", broken_loader)
        with pytest.raises(OSError, match="truncated"):
            broken.result(timeout=TIMEOUT)
        assert result(svc.request("good", loader("good")))[0].category == "fracture"


def test_a_failing_callback_does_not_stop_the_worker() -> None:
    def boom(_: InferenceResult) -> None:
        raise RuntimeError("listener bug")

    with InferenceService(GatedPredictor(), on_result=boom) as svc:
        result(svc.request("a", loader("a")))
        assert result(svc.request("b", loader("b")))[0].attributes["image"] == "b"


def test_shutdown_cancels_queued_work(gate: threading.Event) -> None:
    pred = GatedPredictor(gates={"a": gate})
    svc = InferenceService(pred)
    fa = svc.request("a", loader("a"))
    assert pred.started["a"].wait(TIMEOUT)
    fp = svc.prefetch([("p1", loader("p1"))])
    svc.shutdown(wait=False)  # before "a" finishes, so "p1" is still queued
    gate.set()
    svc.shutdown()
    assert fp[0].cancelled() and result(fa)
    assert pred.seen == ["a"]
    with pytest.raises(RuntimeError, match="shut down"):
        svc.request("b", loader("b"))


def test_service_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = "import orthogui.ml.service, orthogui.ml, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
