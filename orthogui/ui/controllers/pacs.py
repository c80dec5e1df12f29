"""File → Open from PACS…, File → PACS servers… and Review → Send results to PACS…: the
DICOMweb requests of ``orthogui.io.pacs`` (or the DIMSE ones of ``orthogui.io.dimse``, by the
server's protocol) on a background pool, their outcomes on the GUI thread.

Retrieved studies go to ``<project folder>/pacs/<study>/<series>/<image>.dcm`` and their
images are added to the project as File → Open files adds them (records, then
``add_images_reporting``). A retrieve of several studies keeps every study that arrived
completely when a later one fails or is cancelled. Every failure is one message that names
the server (``PacsError``).
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from orthogui.core.project import ImageAddition, ImageRecord, ImageStatus
from orthogui.io import dimse
from orthogui.io.dimse import DimseServer
from orthogui.io.folder_scan import is_radiograph
from orthogui.io.pacs import (
    PacsCancelled,
    PacsError,
    PacsServer,
    StudyRow,
    query_studies,
    retrieve_study,
)
from orthogui.io.pacs import store as stow
from orthogui.io.store import ProjectStore
from orthogui.ui.bridge import BackgroundJobs
from orthogui.ui.dialogs.files import report_addition
from orthogui.ui.dialogs.pacs import (
    PacsQueryDialog,
    PacsSendDialog,
    PacsServersDialog,
    PacsSettings,
    ServerEntry,
    StudyQuery,
)

if TYPE_CHECKING:
    from orthogui.ui.main_window import MainWindow

RemoteServer = PacsServer | DimseServer
MESSAGE_MS = 15000
CACHE_FOLDER = "pacs"
"""The folder beside the project file that retrieved studies are written to."""


# -- what runs on the pool (no Qt) -------------------------------------------------------------
def find_studies(server: RemoteServer, query: StudyQuery) -> list[StudyRow]:
    """The studies matching ``query``: one request per modality asked for, merged by study
    (QIDO-RS and C-FIND match one modality at a time)."""
    found: dict[str, StudyRow] = {}
    for modality in query.modalities or (None,):
        keys: dict[str, str | None] = {
            "patient_name": query.name_pattern(),
            "patient_id": query.patient_id or None,
            "accession": query.accession or None,
            "modality": modality,
        }
        if isinstance(server, DimseServer):
            rows = dimse.query_studies(server, date_range=query.date_range(), limit=None, **keys)
        else:
            rows = query_studies(server, date_range=query.date_range(), limit=None, **keys)
        for row in rows:
            found.setdefault(row.study_uid, row)
    return sorted(found.values(), key=lambda r: r.study_date, reverse=True)


@dataclass(frozen=True)
class Retrieved:
    """What a retrieve brought: the studies that arrived whole, the image records of their
    files, how many other objects (reports) came with them, and what stopped it (if any)."""

    server: RemoteServer
    studies: tuple[StudyRow, ...]
    records: list[ImageRecord]
    others: int
    stopped: PacsError | None = None


def retrieve_studies(
    server: RemoteServer,
    rows: list[StudyRow],
    dest: Path,
    *,
    progress: Callable[[int, int, int], None],
    cancelled: threading.Event,
) -> Retrieved:
    """Fetch ``rows`` one study after the other into ``dest``; the first failure or a cancel
    stops it, the studies already there are kept."""
    from orthogui.io.files import records_for

    done: list[StudyRow] = []
    paths: list[Path] = []
    stopped: PacsError | None = None
    for n, row in enumerate(rows):
        try:
            if isinstance(server, DimseServer):
                paths += dimse.retrieve_study(
                    server,
                    row.study_uid,
                    dest,
                    progress=partial(progress, n),
                    cancelled=cancelled.is_set,
                )
            else:
                paths += retrieve_study(
                    server,
                    row.study_uid,
                    dest,
                    progress=partial(progress, n),
                    cancelled=cancelled.is_set,
                )
        except PacsError as exc:
            stopped = exc
            break
        done.append(row)
    images = [p for p in paths if is_radiograph(p)]
    records = records_for(images) if images else []
    return Retrieved(server, tuple(done), records, len(paths) - len(images), stopped)


@dataclass(frozen=True)
class Sent:
    """What a send did: per image sent its file name and the kinds of object (SR, SEG),
    the refusals (file and reason), and the SOP Instance UIDs the server stored."""

    server: RemoteServer
    images: tuple[tuple[str, tuple[str, ...]], ...] = ()
    refused: tuple[str, ...] = ()
    stored: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        if not self.images:
            why = "; ".join(self.refused) or "no approved image"
            return f"Nothing sent to {self.server.name}: {why}"
        kinds = Counter(k for _, ks in self.images for k in ks)
        what = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        names = ", ".join(name for name, _ in self.images)
        text = f"Sent {what} for {names} to {self.server.label}"
        if self.refused:
            text += f"; not sent: {'; '.join(self.refused)}"
        return text


def send_results(
    store: ProjectStore, server: RemoteServer, image_ids: list[str], names: dict[str, str]
) -> Sent:
    """Build the result objects of each image (``results_for_image``) and store them all on
    ``server`` in one request; images refused (not approved, not DICOM, nothing reviewed)
    are named and left out."""
    from orthogui.io.pacs_results import results_for_image

    datasets = []
    images: list[tuple[str, tuple[str, ...]]] = []
    refused: list[str] = []
    for image_id in image_ids:
        try:
            built = results_for_image(store, image_id)
        except ValueError as exc:  # SrRefused and the like: the file and the reason
            refused.append(str(exc))
            continue
        datasets += built
        images.append((names[image_id], tuple(str(ds.get("Modality", "?")) for ds in built)))
    if not datasets:
        return Sent(server, (), tuple(refused))
    if isinstance(server, DimseServer):
        result = dimse.store(server, datasets)
    else:
        result = stow(server, datasets)
    return Sent(server, tuple(images), tuple(refused), result.stored)


# -- the controller -------------------------------------------------------------------------------
class PacsController(QObject):
    """The three PACS commands of one window.

    ``searched`` carries the ``StudyRow`` list shown; ``retrieved`` the ``Retrieved`` and the
    ``ImageAddition`` after the images were added; ``sent`` the ``Sent``; ``failed`` the
    one message shown for a failure or refusal.
    """

    progress = Signal(int, int, int)  # study index, instances done, instances in the study
    searched = Signal(object)
    retrieved = Signal(object, object)
    sent = Signal(object)
    failed = Signal(str)

    def __init__(self, win: MainWindow) -> None:
        super().__init__(win)
        self.win = win
        self.services = win.services
        self._jobs = BackgroundJobs(self, name="pacs", workers=2)  # a search during a retrieve
        self._stop = threading.Event()
        self._search = 0
        self._retrieve: Future[object] | None = None
        self._rows: list[StudyRow] = []
        self._send: Future[object] | None = None
        self.query_dialog: PacsQueryDialog | None = None
        self.servers_dialog: PacsServersDialog | None = None
        self.send_dialog: PacsSendDialog | None = None
        self.message: QMessageBox | None = None
        self.progress.connect(self._on_self_progress)
        self._jobs.finished.connect(self._on_jobs_finished)
        self._jobs.failed.connect(self._on_jobs_failed)
        actions = win.action_map
        actions["open_pacs"].triggered.connect(self.open_query)
        actions["pacs_servers"].triggered.connect(self.open_servers)
        actions["send_to_pacs"].triggered.connect(self.ask_send)
        win.loader.loaded.connect(self.refresh)
        win.queue_panel.tree.itemSelectionChanged.connect(self.refresh)
        win.model.image_changed.connect(self._on_model_image_changed)
        self.refresh()

    @classmethod
    def install(cls, win: MainWindow) -> PacsController:
        """Needs ``win.action_map`` (open_pacs, pacs_servers, send_to_pacs)."""
        return cls(win)

    def settings(self) -> PacsSettings:
        return PacsSettings.of(self.services)

    def shutdown(self) -> None:
        """Stop what runs (nothing more is reported) and close the dialogs with the window."""
        self._stop.set()
        self._jobs.shutdown()
        for dlg in (self.servers_dialog, self.send_dialog, self.query_dialog, self.message):
            if dlg is not None:
                dlg.close()
        with contextlib.suppress(TypeError, ValueError):
            self.win.model.image_changed.disconnect(self._on_model_image_changed)

    # -- servers ----------------------------------------------------------------------------------
    def open_servers(self) -> PacsServersDialog:
        if self.servers_dialog is not None:
            self.servers_dialog.raise_()
            return self.servers_dialog
        dlg = PacsServersDialog(self.settings(), self._parent())
        dlg.setWindowModality(Qt.WindowModality.WindowModal)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.accepted.connect(self._on_servers_saved)
        dlg.finished.connect(self._on_servers_finished)
        self.servers_dialog = dlg
        dlg.open()
        return dlg

    def _on_servers_saved(self) -> None:
        dlg = self.servers_dialog
        n = len(dlg.entries()) if dlg is not None else 0
        note = dlg.note.text() if dlg is not None else ""
        self.win.statusBar().showMessage(f"{n} PACS server(s) saved. {note}", MESSAGE_MS)
        if self.query_dialog is not None:
            self.query_dialog.set_servers(self._server_names())

    def _on_servers_finished(self, _result: int) -> None:
        self.servers_dialog = None

    def _server_names(self) -> list[str]:
        return [e.name for e in self.settings().servers()]

    def _entry(self, name: str) -> ServerEntry | None:
        return next((e for e in self.settings().servers() if e.name == name), None)

    # -- search and retrieve ----------------------------------------------------------------------
    def _parent(self) -> QWidget:
        """The search dialog while it is shown (messages stay above it), else the window."""
        if self.query_dialog is not None and self.query_dialog.isVisible():
            return self.query_dialog
        return self.win

    def open_query(self) -> PacsQueryDialog:
        """Show the search dialog (one per window; it keeps its results when closed)."""
        dlg = self.query_dialog
        if dlg is None:
            dlg = self.query_dialog = PacsQueryDialog(self.win)
            dlg.searchRequested.connect(self.search)
            dlg.retrieveRequested.connect(self.retrieve)
            dlg.cancelRequested.connect(self.cancel)
            dlg.serversRequested.connect(self.open_servers)
            dlg.set_servers(self._server_names(), self.settings().last_server())
        dlg.show()
        dlg.raise_()
        dlg.activateWindow()
        if not self._server_names():
            self.open_servers()
        return dlg

    def _server(self, name: str) -> RemoteServer | None:
        """The server to connect to, or None after saying why not."""
        pacs = self.settings()
        entry = self._entry(name)
        if entry is None:
            self._error(f"No PACS server called {name!r}: add it with File → PACS servers…")
            return None
        missing = pacs.missing_secret(entry)
        if missing:
            self._error(missing)
            return None
        pacs.remember_last(name)
        return pacs.server(entry)

    def search(self, name: str, query: StudyQuery) -> None:
        """Find studies off the GUI thread; the newest search wins."""
        server = self._server(name)
        if server is None or self.query_dialog is None:
            return
        self._search += 1
        self.query_dialog.set_searching(True)
        self._jobs.submit(("search", self._search), find_studies, server, query)

    def retrieve(self, name: str, rows: list[StudyRow]) -> None:
        """Fetch ``rows`` into the project's PACS folder, then add their images."""
        if self._retrieve is not None or not rows:
            return
        server = self._server(name)
        if server is None:
            return
        dest = Path(self.services.store.path).parent / CACHE_FOLDER
        self._stop.clear()
        self._rows = list(rows)
        self._show_progress(0, 0, 0)
        self._retrieve = self._jobs.submit(
            "retrieve",
            retrieve_studies,
            server,
            list(rows),
            dest,
            progress=self._from_worker,
            cancelled=self._stop,
        )

    def is_retrieving(self) -> bool:
        return self._retrieve is not None

    def cancel(self) -> None:
        """Stop the retrieve after the image in flight; whole studies already there stay."""
        self._stop.set()
        if self.query_dialog is not None and self._retrieve is not None:
            self.query_dialog.progress_label.setText("Cancelling…")

    def _from_worker(self, study: int, done: int, total: int) -> None:
        # On the pool's thread: only emit (queued to the GUI thread).
        with contextlib.suppress(RuntimeError):  # the window was closed meanwhile
            self.progress.emit(study, done, total)

    def _on_self_progress(self, study: int, done: int, total: int) -> None:
        if self._retrieve is not None:
            self._show_progress(study, done, total)

    def _show_progress(self, study: int, done: int, total: int) -> None:
        n = len(self._rows)
        text = f"Study {study + 1} of {n}: {done}/{total} files" if total else "Asking the PACS…"
        self.win.statusBar().showMessage(f"Retrieving from PACS: {text}")
        if self.query_dialog is not None:
            self.query_dialog.show_progress(text, done, total)

    def _retrieve_done(self, result: Retrieved) -> None:
        self._retrieve = None
        if self.query_dialog is not None:
            self.query_dialog.hide_progress()
        win, store = self.win, self.services.store
        report = store.add_images_reporting(result.records) if result.records else ImageAddition()
        first = report.added[0].id if report.added else None
        if first is None and report.duplicates:
            first = report.duplicates[0].existing.id
        if first is not None:
            win.open_image(first)
        if result.records:
            report_addition(win, report)
        kept = self._kept_text(result, report)
        stopped = result.stopped
        if stopped is None:
            s = "y" if len(result.studies) == 1 else "ies"
            text = f"Retrieved {len(result.studies)} stud{s} from {result.server.name}: {kept}"
            self._say(text)
        elif isinstance(stopped, PacsCancelled):
            self._say(f"Retrieve from {result.server.name} cancelled. {kept}")
        else:
            self._error(f"{stopped}.\n{kept}")
        self.retrieved.emit(result, report)

    @staticmethod
    def _kept_text(result: Retrieved, report: ImageAddition) -> str:
        if not result.studies:
            return "Nothing was retrieved." if result.stopped is not None else "No images."
        s = "y" if len(result.studies) == 1 else "ies"
        text = f"{len(result.studies)} stud{s} kept: {report.summary()}"
        if result.others:
            text += f"; {result.others} other object(s) (not images) not added"
        return text + "."

    # -- sending ------------------------------------------------------------------------------------
    def send_targets(self) -> list[str]:
        """The approved images selected in the queue, else the current image if approved."""
        model = self.win.model
        picked = [i for i in self.win.queue_panel.selected_ids() if model.has_image(i)]
        approved = [i for i in picked if model.image(i).status is ImageStatus.APPROVED]
        current = self.win.image_id
        if approved:
            return approved
        if (
            current is not None
            and model.has_image(current)
            and model.image(current).status is ImageStatus.APPROVED
        ):
            return [current]
        return []

    def refresh(self, *_args: object) -> None:
        """Send results is enabled for approved images only."""
        self.win.action_map["send_to_pacs"].setEnabled(
            bool(self.send_targets()) and self._send is None
        )

    def _on_model_image_changed(self, _record: object) -> None:
        self.refresh()

    def ask_send(self) -> PacsSendDialog | None:
        ids = self.send_targets()
        if not ids:
            self._error("Not sent: the image is not approved (approve it first).")
            return None
        names = self._server_names()
        if not names:
            self._error("No PACS server yet: add one with File → PACS servers…")
            return None
        files = [Path(self.win.model.image(i).path).name for i in ids]
        dlg = PacsSendDialog(names, self.settings().last_server(), files, self.win)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.sendRequested.connect(lambda name, ids=ids: self.send(name, ids))
        dlg.finished.connect(self._on_send_dialog_finished)
        self.send_dialog = dlg
        dlg.open()
        return dlg

    def _on_send_dialog_finished(self, _result: int) -> None:
        self.send_dialog = None

    def send(self, name: str, image_ids: list[str]) -> None:
        """Build and store the results of ``image_ids`` off the GUI thread."""
        if self._send is not None:
            return
        server = self._server(name)
        if server is None:
            return
        names = {i: Path(self.win.model.image(i).path).name for i in image_ids}
        self.win.statusBar().showMessage(f"Sending results to {server.label}…")
        store = self.services.store
        self._send = self._jobs.submit("send", send_results, store, server, image_ids, names)
        self.refresh()

    def _send_done(self, result: Sent) -> None:
        self._send = None
        self.refresh()
        if result.images:
            self.win.statusBar().showMessage(result.summary(), MESSAGE_MS)
        else:
            self._error(result.summary())
        self.sent.emit(result)

    # -- outcomes -------------------------------------------------------------------------------
    def _on_jobs_finished(self, key: object, result: object) -> None:
        if key == "retrieve":
            assert isinstance(result, Retrieved)
            self._retrieve_done(result)
        elif key == "send":
            assert isinstance(result, Sent)
            self._send_done(result)
        elif isinstance(key, tuple) and key == ("search", self._search):
            assert isinstance(result, list)
            if self.query_dialog is not None:
                self.query_dialog.set_searching(False)
                self.query_dialog.show_results(result)
            self.searched.emit(result)

    def _on_jobs_failed(self, key: object, exc: object) -> None:
        if key == "retrieve":
            self._retrieve = None
            if self.query_dialog is not None:
                self.query_dialog.hide_progress()
        elif key == "send":
            self._send = None
            self.refresh()
        elif isinstance(key, tuple):
            if key != ("search", self._search):
                return  # an older search: the newer one answers
            if self.query_dialog is not None:
                self.query_dialog.set_searching(False)
        self._error(str(exc) if isinstance(exc, PacsError) else f"PACS request failed: {exc}")

    def _say(self, text: str) -> None:
        self.win.statusBar().showMessage(text.replace("\n", " "), MESSAGE_MS)
        if self.query_dialog is not None:
            self.query_dialog.say(text)

    def _error(self, text: str) -> QMessageBox:
        """One message box at a time (a newer one replaces it), plus the status bar and the
        search dialog's message line."""
        self.win.statusBar().showMessage(text.replace("\n", " "), MESSAGE_MS)
        if self.query_dialog is not None:
            self.query_dialog.say(text, error=True)
        if self.message is not None:
            self.message.close()
        box = QMessageBox(
            QMessageBox.Icon.Warning, "PACS", text, QMessageBox.StandardButton.Ok, self._parent()
        )
        box.setObjectName("pacsErrorMessage")
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _r, b=box: self._on_message_finished(b))
        self.message = box
        box.open()
        self.failed.emit(text)
        return box

    def _on_message_finished(self, box: QMessageBox) -> None:
        if self.message is box:
            self.message = None
