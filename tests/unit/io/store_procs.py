"""Second processes for store tests: one holding the project lock, one holding SQLite's lock.

Both are real ``python`` processes; each prints ``ready`` once it holds its lock and lets go
when its stdin closes (``release``) or when it is killed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

# Opens the project with the store, as a second window or ``orthogui predict`` would.
_STORE_HOLDER = """
import sys
from orthogui.io.store import ProjectStore
store = ProjectStore.open(sys.argv[1])
print("ready", flush=True)
sys.stdin.read()
store.close()
"""

# Holds SQLite's write lock without the project lock (a backup tool, an old OrthoGUI, the
# sqlite3 shell in a transaction): the store's writes then fail with "database is locked".
_SQLITE_HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("ready", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
conn.close()
"""


class Holder:
    """A child process holding a lock on a project until ``release``."""

    def __init__(self, script: str, project: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", script, str(project)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            self.proc.kill()
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise RuntimeError(f"the holder of {project} did not start: {line!r} {err}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def release(self) -> None:
        """Let go of the lock and wait for the process to end."""
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=30)

    def kill(self) -> None:
        """Kill the process without letting it clean up (a crash)."""
        self.proc.kill()
        self.proc.wait(timeout=30)


def hold_project(project: Path) -> Holder:
    """Another process with the project open for writing (it holds the project lock)."""
    return Holder(_STORE_HOLDER, project)


def hold_sqlite_write_lock(project: Path) -> Holder:
    """Another process inside a write transaction on the file, ignoring the project lock."""
    return Holder(_SQLITE_HOLDER, project)
