"""Turn ``concurrent.futures`` results into Qt signals delivered on the GUI thread.

Worker threads never touch widgets: a future's done-callback emits a private signal, and a
queued connection hands the result to the GUI thread, where ``finished``/``failed`` fire.
"""

from __future__ import annotations

import contextlib
from collections.abc import Hashable
from concurrent.futures import CancelledError, Future
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot


class FutureBridge(QObject):
    """Watches futures; emits ``finished(key, result)``, ``failed(key, exc)``, ``cancelled(key)``.

    Signals are always emitted on the thread that owns the bridge (the GUI thread), after
    the future completes, whichever thread completed it.
    """

    finished = Signal(object, object)
    failed = Signal(object, object)
    cancelled = Signal(object)
    _done = Signal(object, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pending: dict[int, tuple[Hashable, Future[Any]]] = {}
        self._done.connect(self._on_self_done, Qt.ConnectionType.QueuedConnection)

    def watch(self, future: Future[Any], key: Hashable) -> Future[Any]:
        """Report the outcome of ``future`` under ``key`` (later, on the GUI thread)."""
        self._pending[id(future)] = (key, future)
        future.add_done_callback(self._from_worker)
        return future

    def pending(self) -> int:
        return len(self._pending)

    def _from_worker(self, future: Future[Any]) -> None:
        # Runs on the worker thread (or inline when already done): only emit, never touch UI.
        with contextlib.suppress(RuntimeError):  # the bridge was deleted while the work ran
            self._done.emit(id(future), future)

    @Slot(object, object)
    def _on_self_done(self, token: int, future: Future[Any]) -> None:
        entry = self._pending.pop(token, None)
        if entry is None:
            return
        key = entry[0]
        if future.cancelled():
            self.cancelled.emit(key)
            return
        try:
            result = future.result()
        except CancelledError:
            self.cancelled.emit(key)
        except Exception as exc:  # delivered as data, the GUI decides how to show it
            self.failed.emit(key, exc)
        else:
            self.finished.emit(key, result)
