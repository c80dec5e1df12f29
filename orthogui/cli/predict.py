"""``orthogui predict``: run a model over radiographs and write COCO results, or store the
findings as pre-annotations in a project (with ``--score``, each image's uncertainty too)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from orthogui.core.annotation import Prediction
from orthogui.core.categories import DEFAULT_CATEGORIES, CategorySet
from orthogui.core.geometry import Polygon
from orthogui.io.masks import mask_to_rle, polygons_to_mask

COMMAND = "predict"
HELP = "Run a model over radiographs: COCO results (--out) or pre-annotations (--project)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "inputs",
        nargs="*",
        metavar="INPUTS",
        help="radiograph files (or, with --project, image ids; none = all)",
    )
    parser.add_argument("--model", required=True, help="model name (in models/) or card path")
    parser.add_argument("--models-dir", default=None, help="folder of model cards")
    parser.add_argument(
        "--device", choices=("cpu", "cuda"), default=None, help="default: CUDA when available"
    )
    parser.add_argument("--score-threshold", type=float, default=None, help="override the card's")
    parser.add_argument("--nms-iou", type=float, default=None, help="override the card's")
    out = parser.add_mutually_exclusive_group(required=True)
    out.add_argument("--out", type=Path, help="COCO results JSON to write")
    out.add_argument("--project", type=Path, help="project file to store pre-annotations in")
    parser.add_argument(
        "--score",
        action="store_true",
        help="with --project: also store each image's uncertainty for the review queue "
        "(runs the model twice more per image: the image and its mirror image)",
    )
    parser.add_argument(
        "--images-json",
        type=Path,
        default=None,
        help="also write the COCO images+categories file the results refer to (default: OUT.images.json)",
    )


def _progress(i: int, n: int, name: str) -> None:
    width = 30
    done = width * i // max(n, 1)
    sys.stderr.write(f"\r[{'#' * done}{'.' * (width - done)}] {i}/{n} {name[-40:]:<40}")
    if i == n:
        sys.stderr.write("\n")
    sys.stderr.flush()


def coco_result(
    p: Prediction, *, image_id: int, shape: tuple[int, int], categories: CategorySet
) -> dict[str, Any]:
    """One COCO results entry: bbox always, RLE segmentation for polygons."""
    entry: dict[str, Any] = {
        "image_id": image_id,
        "category_id": categories.by_name(p.category).id,
        "bbox": [round(v, 2) for v in p.shape.bbox().xywh()],
        "score": round(float(p.score), 5),
    }
    if isinstance(p.shape, Polygon):
        entry["segmentation"] = mask_to_rle(polygons_to_mask([p.shape], shape))
    return entry


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit status."""
    import torch

    from orthogui.ml.predictor import MaskRCNNPredictor

    if args.score and args.project is None:
        raise ValueError("--score needs --project (scores are stored in a project)")
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    predictor = MaskRCNNPredictor.from_card(
        args.model,
        device=args.device,
        models_dir=args.models_dir,
        score_threshold=args.score_threshold,
        nms_iou=args.nms_iou,
    )
    if args.project is not None:
        return _run_project(args, predictor)
    return _run_files(args, predictor)


def _run_files(args: argparse.Namespace, predictor: Any) -> int:
    from orthogui.io.readers import read_radiograph

    if not args.inputs:
        raise ValueError("no INPUTS given")
    categories = DEFAULT_CATEGORIES
    predictor.card.check_categories(categories)
    results: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    n = len(args.inputs)
    for i, name in enumerate(args.inputs, start=1):
        rg = read_radiograph(name)
        preds = predictor.predict(rg)
        images.append({"id": i, "file_name": str(name), "width": rg.columns, "height": rg.rows})
        results += [
            coco_result(p, image_id=i, shape=rg.shape, categories=categories) for p in preds
        ]
        _progress(i, n, str(name))
    out: Path = args.out
    out.write_text(json.dumps(results), encoding="utf-8")
    images_json: Path = args.images_json or out.with_name(out.stem + ".images.json")
    coco = {
        "images": images,
        "annotations": [],
        "categories": [
            {"id": c.id, "name": c.name, "supercategory": c.supercategory} for c in categories
        ],
        "info": {"model": predictor.model_name, "model_version": predictor.model_version},
    }
    images_json.write_text(json.dumps(coco), encoding="utf-8")
    sys.stderr.write(f"{len(results)} findings on {n} images -> {out} (images: {images_json})\n")
    return 0


def _run_project(args: argparse.Namespace, predictor: Any) -> int:
    from orthogui.core.review import preannotation
    from orthogui.io.readers import read_radiograph
    from orthogui.io.store import ProjectStore
    from orthogui.ml.service import with_uncertainty

    store = ProjectStore.open(args.project)
    try:
        predictor.card.check_categories(store.model.categories)
        wanted = set(args.inputs)
        records = [r for r in store.model.images() if not wanted or r.id in wanted]
        unknown = wanted - {r.id for r in records}
        if unknown:
            raise ValueError(f"{args.project}: no images with ids {sorted(unknown)}")
        total = 0
        scores: list[float] = []
        for i, rec in enumerate(records, start=1):
            rg = read_radiograph(store.image_path(rec))
            preds = predictor.predict(rg)
            label = f"Pre-annotate ({predictor.model_name} {predictor.model_version})"
            step = preannotation(store.model, rec.id, preds, label=label)
            if step is not None:
                store.history.push(step)
            total += len(preds)
            if args.score:  # bookkeeping like the GUI's: stored, not an undo step
                scores.append(predictor.uncertainty(rg))
                store.update_images(
                    [with_uncertainty(store.model.image(rec.id), scores[-1], predictor)]
                )
            _progress(i, len(records), rec.id)
        scored = f", uncertainty {min(scores):.3f}-{max(scores):.3f}" if scores else ""
        sys.stderr.write(
            f"{total} pre-annotations on {len(records)} images{scored} -> {args.project}\n"
        )
    finally:
        store.close()
    return 0
