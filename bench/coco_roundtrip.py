"""Time a COCO snapshot of 10,000 images x 20 findings and its re-import; prints JSON.

Usage: ``python bench/coco_roundtrip.py [--images N] [--per-image K]`` (image mode "none").
Wall-clock and CPU seconds are both printed: on a shared machine the CPU time of this process
is the steadier number to compare two versions by.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from orthogui.core.annotation import Annotation, Provenance, Review, ReviewState
from orthogui.core.categories import DEFAULT_CATEGORIES
from orthogui.core.geometry import Box, Polygon
from orthogui.core.project import ImageRecord, ImageStatus, ProjectModel
from orthogui.io.importers import LabelMap, merge_into, read_import
from orthogui.io.snapshot import SPLITS, ImageMode, SnapshotOptions, export_snapshot


def build(n_images: int, per_image: int) -> ProjectModel:
    rng = np.random.default_rng(0)
    t = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    ring = np.stack([np.cos(t), np.sin(t)], axis=1)
    names = DEFAULT_CATEGORIES.names()
    images, anns = [], []
    for i in range(n_images):
        rec = ImageRecord(
            id=f"im{i}",
            path=f"img{i}.dcm",
            width=2048,
            height=2048,
            status=ImageStatus.APPROVED,
            study_key=f"s{i // 3}",
        )
        images.append(rec)
        for k in range(per_image):
            c = rng.uniform(100, 1900, 2)
            cat = names[(i + k) % len(names)]
            shape = (
                Box(*c, *(c + 60)) if cat == "fracture" else Polygon(c + ring * rng.uniform(10, 80))
            )
            anns.append(
                Annotation(
                    id=f"a{i}_{k}",
                    image_id=rec.id,
                    category=cat,
                    shape=shape,
                    provenance=Provenance("model", "maskrcnn", "1", 0.9),
                    review=Review(ReviewState.ACCEPTED, "dr", "2024-01-01T00:00:00+00:00"),
                    attributes={"vertebra_level": "L1"} if cat.startswith("vertebral") else {},
                )
            )
    model = ProjectModel()
    model.load(images, anns)
    return model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--per-image", type=int, default=20)
    args = parser.parse_args()
    model = build(args.images, args.per_image)
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        snap = export_snapshot(
            model,
            Path(tmp) / "snap",
            image_path_of=lambda r: Path(r.path),
            options=SnapshotOptions(image_mode=ImageMode.NONE, salt="bench"),
        )
        t1, c1 = time.perf_counter(), time.process_time()
        again = ProjectModel()
        for split in SPLITS:
            res = read_import(
                "coco",
                snap.path / "annotations" / f"{split}.json",
                label_map=LabelMap(DEFAULT_CATEGORIES),
            )
            merge_into(again, res)
        t2, c2 = time.perf_counter(), time.process_time()
        size = sum(p.stat().st_size for p in (snap.path / "annotations").iterdir())
    print(
        json.dumps(
            {
                "benchmark": "coco_roundtrip",
                "images": args.images,
                "instances": len(model.annotations()),
                "reimported_instances": len(again.annotations()),
                "export_s": round(t1 - t0, 2),
                "import_s": round(t2 - t1, 2),
                "total_s": round(t2 - t0, 2),
                "export_cpu_s": round(c1 - c0, 2),
                "import_cpu_s": round(c2 - c1, 2),
                "json_mb": round(size / 1e6, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
