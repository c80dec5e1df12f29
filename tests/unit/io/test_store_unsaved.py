"""Failed writes in the window's mode: edits kept in memory, written on retry, rescued by a
copy; read-only files; the project lock across processes and the command line."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from orthogui.core.annotation import ReviewState
from orthogui.core.commands import AddAnnotations
from orthogui.core.project import ImageRecord
from orthogui.core.review import set_shape, set_state
from orthogui.io.store import (
    ProjectLockedError,
    ProjectReadOnlyError,
    ProjectStore,
    ProjectStoreError,
    StoreWriteError,
    holder_of,
    lock_path,
)
from tests.unit.io.store_procs import ROOT, hold_project, hold_sqlite_write_lock
from tests.unit.io.test_store import ring, screw
from tests.unit.io.test_store_errors import file_state, make_project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "p.orthogui"
    make_project(path)
    return path


@pytest.fixture
def keeping(project: Path) -> Iterator[ProjectStore]:
    store = ProjectStore.open(project, timeout_s=0.05)
    store.keep_unsaved_edits()
    yield store
    store.close()


def test_failed_writes_are_kept_and_written_in_order_once_the_cause_is_gone(
    project: Path, keeping: ProjectStore
) -> None:
    store = keeping
    failed: list[StoreWriteError] = []
    recovered: list[bool] = []
    store.write_failed.connect(failed.append)
    store.write_recovered.connect(lambda: recovered.append(True))
    original = store.model.annotations()
    a = original[0]
    on_disk = file_state(project)

    holder = hold_sqlite_write_lock(project)  # another process in a write transaction
    try:
        store.history.push(set_shape(a, ring(40, cx=120.0), user="u"))  # no exception ...
        store.history.close_merge()
        added = screw("im0", 30)
        store.history.push(AddAnnotations((added,)))
        store.history.push(
            set_state([store.model.annotation(a.id)], ReviewState.REJECTED, user="u")
        )
        store.history.undo()  # ... an undo is an edit like any other
        store.update_images([store.model.image("im0").evolve(uncertainty=0.25)])
        store.set_setting("last", "kept")
        # ... each failure is reported, the model and the history keep every edit.
        assert len(failed) == 6 and all("locked" in str(e) for e in failed)
        assert "p.orthogui" in str(failed[0]) and "kept in this window" in str(failed[0])
        assert store.unsaved == 4 and store.last_error is failed[-1]
        assert store.model.annotation(a.id).shape == ring(40, cx=120.0)
        assert store.model.get(added.id) == added
        assert (len(store.history), store.history.index) == (4, 3)
        assert store.get_setting("last") == "kept"
        assert file_state(project) == on_disk  # nothing half-written
        assert store.retry() is False  # still locked: kept, reported again
        assert len(failed) == 7 and store.unsaved == 4
    finally:
        holder.release()

    assert store.retry() is True
    assert recovered == [True] and store.unsaved == 0 and store.last_error is None
    # The next edit after a recovery is written at once, as usual.
    store.history.redo()
    assert store.unsaved == 0
    store.close()
    with ProjectStore.open(project) as again:
        assert again.model.annotation(a.id).shape == ring(40, cx=120.0)
        assert again.model.annotation(a.id).review.state == ReviewState.REJECTED
        assert again.model.get(added.id) == added
        assert again.model.image("im0").uncertainty == 0.25
        assert again.get_setting("last") == "kept"
        assert (len(again.history), again.history.index) == (4, 4)
        for _ in range(3):  # the journal is consistent: our three steps undo ...
            assert again.history.undo()
        assert again.model.annotations() == original
        while again.history.redo():  # ... and redo to the same end
            pass
        assert again.model.annotation(a.id).review.state == ReviewState.REJECTED


def test_the_next_edit_retries_the_kept_ones(project: Path, keeping: ProjectStore) -> None:
    a = keeping.model.annotations()[0]
    holder = hold_sqlite_write_lock(project)
    try:
        keeping.history.push(set_state([a], ReviewState.ACCEPTED, user="u"))
        assert keeping.unsaved == 1
    finally:
        holder.release()
    b = keeping.model.annotations()[1]
    keeping.history.push(set_state([b], ReviewState.REJECTED, user="u"))  # writes both
    assert keeping.unsaved == 0
    keeping.close()
    with ProjectStore.open(project) as again:
        assert again.model.annotation(a.id).review.state == ReviewState.ACCEPTED
        assert again.model.annotation(b.id).review.state == ReviewState.REJECTED
        assert len(again.history) == 3


def test_save_a_copy_rescues_unsaved_edits(project: Path, keeping: ProjectStore) -> None:
    a = keeping.model.annotations()[0]
    holder = hold_sqlite_write_lock(project)
    try:
        keeping.history.push(set_state([a], ReviewState.ACCEPTED, user="u"))
        keeping.history.push(AddAnnotations((screw("im0", 8),)))
        keeping.history.undo()
        copy = keeping.save_copy(project.with_name("rescued.orthogui"))
    finally:
        holder.release()
    with ProjectStore.open(copy) as rescued:
        assert rescued.model.annotations() == keeping.model.annotations()
        assert rescued.model.images() == keeping.model.images()
        assert (len(rescued.history), rescued.history.index) == (3, 2)
        assert rescued.get_setting("user") == keeping.get_setting("user")
        rescued.history.redo()  # the redo branch came along
        assert len(rescued.model.annotations()) == 4
    with pytest.raises(ProjectStoreError, match="cannot replace the project"):
        keeping.save_copy(project)


def test_a_write_protected_file_opens_read_only_and_edits_are_refused(project: Path) -> None:
    """chmod 0444 (as root too: the owner's write bit is the signal; SQLite then really opens
    the file read-only, so a write attempt fails inside SQLite)."""
    os.chmod(project, 0o444)
    before = project.read_bytes()
    with pytest.raises(ProjectReadOnlyError, match=r"p\.orthogui: .*read-only"):
        ProjectStore.open(project, require_write=True)
    with ProjectStore.open(project) as store:
        assert store.read_only and "read-only" in store.read_only_reason
        assert not lock_path(project).exists()  # a reader takes no lock
        store.keep_unsaved_edits()
        failed: list[StoreWriteError] = []
        store.write_failed.connect(failed.append)
        anns = store.model.annotations()
        store.history.push(set_state(anns, ReviewState.ACCEPTED, user="u"))
        assert store.model.annotations() == anns and len(store.history) == 1  # taken back
        assert len(failed) == 1 and "read-only" in str(failed[0])
        assert store.add_images([ImageRecord("new", "n.png", "hn")]) == []
        assert len(failed) == 2
    assert project.read_bytes() == before


def test_a_second_process_is_refused_with_its_holder_named(project: Path) -> None:
    holder = hold_project(project)
    try:
        with pytest.raises(ProjectLockedError, match=rf"pid {holder.pid}\) on host") as info:
            ProjectStore.open(project)
        assert str(project) in str(info.value)
        info_on_disk = holder_of(project)
        assert info_on_disk is not None and info_on_disk.pid == holder.pid
        with ProjectStore.open(project, read_only=True) as reader:
            assert len(reader.model.annotations()) == 3
    finally:
        holder.release()
    ProjectStore.open(project).close()


def test_a_lock_left_by_a_killed_process_is_taken_over(project: Path) -> None:
    holder = hold_project(project)
    holder.kill()  # SIGKILL: the lock file stays behind, the OS lock does not
    assert lock_path(project).exists()
    with ProjectStore.open(project) as store:
        info = holder_of(project)
        assert info is not None and info.pid == os.getpid()
        store.set_setting("after", 1)


@pytest.mark.parametrize("command", ["import", "predict"])
def test_the_command_line_refuses_a_project_open_elsewhere(
    project: Path, command: str, test_data: Path
) -> None:
    argv = {
        "import": ["import", "coco", str(test_data / "fracatlas" / "annotations.json")],
        "predict": ["predict", "--model", "no-such-model"],
    }[command] + ["--project", str(project)]
    with ProjectStore.open(project):  # the window has it open
        run = subprocess.run(
            [sys.executable, "-m", "orthogui", *argv],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert run.returncode != 0
    assert str(project) in run.stderr and f"pid {os.getpid()}" in run.stderr, run.stderr
    assert "open for editing" in run.stderr


def test_store_lock_survives_sqlite_level_second_connection(project: Path) -> None:
    """SQLite readers beside the store (backups, viewers) are not refused by the lock."""
    with ProjectStore.open(project):
        conn = sqlite3.connect(project)
        assert conn.execute("SELECT count(*) FROM annotations").fetchone()[0] == 3
        conn.close()
