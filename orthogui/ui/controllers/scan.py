"""Adding files and folders: the scan (walk, recognise, hash, read headers) runs on a one-worker
pool with a progress bar and Cancel in the status bar, like pre-annotation; the images found
are added on the GUI thread, the first one opens, and the message counts what was skipped.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar

from orthogui.io.files import ScannedRecords, scan_records
from orthogui.io.folder_scan import ScanCancelled, ScanProgress
from orthogui.ui.bridge import BackgroundJobs
from orthogui.ui.dialogs.files import report_addition

if TYPE_CHECKING:
    from orthogui.ui.main_window import MainWindow

MESSAGE_MS = 15000
_STAGE_TEXT = {"walking": "Finding files", "reading": "Looking at files", "importing": "Reading"}


class ScanProgressBar:
    """A label, a progress bar and Cancel in the status bar while a scan runs: a busy bar
    counting the files found while walking, then files looked at (and images read) of all."""

    def __init__(self, bar: QStatusBar) -> None:
        self.label = QLabel("", bar)
        self.label.setObjectName("scanLabel")
        self.bar = QProgressBar(bar)
        self.bar.setObjectName("scanProgress")
        self.bar.setMaximumWidth(160)
        self.cancel = QPushButton("Cancel", bar)
        self.cancel.setObjectName("scanCancel")
        self.cancel.setToolTip("Stop scanning: nothing of this scan is added")
        for w in (self.label, self.bar, self.cancel):  # permanent: messages do not hide them
            bar.addPermanentWidget(w)
        self.hide()

    def show_progress(self, p: ScanProgress) -> None:
        unit = "images" if p.stage == "importing" else "files"
        if p.total:
            self.bar.setRange(0, p.total)
            self.bar.setValue(p.done)
            self.label.setText(f"{_STAGE_TEXT[p.stage]} {p.done}/{p.total} {unit}")
        else:  # walking: the total is not known yet, the bar is busy
            self.bar.setRange(0, 0)
            self.label.setText(f"{_STAGE_TEXT[p.stage]}: {p.done} {unit} found")
        for w in (self.label, self.bar, self.cancel):
            w.setVisible(True)

    def hide(self) -> None:
        for w in (self.label, self.bar, self.cancel):
            w.hide()


class FolderScanController(QObject):
    """``start(paths)`` scans off the GUI thread; ``cancel()`` stops every scan of the window.

    ``progress`` carries ``ScanProgress`` (delivered on the GUI thread); ``finished`` the
    ``ImageAddition`` after the images were added; ``cancelled`` the files looked at.
    """

    progress = Signal(object)  # ScanProgress; emitted by the worker, queued to the GUI thread
    finished = Signal(object)  # ImageAddition
    cancelled = Signal(int)  # files looked at when the scan stopped

    def __init__(self, win: MainWindow) -> None:
        super().__init__(win)
        self.win = win
        self._worker = BackgroundJobs(self, name="scan")
        self._jobs: dict[int, tuple[threading.Event, Future[object]]] = {}
        self._next = 0
        self.widget = ScanProgressBar(win.statusBar())
        self.widget.cancel.clicked.connect(self.cancel)
        self.progress.connect(self._on_self_progress)
        self._worker.finished.connect(self._on_worker_finished)
        self._worker.failed.connect(self._on_worker_failed)
        self._worker.cancelled.connect(self._on_worker_cancelled)

    @classmethod
    def install(cls, win: MainWindow) -> FolderScanController:
        return cls(win)

    def start(self, paths: list[Path]) -> None:
        """Scan ``paths`` (files, folders, DICOMDIR files) and add the images found."""
        stop = threading.Event()
        key, self._next = self._next, self._next + 1
        self.win.statusBar().showMessage(f"Scanning {len(paths)} path(s)…")
        self.widget.show_progress(ScanProgress("walking", 0))
        future = self._worker.submit(
            key, scan_records, list(paths), progress=self._from_worker, cancelled=stop.is_set
        )
        self._jobs[key] = (stop, future)

    def is_running(self) -> bool:
        return bool(self._jobs)

    def cancel(self) -> None:
        for stop, future in self._jobs.values():
            stop.set()
            future.cancel()  # a scan still waiting for the worker never starts

    def shutdown(self) -> None:
        self.cancel()
        self._worker.shutdown()

    def _done(self, key: object) -> None:
        if isinstance(key, int):
            self._jobs.pop(key, None)
        if not self._jobs:
            self.widget.hide()

    def _from_worker(self, p: ScanProgress) -> None:
        with contextlib.suppress(RuntimeError):  # the window was closed while the scan ran
            self.progress.emit(p)

    def _on_self_progress(self, p: object) -> None:
        if self._jobs and isinstance(p, ScanProgress):
            self.widget.show_progress(p)

    def _on_worker_finished(self, key: object, result: object) -> None:
        self._done(key)
        assert isinstance(result, ScannedRecords)
        win = self.win
        report = win.store.add_images_reporting(result.records)
        first = report.added[0].id if report.added else None
        if first is None and report.duplicates:  # already in the project: open the known copy
            first = report.duplicates[0].existing.id
        if first is not None:
            win.open_image(first)
        report_addition(win, report)  # names the duplicates skipped
        skipped = result.scan.summary()
        if skipped:
            win.statusBar().showMessage(f"{report.summary()}; {skipped}", MESSAGE_MS)
        self.finished.emit(report)

    def _on_worker_failed(self, key: object, exc: object) -> None:
        self._done(key)
        if isinstance(exc, ScanCancelled):
            self._report_cancelled(exc.looked_at)
        else:
            self.win.statusBar().showMessage(f"Scan failed: {exc}", MESSAGE_MS)

    def _on_worker_cancelled(self, key: object) -> None:
        self._done(key)
        self._report_cancelled(0)

    def _report_cancelled(self, looked_at: int) -> None:
        text = f"Scan cancelled after {looked_at} file(s): nothing added"
        self.win.statusBar().showMessage(text, MESSAGE_MS)
        self.cancelled.emit(looked_at)
