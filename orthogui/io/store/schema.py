"""The project file's SQLite schema, its version, and the migrations from older versions.

Version 1 was the first draft layout (no uncertainty, study key, indexed category/review
columns, journal timestamps or settings); it stays here so that the migration path is tested.
Version 3 adds the ``measurements`` table (rulers and angles kept with their image).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

#: ``PRAGMA application_id`` of every OrthoGUI project file: the ASCII bytes "OGUI".
APPLICATION_ID = 0x4F475549
#: The schema version this code writes (``PRAGMA user_version``).
SCHEMA_VERSION = 3

# Columns are ordered as the migrations leave them, so that a migrated file and a fresh one
# have identical tables (a test compares them).
CURRENT_DDL = """
CREATE TABLE images (
    id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL DEFAULT '',
    width INTEGER NOT NULL DEFAULT 0,
    height INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'new',
    uncertainty REAL,
    study_key TEXT NOT NULL DEFAULT '',
    attributes TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX images_sha256 ON images(sha256);
CREATE TABLE annotations (
    id TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id),
    data TEXT NOT NULL,
    category TEXT NOT NULL DEFAULT '',
    review_state TEXT NOT NULL DEFAULT 'proposed'
);
CREATE INDEX annotations_image ON annotations(image_id);
CREATE INDEX annotations_category ON annotations(category);
CREATE INDEX annotations_review_state ON annotations(review_state);
CREATE TABLE categories (
    id INTEGER PRIMARY KEY,
    position INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE journal (
    seq INTEGER PRIMARY KEY,
    label TEXT NOT NULL,
    command TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('done', 'undone')),
    at TEXT NOT NULL DEFAULT ''
);
CREATE INDEX journal_state ON journal(state, seq);
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE measurements (
    id TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id),
    data TEXT NOT NULL
);
CREATE INDEX measurements_image ON measurements(image_id);
"""

#: Tables every schema version has; a file with our application id but without them is damaged.
CORE_TABLES = frozenset({"images", "annotations", "categories", "journal"})


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    # Not ``executescript``: that commits the caller's transaction first, and a migration
    # must be all-or-nothing together with the version stamp.
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _v1_to_v2(conn: sqlite3.Connection) -> None:
    _run_script(
        conn,
        """
        ALTER TABLE images ADD COLUMN uncertainty REAL;
        ALTER TABLE images ADD COLUMN study_key TEXT NOT NULL DEFAULT '';
        ALTER TABLE images ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
        ALTER TABLE annotations ADD COLUMN category TEXT NOT NULL DEFAULT '';
        ALTER TABLE annotations ADD COLUMN review_state TEXT NOT NULL DEFAULT 'proposed';
        UPDATE annotations SET
            category = coalesce(json_extract(data, '$.category'), ''),
            review_state = coalesce(json_extract(data, '$.review.state'), 'proposed');
        CREATE INDEX annotations_category ON annotations(category);
        CREATE INDEX annotations_review_state ON annotations(review_state);
        ALTER TABLE journal ADD COLUMN at TEXT NOT NULL DEFAULT '';
        CREATE INDEX journal_state ON journal(state, seq);
        CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        """,
    )


def _v2_to_v3(conn: sqlite3.Connection) -> None:
    _run_script(
        conn,
        """
        CREATE TABLE measurements (
            id TEXT PRIMARY KEY,
            image_id TEXT NOT NULL REFERENCES images(id),
            data TEXT NOT NULL
        );
        CREATE INDEX measurements_image ON measurements(image_id);
        """,
    )


#: ``from_version -> step`` that upgrades a file by exactly one version, inside the caller's
#: transaction. Add an entry (never edit an old one) whenever ``SCHEMA_VERSION`` goes up.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _v1_to_v2,
    2: _v2_to_v3,
}


def create_schema(conn: sqlite3.Connection) -> None:
    """Create the current tables and stamp the file as an OrthoGUI project of this version.

    Parameters
    ----------
    conn
        A connection inside an open transaction on an empty database.
    """
    _run_script(conn, CURRENT_DDL)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def migrate(conn: sqlite3.Connection, from_version: int) -> list[int]:
    """Upgrade the schema from ``from_version`` to ``SCHEMA_VERSION``, one step at a time.

    Parameters
    ----------
    conn
        A connection inside an open transaction; the caller commits or rolls back.
    from_version
        The file's ``user_version``.

    Returns
    -------
    list[int]
        The versions migrated from, in order (empty when already current).

    Raises
    ------
    KeyError
        When no migration starts at one of the versions on the way.
    """
    done: list[int] = []
    version = from_version
    while version < SCHEMA_VERSION:
        step = MIGRATIONS[version]
        step(conn)
        done.append(version)
        version += 1
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return done
