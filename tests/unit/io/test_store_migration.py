"""Schema migrations: a version-1 project (built here from its frozen DDL) opens as current."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from orthogui.core.annotation import ReviewState
from orthogui.core.categories import DEFAULT_CATEGORIES
from orthogui.core.commands import AddAnnotations
from orthogui.core.review import set_state
from orthogui.core.serialize import annotation_to_dict
from orthogui.io.store import ProjectStore, ProjectStoreError, schema
from orthogui.io.store.codec import category_to_dict
from tests.unit.io.test_store import screw

# The layout of schema version 1, frozen: never edit it to follow the current schema.
V1_DDL = """
CREATE TABLE images (
    id TEXT PRIMARY KEY, path TEXT NOT NULL, sha256 TEXT NOT NULL DEFAULT '',
    width INTEGER NOT NULL DEFAULT 0, height INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'new');
CREATE INDEX images_sha256 ON images(sha256);
CREATE TABLE annotations (
    id TEXT PRIMARY KEY, image_id TEXT NOT NULL REFERENCES images(id), data TEXT NOT NULL);
CREATE INDEX annotations_image ON annotations(image_id);
CREATE TABLE categories (id INTEGER PRIMARY KEY, position INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE journal (
    seq INTEGER PRIMARY KEY, label TEXT NOT NULL, command TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('done', 'undone')));
PRAGMA application_id = 1330074953;
PRAGMA user_version = 1;
"""


def write_v1_project(path: Path) -> tuple[list[str], list[str]]:
    """A v1 file with 2 images, 3 annotations and a journal of 2 done + 1 undone steps."""
    a, b, c = screw("im0"), screw("im0", 20), screw("im1")
    steps = [
        AddAnnotations((a, b, c)),
        set_state([a], ReviewState.ACCEPTED, user="u", at="t1"),
        set_state([b], ReviewState.REJECTED, user="u", at="t2"),  # undone before the upgrade
    ]
    accepted = steps[1].after[0]
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(V1_DDL)
    conn.executemany(
        "INSERT INTO images VALUES (?, ?, ?, 64, 32, 'in_review')",
        [("im0", "a.png", "h0"), ("im1", "b.png", "h1")],
    )
    conn.executemany(
        "INSERT INTO annotations VALUES (?, ?, ?)",
        [(x.id, x.image_id, json.dumps(annotation_to_dict(x))) for x in (accepted, b, c)],
    )
    conn.executemany(
        "INSERT INTO categories VALUES (?, ?, ?)",
        [(k.id, i, json.dumps(category_to_dict(k))) for i, k in enumerate(DEFAULT_CATEGORIES)],
    )
    conn.executemany(
        "INSERT INTO journal (label, command, state) VALUES (?, ?, ?)",
        [
            (s.label, json.dumps(s.to_json()), st)
            for s, st in zip(steps, ["done", "done", "undone"])
        ],
    )
    conn.close()
    return [accepted.id, b.id, c.id], [s.label for s in steps]


def table_layout(path: Path) -> dict[str, object]:
    conn = sqlite3.connect(path)
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    layout: dict[str, object] = {}
    for t in sorted(names):
        layout[t] = (
            conn.execute(f"PRAGMA table_info({t})").fetchall(),
            sorted(
                (i[1], [c[2] for c in conn.execute(f"PRAGMA index_info({i[1]})")])
                for i in conn.execute(f"PRAGMA index_list({t})")
            ),
            conn.execute(f"PRAGMA foreign_key_list({t})").fetchall(),
        )
    conn.close()
    return layout


def test_every_old_version_has_a_migration() -> None:
    assert sorted(schema.MIGRATIONS) == list(range(1, schema.SCHEMA_VERSION))


def test_v1_project_migrates_with_data_and_history(tmp_path: Path) -> None:
    path = tmp_path / "old.orthogui"
    ids, labels = write_v1_project(path)
    with ProjectStore.open(path) as store:
        assert [a.id for a in store.model.annotations()] == ids
        assert store.model.annotation(ids[0]).review.state is ReviewState.ACCEPTED
        assert [im.uncertainty for im in store.model.images()] == [None, None]
        assert [c.label for c in store.history.commands()] == labels
        assert store.history.index == 2
        store.history.redo()  # the step undone under v1 redoes under v2
        assert store.model.annotation(ids[1]).review.state is ReviewState.REJECTED
        store.set_setting("migrated", True)  # the settings table is new in v2

    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    rows = conn.execute("SELECT id, category, review_state FROM annotations ORDER BY rowid")
    assert rows.fetchall() == [
        (ids[0], "locking_screw", "accepted"),
        (ids[1], "locking_screw", "rejected"),
        (ids[2], "locking_screw", "proposed"),
    ]
    conn.close()
    fresh = tmp_path / "fresh.orthogui"
    ProjectStore.create(fresh).close()
    assert table_layout(path) == table_layout(fresh)

    backup = tmp_path / "old.orthogui.v1.bak"
    conn = sqlite3.connect(backup)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM annotations").fetchone()[0] == 3
    conn.close()


def test_a_failing_migration_leaves_the_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.orthogui"
    write_v1_project(path)

    def half_done(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE images ADD COLUMN uncertainty REAL")
        raise sqlite3.OperationalError("simulated failure half way")

    monkeypatch.setitem(schema.MIGRATIONS, 1, half_done)
    with pytest.raises(ProjectStoreError, match=r"old\.orthogui: cannot upgrade .*half way"):
        ProjectStore.open(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert "uncertainty" not in [r[1] for r in conn.execute("PRAGMA table_info(images)")]
    conn.close()


def test_a_v1_project_cannot_be_opened_read_only(tmp_path: Path) -> None:
    path = tmp_path / "old.orthogui"
    write_v1_project(path)
    with pytest.raises(ProjectStoreError, match="needs an upgrade"):
        ProjectStore.open(path, read_only=True)
