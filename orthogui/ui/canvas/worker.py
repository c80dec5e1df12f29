"""One background thread for the canvas's slow renders; the newest request of a channel wins.

The GUI thread hands the worker a job bound to immutable inputs (a numpy rendering, a snapshot
of the shapes) and gets its result back through a queued signal. Each channel (the overlay
pixmap, the image pixmap, the full-resolution window/level render) counts its requests: a
result is delivered only if no newer request or ``drop`` came after it, and a job that is
superseded before it starts is skipped. Jobs draw on ``QImage`` only (never ``QPixmap``, never
scene items).

PySide holds the GIL inside every Qt call, so a job that paints with ``QPainter`` should call
``yield_gil()`` between short calls: the GUI thread then waits for the GIL about as long as
one of those calls, not a whole render. numpy and OpenCV release the GIL themselves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from PySide6.QtCore import QObject, Signal

from orthogui.ui.bridge import BackgroundJobs

T = TypeVar("T")
_SKIPPED = object()  # the result of a job superseded before it started


@dataclass(frozen=True, eq=False)
class _Request:
    """One request of a channel: its generation and where its result goes."""

    channel: str
    gen: int
    deliver: Callable[..., None]  # takes the job's result


def yield_gil() -> None:
    """Let a waiting thread (the GUI thread) take the GIL now (``sleep(0)`` releases it)."""
    time.sleep(0)


class RenderWorker(QObject):
    """Runs render jobs on one thread and delivers the latest result of each channel.

    ``failed(channel, message)`` is emitted on the GUI thread when the latest job of a channel
    raised.
    """

    failed = Signal(str, str)

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self._jobs = BackgroundJobs(self, name="canvas-render")
        self._jobs.finished.connect(self._on_jobs_finished)
        self._jobs.failed.connect(self._on_jobs_failed)
        self._latest: dict[str, int] = {}  # channel -> generation of its newest request
        self._busy: set[str] = set()  # channels whose newest request has not landed yet
        self._delivered = 0
        jobs = self._jobs
        parent.destroyed.connect(lambda *_: jobs.shutdown())

    def submit(self, channel: str, job: Callable[[], T], deliver: Callable[[T], None]) -> int:
        """Run ``job()`` on the worker; ``deliver(result)`` later on the GUI thread unless a
        newer request or a ``drop`` of ``channel`` came first. Returns the request's
        generation."""
        gen = self._latest.get(channel, 0) + 1
        self._latest[channel] = gen
        self._busy.add(channel)
        latest = self._latest

        def run() -> object:
            if latest.get(channel) != gen:  # a plain dict read: atomic under the GIL
                return _SKIPPED
            return job()

        self._jobs.submit(_Request(channel, gen, deliver), run)
        return gen

    def drop(self, channel: str) -> None:
        """Forget the requests of ``channel`` made so far: their results are not delivered."""
        if channel in self._latest:
            self._latest[channel] += 1
        self._busy.discard(channel)

    def busy(self, channel: str | None = None) -> bool:
        """Whether the newest request of ``channel`` (of any channel) has not landed yet."""
        return bool(self._busy) if channel is None else channel in self._busy

    def delivered(self) -> int:
        """How many results were delivered (tests, benchmarks)."""
        return self._delivered

    def shutdown(self) -> None:
        """Stop taking jobs; the running one finishes, its result is dropped."""
        for channel in list(self._latest):
            self.drop(channel)
        self._jobs.shutdown()

    def _current(self, channel: str, gen: int) -> bool:
        if self._latest.get(channel) != gen:
            return False
        self._busy.discard(channel)
        return True

    def _on_jobs_finished(self, key: object, result: object) -> None:
        assert isinstance(key, _Request)
        if result is _SKIPPED or not self._current(key.channel, key.gen):
            return
        self._delivered += 1
        key.deliver(result)

    def _on_jobs_failed(self, key: object, exc: object) -> None:
        assert isinstance(key, _Request)
        if self._current(key.channel, key.gen):
            self.failed.emit(key.channel, f"{type(exc).__name__}: {exc}")
