"""Project store bad input: foreign, damaged and too-new files; failed writes roll back cleanly."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from psygnal import EmitLoopError

from orthogui.core.annotation import ReviewState
from orthogui.core.commands import AddAnnotations
from orthogui.core.project import ImageRecord
from orthogui.core.review import set_shape, set_state
from orthogui.io.store import (
    CorruptProjectError,
    NotAProjectError,
    ProjectLockedError,
    ProjectStore,
    ProjectStoreError,
    SchemaTooNewError,
    StoreWriteError,
)
from tests.unit.io.test_store import ring, screw


def make_project(path: Path, *, n_annotations: int = 3) -> list[str]:
    with ProjectStore.create(path) as store:
        store.add_images([ImageRecord("im0", "a.png", "h0")])
        anns = tuple(screw("im0", 40) for _ in range(n_annotations))
        store.history.push(AddAnnotations(anns))
        return [a.id for a in anns]


def sql(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    for s in statements:
        conn.execute(s)
    conn.close()


# -- files that are not (readable) projects ------------------------------------------------
def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotAProjectError, match=r"nope\.orthogui: no such file"):
        ProjectStore.open(tmp_path / "nope.orthogui")
    assert not (tmp_path / "nope.orthogui").exists()  # and it was not created


def test_folder_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(NotAProjectError, match="is a folder"):
        ProjectStore.open(tmp_path)
    (tmp_path / "empty.orthogui").write_bytes(b"")
    with pytest.raises(NotAProjectError, match=r"empty\.orthogui: empty file"):
        ProjectStore.open(tmp_path / "empty.orthogui")


def test_garbage_file(tmp_path: Path) -> None:
    junk = tmp_path / "scan.png"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    with pytest.raises(NotAProjectError, match=r"scan\.png: not an SQLite database"):
        ProjectStore.open(junk)


def test_sqlite_file_of_another_application_is_left_untouched(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    sql(other, "CREATE TABLE images (x)", "INSERT INTO images VALUES (1)")
    before = other.read_bytes()
    with pytest.raises(NotAProjectError, match=r"other\.db: .*another application"):
        ProjectStore.open(other)
    assert other.read_bytes() == before  # not switched to WAL, not migrated


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.orthogui"
    make_project(path)
    sql(path, "PRAGMA user_version = 99")
    with pytest.raises(SchemaTooNewError, match=r"p\.orthogui: .*schema version 99"):
        ProjectStore.open(path)


def test_our_stamp_without_tables_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "p.orthogui"
    sql(path, "PRAGMA application_id = 1330074953", "PRAGMA user_version = 2", "CREATE TABLE t (x)")
    with pytest.raises(CorruptProjectError, match="without its tables"):
        ProjectStore.open(path)


def test_damaged_pages_are_reported_as_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "p.orthogui"
    make_project(path, n_annotations=60)
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 6 * page
    data[2 * page : 5 * page] = b"\xa5" * (3 * page)  # b-tree pages after the header page
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptProjectError, match=r"p\.orthogui: damaged"):
        ProjectStore.open(path)


def test_undecodable_rows_and_journal_are_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "p.orthogui"
    make_project(path)
    sql(path, 'UPDATE journal SET command = \'{"kind": "teleport"}\'')
    with pytest.raises(CorruptProjectError, match=r"undo journal.*teleport"):
        ProjectStore.open(path)
    sql(path, "UPDATE annotations SET data = 'not json'")
    with pytest.raises(CorruptProjectError, match="unreadable rows"):
        ProjectStore.open(path)


def test_journal_out_of_order_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "p.orthogui"
    make_project(path)
    sql(
        path,
        "UPDATE journal SET state = 'undone'",
        "INSERT INTO journal (label, command, state) SELECT label, command, 'done' FROM journal",
    )
    with pytest.raises(CorruptProjectError, match="out of order"):
        ProjectStore.open(path)


# -- failed writes ---------------------------------------------------------------------------
@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "p.orthogui"
    make_project(path)
    return path


@pytest.fixture
def locker(project: Path) -> Iterator[sqlite3.Connection]:
    """A second connection that can hold the write lock, as another process would."""
    conn = sqlite3.connect(project, isolation_level=None)
    yield conn
    conn.close()


def file_state(path: Path) -> tuple[list[tuple[str, str]], list[tuple[int, str, str]]]:
    conn = sqlite3.connect(path)
    anns = conn.execute("SELECT id, data FROM annotations ORDER BY id").fetchall()
    journal = conn.execute("SELECT seq, command, state FROM journal ORDER BY seq").fetchall()
    conn.close()
    return anns, journal


def test_locked_database_rolls_back_push_undo_and_merge(
    project: Path, locker: sqlite3.Connection
) -> None:
    store = ProjectStore.open(project, timeout_s=0.05)
    errors: list[StoreWriteError] = []
    store.write_failed.connect(errors.append)
    a = store.model.annotations()[0]
    store.history.push(set_shape(a, ring(40, cx=101.0), user="u", merge_key="drag"))
    step1 = store.model.annotation(a.id)
    on_disk = file_state(project)

    locker.execute("BEGIN IMMEDIATE")
    # A merge (the drag goes on) fails: the model and the history fall back to step 1.
    with pytest.raises(EmitLoopError) as info:
        store.history.push(set_shape(step1, ring(40, cx=102.0), user="u", merge_key="drag"))
    assert isinstance(info.value.__cause__, StoreWriteError)
    assert "p.orthogui" in str(info.value.__cause__) and "locked" in str(info.value.__cause__)
    assert store.model.annotation(a.id) == step1
    assert (len(store.history), store.history.index) == (2, 2)
    # A new step fails: it disappears from the model and the history.
    with pytest.raises(EmitLoopError):
        store.history.push(set_state([step1], ReviewState.REJECTED, user="u"))
    assert store.model.annotation(a.id) == step1
    assert len(store.history) == 2
    # An undo fails: the step stays applied and can still be undone later.
    with pytest.raises(EmitLoopError):
        store.history.undo()
    assert store.model.annotation(a.id) == step1
    assert store.history.index == 2
    assert len(errors) == 3 and all(e.path == str(project) for e in errors)
    assert file_state(project) == on_disk  # nothing half-written

    locker.execute("ROLLBACK")
    store.history.undo()
    assert store.model.annotation(a.id) == a
    store.close()
    with ProjectStore.open(project) as again:
        assert again.model.annotation(a.id) == a
        assert (len(again.history), again.history.index) == (2, 1)


def test_disk_full_rolls_back_and_the_model_stays_consistent(project: Path) -> None:
    store = ProjectStore.open(project)
    before = {x.id: x for x in store.model.annotations()}
    on_disk = file_state(project)
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]  # type: ignore[union-attr]
    store._conn.execute(f"PRAGMA max_page_count = {pages}")  # type: ignore[union-attr]
    big = screw("im0", 20_000)  # ~500 kB of JSON: needs new pages
    with pytest.raises(EmitLoopError) as info:
        store.history.push(AddAnnotations((big,)))
    assert "full" in str(info.value.__cause__)
    assert {x.id: x for x in store.model.annotations()} == before
    assert len(store.history) == 1
    with pytest.raises(StoreWriteError, match=r"add images.*full"):
        store.add_images([ImageRecord("big", "b.png", "x" * 200_000)])
    assert not store.model.has_image("big")
    store.close()
    assert file_state(project) == on_disk
    conn = sqlite3.connect(project)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_read_only_store_reads_but_every_write_fails(project: Path) -> None:
    with ProjectStore.open(project, read_only=True) as store:
        assert len(store.model.annotations()) == 3
        anns = store.model.annotations()
        with pytest.raises(EmitLoopError) as info:
            store.history.push(set_state(anns, ReviewState.ACCEPTED, user="u"))
        assert "readonly" in str(info.value.__cause__)
        assert store.model.annotations() == anns
        rec = store.model.image("im0")
        with pytest.raises(StoreWriteError, match="update images"):
            store.update_images([rec.evolve(uncertainty=0.5)])
        assert store.model.image("im0") == rec
        with pytest.raises(StoreWriteError):
            store.set_setting("k", 1)


def test_a_second_writer_is_refused_by_the_project_lock(project: Path) -> None:
    store = ProjectStore.open(project)
    with pytest.raises(
        ProjectLockedError, match=r"p\.orthogui: .*open for editing by another window"
    ):
        ProjectStore.open(project)  # the same project opened a second time
    with ProjectStore.open(project, read_only=True) as reader:  # reading beside it is fine
        assert reader.model.annotations() == store.model.annotations()
    store.close()
    ProjectStore.open(project).close()  # closing let go of the lock


def test_a_program_that_commits_around_the_lock_stops_this_store_from_writing(
    project: Path, locker: sqlite3.Connection
) -> None:
    store = ProjectStore.open(project)
    anns = store.model.annotations()
    locker.execute("INSERT INTO settings (key, value) VALUES ('who', '\"twin\"')")
    with pytest.raises(EmitLoopError) as info:
        store.history.push(set_state(anns, ReviewState.REJECTED, user="u"))
    assert "changed by another program" in str(info.value.__cause__)
    assert store.model.annotations() == anns
    with pytest.raises(StoreWriteError, match="open twice"):
        store.set_setting("who", "me")
    store.close()
    with ProjectStore.open(project) as again:
        assert again.get_setting("who") == "twin"
        assert again.model.annotations() == anns


def test_a_file_locked_by_another_program_is_not_called_corrupt(
    project: Path, locker: sqlite3.Connection
) -> None:
    locker.execute("PRAGMA locking_mode = EXCLUSIVE")
    locker.execute("BEGIN EXCLUSIVE")
    with pytest.raises(ProjectStoreError, match=r"p\.orthogui: cannot read: database is locked"):
        ProjectStore.open(project, timeout_s=0.05)
    locker.execute("ROLLBACK")
