"""Benchmark: GUI event-loop delay while the app pre-annotates images (issue 5, item 4).

A 10 ms ``QTimer`` runs on the GUI thread; each tick's lateness is how much more than 10 ms
passed since the previous tick. Measured twice in one process: with nothing running
(reference), then while the main window pre-annotates ``--n`` new images ("Pre-annotate the
whole queue") through the real path — ``InferenceService`` worker, ``FutureBridge``, one undo
step per image written to the project file, findings drawn on the canvas — with the light
Mask R-CNN (random weights, BatchNorm re-estimated and class logits biased so that it outputs
findings). Prints JSON.
Run: ``nice -n 15 .venv/bin/python bench/gui_latency.py --n 4 --size 1024``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import cv2
import numpy as np
import torch  # before Qt, as the app does
from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtWidgets import QApplication

from orthogui.io.files import records_for
from orthogui.io.store import ProjectStore
from orthogui.ml.predictor import MaskRCNNPredictor
from orthogui.ui.main_window import MainWindow

sys.path.insert(0, str(Path(__file__).resolve().parent))
from inference import findings_model, synthetic  # bench/inference.py: same images, model

LITE = "maskrcnn_mobilenet_v3_large_fpn_lite"
TICK_MS = 10


def light_predictor(size: int, max_det: int) -> MaskRCNNPredictor:
    """The light architecture with random weights that nevertheless outputs findings."""
    model, card = findings_model(LITE, size, max_det)
    return MaskRCNNPredictor(model, card, device="cpu")


class TickRecorder:
    """Lateness of a repeating 10 ms timer on the GUI thread, in ms."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.late_ms: list[float] = []
        self.at_s: list[float] = []  # when each tick came, from start
        self._last = self._t0 = 0.0

    def start(self) -> None:
        self.late_ms, self.at_s = [], []
        self._last = self._t0 = time.perf_counter()
        self.timer.start()

    def worst(self, k: int = 5) -> list[tuple[float, float]]:
        """The ``k`` latest ticks as (seconds from start, lateness ms), in time order."""
        idx = sorted(np.argsort(self.late_ms)[::-1][:k])
        return [(round(self.at_s[i], 2), round(self.late_ms[i], 1)) for i in idx]

    def stop(self) -> dict[str, float]:
        self.timer.stop()
        return summary(self.late_ms)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.late_ms.append(max(0.0, (now - self._last) * 1000.0 - TICK_MS))
        self.at_s.append(now - self._t0)
        self._last = now


def summary(late: list[float]) -> dict[str, float]:
    arr = np.asarray(late or [0.0])
    return {
        "ticks": len(late),
        "median_ms": float(statistics.median(arr)),
        "p95_ms": float(np.percentile(arr, 95)),
        "max_ms": float(arr.max()),
        "over_50ms": int((arr > 50).sum()),
    }


def run(loop: QEventLoop, seconds: float | None = None) -> float:
    """Spin ``loop`` until it is quit (or ``seconds`` pass); returns the wall time."""
    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(loop.quit)
    if seconds is not None:
        guard.start(int(seconds * 1000))
    t0 = time.perf_counter()
    loop.exec()
    guard.stop()  # a stale time-out must not end a later phase
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4, help="images to pre-annotate")
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--max-det", type=int, default=20)
    ap.add_argument("--ref-seconds", type=float, default=5.0, help="reference: idle loop time")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    predictor = light_predictor(args.size, args.max_det)
    predictor.predict(synthetic(999, args.size))  # warm-up, before any measurement

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = []
        for i in range(args.n):
            p = folder / f"img{i:02d}.png"
            assert cv2.imwrite(str(p), synthetic(i, args.size).stored)
            paths.append(p)
        store = ProjectStore.create(folder / "bench.orthogui", user="bench")
        store.add_images(records_for(paths))
        win = MainWindow(store, user="bench")  # no model yet: opening prefetches nothing
        win.resize(1400, 900)
        win.show()
        opened = QEventLoop()
        win.loader.loaded.connect(opened.quit)
        win.step_image(+1)
        run(opened, 60)
        win.predict.set_predictor(predictor)
        run(QEventLoop(), 0.5)  # settle (layout, first paint)

        ticks = TickRecorder()
        ticks.start()
        run(QEventLoop(), args.ref_seconds)
        reference = ticks.stop()

        # GUI-thread work per image: proposals into the project (store, canvas, panels).
        apply_ms: list[tuple[float, float]] = []
        apply = win.predict.apply

        def timed_apply(image_id: str, predictions: list[Any]) -> int:
            t = time.perf_counter()
            n = apply(image_id, predictions)
            apply_ms.append((round(t - ticks._t0, 2), round((time.perf_counter() - t) * 1e3, 1)))
            return n

        win.predict.apply = timed_apply  # type: ignore[method-assign]
        done = QEventLoop()
        summaries: list[str] = []
        win.predict.finished.connect(summaries.append)
        win.predict.finished.connect(done.quit)
        ticks.start()
        win.actions["predict_queue"].trigger()
        wall = run(done)
        during = ticks.stop()
        worst = ticks.worst()
        findings = len(win.model.annotations())
        if win.predict.service is not None:  # let queued background work end cleanly
            win.predict.service.shutdown(wait=True)
        win.close()
        store_note = summaries[-1] if summaries else "no summary"

    report: dict[str, Any] = {
        "what": "GUI event-loop lateness of a 10 ms QTimer (ms)",
        "device": "cpu",
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "nice": os.nice(0),
        "arch": LITE,
        "size": args.size,
        "n_images": args.n,
        "findings_added": findings,
        "summary": store_note,
        "reference_idle": reference,
        "during_preannotation": {
            **during,
            "wall_s": wall,
            "s_per_image": wall / max(args.n, 1),
            "worst_ticks_at_s_ms": worst,
            "gui_apply_at_s_ms": apply_ms,
        },
    }
    print(json.dumps(report, indent=2))
    del app


if __name__ == "__main__":
    main()
