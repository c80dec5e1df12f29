"""The ``measurements`` table (schema 3): rulers and angles written, read and re-synchronised.

Helpers of ``ProjectStore``, ``opening`` and ``rescue``; each runs inside the caller's
transaction. Rows are written in the model's order, so loading by rowid keeps it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from typing import TypeVar

from orthogui.core.commands import AddMeasurements, RemoveMeasurements, UpdateMeasurements
from orthogui.core.measurement import Measurement
from orthogui.core.project import ProjectModel
from orthogui.io.store import codec

T = TypeVar("T")

_UPSERT = (
    f"INSERT INTO measurements ({codec.MEASUREMENT_COLUMNS}) VALUES (?, ?, ?) "
    "ON CONFLICT(id) DO UPDATE SET image_id = excluded.image_id, data = excluded.data"
)


def read_all(conn: sqlite3.Connection) -> list[Measurement]:
    """Every measurement of the file, in the order they were made."""
    rows = conn.execute("SELECT data FROM measurements ORDER BY rowid")
    return [codec.measurement_from_data(r[0]) for r in rows]


def write(conn: sqlite3.Connection, model: ProjectModel, ids: Iterable[str]) -> None:
    """Make the rows of ``ids`` equal to the model: upsert those present, delete the rest."""
    wanted = set(ids)
    if not wanted:
        return
    present = [m for m in model.measurements() if m.id in wanted]
    absent = wanted - {m.id for m in present}
    conn.executemany("DELETE FROM measurements WHERE id = ?", [(i,) for i in sorted(absent)])
    conn.executemany(_UPSERT, [codec.measurement_to_row(m) for m in present])


def write_all(conn: sqlite3.Connection, model: ProjectModel) -> None:
    """Insert every measurement of the model (a fresh file: ``rescue``)."""
    write(conn, model, [m.id for m in model.measurements()])


def diff_rows(
    ids: Iterable[str],
    on_disk: Callable[[str], T | None],
    in_memory: Callable[[str], T | None],
) -> tuple[list[T], list[T], list[T], list[T]]:
    """How the model differs from the file for ``ids``: (only in memory, only on disk,
    memory side of changed rows, disk side of changed rows), in id order."""
    removed: list[T] = []
    added: list[T] = []
    before: list[T] = []
    after: list[T] = []
    for row_id in sorted(ids):
        disk, memory = on_disk(row_id), in_memory(row_id)
        if disk is None and memory is not None:
            removed.append(memory)
        elif disk is not None and memory is None:
            added.append(disk)
        elif disk is not None and memory is not None and disk != memory:
            before.append(memory)
            after.append(disk)
    return removed, added, before, after


def resync(conn: sqlite3.Connection, model: ProjectModel, ids: Iterable[str]) -> None:
    """Make the model's measurements ``ids`` equal to the file again (a failed write)."""

    def disk(mid: str) -> Measurement | None:
        row = conn.execute("SELECT data FROM measurements WHERE id = ?", (mid,)).fetchone()
        return None if row is None else codec.measurement_from_data(row[0])

    removed, added, before, after = diff_rows(ids, disk, model.get_measurement)
    # Applied directly, not pushed: these restore the file's state, they are no edit.
    RemoveMeasurements(tuple(removed)).apply(model)
    AddMeasurements(tuple(added)).apply(model)
    UpdateMeasurements(tuple(before), tuple(after)).apply(model)
