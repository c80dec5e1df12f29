"""FutureBridge and ImageLoader: results arrive on the GUI thread; the latest request wins."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PySide6.QtCore import QThread

from orthogui.core.radiograph import CorruptFileError
from orthogui.ui.bridge import FutureBridge
from orthogui.ui.controllers.loader import ImageLoader
from tests.ui.conftest import synthetic_radiograph


def test_bridge_delivers_results_and_errors_on_the_gui_thread(qtbot) -> None:
    bridge = FutureBridge()
    seen: list[tuple[str, object, bool]] = []
    main = QThread.currentThread()
    bridge.finished.connect(lambda k, r: seen.append((k, r, QThread.currentThread() is main)))
    bridge.failed.connect(lambda k, e: seen.append((k, str(e), QThread.currentThread() is main)))

    def boom() -> int:
        raise ValueError("bad")

    with ThreadPoolExecutor(2) as pool:
        bridge.watch(pool.submit(lambda: 6 * 7), "ok")
        with qtbot.waitSignal(bridge.failed, timeout=5000):
            bridge.watch(pool.submit(boom), "err")
        qtbot.waitUntil(lambda: len(seen) == 2, timeout=5000)
    assert ("ok", 42, True) in seen
    assert ("err", "bad", True) in seen
    assert bridge.pending() == 0


def test_bridge_reports_cancelled_futures(qtbot) -> None:
    bridge = FutureBridge()
    gate = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        pool.submit(gate.wait, 5)
        queued = pool.submit(lambda: 1)
        with qtbot.waitSignal(bridge.cancelled, timeout=5000) as blocker:
            bridge.watch(queued, "q")
            assert queued.cancel()
        gate.set()
    assert blocker.args == ["q"]


def test_loader_latest_request_wins_and_errors_name_the_file(qtbot) -> None:
    release_a = threading.Event()

    def reader(path: Path):
        if path.name == "a.png":
            release_a.wait(5)
        if path.name == "bad.png":
            raise CorruptFileError(path, "PNG CRC mismatch")
        return synthetic_radiograph(64, seed=len(path.name))

    loader = ImageLoader(reader=reader)
    shown: list[str] = []
    loader.loaded.connect(lambda i, _rg: shown.append(i))
    loader.request("a", Path("a.png"))
    with qtbot.waitSignal(loader.loaded, timeout=5000):
        loader.request("bb", Path("bb.png"))
    release_a.set()
    qtbot.waitUntil(lambda: loader.cached("a") is not None or not loader._inflight, timeout=5000)
    assert shown == ["bb"]  # "a" finished (or was cancelled) after: never shown
    with qtbot.waitSignal(loader.failed, timeout=5000) as blocker:
        loader.request("bad", Path("/x/bad.png"))
    assert "bad.png" in blocker.args[1] and "CRC" in blocker.args[1]
    loader.prefetch([("c", Path("c.png"))])
    qtbot.waitUntil(lambda: loader.cached("c") is not None, timeout=5000)
    with qtbot.waitSignal(loader.loaded, timeout=1000):  # cached: instant
        loader.request("c", Path("c.png"))
    loader.shutdown()


@pytest.mark.parametrize("size", [1])
def test_loader_cache_is_bounded(qtbot, size: int) -> None:
    loader = ImageLoader(reader=lambda p: synthetic_radiograph(32), cache_size=size)
    for name in ("a", "b", "c"):
        with qtbot.waitSignal(loader.loaded, timeout=5000):
            loader.request(name, Path(name))
    assert loader.cached("c") is not None and loader.cached("a") is None
    loader.shutdown()
