"""Hands a run's events (reader or tail thread) to the GUI thread as a signal; starts,
re-attaches, stops (never blocking the GUI thread) and detaches runs."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot

from orthogui.training.launcher import AttachedRun, RunHandle, RunRecord, TrainingRun
from orthogui.training.protocol import Event

STOP_TIMEOUT_S = 30.0


class TrainingBridge(QObject):
    """One run at a time; ``event(Event)`` fires on the GUI thread, in order.

    ``stop_timeout`` is how long a stopped worker may take to checkpoint before its process
    group is killed (on a background thread).
    """

    runEvent = Signal(object)  # one protocol event of the run (Started, Progress, ...)
    _incoming = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.run: RunHandle | None = None
        self.stop_timeout = STOP_TIMEOUT_S
        self._incoming.connect(self._on_self_incoming, Qt.ConnectionType.QueuedConnection)

    @property
    def running(self) -> bool:
        return self.run is not None and self.run.running

    @property
    def stopping(self) -> bool:
        return self.run is not None and self.run.stopping

    def start(self, job: str | Path, *, command: Sequence[str] | None = None) -> TrainingRun:
        """Spawn a worker for ``job`` (``command`` overrides the worker command line)."""
        self._check_idle()
        run = TrainingRun(job, on_event=self._from_worker, command=command)
        run.start()
        self.run = run
        return run

    def attach(self, record: RunRecord) -> AttachedRun:
        """Follow a worker an earlier session started, from its events file."""
        self._check_idle()
        run = AttachedRun(record, on_event=self._from_worker)
        run.start()
        self.run = run
        return run

    def _check_idle(self) -> None:
        run = self.run
        if run is None or not run.running:
            return
        last = run.last_event
        # Its last event was delivered and it is only being reaped: a moment, not a hang.
        if last is None or not last.terminal or not run.wait(5):
            raise RuntimeError("a training run is already going")

    def request_stop(self) -> None:
        """SIGTERM now; waiting and killing happen on a background thread. The run's last
        event (``failed`` of kind ``stopped``) arrives through ``event`` as usual."""
        if self.run is not None:
            self.run.request_stop(timeout=self.stop_timeout)

    def detach(self) -> None:
        """The window is closing: leave the worker running (it keeps its events file)."""
        if self.run is not None:
            self.run.detach()

    def _from_worker(self, event: Event) -> None:
        with contextlib.suppress(RuntimeError):  # the bridge was deleted
            self._incoming.emit(event)

    @Slot(object)
    def _on_self_incoming(self, event: Event) -> None:
        self.runEvent.emit(event)
