"""Benchmark: peak memory of pre-annotating huge radiographs, ours vs the uncapped paths.

Each case runs in a fresh subprocess: build the bench network (``inference.findings_model``,
random weights woken up to yield ``--max-det`` detections), make a synthetic 12-bit image with
numpy (dark background, a few bright rectangles), reset the peak-RSS counter, pre-annotate once,
and report the process's peak RSS during that call (Linux ``VmHWM``, reset via
``/proc/self/clear_refs``) and over its whole life (``ru_maxrss``). Prints JSON.

Modes: ``ours`` (``MaskRCNNPredictor``, default ``max_input_pixels``), ``uncapped`` (the same
predictor with ``max_input_pixels=None``: the code path before the cap, a full-resolution
float32 unit image), ``torchvision`` (``model([x])`` on the full-resolution unit image, three
channels, torchvision's transform and full-image ``paste_masks_in_image``).
Run: ``nice .venv/bin/python bench/inference_memory.py`` (or ``--case MODE ROWS COLS``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

# (rows, cols) and the modes run at that size. torchvision pastes n x H x W float32 masks:
# 20 x 12000 x 16000 x 4 B = 15 GB, beyond this 24 GB box's ~12 GB budget, so not run there.
CASES: list[tuple[int, int, tuple[str, ...]]] = [
    (3000, 3000, ("ours", "uncapped", "torchvision")),
    (8000, 8000, ("ours", "uncapped", "torchvision")),
    (12000, 16000, ("ours", "uncapped")),
]


def huge(rows: int, cols: int, seed: int = 0) -> Any:
    """A 12-bit radiograph with six bright bars; no float copy is made to build it."""
    from orthogui.core.radiograph import Radiograph

    rng = np.random.default_rng(seed)
    stored = np.full((rows, cols), 900, np.uint16)
    for _ in range(6):
        cx, cy = rng.uniform(0.15, 0.85) * cols, rng.uniform(0.15, 0.85) * rows
        hw, hh = rng.uniform(0.01, 0.03) * cols, rng.uniform(0.05, 0.12) * rows
        stored[int(cy - hh) : int(cy + hh), int(cx - hw) : int(cx + hw)] = 3400
    return Radiograph(path=f"synthetic-{rows}x{cols}", format="png", stored=stored, bits_stored=12)


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def run_case(mode: str, rows: int, cols: int, max_det: int) -> dict[str, Any]:
    import torch
    from inference import findings_model, peak_rss_reset  # bench/inference.py

    from orthogui.ml.predictor import MaskRCNNPredictor
    from orthogui.ml.preprocess import to_unit_image

    model, card = findings_model("maskrcnn_mobilenet_v3_large_fpn_lite", 1024, max_det)
    kw: dict[str, Any] = {"max_input_pixels": None} if mode == "uncapped" else {}
    predictor = MaskRCNNPredictor(model, card, device="cpu", **kw)
    rg = huge(rows, cols)
    before = _status_mb("VmRSS")
    peak_rss_reset()
    t = time.perf_counter()
    if mode == "torchvision":
        with torch.inference_mode():
            x = torch.from_numpy(to_unit_image(rg, card.preprocessing))[None].expand(3, -1, -1)
            out = predictor.model([x])[0]
        n = int(out["boxes"].shape[0])
    else:
        n = len(predictor.predict(rg))
    seconds = time.perf_counter() - t
    peak = _status_mb("VmHWM")
    return {
        "mode": mode,
        "rows": rows,
        "cols": cols,
        "max_input_pixels": predictor.max_input_pixels if mode == "ours" else None,
        "findings": n,
        "seconds": round(seconds, 2),
        "rss_before_mb": round(before, 1),
        "peak_rss_during_call_mb": round(peak, 1),
        "peak_minus_before_mb": round(peak - before, 1),
        "ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", nargs=3, metavar=("MODE", "ROWS", "COLS"), help="one case, here")
    ap.add_argument("--max-det", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = ap.parse_args()
    if args.case:
        import torch

        torch.set_num_threads(args.threads)
        mode, rows, cols = args.case[0], int(args.case[1]), int(args.case[2])
        print(json.dumps(run_case(mode, rows, cols, args.max_det)))
        return
    results = []
    for rows, cols, modes in CASES:
        for mode in modes:
            cmd = [sys.executable, __file__, "--case", mode, str(rows), str(cols)]
            cmd += ["--max-det", str(args.max_det), "--threads", str(args.threads)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                tail = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
                results.append({"mode": mode, "rows": rows, "cols": cols, "error": tail[0]})
            else:
                results.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    report = {"cpu_count": os.cpu_count(), "max_detections": args.max_det, "cases": results}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
