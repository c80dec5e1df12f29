"""Hands the Qt-free ``TrainingRun``'s events (reader thread) to the GUI thread as a signal."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot

from orthogui.training.launcher import TrainingRun
from orthogui.training.protocol import Event


class TrainingBridge(QObject):
    """Starts and stops one worker; ``event(Event)`` fires on the GUI thread, in order."""

    event = Signal(object)
    _incoming = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.run: TrainingRun | None = None
        self._incoming.connect(self._on_self_incoming, Qt.ConnectionType.QueuedConnection)

    @property
    def running(self) -> bool:
        return self.run is not None and self.run.running

    def start(self, job: str | Path, *, command: Sequence[str] | None = None) -> None:
        if self.running:
            raise RuntimeError("a training run is already going")
        self.run = TrainingRun(job, on_event=self._from_worker, command=command)
        self.run.start()

    def stop(self) -> None:
        """SIGTERM, wait, kill: blocks up to the launcher's timeout, so call it off the GUI
        thread for big models; the worker checkpoints first."""
        if self.run is not None:
            self.run.stop(timeout=30)

    def detach(self) -> None:
        """The window is closing: leave the worker running (it keeps its events file)."""
        if self.run is not None:
            self.run.detach()

    def _from_worker(self, event: Event) -> None:
        with contextlib.suppress(RuntimeError):  # the bridge was deleted
            self._incoming.emit(event)

    @Slot(object)
    def _on_self_incoming(self, event: Event) -> None:
        self.event.emit(event)
