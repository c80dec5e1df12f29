"""Crash safety: a process streaming edits is SIGKILLed; every edit it reported is on disk."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from orthogui.core.geometry import Polygon
from orthogui.core.project import ImageRecord
from orthogui.io.store import ProjectStore

ROOT = Path(__file__).resolve().parents[3]

# The child: opens the project and streams edits through the History; even edits add
# annotation e<i>, odd edits move the polygon added just before. It prints the number of
# each edit once ``push`` returned, i.e. once the store committed it.
CHILD = """
import sys
from orthogui.core.annotation import Annotation
from orthogui.core.commands import AddAnnotations, UpdateAnnotations
from tests.unit.io.test_store_crash import polygon
from orthogui.io.store import ProjectStore

store = ProjectStore.open(sys.argv[1])
history = store.history
for i in range(1_000_000):
    if i % 2 == 0:
        ann = Annotation.human(image_id="im0", category="fracture", shape=polygon(i))
        history.push(AddAnnotations((ann.evolve(id=f"e{i:06d}"),)))
    else:
        before = store.model.annotation(f"e{i - 1:06d}")
        history.push(UpdateAnnotations((before,), (before.evolve(shape=polygon(i)),)))
    print(i, flush=True)
"""


def polygon(i: int) -> Polygon:
    """A 100-vertex polygon that differs for every edit number."""
    return Polygon([(float(i + k), float(k * k % 97) + 0.5) for k in range(100)])


@pytest.mark.parametrize("kill_after", [1, 150])
def test_sigkill_mid_stream_loses_no_committed_edit(tmp_path: Path, kill_after: int) -> None:
    path = tmp_path / "p.orthogui"
    with ProjectStore.create(path) as store:
        store.add_images([ImageRecord("im0", "a.png", "h0", 512, 512)])

    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(60.0, child.kill)  # never hang the suite
    watchdog.start()
    try:
        assert child.stdout is not None
        reported = -1
        for line in child.stdout:
            reported = int(line)
            if reported + 1 >= kill_after:
                os.kill(child.pid, signal.SIGKILL)
                break
        child.wait()
        reported = max([reported, *(int(s) for s in child.stdout.read().split())])
    finally:
        watchdog.cancel()
    assert child.returncode == -signal.SIGKILL, child.stderr.read() if child.stderr else ""

    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()

    with ProjectStore.open(path) as store:
        committed = len(store.history)
        # Edits 0..reported were reported; the one in flight at the kill may have committed.
        assert reported + 1 <= committed <= reported + 2
        assert store.history.index == committed
        for j in range(0, committed, 2):
            expected = polygon(j + 1) if j + 1 < committed else polygon(j)
            assert store.model.annotation(f"e{j:06d}").shape == expected
        assert len(store.model.annotations()) == (committed + 1) // 2
        # The whole stream is undoable after the crash, and redoable again.
        while store.history.undo():
            pass
        assert store.model.annotations() == []
        while store.history.redo():
            pass
        assert len(store.model.annotations()) == (committed + 1) // 2
