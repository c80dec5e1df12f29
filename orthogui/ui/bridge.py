"""Turn ``concurrent.futures`` results into Qt signals delivered on the GUI thread.

Worker threads never touch widgets: a future's done-callback emits a private signal, and a
queued connection hands the result to the GUI thread, where ``finished``/``failed`` fire.
``BackgroundJobs`` is the one way the UI runs work off the GUI thread: a named thread pool
whose futures report through its own bridge signals.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
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


class BackgroundJobs(FutureBridge):
    """A thread pool owned by a controller; ``submit(key, fn, *args)`` runs ``fn`` on it and
    reports through ``finished``/``failed``/``cancelled`` on the GUI thread under ``key``.

    ``shutdown()`` cancels what has not started and lets a running job finish unobserved
    (its result is dropped: the bridge ignores futures it no longer tracks).
    """

    def __init__(self, parent: QObject | None = None, *, name: str, workers: int = 1) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"orthogui-{name}")
        self._closed = False

    def submit(
        self, key: Hashable, fn: Callable[..., object], /, *args: object, **kwargs: object
    ) -> Future[Any]:
        """Run ``fn(*args, **kwargs)`` on the pool; its outcome arrives under ``key``."""
        return self.watch(self._pool.submit(fn, *args, **kwargs), key)

    def closed(self) -> bool:
        return self._closed

    def shutdown(self, *, wait: bool = False) -> None:
        """Stop: queued jobs are cancelled, nothing more is reported."""
        self._closed = True
        self._pending.clear()
        self._pool.shutdown(wait=wait, cancel_futures=True)
