"""The JSON-lines protocol round-trips, and bad lines and job files get named errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from orthogui.training.job import JobError, load_job, save_job
from orthogui.training.protocol import (
    EVENT_TYPES,
    CheckpointSaved,
    Evaluated,
    Failed,
    Finished,
    Progress,
    ProtocolError,
    Started,
    from_json,
)

EVENTS = [
    Started(total_steps=10, start_step=3, device="cpu", world_size=2, train_images=4),
    Progress(step=4, total_steps=10, epoch=1, loss=1.25, lr=0.01, eta_s=12.5, losses={"a": 0.5}),
    Evaluated(step=10, metrics={"segm_AP": 0.4, "segm_AP/fracture": 0.1}, model="current"),
    CheckpointSaved(step=5, path="/tmp/x/checkpoint.pt"),
    Finished(step=10, promoted=True, version="3", card="/m/a-3.json", reason="better"),
    Failed(reason="stopped on request", kind="stopped", step=5, checkpoint="/c.pt"),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.name)
def test_every_event_round_trips(event: object) -> None:
    line = event.to_json()  # type: ignore[attr-defined]
    assert "\n" not in line
    assert json.loads(line)["event"] == event.name  # type: ignore[attr-defined]
    assert from_json(line) == event


def test_all_registered_types_are_covered() -> None:
    assert {e.name for e in EVENTS} == set(EVENT_TYPES)
    assert [e.terminal for e in EVENTS] == [False, False, False, False, True, True]


def test_non_finite_numbers_stay_valid_json() -> None:
    line = Progress(step=1, total_steps=2, epoch=0, loss=math.nan, lr=0.1, eta_s=math.inf).to_json()
    obj = json.loads(line)
    assert obj["loss"] == "nan" and obj["eta_s"] == "inf"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"event": "exploded"}', "unknown event"),
        ('{"event": "checkpoint", "step": 1, "path": "p", "extra": 1}', "unknown fields"),
        ('{"event": "checkpoint", "step": 1}', "checkpoint"),
    ],
)
def test_bad_lines_raise_protocol_errors(line: str, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        from_json(line)


def test_job_round_trips_and_resolves_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "snap").mkdir()
    path = tmp_path / "job.json"
    path.write_text(
        json.dumps(
            {"snapshot": "snap", "output": "out", "categories": ["fracture"], "hyper": {"lr": 1}}
        )
    )
    job = load_job(path)
    assert job.snapshot == tmp_path / "snap" and job.output == tmp_path / "out"
    assert job.hyper.lr == 1.0 and job.hyper.momentum == 0.9
    again = load_job(save_job(job, tmp_path / "copy.json"))
    assert again == job


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"output": "o", "categories": ["a"]}, "snapshot"),
        ({"snapshot": "missing", "output": "o", "categories": ["a"]}, "snapshot"),
        ({"snapshot": ".", "output": "o"}, "categories"),
        ({"snapshot": ".", "output": "o", "categories": ["a"], "device": "tpu"}, "device"),
        ({"snapshot": ".", "output": "o", "categories": ["a"], "hyper": {"lr": -1}}, "hyper.lr"),
        ({"snapshot": ".", "output": "o", "categories": ["a"], "hyper": {"lr": "x"}}, "hyper.lr"),
        ({"snapshot": ".", "output": "o", "categories": ["a"], "hyper": {"bs": 1}}, "hyper.bs"),
        ({"snapshot": ".", "output": "o", "categories": ["a"], "colour": 1}, "colour"),
        ({"snapshot": ".", "output": "o", "categories": ["a"], "seed": True}, "seed"),
    ],
)
def test_job_errors_name_file_and_field(
    tmp_path: Path, body: dict[str, object], field: str
) -> None:
    path = tmp_path / "job.json"
    path.write_text(json.dumps(body))
    with pytest.raises(JobError) as info:
        load_job(path)
    assert info.value.field == field
    assert str(path) in str(info.value) and repr(field) in str(info.value)


def test_unreadable_job_file_is_a_job_error(tmp_path: Path) -> None:
    with pytest.raises(JobError, match="cannot read"):
        load_job(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(JobError, match="not valid JSON"):
        load_job(bad)
