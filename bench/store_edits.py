"""Benchmark of the project store: the cost of one committed edit, and of opening a project.

Prints JSON. Usage: ``python bench/store_edits.py [--edits 500] [--annotations 10000]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

from orthogui.core.annotation import Annotation
from orthogui.core.commands import AddAnnotations
from orthogui.core.geometry import Polygon
from orthogui.core.project import ImageRecord
from orthogui.core.review import set_shape
from orthogui.io.store import ProjectStore, Synchronous


def polygon(n: int, shift: float) -> Polygon:
    return Polygon([(shift + k, float(k * k % 97)) for k in range(n)])


def timings_ms(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    return {
        "median_ms": round(statistics.median(samples) * 1e3, 3),
        "p95_ms": round(samples[int(0.95 * (len(samples) - 1))] * 1e3, 3),
        "max_ms": round(samples[-1] * 1e3, 3),
    }


def bench_edits(folder: Path, synchronous: Synchronous, edits: int) -> dict[str, object]:
    """Push ``edits`` separate 100-vertex polygon updates, then undo and redo them all."""
    store = ProjectStore.create(folder / f"edits-{synchronous}.orthogui", synchronous=synchronous)
    store.add_images([ImageRecord("im0", "a.png", "h", 2000, 2000)])
    ann = Annotation.human(image_id="im0", category="fracture", shape=polygon(100, 0.0))
    store.history.push(AddAnnotations((ann,)))
    push: list[float] = []
    for i in range(edits):
        cmd = set_shape(store.model.annotation(ann.id), polygon(100, i + 1.0), user="bench")
        t = time.perf_counter()
        store.history.push(cmd)
        push.append(time.perf_counter() - t)
        store.history.close_merge()
    undo: list[float] = []
    for _ in range(edits):
        t = time.perf_counter()
        store.history.undo()
        undo.append(time.perf_counter() - t)
    merge: list[float] = []
    for i in range(edits):  # one long drag: every push after the first is a merge
        cmd = set_shape(store.model.annotation(ann.id), polygon(100, -i), user="b", merge_key="d")
        t = time.perf_counter()
        store.history.push(cmd)
        merge.append(time.perf_counter() - t)
    store.close()
    return {
        "synchronous": synchronous,
        "push_100_vertex_update": timings_ms(push),
        "undo": timings_ms(undo),
        "merge_drag_step": timings_ms(merge[1:]),
    }


def bench_open(folder: Path, annotations: int) -> dict[str, object]:
    """Open a project of ``annotations`` 40-vertex polygons on 10 per image, 1 journal step each."""
    path = folder / "open.orthogui"
    with ProjectStore.create(path, synchronous="normal") as store:
        n_images = max(1, annotations // 10)
        store.add_images([ImageRecord(f"im{i}", f"{i}.png", f"h{i}") for i in range(n_images)])
        for i in range(n_images):
            anns = tuple(
                Annotation.human(image_id=f"im{i}", category="fracture", shape=polygon(40, k))
                for k in range(10)
            )
            store.history.push(AddAnnotations(anns))
    t = time.perf_counter()
    with ProjectStore.open(path) as store:
        opened = time.perf_counter() - t
        assert len(store.model.annotations()) == n_images * 10
    t = time.perf_counter()
    ProjectStore.open(path, check=False).close()
    unchecked = time.perf_counter() - t
    return {
        "annotations": n_images * 10,
        "journal_steps": n_images,
        "file_mb": round(path.stat().st_size / 1e6, 2),
        "open_s": round(opened, 3),
        "open_without_quick_check_s": round(unchecked, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--edits", type=int, default=500)
    parser.add_argument("--annotations", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        result = {
            "machine": platform.platform(),
            "edits": [bench_edits(folder, s, args.edits) for s in ("full", "normal")],
            "open": bench_open(folder, args.annotations),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
