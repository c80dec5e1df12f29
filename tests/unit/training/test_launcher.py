"""The launcher without torch training: an asynchronous stop (SIGTERM now, kill of the process
group later, on a thread), following a worker through its events file, run records and the
process-liveness check. Fake workers print real protocol events."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from orthogui.training.launcher import (
    AttachedRun,
    RunRecord,
    TrainingRun,
    load_record,
    process_alive,
    save_record,
)
from orthogui.training.protocol import Event, Failed, Finished, Progress, Started

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX process groups")

# Holds SIGTERM off for argv[1] s (forever if negative); argv[2]: a file for its child's pid.
STUBBORN = r"""
import signal, subprocess, sys, time
from pathlib import Path
from orthogui.training.protocol import Failed, Started
hold = float(sys.argv[1])
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
Path(sys.argv[2]).write_text(str(child.pid))
got = []
signal.signal(signal.SIGTERM, lambda *a: got.append(1))
print(Started(total_steps=10).to_json(), flush=True)
while not got:
    time.sleep(0.02)
while hold < 0:
    time.sleep(1)
time.sleep(hold)
print(Failed(reason="stopped on request", kind="stopped", step=7, checkpoint="ck").to_json(), flush=True)
"""


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.started = threading.Event()

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, Started):
            self.started.set()


def _gone(pid: int) -> bool:
    return not process_alive(pid)


def _wait_for(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_request_stop_returns_at_once_and_kills_a_deaf_worker_and_its_children(
    tmp_path: Path,
) -> None:
    rec, child_file = Recorder(), tmp_path / "child.pid"
    run = TrainingRun(
        tmp_path / "job.json",
        on_event=rec,
        command=[sys.executable, "-c", STUBBORN, "-1", str(child_file)],
    )
    run.start()
    assert rec.started.wait(30)
    child = int(child_file.read_text())
    t0 = time.monotonic()
    waiter = run.request_stop(timeout=0.5)
    assert time.monotonic() - t0 < 0.1 and waiter is not None
    assert run.stopping and run.running
    assert run.wait(15)
    waiter.join(5)
    assert time.monotonic() - t0 >= 0.5
    last = rec.events[-1]
    assert isinstance(last, Failed) and last.kind == "stopped", rec.events
    assert run.process is not None and run.process.returncode == -signal.SIGKILL
    assert _wait_for(lambda: _gone(child))  # the whole process group went
    assert run.request_stop() is None and not run.stopping


def test_stop_still_waits_for_the_checkpoint_when_asked_to(tmp_path: Path) -> None:
    rec = Recorder()
    run = TrainingRun(
        tmp_path / "job.json",
        on_event=rec,
        command=[sys.executable, "-c", STUBBORN, "0.3", str(tmp_path / "c.pid")],
    )
    run.start()
    assert rec.started.wait(30)
    run.stop(timeout=10)
    assert not run.running
    last = rec.events[-1]
    assert isinstance(last, Failed) and (last.kind, last.step, last.checkpoint) == (
        "stopped",
        7,
        "ck",
    )
    assert run.process is not None and run.process.returncode == 0
    assert _wait_for(lambda: _gone(int((tmp_path / "c.pid").read_text())))  # SIGTERM reached it


def _sleeper(marker: str, *, session: bool = True) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", marker], start_new_session=session
    )


def test_attached_run_follows_the_file_from_the_offset_in_whole_lines(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    old = [Started(total_steps=5), Failed(reason="stopped on request", kind="stopped", step=2)]
    events.write_text("".join(e.to_json() + "\n" for e in old))
    job = tmp_path / "job.json"
    proc = _sleeper(str(job))
    try:
        rec = Recorder()
        record = RunRecord(
            pid=proc.pid, job=job, events=events, events_offset=events.stat().st_size
        )
        run = AttachedRun(record, on_event=rec, poll_s=0.02)
        run.start()
        started = Started(total_steps=5, start_step=2).to_json() + "\n"
        progress = Progress(step=3, total_steps=5, epoch=1, loss=0.5, lr=0.01, eta_s=4).to_json()
        with open(events, "a") as f:
            f.write(started + progress[:20])  # a line half written
            f.flush()
            assert rec.started.wait(10)
            time.sleep(0.1)
            assert len(rec.events) == 1  # the torn line waits for its end
            f.write(progress[20:] + "\n")
            f.write(Finished(step=5, promoted=True, version="3", card="c", reason="ok").to_json())
            f.write("\n")
        assert run.wait(10)
        assert [type(e) for e in rec.events] == [Started, Progress, Finished]
        assert rec.events[0] == Started(total_steps=5, start_step=2)  # not the older run's
        assert process_alive(proc.pid, marker=str(job))  # following never touched the worker
    finally:
        proc.kill()
        proc.wait()


def test_attached_run_stop_ends_the_group_and_reports_stopped(tmp_path: Path) -> None:
    job, events = tmp_path / "job.json", tmp_path / "events.jsonl"
    events.write_text(Started(total_steps=5).to_json() + "\n")
    proc = _sleeper(str(job))
    # Until exec the child shows pytest's command line, not the job's: a stop asked for then
    # leaves it alone as another process (a reused pid), so wait until it is the "worker".
    assert _wait_for(lambda: process_alive(proc.pid, marker=str(job)))
    rec = Recorder()
    run = AttachedRun(RunRecord(pid=proc.pid, job=job, events=events), on_event=rec, poll_s=0.02)
    run.start()
    assert rec.started.wait(10)
    t0 = time.monotonic()
    assert run.request_stop(timeout=5) is not None
    assert time.monotonic() - t0 < 0.1
    assert run.wait(15)
    proc.wait(5)
    assert proc.returncode == -signal.SIGTERM
    last = rec.events[-1]
    assert isinstance(last, Failed) and last.kind == "stopped" and f"pid {proc.pid}" in last.reason


def test_detached_follower_stops_reading_and_leaves_the_worker(tmp_path: Path) -> None:
    job, events = tmp_path / "job.json", tmp_path / "events.jsonl"
    proc = _sleeper(str(job))
    try:
        rec = Recorder()
        run = AttachedRun(RunRecord(proc.pid, job, events), on_event=rec, poll_s=0.02)
        run.start()
        run.detach()
        assert run.wait(5)
        events.write_text(Started(total_steps=5).to_json() + "\n")
        time.sleep(0.1)
        assert rec.events == [] and process_alive(proc.pid, marker=str(job))
    finally:
        proc.kill()
        proc.wait()


def test_process_alive_sees_zombies_and_reused_pids(tmp_path: Path) -> None:
    assert process_alive(os.getpid())
    assert not process_alive(0) and not process_alive(-1)
    proc = _sleeper("marker-a", session=False)
    try:
        assert _wait_for(lambda: process_alive(proc.pid, marker="marker-a"))
        assert not process_alive(proc.pid, marker="marker-b")  # a pid now used by another
        proc.kill()
        assert _wait_for(lambda: not process_alive(proc.pid))  # a zombie until reaped
    finally:
        proc.wait()
    assert not process_alive(proc.pid)


def test_run_record_round_trip_and_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "training" / "p.running.json"
    assert load_record(path) is None
    record = RunRecord(12, tmp_path / "job.json", tmp_path / "e.jsonl", 40, "2025-01-01T00:00:00")
    assert load_record(save_record(record, path)) == record
    for text, why in [
        ("{", "not valid JSON"),
        ('{"format": "x"}', "not a training run record"),
        ('{"format": "orthogui-training-run/1", "pid": -3, "job": "j", "events": "e"}', "pid"),
        ('{"format": "orthogui-training-run/1", "pid": 3, "events": "e"}', "job"),
    ]:
        path.write_text(text)
        with pytest.raises(ValueError, match=why) as err:
            load_record(path)
        assert str(path) in str(err.value)
