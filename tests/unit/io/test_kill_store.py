"""A fixed-seed slice of ``bench/kill_store.py``: writers SIGKILLed mid-edit lose nothing.

The full run (1,000 kills) is the benchmark; these 25 keep the guarantee in the suite, and two
fake writers prove the harness notices a lost acknowledged edit and a project that no longer
opens.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from types import ModuleType

import pytest

from orthogui.core.annotation import Annotation
from orthogui.core.commands import AddAnnotations
from orthogui.core.geometry import Polygon
from orthogui.io.store import ProjectStore
from tests.unit._bench import load_bench

_TRIANGLE = Polygon([(1.0, 1.0), (9.0, 1.0), (5.0, 8.0)])


@pytest.fixture(scope="module")
def kill_store() -> ModuleType:
    return load_bench("kill_store")


def test_25_kills_lose_no_acknowledged_edit(kill_store: ModuleType, tmp_path: Path) -> None:
    report = kill_store.kill_store(kills=25, seed=3, folder=tmp_path)
    assert report["kills"] == 25
    assert report["lost_edits"] == 0, report
    assert report["corrupt_opens"] == 0, report
    assert report["inconsistent_replays"] == 0, report
    assert report["replay_checks"] == 25
    # Not vacuous: the writers committed edits, and the project kept them across the kills.
    assert report["acknowledged_edits"] >= 25, report
    assert report["undo_steps_at_end"] > 0 and report["annotations_at_end"] > 0, report
    with ProjectStore.open(tmp_path / "kill.orthogui") as store:
        assert len(store.history) == report["undo_steps_at_end"]


def _acks_without_pushing(path: Path, seed: int, out_fd: int) -> None:
    """A writer that acknowledges an edit it never makes."""
    store = ProjectStore.open(path)
    os.write(out_fd, b"ready\n")
    ann = Annotation.human(image_id="im0", category="fracture", shape=_TRIANGLE)
    body = json.dumps(AddAnnotations((ann,)).to_json())
    os.write(out_fd, f"do 0 push {body}\nack 0\n".encode())
    store.close()
    time.sleep(30)


def _damages_the_file(path: Path, seed: int, out_fd: int) -> None:
    """A writer whose kill leaves a file that is no project any more."""
    store = ProjectStore.open(path)
    os.write(out_fd, b"ready\n")
    with open(path, "r+b") as f:
        f.write(b"\0" * 100)
    store.close()
    time.sleep(30)


def test_harness_counts_a_lost_edit(
    kill_store: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kill_store, "writer", _acks_without_pushing)
    report = kill_store.kill_store(kills=2, seed=0, folder=tmp_path)
    assert report["acknowledged_edits"] == 2
    assert report["lost_edits"] == 2, report
    assert report["corrupt_opens"] == 0


def test_harness_counts_a_corrupt_open(
    kill_store: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kill_store, "writer", _damages_the_file)
    report = kill_store.kill_store(kills=3, seed=0, folder=tmp_path)
    assert report["corrupt_opens"] == 1, report
    assert report["kills"] == 1  # the run stops at a project that does not open
