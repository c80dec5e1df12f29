"""Benchmark of radiograph I/O: open + display a DICOM and a 16-bit PNG, and a window re-render.

Prints JSON, ours beside a naive reference (pydicom/OpenCV decode + float windowing in numpy).
Usage: ``python bench/io_open.py [--repeat 7] [--dicom PATH]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from orthogui.io.display import render
from orthogui.io.readers import read_radiograph

ROOT = Path(__file__).resolve().parents[1]
CANDIDATES = (
    ROOT.parent / "shared" / "data" / "dicom" / "RG2_J2KR.dcm",
    ROOT / "tests" / "data" / "dicom" / "RG2_J2KR.dcm",
)


def timed(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    """Median, best and worst wall time of ``repeat`` calls, in milliseconds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return {
        "median_ms": round(statistics.median(samples) * 1e3, 2),
        "min_ms": round(min(samples) * 1e3, 2),
        "max_ms": round(max(samples) * 1e3, 2),
    }


def naive_window(stored: np.ndarray, center: float, width: float) -> np.ndarray:
    """The usual float64 window/level: what a straightforward implementation does per frame."""
    x = stored.astype(np.float64)
    return (np.clip((x - (center - width / 2.0)) / width, 0.0, 1.0) * 255.0).astype(np.uint8)


def synthetic_png(folder: Path, size: int = 3000) -> Path:
    """A 16-bit (12 bits used) radiograph-like phantom: smooth blobs, edges and noise."""
    import cv2

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    img = 1200.0 + 800.0 * xx
    for _ in range(12):
        cy, cx, r = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.03, 0.2)
        img += 1500.0 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
    img += rng.normal(0.0, 20.0, img.shape).astype(np.float32)
    stored = (np.clip(img, 0, 4095) * 16).astype(np.uint16)
    path = folder / "synthetic16.png"
    cv2.imwrite(str(path), stored)
    return path


def bench_dicom(path: Path, repeat: int) -> dict[str, Any]:
    import pydicom

    def ours() -> None:
        render(read_radiograph(path))

    def reference() -> None:
        ds = pydicom.dcmread(path)
        naive_window(ds.pixel_array, float(ds.WindowCenter), float(ds.WindowWidth))

    rg = read_radiograph(path)
    return {
        "file": path.name,
        "shape": list(rg.shape),
        "open_ms": timed(lambda: read_radiograph(path), repeat),
        "open_and_display_ms": timed(ours, repeat),
        "reference_pydicom_plus_float_window_ms": timed(reference, repeat),
    }


def bench_png(path: Path, repeat: int) -> dict[str, Any]:
    import cv2

    rg = read_radiograph(path)
    windows = [(30000.0 + 900.0 * k, 20000.0 - 700.0 * k) for k in range(repeat * 3)]
    queue = iter(windows * 2)
    ref_queue = iter(windows * 2)

    def reference_open() -> None:
        pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert pixels is not None
        naive_window(pixels, 32768.0, 65536.0)

    return {
        "file": f"synthetic 16-bit PNG {rg.shape[1]}x{rg.shape[0]} ({path.stat().st_size >> 20} MiB)",
        "open_ms": timed(lambda: read_radiograph(path), repeat),
        "open_and_display_ms": timed(lambda: render(read_radiograph(path)), repeat),
        "reference_cv2_plus_float_window_ms": timed(reference_open, repeat),
        "window_rerender_ms": timed(lambda: render(rg, next(queue)), len(windows)),
        "reference_float_window_rerender_ms": timed(
            lambda: naive_window(rg.stored, *next(ref_queue)), len(windows)
        ),
        "window_rerender_target_ms": 30.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--dicom", type=Path, default=None)
    args = parser.parse_args()
    dicom = args.dicom or next(p for p in CANDIDATES if p.is_file())
    render(read_radiograph(dicom))  # warm imports and decoder plugins before timing
    with tempfile.TemporaryDirectory() as tmp:
        png = synthetic_png(Path(tmp))
        result = {
            "benchmark": "io_open",
            "machine": {
                "python": platform.python_version(),
                "cpu_count": os.cpu_count(),
                "numpy": np.__version__,
            },
            "dicom": bench_dicom(dicom, args.repeat),
            "png16": bench_png(png, args.repeat),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
