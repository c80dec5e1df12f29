"""``ProjectStore``: one SQLite file per project; every committed edit is one transaction.

The store owns the project's ``ProjectModel`` and ``History`` and listens to
``History.changed``: the rows a command touches and its journal entry are written together.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from psygnal import EmitLoopError, Signal

from orthogui.core.annotation import Annotation
from orthogui.core.categories import DEFAULT_CATEGORIES, CategorySet
from orthogui.core.commands import (
    AddAnnotations,
    Command,
    RemoveAnnotations,
    UpdateAnnotations,
    command_from_json,
)
from orthogui.core.history import History, HistoryEvent
from orthogui.core.project import ImageRecord, ProjectModel
from orthogui.io.store import codec, schema
from orthogui.io.store.errors import (
    CorruptProjectError,
    NotAProjectError,
    ProjectStoreError,
    SchemaTooNewError,
    StoreWriteError,
)

#: Suggested suffix of project files (the store accepts any name).
PROJECT_SUFFIX = ".orthogui"
SQLITE_MAGIC = b"SQLite format 3\x00"
Synchronous = Literal["full", "normal"]

_UPSERT_ANNOTATION = (
    f"INSERT INTO annotations ({codec.ANNOTATION_COLUMNS}) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT(id) DO UPDATE SET image_id = excluded.image_id, data = excluded.data, "
    "category = excluded.category, review_state = excluded.review_state"
)
# An upsert, not INSERT OR REPLACE: the row keeps its rowid, so load order = model order.
_UPSERT_IMAGE = (
    f"INSERT INTO images ({codec.IMAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(id) DO UPDATE SET path = excluded.path, sha256 = excluded.sha256, "
    "width = excluded.width, height = excluded.height, status = excluded.status, "
    "uncertainty = excluded.uncertainty, study_key = excluded.study_key, "
    "attributes = excluded.attributes"
)
_INSERT_IMAGE = f"INSERT INTO images ({codec.IMAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_LAST_DONE = "(SELECT max(seq) FROM journal WHERE state = 'done')"
_FIRST_UNDONE = "(SELECT min(seq) FROM journal WHERE state = 'undone')"
# Recoverable write failures; anything else is a bug and propagates unchanged.
_WRITE_ERRORS = (sqlite3.Error, ValueError, TypeError)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class ProjectStore:
    """A project on disk: images, annotations, review states, categories, settings, undo journal.

    Durability: the file is in WAL mode. With ``synchronous="full"`` (the default) each commit
    is flushed to disk before the edit returns, so neither a killed process nor a power cut
    loses a committed edit; ``"normal"`` skips that flush (0.3 instead of 0.9 ms per edit on
    the test machine, a larger gain on slow disks) and can lose the last edits on a power cut or OS crash, never on a process crash, and never
    corrupts the file. WAL needs a local disk: do not keep projects on network shares.

    Write failures (disk full, read-only file, database locked by another process) roll the
    transaction back, then bring the model and the history back to what the file holds (the
    failed edit disappears from the screen), emit ``write_failed`` and raise
    ``StoreWriteError``. Raised inside ``History.push``/``undo``/``redo``, it reaches the
    caller as ``psygnal.EmitLoopError`` whose ``__cause__`` is the ``StoreWriteError``.

    The first writer owns the file: once another connection commits to it (the project
    opened twice), every later write of this store fails with ``StoreWriteError``.

    Writes run on the caller's thread (the GUI thread): each is one small transaction (about
    1 ms for a 100-vertex polygon edit, see ``bench/store_edits.py``). ``open`` reads and
    decodes the whole project and journal (about 0.1 ms per annotation), so it may run on a
    worker thread; afterwards one thread at a time uses the store. Build it with ``create``
    or ``open``, never directly.
    """

    write_failed = Signal(object)  # StoreWriteError, after the model was re-synchronised

    def __init__(
        self,
        path: Path,
        conn: sqlite3.Connection,
        model: ProjectModel,
        history: History,
        *,
        read_only: bool,
    ) -> None:
        self.path = path
        self.model = model
        self.history = history
        self.read_only = read_only
        self._conn: sqlite3.Connection | None = conn
        # Changes only when another connection commits: a second writer (the project open
        # twice) would make the journal and this history disagree, so writes stop instead.
        self._data_version = conn.execute("PRAGMA data_version").fetchone()[0]
        self._applied = history.index  # journal rows in state 'done', mirrored in memory
        self._journal: dict[str, Callable[[sqlite3.Connection, HistoryEvent], None]] = {
            "push": self._journal_push,
            "merge": self._journal_merge,
            "undo": self._journal_undo,
            "redo": self._journal_redo,
        }
        self._pending_images: list[ImageRecord] = []  # written with the next history step
        history.changed.connect(self._on_history_changed)

    # -- opening --------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: str | Path,
        *,
        categories: CategorySet = DEFAULT_CATEGORIES,
        user: str = "",
        synchronous: Synchronous = "full",
        timeout_s: float = 2.0,
    ) -> ProjectStore:
        """Create a new, empty project file.

        Parameters
        ----------
        path
            The new file; its folder must exist and the file must not.
        categories
            The project's category set, stored with the project.
        user
            Default reviewer name, kept as the ``user`` setting.
        synchronous, timeout_s
            Durability (see the class docstring) and how long a write waits for a lock.

        Raises
        ------
        ProjectStoreError
            The file exists, its folder is missing, or it cannot be written.
        """
        path = Path(path)
        if not path.parent.is_dir():
            raise ProjectStoreError(path, "cannot create a project: the folder does not exist")
        try:
            # Exclusive create: never overwrite an existing project, even in a race.
            with open(path, "xb"):
                pass
        except FileExistsError as exc:
            raise ProjectStoreError(path, "cannot create a project: the file exists") from exc
        except OSError as exc:
            raise ProjectStoreError(path, f"cannot create a project: {exc.strerror}") from exc
        conn: sqlite3.Connection | None = None
        try:
            conn = _connect(path, read_only=False, timeout_s=timeout_s)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("BEGIN IMMEDIATE")
            schema.create_schema(conn)
            _write_categories(conn, categories)
            conn.execute(
                "INSERT INTO settings (key, value) VALUES ('user', ?), ('created_at', ?)",
                (codec.dumps(user), codec.dumps(_now())),
            )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            path.unlink(missing_ok=True)
            raise ProjectStoreError(path, f"cannot create a project: {exc}") from exc
        _configure(conn, synchronous=synchronous, read_only=False)
        model = ProjectModel(categories)
        return cls(path, conn, model, History(model), read_only=False)

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        read_only: bool = False,
        check: bool = True,
        synchronous: Synchronous = "full",
        timeout_s: float = 2.0,
    ) -> ProjectStore:
        """Open an existing project: recognise it, migrate it, load the model and the undo history.

        Parameters
        ----------
        path
            The project file.
        read_only
            Open without write access (for exports); every edit then fails with
            ``StoreWriteError``. A file that needs a migration cannot be opened read-only.
        check
            Run SQLite's ``quick_check`` first (a full read of the file, about 1 s per GB).
        synchronous, timeout_s
            Durability (see the class docstring) and how long a write waits for a lock.

        Raises
        ------
        NotAProjectError
            Missing, empty, not SQLite, or an SQLite file of another application.
        SchemaTooNewError
            Written by a newer OrthoGUI.
        CorruptProjectError
            Damaged file or rows that do not decode.
        ProjectStoreError
            Any other reason it cannot be opened (locked during migration, permissions).
        """
        path = Path(path)
        _check_header(path)
        try:
            conn = _connect(path, read_only=read_only, timeout_s=timeout_s)
        except sqlite3.Error as exc:
            raise ProjectStoreError(path, f"cannot open: {exc}") from exc
        try:
            _check_identity(conn, path, check=check)
            _configure(conn, synchronous=synchronous, read_only=read_only)
            _migrate_if_needed(conn, path, read_only=read_only)
            model, commands, index = _load(conn, path)
        except BaseException:
            conn.close()
            raise
        history = History(model)
        history.restore(commands, index)
        return cls(path, conn, model, history, read_only=read_only)

    # -- lifetime -------------------------------------------------------------------------
    def close(self) -> None:
        """Stop listening to the history and close the file (a second call does nothing)."""
        if self._conn is None:
            return
        self.history.changed.disconnect(self._on_history_changed)
        self._conn.close()
        self._conn = None

    def __enter__(self) -> ProjectStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._conn is None

    @property
    def user(self) -> str:
        """The default reviewer name given at creation (setting ``user``)."""
        return str(self.get_setting("user", ""))

    # -- images ---------------------------------------------------------------------------
    def image_path(self, record: ImageRecord) -> Path:
        """The absolute path of an image (stored paths are relative to the project folder)."""
        p = Path(record.path)
        return p if p.is_absolute() else self.path.parent / p

    def add_images(self, records: Sequence[ImageRecord]) -> list[ImageRecord]:
        """Add images to the project in one transaction (not undoable).

        An image whose ``sha256`` is already in the project, or earlier in ``records``, is
        skipped; without a hash, the path decides. Absolute paths inside the project folder
        are stored relative to it (POSIX separators) so the folder can move; relative paths
        are taken as relative to the project folder already.

        Parameters
        ----------
        records
            Images to add.

        Returns
        -------
        list[ImageRecord]
            The records added, as stored (with their stored path).

        Raises
        ------
        ValueError
            A record reuses the id of a different image.
        StoreWriteError
            The write failed; nothing was added to the file or the model.
        """
        added = self._new_images(records)
        if added:
            self._write(
                "add images",
                lambda c: c.executemany(_INSERT_IMAGE, [codec.image_to_row(r) for r in added]),
            )
            for r in added:
                self.model.put_image(r)
        return added

    def add_images_and_push(
        self, records: Sequence[ImageRecord], command: Command
    ) -> list[ImageRecord]:
        """Add images and push ``command`` on the history in one transaction (an import).

        The images are added as by ``add_images`` (not undoable); the command is one undo
        step. Either both are saved, or neither: on failure the file, the model and the
        history are as they were.

        Parameters
        ----------
        records
            Images to add (those already in the project are skipped, as by ``add_images``).
        command
            The step to push, e.g. ``AddAnnotations`` on these images.

        Returns
        -------
        list[ImageRecord]
            The records added, as stored.

        Raises
        ------
        ValueError
            A record reuses the id of a different image.
        StoreWriteError
            The write failed; nothing was saved and nothing changed in memory.
        """
        added = self._new_images(records)
        for r in added:
            self.model.put_image(r)
        self._pending_images = added
        try:
            self.history.push(command)
        except BaseException as exc:
            # The store's own failure already re-synchronised; anything else (a command
            # that did not apply) is taken back here the same way, from the file.
            self._resync(command, StoreWriteError(self.path, "import taken back"))
            for r in added:
                self.model.remove_image(r.id)
            if isinstance(exc, EmitLoopError) and isinstance(exc.__cause__, ProjectStoreError):
                raise exc.__cause__ from exc
            raise
        finally:
            self._pending_images = []
        return added

    def _new_images(self, records: Sequence[ImageRecord]) -> list[ImageRecord]:
        """The records ``add_images`` would add, as stored (duplicates skipped)."""
        seen_hashes = {im.sha256 for im in self.model.images() if im.sha256}
        seen_paths = {im.path for im in self.model.images()}
        added: list[ImageRecord] = []
        for record in records:
            stored = record.evolve(path=self._stored_path(record.path))
            if stored.sha256 in seen_hashes or (not stored.sha256 and stored.path in seen_paths):
                continue
            if self.model.has_image(stored.id) or any(a.id == stored.id for a in added):
                raise ValueError(f"image id {stored.id} is already used by another image")
            added.append(stored)
            seen_paths.add(stored.path)
            if stored.sha256:
                seen_hashes.add(stored.sha256)
        return added

    def update_images(self, records: Sequence[ImageRecord]) -> None:
        """Replace image records (uncertainty, size...) in one transaction; not undoable.

        Raises
        ------
        KeyError
            A record's id is not in the project (add it with ``add_images``).
        StoreWriteError
            The write failed; the file and the model keep the old records.
        """
        stored = [r.evolve(path=self._stored_path(r.path)) for r in records]
        for r in stored:
            if not self.model.has_image(r.id):
                raise KeyError(f"image {r.id} is not in the project")
        self._write(
            "update images",
            lambda c: c.executemany(_UPSERT_IMAGE, [codec.image_to_row(r) for r in stored]),
        )
        for r in stored:
            self.model.put_image(r)

    def _stored_path(self, raw: str) -> str:
        p = Path(raw)
        if not p.is_absolute():
            return p.as_posix()
        folder = Path(os.path.abspath(self.path.parent))
        absolute = Path(os.path.abspath(p))
        try:
            return absolute.relative_to(folder).as_posix()
        except ValueError:
            return str(absolute)

    # -- categories and settings ----------------------------------------------------------
    def set_categories(self, categories: CategorySet) -> None:
        """Replace the project's category set (not undoable)."""
        self._write("set categories", lambda c: _write_categories(c, categories))
        self.model.categories = categories

    def get_setting(self, key: str, default: Any = None) -> Any:
        """A project setting (any JSON value), or ``default`` when unset."""
        row = (
            self._connection()
            .execute("SELECT value FROM settings WHERE key = ?", (key,))
            .fetchone()
        )
        return default if row is None else json.loads(row[0])

    def set_setting(self, key: str, value: Any) -> None:
        """Store a project setting.

        Raises
        ------
        ValueError
            ``value`` is not plain JSON (NaN, infinities, objects).
        StoreWriteError
            The write failed; the old value stays.
        """
        try:
            text = codec.dumps(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"setting {key!r} is not plain JSON: {exc}") from exc
        self._write(
            f"setting {key!r}",
            lambda c: c.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, text),
            ),
        )

    # -- writing --------------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ProjectStoreError(self.path, "the project is closed")
        return self._conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("PRAGMA data_version").fetchone()[0] != self._data_version:
                raise ValueError(
                    "the file was changed by another program since it was opened "
                    "(is the project open twice?): close it and open it again"
                )
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            # Some errors (disk full) already rolled the transaction back inside SQLite.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _write(self, what: str, body: Callable[[sqlite3.Connection], object]) -> None:
        try:
            with self._transaction() as conn:
                body(conn)
        except _WRITE_ERRORS as exc:
            raise StoreWriteError(self.path, f"could not save {what}: {exc}") from exc

    def _on_history_changed(self, event: HistoryEvent) -> None:
        expected = self._applied + {"push": 1, "merge": 0, "undo": -1, "redo": 1}[event.kind]
        try:
            if event.index != expected:
                # The history was changed behind the store's back (restore, a missed event).
                raise ValueError(
                    f"history out of step with the journal ({event.index} != {expected})"
                )
            with self._transaction() as conn:
                if self._pending_images:  # add_images_and_push: the images in the same step
                    rows = [codec.image_to_row(r) for r in self._pending_images]
                    conn.executemany(_INSERT_IMAGE, rows)
                self._write_rows(conn, event.command)
                self._journal[event.kind](conn, event)
        except _WRITE_ERRORS as exc:
            error = StoreWriteError(
                self.path,
                f"could not save {event.kind} of {event.command.label!r} ({exc}); "
                "the edit was taken back",
            )
            self._resync(event.command, error)
            self.write_failed.emit(error)
            raise error from exc
        self._applied = event.index

    def _write_rows(self, conn: sqlite3.Connection, command: Command) -> None:
        present: list[Annotation] = []
        absent: list[tuple[str]] = []
        for ann_id in sorted(command.annotation_ids()):
            ann = self.model.get(ann_id)
            if ann is None:
                absent.append((ann_id,))
            else:
                present.append(ann)
        if absent:
            conn.executemany("DELETE FROM annotations WHERE id = ?", absent)
        if present:
            # New rows get increasing rowids: insert them in the model's per-image order so
            # that loading by rowid gives the same drawing order back.
            position: dict[str, int] = {}
            for image_id in {a.image_id for a in present}:
                ids = (a.id for a in self.model.annotations(image_id))
                position.update((ann_id, i) for i, ann_id in enumerate(ids))
            present.sort(key=lambda a: position[a.id])
            conn.executemany(_UPSERT_ANNOTATION, [codec.annotation_to_row(a) for a in present])
        images = [self.model.image(i) for i in sorted(command.image_ids())]
        if images:
            conn.executemany(_UPSERT_IMAGE, [codec.image_to_row(im) for im in images])

    @staticmethod
    def _journal_push(conn: sqlite3.Connection, event: HistoryEvent) -> None:
        conn.execute("DELETE FROM journal WHERE state = 'undone'")  # the redo branch is gone
        conn.execute(
            "INSERT INTO journal (label, command, state, at) VALUES (?, ?, 'done', ?)",
            (event.command.label, codec.dumps(event.command.to_json()), _now()),
        )

    @staticmethod
    def _journal_merge(conn: sqlite3.Connection, event: HistoryEvent) -> None:
        cur = conn.execute(
            f"UPDATE journal SET label = ?, command = ?, at = ? WHERE seq = {_LAST_DONE}",
            (event.command.label, codec.dumps(event.command.to_json()), _now()),
        )
        _expect_one(cur, "merge")

    @staticmethod
    def _journal_undo(conn: sqlite3.Connection, event: HistoryEvent) -> None:
        cur = conn.execute(f"UPDATE journal SET state = 'undone' WHERE seq = {_LAST_DONE}")
        _expect_one(cur, "undo")

    @staticmethod
    def _journal_redo(conn: sqlite3.Connection, event: HistoryEvent) -> None:
        cur = conn.execute(f"UPDATE journal SET state = 'done' WHERE seq = {_FIRST_UNDONE}")
        _expect_one(cur, "redo")

    def _resync(self, command: Command, error: StoreWriteError) -> None:
        """Make the touched model rows and the history equal to the file again."""
        try:
            conn = self._connection()
            before: list[Annotation] = []
            after: list[Annotation] = []
            removed: list[Annotation] = []
            added: list[Annotation] = []
            for ann_id in sorted(command.annotation_ids()):
                row = conn.execute(
                    "SELECT data FROM annotations WHERE id = ?", (ann_id,)
                ).fetchone()
                on_disk = None if row is None else codec.annotation_from_data(row[0])
                in_memory = self.model.get(ann_id)
                if on_disk is None and in_memory is not None:
                    removed.append(in_memory)
                elif on_disk is not None and in_memory is None:
                    added.append(on_disk)
                elif on_disk is not None and in_memory is not None and on_disk != in_memory:
                    before.append(in_memory)
                    after.append(on_disk)
            # Applied directly, not pushed: these restore the file's state, they are no edit.
            RemoveAnnotations(tuple(removed)).apply(self.model)
            AddAnnotations(tuple(added)).apply(self.model)
            UpdateAnnotations(tuple(before), tuple(after)).apply(self.model)
            for image_id in sorted(command.image_ids()):
                row = conn.execute(
                    f"SELECT {codec.IMAGE_COLUMNS} FROM images WHERE id = ?", (image_id,)
                ).fetchone()
                if row is not None:
                    self.model.put_image(codec.image_from_row(row))
            commands, index = _read_journal(conn, self.path)
        except (ProjectStoreError, *_WRITE_ERRORS) as exc:
            error.reason += f"; re-reading the file failed too ({exc}): reopen the project"
            error.args = (f"{error.path}: {error.reason}",)
            return
        self.history.restore(commands, index)
        self._applied = index


# -- helpers for opening ------------------------------------------------------------------
def _connect(path: Path, *, read_only: bool, timeout_s: float) -> sqlite3.Connection:
    # mode=rw: sqlite3.connect would otherwise create a missing file.
    uri = f"{path.resolve().as_uri()}?mode={'ro' if read_only else 'rw'}"
    # isolation_level=None: the store issues BEGIN/COMMIT itself, one transaction per edit.
    # check_same_thread=False: a project may be opened on a worker thread and then used on the
    # GUI thread; the store is never used by two threads at once.
    return sqlite3.connect(
        uri, uri=True, timeout=timeout_s, isolation_level=None, check_same_thread=False
    )


def _configure(conn: sqlite3.Connection, *, synchronous: Synchronous, read_only: bool) -> None:
    if not read_only:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
    conn.execute("PRAGMA foreign_keys = ON")


def _check_header(path: Path) -> None:
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


def _check_identity(conn: sqlite3.Connection, path: Path, *, check: bool) -> None:
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


def _migrate_if_needed(conn: sqlite3.Connection, path: Path, *, read_only: bool) -> None:
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


def _load(conn: sqlite3.Connection, path: Path) -> tuple[ProjectModel, list[Command], int]:
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
    except (sqlite3.DatabaseError, ValueError, KeyError, TypeError) as exc:
        raise CorruptProjectError(path, f"unreadable rows ({exc})") from exc
    model = ProjectModel(categories)
    model.load(images, annotations)
    commands, index = _read_journal(conn, path)
    return model, commands, index


def _read_journal(conn: sqlite3.Connection, path: Path) -> tuple[list[Command], int]:
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


def _write_categories(conn: sqlite3.Connection, categories: CategorySet) -> None:
    conn.execute("DELETE FROM categories")
    conn.executemany(
        "INSERT INTO categories (id, position, data) VALUES (?, ?, ?)",
        [(c.id, i, codec.dumps(codec.category_to_dict(c))) for i, c in enumerate(categories)],
    )


def _expect_one(cur: sqlite3.Cursor, what: str) -> None:
    if cur.rowcount != 1:
        raise ValueError(f"the journal has no step to {what}")
