"""Opening a project file: recognise it, connect, configure, migrate and load its rows.

Helpers of ``ProjectStore``; each error names the file and the reason.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path
from typing import Literal

from orthogui.core.categories import CategorySet
from orthogui.core.commands import Command, command_from_json
from orthogui.core.project import ProjectModel
from orthogui.io.store import codec, measurement_rows, schema
from orthogui.io.store.errors import (
    CorruptProjectError,
    NotAProjectError,
    ProjectStoreError,
    SchemaTooNewError,
)

SQLITE_MAGIC = b"SQLite format 3\x00"
Synchronous = Literal["full", "normal"]


def connect(path: Path, *, read_only: bool, timeout_s: float) -> sqlite3.Connection:
    # mode=rw: sqlite3.connect would otherwise create a missing file.
    uri = f"{path.resolve().as_uri()}?mode={'ro' if read_only else 'rw'}"
    # isolation_level=None: the store issues BEGIN/COMMIT itself, one transaction per edit.
    # check_same_thread=False: a project may be opened on a worker thread and then used on the
    # GUI thread; the store is never used by two threads at once.
    return sqlite3.connect(
        uri, uri=True, timeout=timeout_s, isolation_level=None, check_same_thread=False
    )


def configure(conn: sqlite3.Connection, *, synchronous: Synchronous, read_only: bool) -> None:
    if not read_only:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
    conn.execute("PRAGMA foreign_keys = ON")


def check_header(path: Path) -> None:
    if not path.exists():
        raise NotAProjectError(path, "no such file")
    if path.is_dir():
        raise NotAProjectError(path, "is a folder, not a project file")
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise ProjectStoreError(path, f"cannot read: {exc.strerror}") from exc
    if not head:
        raise NotAProjectError(path, "empty file, not an OrthoGUI project")
    if head != SQLITE_MAGIC:
        raise NotAProjectError(path, "not an SQLite database, so not an OrthoGUI project")


def check_identity(conn: sqlite3.Connection, path: Path, *, check: bool) -> None:
    """Refuse files that are not ours or too new before changing anything in them."""
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.OperationalError as exc:  # locked, no permission for the -wal/-shm files
        raise ProjectStoreError(path, f"cannot read: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        raise CorruptProjectError(path, f"damaged SQLite file ({exc})") from exc
    if app_id != schema.APPLICATION_ID:
        raise NotAProjectError(
            path, f"an SQLite database of another application (application_id {app_id:#x})"
        )
    if version > schema.SCHEMA_VERSION:
        raise SchemaTooNewError(
            path,
            f"written by a newer OrthoGUI (schema version {version}; this version reads up "
            f"to {schema.SCHEMA_VERSION}): update OrthoGUI to open it",
        )
    if version < 1 or not schema.CORE_TABLES.issubset(tables):
        raise CorruptProjectError(
            path, f"an OrthoGUI project without its tables (schema version {version})"
        )
    if check:
        try:
            problems = [r[0] for r in conn.execute("PRAGMA quick_check(5)")]
        except sqlite3.DatabaseError as exc:
            raise CorruptProjectError(path, f"damaged SQLite file ({exc})") from exc
        if problems != ["ok"]:
            raise CorruptProjectError(path, f"damaged SQLite file: {'; '.join(problems)}")


def migrate_if_needed(conn: sqlite3.Connection, path: Path, *, read_only: bool) -> None:
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version == schema.SCHEMA_VERSION:
        return
    if read_only:
        raise ProjectStoreError(
            path, f"schema version {version} needs an upgrade: open it once with write access"
        )
    if version not in schema.MIGRATIONS:
        raise CorruptProjectError(path, f"no migration from schema version {version}")
    backup = path.with_name(f"{path.name}.v{version}.bak")
    try:
        # A consistent copy (WAL included) beside the file, in case the upgrade misbehaves.
        with sqlite3.connect(backup) as copy:
            conn.backup(copy)
        copy.close()
        conn.execute("BEGIN IMMEDIATE")
        schema.migrate(conn, version)
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise ProjectStoreError(
            path, f"cannot upgrade schema version {version} to {schema.SCHEMA_VERSION}: {exc}"
        ) from exc
    except OSError as exc:
        raise ProjectStoreError(path, f"cannot write the backup {backup}: {exc}") from exc


def load(conn: sqlite3.Connection, path: Path) -> tuple[ProjectModel, list[Command], int]:
    try:
        categories = codec.categories_from_rows(
            conn.execute("SELECT data FROM categories ORDER BY position").fetchall()
        )
        images = [
            codec.image_from_row(r)
            for r in conn.execute(f"SELECT {codec.IMAGE_COLUMNS} FROM images ORDER BY rowid")
        ]
        annotations = [
            codec.annotation_from_data(r[0])
            for r in conn.execute("SELECT data FROM annotations ORDER BY rowid")
        ]
        measurements = measurement_rows.read_all(conn)
    except (sqlite3.DatabaseError, ValueError, KeyError, TypeError) as exc:
        raise CorruptProjectError(path, f"unreadable rows ({exc})") from exc
    model = ProjectModel(categories)
    model.load(images, annotations, measurements)
    commands, index = read_journal(conn, path)
    return model, commands, index


def read_journal(conn: sqlite3.Connection, path: Path) -> tuple[list[Command], int]:
    try:
        rows = conn.execute("SELECT seq, command, state FROM journal ORDER BY seq").fetchall()
        commands = [command_from_json(json.loads(r[1])) for r in rows]
    except (sqlite3.DatabaseError, ValueError, KeyError, TypeError) as exc:
        raise CorruptProjectError(path, f"unreadable undo journal ({exc})") from exc
    states = [r[2] for r in rows]
    index = states.count("done")
    if states != ["done"] * index + ["undone"] * (len(states) - index):
        raise CorruptProjectError(path, "undo journal out of order (a redone step after an undone)")
    return commands, index


def write_categories(conn: sqlite3.Connection, categories: CategorySet) -> None:
    conn.execute("DELETE FROM categories")
    conn.executemany(
        "INSERT INTO categories (id, position, data) VALUES (?, ?, ?)",
        [(c.id, i, codec.dumps(codec.category_to_dict(c))) for i, c in enumerate(categories)],
    )


def read_settings(conn: sqlite3.Connection, path: Path) -> dict[str, str]:
    """All project settings as stored (name -> JSON text).

    Parameters
    ----------
    conn
        An open project connection.
    path
        The project file, for the error message.

    Raises
    ------
    CorruptProjectError
        The settings table cannot be read.
    """
    try:
        return {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM settings")}
    except sqlite3.DatabaseError as exc:
        raise CorruptProjectError(path, f"unreadable settings ({exc})") from exc


def file_is_writable(path: Path) -> bool:
    """False when the project file is write-protected: no write permission for this user,
    a read-only medium, or the owner's write bit cleared (also for root, who could write
    anyway: a write-protected file is a request not to change it).

    Parameters
    ----------
    path
        The project file.

    Returns
    -------
    bool
        Whether the store may open it for writing.
    """
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(mode & stat.S_IWUSR) and os.access(path, os.W_OK)
