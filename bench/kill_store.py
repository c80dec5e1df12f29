"""Kill test of the project store: a writer making edits is SIGKILLed over and over.

Each life, a writer process opens one project (the same file every time, so edits pile up),
prints ``ready`` and then edits through the ``History`` as the window does: adds polygons,
accepts or rejects findings (``review.set_state``), moves vertices (``UpdateAnnotations``,
sometimes with a merge key like a nudge gesture), undoes and redoes. Before each edit it
prints what it is about to do; once ``History`` returned (the store committed the edit) it
prints ``ack``. The harness kills it 5–60 ms after ``ready`` (fixed seed), reopens the
project itself and checks:

* the project opens (``ProjectStore.open`` with its quick check; the lock of the killed
  writer is gone) -- else a *corrupt open*;
* the reopened annotations and undo journal equal the state after the last acknowledged edit,
  or after the one edit in flight at the kill (committed, not yet acknowledged) -- else the
  edits acknowledged in that life count as *lost*;
* undo all (the project is empty again), then redo all gives the same annotations, and redoing
  the redo branch and undoing it again comes back to them too -- else an *inconsistent replay*.

Writers are forked from the harness (no interpreter start per kill); each is its own process
with its own SQLite connection and project lock. Prints one JSON object. Usage:
``python bench/kill_store.py [--kills 1000] [--seed 0] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orthogui.core.annotation import Annotation, ReviewState
from orthogui.core.commands import AddAnnotations, Command, UpdateAnnotations, command_from_json
from orthogui.core.geometry import Polygon
from orthogui.core.history import History
from orthogui.core.project import ImageRecord, ProjectModel
from orthogui.core.review import set_shape, set_state
from orthogui.io.store import ProjectStore

IMAGES = ("im0", "im1", "im2")
CATEGORIES = ("fracture", "screw", "plate")
KILL_MS = (5.0, 60.0)
WRITER_LIMIT_S = 20.0  # a writer never killed ends itself (the harness then reports it)


# -- the writer ---------------------------------------------------------------------------
def polygon(rng: random.Random) -> Polygon:
    """A random 12-vertex polygon inside a 512 x 512 image."""
    x, y = rng.uniform(20, 400), rng.uniform(20, 400)
    return Polygon([(x + rng.uniform(0, 90), y + rng.uniform(0, 90)) for _ in range(12)])


def next_edit(store: ProjectStore, rng: random.Random, life: int) -> tuple[str, Command | None]:
    """The next edit, as the window would make it: ("push", command), ("undo"|"redo", None)."""
    model, history = store.model, store.history
    anns = model.annotations()
    roll = rng.random()
    if roll < 0.12 and history.can_undo():
        return "undo", None
    if roll < 0.20 and history.can_redo():
        return "redo", None
    if roll < 0.45 or not anns:
        image = rng.choice(IMAGES)
        ann = Annotation.human(image_id=image, category=rng.choice(CATEGORIES), shape=polygon(rng))
        return "push", AddAnnotations((ann,), "Draw polygon")
    picked = rng.sample(anns, min(len(anns), rng.randint(1, 3)))
    if roll < 0.70:
        state = rng.choice((ReviewState.ACCEPTED, ReviewState.REJECTED))
        return "push", set_state(picked, state, user=f"writer{life % 7}")
    # Move one vertex of each picked shape (canvas.tools.update_shapes); repeated nudges of the
    # same selection carry a merge key and collapse into one undo step.
    parts = []
    for a in picked:
        points = list(a.shape.points)
        k = rng.randrange(len(points))
        x, y = points[k]
        points[k] = (x + rng.uniform(-4, 4), y + rng.uniform(-4, 4))
        parts.append(set_shape(a, Polygon(points), user=f"writer{life % 7}", label="Move vertex"))
    key = "nudge:" + ",".join(a.id for a in picked) if rng.random() < 0.3 else ""
    return "push", UpdateAnnotations(
        tuple(p.before[0] for p in parts), tuple(p.after[0] for p in parts), "Move vertex", key
    )


def writer(path: Path, seed: int, out_fd: int) -> None:
    """The body of a writer process: open, say ``ready``, edit until killed."""

    def say(text: str) -> None:
        os.write(out_fd, (text + "\n").encode())  # one unbuffered write: flushed at once

    rng = random.Random(seed)
    store = ProjectStore.open(path)
    say("ready")
    life = seed % 1000
    deadline = time.monotonic() + WRITER_LIMIT_S
    n = 0
    while time.monotonic() < deadline:
        kind, command = next_edit(store, rng, life)
        body = "" if command is None else json.dumps(command.to_json(), separators=(",", ":"))
        say(f"do {n} {kind} {body}")
        if kind == "push":
            assert command is not None
            store.history.push(command)
        elif kind == "undo":
            store.history.undo()
        else:
            store.history.redo()
        say(f"ack {n}")
        n += 1
    store.close()


# -- the harness --------------------------------------------------------------------------
@dataclass
class Edit:
    kind: str  # push, undo, redo
    command: Command | None


@dataclass
class Life:
    """What one writer said before it was killed."""

    ready: bool = False
    acked: list[Edit] = field(default_factory=list)
    pending: Edit | None = None  # announced, not acknowledged: may or may not be committed
    killed: bool = False
    exit_status: int = 0


def parse(lines: list[str]) -> Life:
    life = Life()
    announced: dict[int, Edit] = {}
    for line in lines:
        if line == "ready":
            life.ready = True
        elif line.startswith("do "):
            _, n, kind, body = line.split(" ", 3)
            cmd = command_from_json(json.loads(body)) if body else None
            announced[int(n)] = Edit(kind, cmd)
        elif line.startswith("ack "):
            life.acked.append(announced.pop(int(line[4:])))
    if announced:
        life.pending = announced[max(announced)]
    return life


def run_writer(path: Path, seed: int, kill_after_s: float) -> Life:
    """Fork a writer, kill it ``kill_after_s`` after it said ``ready``; what it said."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the writer
        os.close(read_fd)
        status = 0
        try:
            writer(path, seed, write_fd)
        except BaseException as exc:  # reported through the pipe
            os.write(write_fd, f"error {type(exc).__name__}: {exc}\n".encode())
            status = 1
        os._exit(status)
    os.close(write_fd)
    buf = b""
    deadline: float | None = None
    eof = False
    start = time.monotonic()
    while not eof:
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            break
        if now - start > WRITER_LIMIT_S + 30:
            break  # a writer stuck before ``ready``: kill it below
        wait = 1.0 if deadline is None else deadline - now
        ready, _, _ = select.select([read_fd], [], [], wait)
        if ready:
            chunk = os.read(read_fd, 1 << 16)
            eof = not chunk
            buf += chunk
            if deadline is None and b"ready\n" in buf:
                deadline = time.monotonic() + kill_after_s
    killed = False
    try:
        os.kill(pid, signal.SIGKILL)
        killed = True
    except ProcessLookupError:
        pass
    _, status = os.waitpid(pid, 0)
    while chunk := os.read(read_fd, 1 << 16):  # what it wrote before dying
        buf += chunk
    os.close(read_fd)
    # A line cut by the kill has no newline: it was never said.
    text = buf.decode(errors="replace")
    lines = text.split("\n")[:-1]
    errors = [line for line in lines if line.startswith("error ")]
    if errors:
        raise RuntimeError(f"the writer failed: {errors[0]}")
    life = parse(lines)
    life.killed = killed and os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    life.exit_status = status
    return life


def snapshot(model: ProjectModel) -> dict[str, Annotation]:
    return {a.id: a for a in model.annotations()}


def same_state(a: ProjectModel, ha: History, b: ProjectModel, hb: History) -> bool:
    return ha.index == hb.index and ha.commands() == hb.commands() and snapshot(a) == snapshot(b)


def apply_edit(history: History, edit: Edit) -> None:
    if edit.kind == "push":
        assert edit.command is not None
        history.push(edit.command)
    elif edit.kind == "undo":
        if not history.undo():
            raise AssertionError("an acknowledged undo with nothing to undo")
    elif not history.redo():
        raise AssertionError("an acknowledged redo with nothing to redo")


def replay_consistent(model: ProjectModel, history: History) -> bool:
    """Undo all (empty project), redo back to where it was, through the redo branch and back."""
    before = snapshot(model)
    index = history.index
    while history.undo():
        pass
    if model.annotations():
        return False
    for _ in range(index):
        history.redo()
    if snapshot(model) != before:
        return False
    while history.redo():
        pass
    while history.index > index:
        history.undo()
    return snapshot(model) == before


@contextmanager
def project_folder(folder: str | Path | None) -> Iterator[Path]:
    if folder is not None:
        yield Path(folder)
        return
    with tempfile.TemporaryDirectory(prefix="kill_store_") as tmp:
        yield Path(tmp)


def kill_store(kills: int, seed: int, folder: str | Path | None = None) -> dict[str, Any]:
    """Run ``kills`` writer lives on one project; the counts the module docstring describes."""
    t0 = time.perf_counter()
    rng = random.Random(seed)
    report: dict[str, Any] = {
        "kills": 0,
        "acknowledged_edits": 0,
        "lost_edits": 0,
        "corrupt_opens": 0,
        "replay_checks": 0,
        "inconsistent_replays": 0,
        "committed_unacknowledged": 0,
        "lives_without_edit": 0,
        "seed": seed,
    }
    problems: list[str] = []
    with project_folder(folder) as where:
        path = where / "kill.orthogui"
        with ProjectStore.create(path, user="harness") as store:
            store.add_images([ImageRecord(i, f"{i}.png", f"h{i}", 512, 512) for i in IMAGES])
        # The mirror: the state the acknowledged edits lead to, replayed in this process.
        with ProjectStore.open(path) as store:
            mirror_model, mirror = store.model, store.history
        for k in range(kills):
            life = run_writer(path, seed * 1_000_003 + k, rng.uniform(*KILL_MS) / 1e3)
            if not life.killed or not life.ready:
                raise RuntimeError(f"life {k}: the writer was not killed while editing: {life}")
            report["kills"] += 1
            report["acknowledged_edits"] += len(life.acked)
            report["lives_without_edit"] += not life.acked
            mirror.close_merge()  # a reopened project starts a new gesture
            for edit in life.acked:
                apply_edit(mirror, edit)
            try:
                store = ProjectStore.open(path)
            except Exception as exc:  # counted and reported
                report["corrupt_opens"] += 1
                problems.append(f"life {k}: open failed: {type(exc).__name__}: {exc}")
                break
            store.close()  # the history stops writing: the checks below stay in memory
            model, history = store.model, store.history
            if not same_state(model, history, mirror_model, mirror):
                if life.pending is not None:
                    apply_edit(mirror, life.pending)
                if life.pending is not None and same_state(model, history, mirror_model, mirror):
                    report["committed_unacknowledged"] += 1
                else:
                    report["lost_edits"] += max(1, len(life.acked))
                    problems.append(f"life {k}: the reopened project differs from the acks")
            report["replay_checks"] += 1
            if not replay_consistent(model, history):
                report["inconsistent_replays"] += 1
                problems.append(f"life {k}: undo all / redo all does not come back")
                with ProjectStore.open(path, read_only=True) as fresh:
                    model, history = fresh.model, fresh.history
            # Go on from what the file holds (equal to the mirror unless a problem was counted).
            mirror_model, mirror = model, history
        report["annotations_at_end"] = len(mirror_model.annotations())
        report["undo_steps_at_end"] = len(mirror)
        report["project_mb"] = round(path.stat().st_size / 2**20, 2)
    report["problems"] = problems[:10]
    report["seconds"] = round(time.perf_counter() - t0, 1)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the JSON object to this file")
    parser.add_argument("--folder", help="keep the project here (default: a temporary folder)")
    args = parser.parse_args(argv)
    report = kill_store(args.kills, args.seed, args.folder)
    text = json.dumps(report)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n")
    bad = report["lost_edits"] or report["corrupt_opens"] or report["inconsistent_replays"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
