"""Helpers of the canvas render tests: hold the overlay's worker renderings at will."""

from __future__ import annotations

import threading

from orthogui.ui.canvas import overlay as overlay_mod


def gate_worker(monkeypatch) -> tuple[threading.Event, threading.Event, threading.Event]:  # type: ignore[no-untyped-def]
    """Hold the overlay's background renderings until ``gate`` is set."""
    gate, started, finished = threading.Event(), threading.Event(), threading.Event()
    original = overlay_mod.rasterize_shapes

    def gated(*args, **kwargs):  # type: ignore[no-untyped-def]
        if threading.current_thread() is threading.main_thread():
            return original(*args, **kwargs)
        started.set()
        gate.wait(10)
        try:
            return original(*args, **kwargs)
        finally:
            finished.set()

    monkeypatch.setattr(overlay_mod, "rasterize_shapes", gated)
    return gate, started, finished
