"""``ProjectStore``: one SQLite file per project; every committed edit is one transaction.

The store owns the project's ``ProjectModel`` and ``History`` and listens to
``History.changed``: the rows a command touches and its journal entry are written together.
A store open for writing holds the project lock (``lock``); a failed write can keep the edit
in memory and write it later (``keep_unsaved_edits``, ``retry``, ``save_copy``).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from psygnal import EmitLoopError, Signal

from orthogui.core.annotation import Annotation
from orthogui.core.categories import DEFAULT_CATEGORIES, CategorySet
from orthogui.core.commands import (
    AddAnnotations,
    Command,
    RemoveAnnotations,
    UpdateAnnotations,
)
from orthogui.core.history import History, HistoryEvent
from orthogui.core.project import ImageAddition, ImageRecord, ProjectModel, sort_additions
from orthogui.io.store import codec, journal, measurement_rows, opening, rescue, schema
from orthogui.io.store.errors import ProjectReadOnlyError, ProjectStoreError, StoreWriteError
from orthogui.io.store.lock import ProjectLock
from orthogui.io.store.opening import SQLITE_MAGIC, Synchronous

__all__ = ["PROJECT_SUFFIX", "SQLITE_MAGIC", "ProjectStore", "Synchronous"]

#: Suggested suffix of project files (the store accepts any name).
PROJECT_SUFFIX = ".orthogui"
_log = logging.getLogger(__name__)

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
# Recoverable write failures; anything else is a bug and propagates unchanged.
_WRITE_ERRORS = (sqlite3.Error, ValueError, TypeError)
_STEP = {"push": 1, "merge": 0, "undo": -1, "redo": 1}


class ProjectStore:
    """A project on disk: images, annotations, review states, categories, settings, undo journal.

    Durability: the file is in WAL mode. With ``synchronous="full"`` (the default) each commit
    is flushed to disk before the edit returns, so neither a killed process nor a power cut
    loses a committed edit; ``"normal"`` skips that flush (0.3 instead of 0.9 ms per edit on
    the test machine, a larger gain on slow disks) and can lose the last edits on a power cut or OS crash, never on a process crash, and never
    corrupts the file. WAL needs a local disk: do not keep projects on network shares.

    Write failures (disk full, read-only file, database locked by another process) roll the
    transaction back. By default the store then brings the model and the history back to
    what the file holds (the failed edit disappears), emits ``write_failed`` and raises
    ``StoreWriteError``; raised inside ``History.push``/``undo``/``redo``, it reaches the
    caller as ``psygnal.EmitLoopError`` whose ``__cause__`` is the ``StoreWriteError``. After
    ``keep_unsaved_edits()`` (the window) a failed edit instead stays in the model and the
    history, is kept as unsaved, ``write_failed`` is emitted and nothing is raised; the next
    write or ``retry()`` writes every unsaved edit, in order, in one transaction, and emits
    ``write_recovered``. ``save_copy`` writes the whole project from memory to a new file. A
    read-only store refuses edits in that mode: they are taken back and reported.

    One writer per project: a store open for writing holds the project lock (``lock``), so a
    second ``open`` for writing, in any process, raises ``ProjectLockedError`` naming the
    holder. Should another program commit to the file anyway, every later write of this
    store fails with ``StoreWriteError`` rather than mix its journal with ours.

    Writes run on the caller's thread (the GUI thread): each is one small transaction (about
    1 ms for a 100-vertex polygon edit, see ``bench/store_edits.py``). ``open`` reads and
    decodes the whole project and journal (about 0.1 ms per annotation), so it may run on a
    worker thread; afterwards one thread at a time uses the store. Build it with ``create``
    or ``open``, never directly.
    """

    write_failed = Signal(object)  # StoreWriteError (the edit kept, or taken back)
    write_recovered = Signal()  # the unsaved edits were written after failures

    def __init__(
        self,
        path: Path,
        conn: sqlite3.Connection,
        model: ProjectModel,
        history: History,
        *,
        read_only: bool,
        lock: ProjectLock | None = None,
        read_only_reason: str = "",
    ) -> None:
        self.path = path
        self.model = model
        self.history = history
        self.read_only = read_only
        #: Why the store is read-only, for messages ("" when writable).
        self.read_only_reason = read_only_reason or ("opened read-only" if read_only else "")
        #: The last write failure while edits are unsaved; None once all are written.
        self.last_error: StoreWriteError | None = None
        self._lock = lock
        self._conn: sqlite3.Connection | None = conn
        self._settings = opening.read_settings(conn, path)
        # Changes only when another connection commits: a second writer (the project open
        # twice) would make the journal and this history disagree, so writes stop instead.
        self._data_version = conn.execute("PRAGMA data_version").fetchone()[0]
        self._applied = history.index  # journal rows in state 'done', mirrored in memory
        self._seen = history.index  # the history index after the last event the store saw
        self._keep = False
        # Unsaved after failed writes, written in order by the next transaction: history
        # events (journal), ids whose rows must equal the model, settings and categories.
        self._events: list[HistoryEvent] = []
        self._dirty_annotations: dict[str, None] = {}
        self._dirty_images: dict[str, None] = {}
        self._dirty_measurements: dict[str, None] = {}
        self._dirty_settings: dict[str, str] = {}
        self._dirty_categories = False
        self._journal: dict[str, Callable[[sqlite3.Connection, HistoryEvent], None]] = {
            "push": journal.push,
            "merge": journal.merge,
            "undo": journal.undo,
            "redo": journal.redo,
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
        ProjectLockedError
            Another store holds the lock of this name (a project being replaced elsewhere).
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
            lock = ProjectLock.acquire(path)
        except ProjectStoreError:
            path.unlink(missing_ok=True)
            raise
        try:
            conn = opening.connect(path, read_only=False, timeout_s=timeout_s)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("BEGIN IMMEDIATE")
            schema.create_schema(conn)
            opening.write_categories(conn, categories)
            conn.execute(
                "INSERT INTO settings (key, value) VALUES ('user', ?), ('created_at', ?)",
                (codec.dumps(user), codec.dumps(journal.now())),
            )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            path.unlink(missing_ok=True)
            lock.release()
            raise ProjectStoreError(path, f"cannot create a project: {exc}") from exc
        opening.configure(conn, synchronous=synchronous, read_only=False)
        model = ProjectModel(categories)
        return cls(path, conn, model, History(model), read_only=False, lock=lock)

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        read_only: bool = False,
        require_write: bool = False,
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
            Open without write access (for exports, or beside another writer); every edit
            then fails with ``StoreWriteError``. A file that needs a migration cannot be
            opened read-only. A write-protected file (``opening.file_is_writable``) is opened
            read-only in any case, with ``read_only_reason`` saying so.
        require_write
            Refuse a write-protected file instead (the command line).
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
        ProjectLockedError
            Opened for writing while another store (any process) has it open for writing;
            the error names the holder.
        ProjectReadOnlyError
            ``require_write`` and the file is write-protected.
        ProjectStoreError
            Any other reason it cannot be opened (locked during migration, permissions).
        """
        path = Path(path)
        opening.check_header(path)
        reason = "opened read-only" if read_only else ""
        if not read_only and not opening.file_is_writable(path):
            reason = "the project file is read-only (write-protected)"
            if require_write:
                raise ProjectReadOnlyError(path, f"{reason}: it cannot be changed")
            read_only = True
        lock = None if read_only else ProjectLock.acquire(path)
        try:
            conn = opening.connect(path, read_only=read_only, timeout_s=timeout_s)
        except sqlite3.Error as exc:
            if lock is not None:
                lock.release()
            raise ProjectStoreError(path, f"cannot open: {exc}") from exc
        try:
            opening.check_identity(conn, path, check=check)
            opening.configure(conn, synchronous=synchronous, read_only=read_only)
            opening.migrate_if_needed(conn, path, read_only=read_only)
            model, commands, index = opening.load(conn, path)
            store = cls(
                path,
                conn,
                model,
                History(model),
                read_only=read_only,
                lock=lock,
                read_only_reason=reason,
            )
        except BaseException:
            conn.close()
            if lock is not None:
                lock.release()
            raise
        store.history.restore(commands, index)
        store._applied = store._seen = index
        return store

    # -- lifetime -------------------------------------------------------------------------
    def close(self) -> None:
        """Stop listening to the history and close the file (a second call does nothing)."""
        if self._conn is None:
            return
        if self.unsaved:
            _log.warning("%s: closed with %d unsaved edit(s)", self.path, self.unsaved)
        self.history.changed.disconnect(self._on_history_changed)
        self._conn.close()
        self._conn = None
        if self._lock is not None:
            self._lock.release()

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
            The write failed; nothing was added to the file or the model. (After
            ``keep_unsaved_edits`` nothing is raised: the images are kept unsaved, or, in a
            read-only store, refused, and ``write_failed`` says so.)
        """
        return list(self.add_images_reporting(records).added)

    def add_images_reporting(self, records: Sequence[ImageRecord]) -> ImageAddition:
        """``add_images``, saying also which records were skipped as already in the project
        (``ImageAddition.summary`` words it: "12 added, 3 already in the project: …")."""
        report = self._new_images(records)
        added = list(report.added)
        if not added:
            return report
        if self._keep and self.read_only:
            self._report(self._refusal(f"{len(added)} image(s) were not added"))
            return ImageAddition((), report.duplicates)
        self._save(
            "add images",
            lambda c: c.executemany(_INSERT_IMAGE, [codec.image_to_row(r) for r in added]),
            images=[r.id for r in added],
            apply=lambda: self._put_images(added),
        )
        return report

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
        added = list(self._new_images(records).added)
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

    def _new_images(self, records: Sequence[ImageRecord]) -> ImageAddition:
        """The records ``add_images`` would add, as stored, and the duplicates it skips."""
        stored = [r.evolve(path=self._stored_path(r.path)) for r in records]
        return sort_additions(self.model.images(), stored)

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
        self._save(
            "update images",
            lambda c: c.executemany(_UPSERT_IMAGE, [codec.image_to_row(r) for r in stored]),
            images=[r.id for r in stored],
            apply=lambda: self._put_images(stored),
        )

    def _put_images(self, records: Sequence[ImageRecord]) -> None:
        for r in records:
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

        def apply() -> None:
            self.model.categories = categories
            self._dirty_categories = True

        self._save("set categories", lambda c: opening.write_categories(c, categories), apply=apply)

    def get_setting(self, key: str, default: Any = None) -> Any:
        """A project setting (any JSON value), or ``default`` when unset."""
        self._connection()  # a closed store refuses, as for every other call
        text = self._settings.get(key)
        return default if text is None else json.loads(text)

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

        def apply() -> None:
            self._settings[key] = text
            self._dirty_settings[key] = text

        self._save(f"setting {key!r}", lambda c: _write_setting(c, key, text), apply=apply)

    # -- unsaved edits ----------------------------------------------------------------------
    def keep_unsaved_edits(self) -> None:
        """From now on keep failed edits in memory (see the class docstring); for the window."""
        self._keep = True

    @property
    def unsaved(self) -> int:
        """How many undo steps (pushes, undos, redos) are in memory but not yet in the file."""
        return len(self._events)

    @property
    def has_unsaved(self) -> bool:
        """Whether anything (edits, bookkeeping, settings) waits to be written."""
        return bool(
            self._events
            or self._dirty_images
            or self._dirty_annotations
            or self._dirty_measurements
            or self._dirty_settings
            or self._dirty_categories
        )

    def retry(self) -> bool:
        """Write every unsaved change now, in order, in one transaction.

        Returns
        -------
        bool
            True when nothing is left unsaved (``write_recovered`` was emitted if there had
            been failures); False when the write failed again (``write_failed`` was emitted,
            the changes stay in memory) or the store is read-only.
        """
        if self.read_only:
            self._report(self._refusal("nothing can be saved to it"))
            return False
        try:
            self._flush()
        except StoreWriteError as error:
            self._report(error)
            return False
        return True

    def save_copy(self, dest: str | Path) -> Path:
        """Write the whole project as held in memory (unsaved edits included) to a new file.

        The copy has the same images, annotations, categories, settings and undo history;
        it is written beside ``dest`` first and then moved into place, so an existing file
        at ``dest`` is replaced only by a complete copy.

        Parameters
        ----------
        dest
            The copy's path; not this project itself, nor a project open elsewhere.

        Returns
        -------
        Path
            ``dest``.

        Raises
        ------
        ProjectStoreError
            ``dest`` is this project, is open elsewhere, or cannot be written; ``dest`` is
            then unchanged.
        """
        return rescue.save_copy(
            Path(dest),
            source=self.path,
            model=self.model,
            history=self.history,
            settings=self._settings,
        )

    def _refusal(self, what: str) -> StoreWriteError:
        return StoreWriteError(self.path, f"{self.read_only_reason}: {what}")

    def _report(self, error: StoreWriteError) -> None:
        self.last_error = error
        self.write_failed.emit(error)

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

    def _save(
        self,
        what: str,
        body: Callable[[sqlite3.Connection], object],
        *,
        apply: Callable[[], object],
        images: Sequence[str] = (),
    ) -> None:
        """One change outside the history: ``body`` writes it, ``apply`` makes it in memory.

        By default it is written first and applied only if that worked (else raise). After
        ``keep_unsaved_edits`` it is applied, marked unsaved and written with whatever else
        waits; a failure is reported, not raised. A read-only store keeps it in memory only.
        """
        if not self._keep:
            self._write(what, body)
            apply()
            return
        apply()
        self._dirty_images.update(dict.fromkeys(images))
        if self.read_only:
            return  # bookkeeping (sizes, "in review") shown, never saved here
        try:
            self._flush(what)
        except StoreWriteError as error:
            self._report(error)

    def _flush(self, what: str = "the unsaved edits") -> None:
        """Write everything unsaved in one transaction, or raise ``StoreWriteError``."""
        if not self.has_unsaved:
            return
        self._write(what, self._write_unsaved)
        self._events.clear()
        self._dirty_annotations.clear()
        self._dirty_images.clear()
        self._dirty_measurements.clear()
        self._dirty_settings.clear()
        self._dirty_categories = False
        self._applied = self._seen
        if self.last_error is not None:
            self.last_error = None
            self.write_recovered.emit()

    def _write_unsaved(self, conn: sqlite3.Connection) -> None:
        if self._dirty_categories:
            opening.write_categories(conn, self.model.categories)
        for key, text in self._dirty_settings.items():
            _write_setting(conn, key, text)
        # Images first (annotations refer to them), in the order they were added.
        images = [self.model.image(i) for i in self._dirty_images if self.model.has_image(i)]
        conn.executemany(_UPSERT_IMAGE, [codec.image_to_row(im) for im in images])
        self._write_annotations(conn, self._dirty_annotations)
        measurement_rows.write(conn, self.model, self._dirty_measurements)
        for event in self._events:  # the journal replays every step in order
            self._journal[event.kind](conn, event)

    def _on_history_changed(self, event: HistoryEvent) -> None:
        expected = self._seen + _STEP[event.kind]
        if event.index != expected:
            # The history was changed behind the store's back (restore, a missed event).
            self._take_back(
                event,
                f"history out of step with the journal ({event.index} != {expected})",
            )
        self._seen = event.index
        self._events.append(event)
        self._dirty_images.update(dict.fromkeys(r.id for r in self._pending_images))
        self._dirty_images.update(dict.fromkeys(sorted(event.command.image_ids())))
        self._dirty_annotations.update(dict.fromkeys(sorted(event.command.annotation_ids())))
        self._dirty_measurements.update(dict.fromkeys(sorted(event.command.measurement_ids())))
        if self._keep and self.read_only:
            self._take_back(event, self._refusal("the edit was not saved").reason, stop=False)
            return
        try:
            self._flush(f"{event.kind} of {event.command.label!r}")
        except StoreWriteError as error:
            if self._keep:
                error.reason += f"; {self.unsaved} unsaved edit(s) are kept in this window"
                error.args = (f"{error.path}: {error.reason}",)
                self._report(error)
                return
            self._take_back(event, f"{error.reason}; the edit was taken back")

    def _take_back(self, event: HistoryEvent, reason: str, *, stop: bool = True) -> None:
        """Forget what is unsaved, make model and history equal to the file, report; raise
        ``StoreWriteError`` unless ``stop`` is False."""
        self._events.clear()
        self._dirty_annotations.clear()
        self._dirty_images.clear()
        self._dirty_measurements.clear()
        error = StoreWriteError(self.path, reason)
        self._resync(event.command, error)
        self._report(error)
        if stop:
            raise error

    def _write_annotations(self, conn: sqlite3.Connection, annotation_ids: Iterable[str]) -> None:
        present: list[Annotation] = []
        absent: list[tuple[str]] = []
        for ann_id in annotation_ids:
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

    def _resync(self, command: Command, error: StoreWriteError) -> None:
        """Make the touched model rows and the history equal to the file again."""
        try:
            conn = self._connection()

            def disk(ann_id: str) -> Annotation | None:
                row = conn.execute(
                    "SELECT data FROM annotations WHERE id = ?", (ann_id,)
                ).fetchone()
                return None if row is None else codec.annotation_from_data(row[0])

            removed, added, before, after = measurement_rows.diff_rows(
                command.annotation_ids(), disk, self.model.get
            )
            # Applied directly, not pushed: these restore the file's state, they are no edit.
            RemoveAnnotations(tuple(removed)).apply(self.model)
            AddAnnotations(tuple(added)).apply(self.model)
            UpdateAnnotations(tuple(before), tuple(after)).apply(self.model)
            measurement_rows.resync(conn, self.model, command.measurement_ids())
            for image_id in sorted(command.image_ids()):
                row = conn.execute(
                    f"SELECT {codec.IMAGE_COLUMNS} FROM images WHERE id = ?", (image_id,)
                ).fetchone()
                if row is not None:
                    self.model.put_image(codec.image_from_row(row))
            commands, index = opening.read_journal(conn, self.path)
        except (ProjectStoreError, *_WRITE_ERRORS) as exc:
            error.reason += f"; re-reading the file failed too ({exc}): reopen the project"
            error.args = (f"{error.path}: {error.reason}",)
            return
        self.history.restore(commands, index)
        self._applied = self._seen = index


def _write_setting(conn: sqlite3.Connection, key: str, text: str) -> None:
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, text),
    )
