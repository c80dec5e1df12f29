"""Writing a whole project from memory into a fresh file: "Save a copy as…" rescues edits
that could not be saved to their own project file."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
from collections.abc import Mapping
from pathlib import Path

from orthogui.core.history import History
from orthogui.core.project import ProjectModel
from orthogui.io.fileops import fsync_dir
from orthogui.io.store import codec, measurement_rows, opening, schema
from orthogui.io.store.errors import ProjectStoreError
from orthogui.io.store.lock import ProjectLock


def save_copy(
    dest: Path,
    *,
    source: Path,
    model: ProjectModel,
    history: History,
    settings: Mapping[str, str],
) -> Path:
    """Write a complete project file at ``dest`` from memory (see ``ProjectStore.save_copy``).

    Parameters
    ----------
    dest
        The copy's path; an existing file there is replaced only once the copy is complete.
    source
        The project the copy is made from (it cannot be replaced by its own copy).
    model, history, settings
        What the copy holds (``write_everything``).

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    ProjectStoreError
        ``dest`` is ``source`` or a project open elsewhere, or cannot be written; ``dest`` is
        then unchanged.
    """
    if os.path.abspath(dest) == os.path.abspath(source):
        raise ProjectStoreError(dest, "a copy cannot replace the project it is made from")
    with ProjectLock.acquire(dest):  # refuses a project that is open elsewhere
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.copy")
        try:
            with open(tmp, "wb"):
                pass
            conn = opening.connect(tmp, read_only=False, timeout_s=2.0)
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")
                conn.execute("BEGIN IMMEDIATE")
                schema.create_schema(conn)
                write_everything(conn, model, history, settings=settings)
                conn.execute("COMMIT")
            finally:
                conn.close()  # the last connection folds the log into the file
            for suffix in ("-wal", "-shm"):  # an old project's log must not replay on the copy
                dest.with_name(dest.name + suffix).unlink(missing_ok=True)
            # SQLite wrote and synced the file by its path (synchronous = FULL), so the one
            # atomic write of orthogui.io.fileops does not fit; the rename is made durable here
            os.replace(tmp, dest)
            fsync_dir(dest.parent)
        except sqlite3.Error as exc:
            raise ProjectStoreError(dest, f"cannot write the copy: {exc}") from exc
        except OSError as exc:
            raise ProjectStoreError(dest, f"cannot write the copy: {exc.strerror}") from exc
        finally:
            for leftover in (tmp, *(tmp.with_name(tmp.name + s) for s in ("-wal", "-shm"))):
                with contextlib.suppress(OSError):
                    leftover.unlink(missing_ok=True)
    return dest


def write_everything(
    conn: sqlite3.Connection,
    model: ProjectModel,
    history: History,
    *,
    settings: Mapping[str, str],
) -> None:
    """Fill an empty project with the model, the undo history and the settings.

    Parameters
    ----------
    conn
        A fresh project's connection inside an open transaction.
    model
        Images, annotations, measurements and categories, written in their order (load order = model order).
    history
        Its steps become the journal: the applied ones ``done``, the redoable ones ``undone``.
    settings
        Setting name -> JSON text, as the store holds them.
    """
    opening.write_categories(conn, model.categories)
    conn.executemany(
        "INSERT INTO settings (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        sorted(settings.items()),
    )
    conn.executemany(
        f"INSERT INTO images ({codec.IMAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [codec.image_to_row(im) for im in model.images()],
    )
    conn.executemany(
        f"INSERT INTO annotations ({codec.ANNOTATION_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
        [codec.annotation_to_row(a) for im in model.images() for a in model.annotations(im.id)],
    )
    measurement_rows.write_all(conn, model)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    conn.executemany(
        "INSERT INTO journal (label, command, state, at) VALUES (?, ?, ?, ?)",
        [
            (c.label, codec.dumps(c.to_json()), "done" if i < history.index else "undone", now)
            for i, c in enumerate(history.commands())
        ],
    )
