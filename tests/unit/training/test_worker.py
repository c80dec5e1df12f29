"""A real worker process trains on CPU, stops on SIGTERM, resumes, publishes a model the
inference side loads; crashes, bad jobs and NaN losses end in ``failed`` events, never hangs.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from orthogui.training.launcher import TrainingRun
from orthogui.training.protocol import (
    CheckpointSaved,
    Event,
    Failed,
    Finished,
    Progress,
    Started,
    from_json,
)

pytestmark = pytest.mark.slow
TIMEOUT = 120


class Recorder:
    """Collects events; ``when`` sets a flag when a predicate first matches."""

    def __init__(self, when: Callable[[Event], bool] = lambda e: False) -> None:
        self.events: list[Event] = []
        self.when = when
        self.hit = threading.Event()

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        if self.when(event):
            self.hit.set()

    def of(self, kind: type[Event]) -> list[Event]:
        return [e for e in self.events if isinstance(e, kind)]


def test_stop_resume_and_publish(write_job: Callable[..., Path], tmp_path: Path) -> None:
    job = write_job(hyper={"max_steps": 4})
    first = Recorder(lambda e: isinstance(e, CheckpointSaved) and e.step >= 2)
    run = TrainingRun(job, on_event=first)
    run.start()
    assert first.hit.wait(TIMEOUT), first.events
    run.stop(timeout=60)
    assert run.wait(10)
    last = first.events[-1]
    assert isinstance(last, Failed) and last.kind == "stopped", first.events
    assert Path(last.checkpoint).is_file()
    stopped_at = last.step
    assert 2 <= stopped_at < 4
    assert run.process is not None and run.process.returncode == 3

    second = Recorder()
    run2 = TrainingRun(job, on_event=second)
    run2.start()
    assert run2.wait(TIMEOUT)
    started = second.of(Started)[0]
    assert isinstance(started, Started) and started.start_step == stopped_at
    steps = [e.step for e in second.of(Progress)]  # type: ignore[attr-defined]
    assert steps == list(range(stopped_at + 1, 5))
    done = second.events[-1]
    assert isinstance(done, Finished) and done.promoted, second.events
    assert "segm_AP" in done.metrics
    # The events file holds both runs, so a GUI reopened later sees everything.
    lines = (tmp_path / "run" / "events.jsonl").read_text().splitlines()
    assert [from_json(x).name for x in lines].count("started") == 2

    # The published version is what the inference side loads and runs.
    from orthogui.io.readers import read_radiograph
    from orthogui.ml.card import find_card
    from orthogui.ml.predictor import MaskRCNNPredictor
    from orthogui.ml.service import InferenceService

    card = find_card("tiny", models_dir=tmp_path / "models")
    assert card.version == done.version and str(card.source) == done.card
    predictor = MaskRCNNPredictor.from_card(card, device="cpu")
    service = InferenceService(predictor)
    try:
        snap = json.loads(Path(job).read_text())["snapshot"]
        image = next((Path(snap) / "images").glob("*.png"))
        preds = service.request("a", lambda: read_radiograph(image)).result(timeout=60)
        assert isinstance(preds, list)
        assert all(p.model_version == card.version for p in preds)
    finally:
        service.shutdown()


def test_killed_worker_becomes_a_crashed_event(write_job: Callable[..., Path]) -> None:
    rec = Recorder(lambda e: isinstance(e, Started))
    run = TrainingRun(write_job(hyper={"max_steps": 50}), on_event=rec)
    run.start()
    assert rec.hit.wait(TIMEOUT)
    run.kill()
    assert run.wait(30)
    last = rec.events[-1]
    assert isinstance(last, Failed) and last.kind == "crashed"
    assert "exited with code" in last.reason


def test_job_with_missing_snapshot_fails_with_the_reason(
    write_job: Callable[..., Path], tmp_path: Path
) -> None:
    rec = Recorder()
    run = TrainingRun(write_job(snapshot=str(tmp_path / "gone")), on_event=rec)
    run.start()
    assert run.wait(TIMEOUT)
    assert len(rec.events) == 1
    failed = rec.events[0]
    assert isinstance(failed, Failed) and failed.kind == "error"
    assert "'snapshot'" in failed.reason and "gone" in failed.reason


def test_missing_image_file_fails_naming_the_file(
    write_job: Callable[..., Path], tmp_path: Path, snapshot: Path
) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(snapshot, broken)
    victim = sorted((broken / "images").glob("*.png"))[0]
    victim.unlink()
    from orthogui.training.worker import main

    out = io.StringIO()
    code = main([str(write_job(snapshot=str(broken), hyper={"augment": False}))], stream=out)
    events = [from_json(x) for x in out.getvalue().splitlines()]
    assert code == 1
    assert isinstance(events[-1], Failed) and victim.name in events[-1].reason


def test_nan_loss_is_a_failed_event(write_job: Callable[..., Path], tmp_path: Path) -> None:
    from orthogui.training.worker import main

    out = io.StringIO()
    job = write_job(hyper={"lr": 1e6, "warmup_steps": 0, "max_steps": 6, "augment": False})
    assert main([str(job)], stream=out) == 4
    events = [from_json(x) for x in out.getvalue().splitlines()]
    last = events[-1]
    assert isinstance(last, Failed) and last.kind == "nan" and "non-finite" in last.reason
    assert not (tmp_path / "models").exists()  # nothing published from diverged weights


def test_a_checkpoint_of_another_run_is_not_resumed(
    write_job: Callable[..., Path], tmp_path: Path, snapshot: Path
) -> None:
    """The same output folder with another mix or schedule must not silently continue (and
    publish) the earlier run: the worker names the checkpoint and what changed, and leaves it.
    A longer schedule of the same run resumes."""
    import shutil

    import torch

    from orthogui.training.worker import main

    def run(job: Path) -> tuple[int, list[Event]]:
        out = io.StringIO()
        code = main([str(job)], stream=out)
        return code, [from_json(x) for x in out.getvalue().splitlines()]

    data = tmp_path / "snap"
    shutil.copytree(snapshot, data)
    code, events = run(write_job(snapshot=str(data), hyper={"max_steps": 2}))
    assert code == 0 and isinstance(events[-1], Finished), events
    ckpt = tmp_path / "run" / "checkpoint.pt"
    before = ckpt.read_bytes()

    code, events = run(write_job(snapshot=str(data), hyper={"max_steps": 2, "lr": 0.001}))
    assert code == 1 and len(events) == 1
    failed = events[0]
    assert isinstance(failed, Failed) and failed.kind == "error"
    assert str(ckpt) in failed.reason and "another run" in failed.reason
    assert "hyper.lr" in failed.reason
    assert ckpt.read_bytes() == before  # left as it was

    train = data / "annotations.json"
    coco = json.loads(train.read_text())
    coco["annotations"] = coco["annotations"][1:]  # the folder rebuilt with other data
    train.write_text(json.dumps(coco))
    code, events = run(write_job(snapshot=str(data), hyper={"max_steps": 2}))
    assert code == 1 and "the snapshot's training data" in events[-1].reason  # type: ignore[attr-defined]

    # Same run, longer: continues from its checkpoint (the data as the checkpoint saw it).
    shutil.copy2(snapshot / "annotations.json", train)
    code, events = run(write_job(snapshot=str(data), hyper={"max_steps": 3}))
    started = next(e for e in events if isinstance(e, Started))
    assert code == 0 and started.start_step == 2, events
    assert torch.load(ckpt, map_location="cpu", weights_only=False)["step"] == 3
