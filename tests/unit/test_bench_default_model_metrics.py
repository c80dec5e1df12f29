"""bench/default_model_metrics.py's threshold sweep: what a reviewer sees per score threshold,
and which screws are located (the outline's box) but outlined too poorly to count (mask)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit._bench import load_bench

pytest.importorskip("pycocotools")


def _poly(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0, x1, y0, x1, y1, x0, y1]]


def _gt() -> dict[str, Any]:
    cats = [
        {"id": 1, "name": "cortical_screw", "supercategory": "screw"},
        {"id": 2, "name": "locking_screw", "supercategory": "screw"},
    ]
    boxes = [(10, 10, 90, 20), (10, 50, 90, 60), (10, 80, 90, 90)]
    anns = [
        {
            "id": i + 1,
            "image_id": 1,
            "category_id": 1 if i < 2 else 2,
            "segmentation": _poly(*b),
            "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]],
            "area": float((b[2] - b[0]) * (b[3] - b[1])),
            "iscrowd": 0,
        }
        for i, b in enumerate(boxes)
    ]
    images = [{"id": 1, "file_name": "a.png", "width": 100, "height": 100}]
    return {"images": images, "annotations": anns, "categories": cats}


def _det(category: int, outline: list[list[float]], score: float) -> dict[str, Any]:
    # as the bench's results: the box is the outline's bounding box (``coco_result``)
    xs, ys = outline[0][0::2], outline[0][1::2]
    box = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
    return {
        "image_id": 1,
        "category_id": category,
        "bbox": box,
        "segmentation": outline,
        "score": score,
    }


def test_sweep_counts_screws_found_typed_and_boxed_only() -> None:
    bench = load_bench("default_model_metrics")
    dets = [
        # the first screw, outlined and typed right
        _det(1, _poly(10, 10, 90, 20), 0.9),
        # the second: located (its outline spans the screw's box), but the outline is a thin
        # diagonal sliver of it (mask IoU far below 0.5)
        _det(1, [[10, 50, 14, 50, 90, 59, 90, 60, 86, 60, 10, 51]], 0.8),
        # the third, outlined but typed wrong, and below the 0.5 threshold
        _det(1, _poly(10, 80, 90, 90), 0.4),
        # a false proposal on nothing
        _det(2, _poly(40, 30, 60, 40), 0.7),
    ]
    sweep = bench.threshold_sweep(_gt(), dets, thresholds=(0.3, 0.5))
    assert sweep["gt"] == 3
    low, high = sweep["by_threshold"]["0.3"], sweep["by_threshold"]["0.5"]
    assert low == {"shown": 4, "found": 2, "found_by_box": 3, "found_right_type": 1}
    assert high == {"shown": 3, "found": 1, "found_by_box": 2, "found_right_type": 1}
