"""The undo journal in the project file: one row per undo step, ``done`` or ``undone``.

Each function applies one ``HistoryEvent`` to the journal inside the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

from orthogui.core.history import HistoryEvent
from orthogui.io.store import codec

_LAST_DONE = "(SELECT max(seq) FROM journal WHERE state = 'done')"
_FIRST_UNDONE = "(SELECT min(seq) FROM journal WHERE state = 'undone')"


def now() -> str:
    """The current time as stored in the journal (UTC, ISO 8601, milliseconds)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def push(conn: sqlite3.Connection, event: HistoryEvent) -> None:
    """A new step: the redo branch is gone, the step is appended as ``done``."""
    conn.execute("DELETE FROM journal WHERE state = 'undone'")
    conn.execute(
        "INSERT INTO journal (label, command, state, at) VALUES (?, ?, 'done', ?)",
        (event.command.label, codec.dumps(event.command.to_json()), now()),
    )


def merge(conn: sqlite3.Connection, event: HistoryEvent) -> None:
    """The last done step grew (a gesture goes on): replace its command."""
    cur = conn.execute(
        f"UPDATE journal SET label = ?, command = ?, at = ? WHERE seq = {_LAST_DONE}",
        (event.command.label, codec.dumps(event.command.to_json()), now()),
    )
    _expect_one(cur, "merge")


def undo(conn: sqlite3.Connection, event: HistoryEvent) -> None:
    """The last done step becomes ``undone``."""
    cur = conn.execute(f"UPDATE journal SET state = 'undone' WHERE seq = {_LAST_DONE}")
    _expect_one(cur, "undo")


def redo(conn: sqlite3.Connection, event: HistoryEvent) -> None:
    """The first undone step becomes ``done`` again."""
    cur = conn.execute(f"UPDATE journal SET state = 'done' WHERE seq = {_FIRST_UNDONE}")
    _expect_one(cur, "redo")


def _expect_one(cur: sqlite3.Cursor, what: str) -> None:
    if cur.rowcount != 1:
        raise ValueError(f"the journal has no step to {what}")
