"""File → Export dataset (COCO) and File → Import annotations, off the GUI thread.

Export: the dialog's options become the CLI's ``SnapshotOptions`` (``io.snapshot``), a frozen
copy of the project is written by ``export_snapshot`` on a one-worker pool, with a status-bar
progress bar (n/N images) and Cancel; the snapshot appears by one rename or not at all.
Import: the importer reads and validates on the worker; the result is merged on the GUI thread
in one transaction as ONE undo step, or refused with the file and the reason, changing nothing.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QLabel, QMessageBox, QProgressBar, QPushButton, QStatusBar

from orthogui.core.project import ProjectModel
from orthogui.io.importers import (
    ImportResult,
    ImportValidationError,
    LabelMap,
    detect_format,
    merge_into,
    note_known_images,
    read_import,
)
from orthogui.io.snapshot import (
    SnapshotCancelled,
    SnapshotOptions,
    SnapshotRefused,
    SnapshotResult,
    counts_text,
    export_snapshot,
    held_out_lines,
    project_salt,
)
from orthogui.ui.bridge import BackgroundJobs
from orthogui.ui.dialogs.export import ExportDatasetDialog, ImportAnnotationsDialog

if TYPE_CHECKING:
    from orthogui.ui.main_window import MainWindow

MESSAGE_MS = 15000
_IMAGES_ROOT_IS_PARENT = frozenset({"coco"})  # COCO file names are relative to the JSON's folder


@dataclass(frozen=True)
class ImportReport:
    """What an import added: its format and source, findings, new images, images reused."""

    source: Path
    format: str
    findings: int
    new_images: int
    known_images: int
    result: ImportResult

    def summary(self) -> str:
        s = "s" * (self.findings != 1)
        return (
            f"Imported {self.findings} finding{s} from {self.source.name} ({self.format}): "
            f"{self.new_images} new image(s) added, {self.known_images} already in the project"
        )


def _read(fmt: str | None, path: Path, labels: LabelMap) -> tuple[str, ImportResult]:
    """On the worker: the format (detected when None) and the validated import."""
    fmt = fmt or detect_format(path)
    root = path.parent if fmt in _IMAGES_ROOT_IS_PARENT else None
    return fmt, read_import(fmt, path, label_map=labels, images_root=root)


class DatasetProgressBar:
    """A label, a progress bar and Cancel in the status bar while an export or import runs."""

    def __init__(self, bar: QStatusBar) -> None:
        self.label = QLabel("", bar)
        self.label.setObjectName("datasetLabel")
        self.bar = QProgressBar(bar)
        self.bar.setObjectName("datasetProgress")
        self.bar.setMaximumWidth(160)
        self.cancel = QPushButton("Cancel", bar)
        self.cancel.setObjectName("datasetCancel")
        self.cancel.setToolTip("Stop: nothing of this export or import is written")
        for w in (self.label, self.bar, self.cancel):
            bar.addPermanentWidget(w)
        self.hide()

    def show_progress(self, text: str, done: int, total: int) -> None:
        self.bar.setRange(0, total)  # total 0: a busy bar
        self.bar.setValue(done)
        self.label.setText(f"{text} {done}/{total} images" if total else f"{text}…")
        for w in (self.label, self.bar, self.cancel):
            w.setVisible(True)

    def hide(self) -> None:
        for w in (self.label, self.bar, self.cancel):
            w.hide()


class DatasetIOController(QObject):
    """One export or import at a time; ``cancel()`` stops it.

    ``progress(done, total)`` arrives on the GUI thread (images written of an export);
    ``exported`` carries the ``SnapshotResult``, ``imported`` the ``ImportReport``;
    ``failed`` the message shown; ``cancelled`` fires when a job stopped on Cancel.
    """

    progress = Signal(int, int)
    exported = Signal(object)
    imported = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, win: MainWindow) -> None:
        super().__init__(win)
        self.win = win
        self._jobs = BackgroundJobs(self, name="dataset")
        self._stop = threading.Event()
        self._job: tuple[str, Future[object]] | None = None
        self._names: dict[str, str] = {}  # image id -> path, for the held-out lines
        self._text, self._import_source = "", Path()
        self.widget = DatasetProgressBar(win.statusBar())
        self.widget.cancel.clicked.connect(self.cancel)
        self.progress.connect(self._on_self_progress)
        self._jobs.finished.connect(self._on_jobs_finished)
        self._jobs.failed.connect(self._on_jobs_failed)
        self._jobs.cancelled.connect(self._on_jobs_cancelled)
        win.action_map["export_dataset"].triggered.connect(self.ask_export)
        win.action_map["import_annotations"].triggered.connect(self.ask_import)

    @classmethod
    def install(cls, win: MainWindow) -> DatasetIOController:
        """Needs ``win.action_map`` (the menu entries it answers)."""
        return cls(win)

    # -- dialogs ---------------------------------------------------------------------------------
    def ask_export(self) -> ExportDatasetDialog | None:
        if self._busy():
            return None
        dlg = ExportDatasetDialog(Path(self.win.store.path).stem, self.win)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.accepted.connect(lambda: self._export_from(dlg))
        dlg.open()
        return dlg

    def ask_import(self) -> ImportAnnotationsDialog | None:
        if self._busy():
            return None
        dlg = ImportAnnotationsDialog(self.win)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.accepted.connect(lambda: self.start_import(dlg.path(), dlg.format()))
        dlg.open()
        return dlg

    def _export_from(self, dlg: ExportDatasetDialog) -> None:
        try:
            salt = project_salt(self.win.store, new=dlg.new_salt())
        except Exception as exc:  # the project's first salt could not be saved
            self._error("Export failed", f"The export was not started: {exc}")
            return
        self.start_export(dlg.out_dir(), dlg.options(salt=salt))

    # -- jobs ------------------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self._job is not None

    def _busy(self) -> bool:
        if self._job is not None:
            self.win.statusBar().showMessage("An export or import is running", MESSAGE_MS)
        return self._job is not None

    def start_export(self, out: Path, options: SnapshotOptions) -> None:
        """Export a frozen copy of the project to ``out`` (a folder that must not exist)."""
        if self._busy():
            return
        win = self.win
        records = win.model.images()
        frozen = ProjectModel(win.model.categories)  # the reviewer may go on editing meanwhile
        frozen.load(records, [a for r in records for a in win.model.annotations(r.id)])
        self._names = {r.id: r.path for r in records}
        self._stop.clear()
        self._start("export", f"Exporting to {out.name}")
        self._job = (
            "export",
            self._jobs.submit(
                "export",
                export_snapshot,
                frozen,
                out,
                image_path_of=win.store.image_path,
                options=options,
                images_root=Path(win.store.path).parent,
                progress=self._from_worker,
                cancelled=self._stop.is_set,
            ),
        )

    def start_import(self, path: Path, fmt: str | None = None) -> None:
        """Read ``path`` (format ``fmt``, or detected) on the worker, then merge it here."""
        if self._busy():
            return
        labels = LabelMap(self.win.model.categories)
        self._stop.clear()
        self._import_source = path
        self._start("import", f"Reading {path.name}")
        self._job = "import", self._jobs.submit("import", _read, fmt, path, labels)

    def _start(self, kind: str, text: str) -> None:
        self.widget.show_progress(text, 0, 0)
        self._text = text
        self.win.statusBar().showMessage(f"{text}…")

    def cancel(self) -> None:
        self._stop.set()
        if self._job is not None:
            self._job[1].cancel()  # one still waiting for the worker never starts

    def shutdown(self) -> None:
        self.cancel()
        self._jobs.shutdown()

    def _from_worker(self, done: int, total: int) -> None:
        with contextlib.suppress(RuntimeError):  # the window was closed while it ran
            self.progress.emit(done, total)

    def _on_self_progress(self, done: int, total: int) -> None:
        if self._job is not None:
            self.widget.show_progress(self._text, done, total)

    def _done(self) -> None:
        self._job = None
        self.widget.hide()

    # -- outcomes --------------------------------------------------------------------------------
    def _on_jobs_finished(self, kind: object, result: object) -> None:
        self._done()
        if kind == "export":
            assert isinstance(result, SnapshotResult)
            self._report_export(result)
            return
        assert isinstance(result, tuple)
        fmt, imported = result
        if self._stop.is_set():  # cancelled while reading: nothing is merged
            self._report_cancelled()
            return
        self._merge(self._import_source, fmt, imported)

    def _merge(self, source: Path, fmt: str, result: ImportResult) -> None:
        win = self.win
        known = {im.id for im in win.model.images()}
        try:
            id_map = merge_into(
                win.model, result, commit=win.store.add_images_and_push, label="Import"
            )
        except Exception as exc:  # refused or not written: the project is as it was
            self._failed_import(source, exc)
            return
        reused = [im for im in result.images if id_map[im.id] in known]
        result = note_known_images(result, reused)
        new_ids = {id_map[im.id] for im in result.images} - known
        report = ImportReport(
            source, fmt, len(result.annotations), len(new_ids), len(reused), result
        )
        text = report.summary()
        if result.warnings:
            text += f"; {len(result.warnings)} warning(s)"
        win.statusBar().showMessage(text, MESSAGE_MS)
        details = "\n".join(str(w) for w in result.warnings)
        self._message("datasetImportMessage", "Annotations imported", text, details)
        self.imported.emit(report)

    def _report_export(self, result: SnapshotResult) -> None:
        m = result.manifest
        omitted = sum(int(c.get("proposed_omitted", 0)) for c in m["counts"].values())
        images = sum(int(c["images"]) for c in m["counts"].values())
        findings = sum(int(c["annotations"]) for c in m["counts"].values())
        parts = [f"Exported {images} image(s) and {findings} finding(s) to {result.path}"]
        if omitted:
            parts.append(f"{omitted} proposed finding(s) left out (not reviewed)")
        if result.held_out:
            parts.append(f"{len(result.held_out)} image(s) held out")
        text = "; ".join(parts)
        self.win.statusBar().showMessage(text, MESSAGE_MS)
        details = "\n".join(
            [counts_text(m), f"sha256 {m['sha256']}", *held_out_lines(result, self._names)]
        )
        self._message("datasetExportMessage", "Dataset exported", text, details)
        self.exported.emit(result)

    def _on_jobs_failed(self, kind: object, exc: object) -> None:
        self._done()
        if isinstance(exc, SnapshotCancelled):
            self._report_cancelled()
        elif kind == "import":
            self._failed_import(self._import_source, exc)
        elif isinstance(exc, SnapshotRefused):
            self._error("Export refused", f"Nothing was written: {exc}")
        else:
            self._error("Export failed", f"Nothing was written: {exc}")

    def _failed_import(self, source: object, exc: object) -> None:
        details = ""
        if isinstance(exc, ImportValidationError):
            details = "\n".join(str(p) for p in exc.problems)
        text = f"Nothing was imported from {source}: {exc}"
        self._error("Import refused", text, details)

    def _on_jobs_cancelled(self, _kind: object) -> None:
        self._done()
        self._report_cancelled()

    def _report_cancelled(self) -> None:
        self.win.statusBar().showMessage("Cancelled: nothing written", MESSAGE_MS)
        self.cancelled.emit()

    def _error(self, title: str, text: str, details: str = "") -> None:
        self.win.statusBar().showMessage(text, MESSAGE_MS)
        self._message("datasetErrorMessage", title, text, details, QMessageBox.Icon.Warning)
        self.failed.emit(text)

    def _message(
        self,
        name: str,
        title: str,
        text: str,
        details: str,
        icon: QMessageBox.Icon = QMessageBox.Icon.Information,
    ) -> QMessageBox:
        """Not modal to the app: the reviewer goes on, the box goes away with OK."""
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self.win)
        box.setObjectName(name)
        box.setTextFormat(Qt.TextFormat.PlainText)
        if details:
            box.setDetailedText(details)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box
