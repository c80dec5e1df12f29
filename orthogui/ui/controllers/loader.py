"""Read radiographs off the GUI thread: latest request wins, next images are prefetched.

Reading (file I/O + decoding) runs on a small thread pool; results come back through a
``FutureBridge`` on the GUI thread and are kept in a small LRU cache for instant paging.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import Future
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from orthogui.core.radiograph import Radiograph
from orthogui.ui.bridge import BackgroundJobs
from orthogui.ui.services import Reader, read_radiograph


class ImageLoader(QObject):
    """``request`` an image to show it; ``loaded``/``failed`` fire on the GUI thread.

    Only the latest request is announced by ``loaded``; earlier ones finish into the cache.
    """

    loaded = Signal(str, object)  # image id, Radiograph
    failed = Signal(str, str)  # image id, message naming the file and the reason

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        reader: Reader | None = None,
        workers: int = 2,
        cache_size: int = 6,
    ) -> None:
        super().__init__(parent)
        self._reader = reader or read_radiograph
        self._jobs = BackgroundJobs(self, name="read", workers=workers)
        self._jobs.finished.connect(self._on_jobs_finished)
        self._jobs.failed.connect(self._on_jobs_failed)
        self._cache: OrderedDict[str, Radiograph] = OrderedDict()
        self._cache_size = cache_size
        self._inflight: dict[str, Future[object]] = {}
        self._errors: dict[str, str] = {}
        self._current: str | None = None
        self._closed = False

    # -- requests ---------------------------------------------------------------------------
    def current(self) -> str | None:
        return self._current

    def cached(self, image_id: str) -> Radiograph | None:
        return self._cache.get(image_id)

    def request(self, image_id: str, path: Path) -> None:
        """Show this image next: cancels queued reads of stale requests (latest wins)."""
        self._current = image_id
        for other, fut in list(self._inflight.items()):
            if other != image_id and fut.cancel():
                del self._inflight[other]
        hit = self._cache.get(image_id)
        if hit is not None:
            self._cache.move_to_end(image_id)
            self.loaded.emit(image_id, hit)
            return
        self._errors.pop(image_id, None)
        self._submit(image_id, path)

    def prefetch(self, items: Iterable[tuple[str, Path]]) -> None:
        """Read these in the background so that paging to them is instant."""
        for image_id, path in items:
            if image_id in self._cache or image_id in self._errors:
                continue
            self._submit(image_id, path)

    def forget(self, image_id: str) -> None:
        self._cache.pop(image_id, None)
        self._errors.pop(image_id, None)

    def shutdown(self) -> None:
        self._closed = True  # reads already finished into the bridge are dropped
        for fut in self._inflight.values():
            fut.cancel()
        self._inflight.clear()
        self._jobs.shutdown()

    # -- internals --------------------------------------------------------------------------
    def _submit(self, image_id: str, path: Path) -> None:
        if self._closed or image_id in self._inflight:
            return
        self._inflight[image_id] = self._jobs.submit(image_id, self._reader, Path(path))

    def _on_jobs_finished(self, image_id: object, radiograph: object) -> None:
        key = str(image_id)
        self._inflight.pop(key, None)
        if self._closed:
            return
        assert isinstance(radiograph, Radiograph)
        self._cache[key] = radiograph
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            oldest = next(iter(self._cache))
            if oldest == self._current:
                self._cache.move_to_end(oldest)
                continue
            del self._cache[oldest]
        if key == self._current:
            self.loaded.emit(key, radiograph)

    def _on_jobs_failed(self, image_id: object, exc: object) -> None:
        key = str(image_id)
        self._inflight.pop(key, None)
        self._errors[key] = str(exc)
        if key == self._current:
            self.failed.emit(key, str(exc))
