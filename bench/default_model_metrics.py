"""Metrics and CPU speed of a model card on the held-out synthetic test set and FracAtlas valid.

    python bench/default_model_metrics.py --card models/orthogui-default-light-4.json \
        --scene limb --size 1024 --seed 8203 --out docs/default-model-metrics.json [--write-card]

Synthetic test: ``--n`` images of ``--scene`` at ``--size`` px from a seed never used in
training (default: the recipe's held-out seed). Reported: screw mask AP50/AP75 (mean over the five types, as
COCOeval), per type, a class-agnostic screw AP50 (any type counts), mask IoU and Dice of matched
screws, the screw-type confusion, fracture box AP50, vertebral-fracture mask AP50, and a
score-threshold sweep for the card's display threshold: how many screw proposals a reviewer
sees, how many screws they find (mask IoU >= 0.5, any type), and how many with the right type
(the type accuracy of matched screws at the display threshold).
FracAtlas valid (82 real images, experts' fracture outlines): fracture box AP50.
Speed: per-image CPU time of our predictor end to end (read excluded, type stage included)
beside the plain torchvision forward of the same network on the same tensor, in this process.
Demo: the largest IoU between two fracture proposals on any bundled demo image.

``--write-card`` stores the headline numbers in the card's ``metrics`` (the weights and their
sha256 are unchanged). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from orthogui.cli.predict import coco_result
from orthogui.core.categories import DEFAULT_CATEGORIES
from orthogui.evaluation import evaluate
from orthogui.evaluation.cocoeval import load_gt, load_results
from orthogui.evaluation.matching import greedy_match
from orthogui.io.readers import read_radiograph
from orthogui.ml.card import load_card, save_card
from orthogui.ml.predictor import MaskRCNNPredictor
from orthogui.ml.preprocess import to_unit_image
from orthogui.synth.dataset import write_dataset
from orthogui.training.default_model import Recipe, fracatlas_subset

SCREWS = [c.name for c in DEFAULT_CATEGORIES if c.supercategory == "screw"]
ROOT = Path(__file__).resolve().parents[1]


def _predict_all(
    predictor: MaskRCNNPredictor, coco: dict[str, Any], root: Path
) -> tuple[list[dict[str, Any]], list[float]]:
    results: list[dict[str, Any]] = []
    seconds: list[float] = []
    for im in coco["images"]:
        rg = read_radiograph(root / im["file_name"])
        t0 = time.perf_counter()
        preds = predictor.predict(rg)
        seconds.append(time.perf_counter() - t0)
        results += [
            coco_result(p, image_id=int(im["id"]), shape=rg.shape, categories=DEFAULT_CATEGORIES)
            for p in preds
        ]
    return results, seconds


def _subset(coco: dict[str, Any], names: list[str], *, merge_as: str | None = None) -> dict:
    ids = {c["id"] for c in coco["categories"] if c["name"] in names}
    cats = [c for c in coco["categories"] if c["id"] in ids]
    anns = [a for a in coco["annotations"] if a["category_id"] in ids]
    if merge_as is not None:
        cats = [{"id": 1, "name": merge_as, "supercategory": merge_as}]
        anns = [{**a, "category_id": 1} for a in anns]
    return {**coco, "categories": cats, "annotations": anns}


def _results_for(results: list[dict[str, Any]], ids: set[int], *, merge: bool = False) -> list:
    out = [r for r in results if r["category_id"] in ids]
    return [{**r, "category_id": 1} for r in out] if merge else out


def _ap(gt: dict, dt: list, iou_type: str, **kw: Any) -> dict[str, Any]:
    if not dt:
        return {"coco": {"AP": 0.0, "AP50": 0.0, "AP75": 0.0, "per_category": {}}}
    return evaluate(gt, dt, iou_type=iou_type, **kw)  # type: ignore[arg-type]


def _reference_forward(predictor: MaskRCNNPredictor, rg: Any, repeats: int) -> list[float]:
    """Plain torchvision: the same network's forward on the same unit tensor, nothing else."""
    unit = to_unit_image(rg, predictor.card.preprocessing)
    x = torch.from_numpy(unit)[None].expand(3, -1, -1).contiguous()
    times = []
    with torch.inference_mode():
        for _ in range(repeats):
            t0 = time.perf_counter()
            predictor.model([x])
            times.append(time.perf_counter() - t0)
    return times


SWEEP = (0.1, 0.2, 0.3, 0.4, 0.5, 0.7)


def threshold_sweep(
    gt: dict[str, Any], dt: list[dict[str, Any]], *, thresholds: tuple[float, ...] = SWEEP
) -> dict[str, Any]:
    """Screw proposals shown at each score threshold, matched one to one at mask IoU >= 0.5,
    highest score first: ``shown``, ``found`` (screws found, any type; the rest of ``shown`` are
    false or duplicate proposals) and ``found_right_type``, out of ``gt`` screws;
    ``found_by_box``: screws located, matched the same way by the bounding box of the outline
    (box IoU >= 0.5, any type) — those beyond ``found`` are in the right place and extent but
    outlined too poorly to count (e.g. an outline that runs into a crossing screw)."""
    coco_gt = load_gt(gt)
    coco_dt = load_results(coco_gt, dt)
    n_gt = len(gt["annotations"])
    rows: dict[str, Any] = {}
    for t in thresholds:
        anyt = greedy_match(coco_gt, coco_dt, iou_type="segm", score_threshold=t, class_aware=False)
        typed = greedy_match(coco_gt, coco_dt, iou_type="segm", score_threshold=t)
        boxed = greedy_match(
            coco_gt, coco_dt, iou_type="bbox", score_threshold=t, class_aware=False
        )
        rows[f"{t:g}"] = {
            "shown": len(anyt.matches) + len(anyt.unmatched_dt),
            "found": len(anyt.matches),
            "found_by_box": len(boxed.matches),
            "found_right_type": len(typed.matches),
        }
    return {"gt": n_gt, "iou": 0.5, "by_threshold": rows}


def synthetic_metrics(
    predictor: MaskRCNNPredictor, n: int, size: int, seed: int, *, scene: str = "mixed"
) -> dict:
    """Metrics on ``n`` synthetic test images made from ``seed`` (held out from training)."""
    with tempfile.TemporaryDirectory(prefix="orthogui-synth-test-") as tmp:
        root = Path(tmp)
        write_dataset(root, n=n, seed=seed, scene=scene, size=size, fmt="png16")  # type: ignore[arg-type]
        coco = json.loads((root / "annotations.json").read_text())
        results, seconds = _predict_all(predictor, coco, root)
        rg = read_radiograph(root / coco["images"][0]["file_name"])
        ref = _reference_forward(predictor, rg, repeats=5)
        ours_same = []
        for _ in range(5):
            t0 = time.perf_counter()
            predictor.predict(rg)
            ours_same.append(time.perf_counter() - t0)
    cat_id = {c["name"]: c["id"] for c in coco["categories"]}
    screw_ids = {cat_id[s] for s in SCREWS}
    screws = _ap(
        _subset(coco, SCREWS),
        _results_for(results, screw_ids),
        "segm",
        confusion_categories=SCREWS,
    )
    agnostic = _ap(
        _subset(coco, SCREWS, merge_as="screw"),
        _results_for(results, screw_ids, merge=True),
        "segm",
    )
    sweep = threshold_sweep(_subset(coco, SCREWS), _results_for(results, screw_ids))
    fracture = _ap(_subset(coco, ["fracture"]), _results_for(results, {cat_id["fracture"]}), "bbox")
    vcf_name = "vertebral_compression_fracture"
    vcf = _ap(_subset(coco, [vcf_name]), _results_for(results, {cat_id[vcf_name]}), "segm")
    quality = (agnostic.get("mask_quality") or {}).get("overall", {})
    shown = sweep["by_threshold"].get(f"{predictor.card.postprocessing.score_threshold:g}")
    if shown is None:  # the display threshold is not one of the sweep's: match there too
        shown = threshold_sweep(
            _subset(coco, SCREWS),
            _results_for(results, screw_ids),
            thresholds=(predictor.card.postprocessing.score_threshold,),
        )["by_threshold"].popitem()[1]
    return {
        "images": n,
        "scene": scene,
        "size": size,
        "seed": seed,
        "gt_instances": {
            name: sum(1 for a in coco["annotations"] if a["category_id"] == cat_id[name])
            for name in [*SCREWS, "fracture", vcf_name]
        },
        "detections": len(results),
        "screw_segm_AP": screws["coco"]["AP"],
        "screw_segm_AP50": screws["coco"]["AP50"],
        "screw_segm_AP75": screws["coco"]["AP75"],
        "screw_segm_AP50_per_type": {
            k: v.get("AP50") for k, v in screws["coco"].get("per_category", {}).items()
        },
        "screw_any_type_segm_AP50": agnostic["coco"]["AP50"],
        "screw_any_type_segm_AP75": agnostic["coco"]["AP75"],
        "screw_mask_quality": quality,
        "screw_type_confusion": screws.get("confusion"),
        "screw_type_accuracy_of_matched": shown["found_right_type"] / shown["found"]
        if shown["found"]
        else None,
        "display_threshold": predictor.card.postprocessing.score_threshold,
        "screw_score_threshold_sweep": sweep,
        "fracture_bbox_AP50": fracture["coco"]["AP50"],
        "vcf_segm_AP50": vcf["coco"]["AP50"],
        "cpu_seconds_per_image": {
            "ours_median": statistics.median(seconds),
            "ours_same_image_median": statistics.median(ours_same),
            "torchvision_forward_same_image_median": statistics.median(ref),
        },
    }


def fracatlas_metrics(predictor: MaskRCNNPredictor, fracatlas: Path) -> dict[str, Any]:
    """Fracture box AP50 on the FracAtlas valid split at the files' own resolution."""
    with tempfile.TemporaryDirectory(prefix="orthogui-fracatlas-valid-") as tmp:
        root = Path(tmp)
        fid = next(c.id for c in DEFAULT_CATEGORIES if c.name == "fracture")
        images, anns, skipped = fracatlas_subset(
            fracatlas,
            root,
            splits=("valid",),
            size=100_000,
            first_image_id=1,
            first_annotation_id=1,
            category_id=fid,
        )
        coco = {
            "images": images,
            "annotations": anns,
            "categories": [{"id": fid, "name": "fracture", "supercategory": "fracture"}],
        }
        results, seconds = _predict_all(predictor, coco, root)
    report = _ap(coco, [r for r in results if r["category_id"] == fid], "bbox")
    return {
        "images": len(images),
        "skipped_exif_rotated": skipped,
        "gt_instances": len(anns),
        "fracture_bbox_AP50": report["coco"]["AP50"],
        "fracture_bbox_AP": report["coco"]["AP"],
        "cpu_seconds_per_image_median": statistics.median(seconds) if seconds else None,
    }


def demo_fracture_overlap(predictor: MaskRCNNPredictor) -> dict[str, Any]:
    """The largest IoU between two fracture proposals the card shows on each demo image."""
    from orthogui.demo import FRACATLAS_DEMO

    worst: dict[str, float] = {}
    post = predictor.card.postprocessing
    threshold = max(post.score_threshold, post.box_score_threshold)
    for path in sorted((FRACATLAS_DEMO / "images").glob("*.jpg")):
        boxes = [
            p.shape.bbox()
            for p in predictor.predict(read_radiograph(path))
            if p.category == "fracture" and p.score >= threshold
        ]
        ious = [a.iou(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :]]
        worst[path.name] = max(ious, default=0.0)
    return {"max_fracture_iou_per_image": worst, "max": max(worst.values(), default=0.0)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--card", required=True, type=Path)
    parser.add_argument("--n", type=int, default=150, help="synthetic test images")
    parser.add_argument("--scene", default="mixed", choices=("limb", "spine", "mixed"))
    parser.add_argument("--size", type=int, default=1024, help="synthetic test image size")
    parser.add_argument("--seed", type=int, default=None, help="default: the recipe's test seed")
    parser.add_argument("--fracatlas", type=Path, default=ROOT.parent / "shared/data/fracatlas")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--write-card", action="store_true", help="store headline metrics")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    recipe = Recipe()
    card = load_card(args.card)
    predictor = MaskRCNNPredictor.from_card(card, device="cpu", score_threshold=0.05)
    out: dict[str, Any] = {
        "card": str(args.card),
        "model": f"{card.name} {card.version}",
        "architecture": card.architecture,
        "threads": args.threads,
        "score_threshold_for_ap": 0.05,
        "synthetic_test": synthetic_metrics(
            predictor,
            args.n,
            args.size,
            recipe.synth_test_seed if args.seed is None else args.seed,
            scene=args.scene,
        ),
        "demo": demo_fracture_overlap(predictor),
    }
    if (args.fracatlas / "annotations.json").is_file():
        out["fracatlas_valid"] = fracatlas_metrics(predictor, args.fracatlas)
    out["gpu"] = "not measured: no GPU in this environment" if not torch.cuda.is_available() else ""
    text = json.dumps(out, indent=2, default=float)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")
    if args.write_card:
        s = out["synthetic_test"]
        headline = {
            "synthetic_test/screw_segm_AP50": s["screw_segm_AP50"],
            "synthetic_test/screw_segm_AP75": s["screw_segm_AP75"],
            "synthetic_test/screw_any_type_segm_AP50": s["screw_any_type_segm_AP50"],
            "synthetic_test/fracture_bbox_AP50": s["fracture_bbox_AP50"],
            "synthetic_test/vcf_segm_AP50": s["vcf_segm_AP50"],
            "synthetic_test/screw_type_accuracy_of_matched": s["screw_type_accuracy_of_matched"],
            "synthetic_test/cpu_seconds_per_image": s["cpu_seconds_per_image"]["ours_median"],
        }
        for k, v in (s["screw_segm_AP50_per_type"] or {}).items():
            if v is not None:
                headline[f"synthetic_test/screw_segm_AP50/{k}"] = v
        q = s["screw_mask_quality"] or {}
        for k in ("mask_iou", "dice", "boundary_f1"):
            if q.get(k) is not None:
                headline[f"synthetic_test/screw_{k}"] = q[k]
        if "fracatlas_valid" in out:
            headline["fracatlas_valid/fracture_bbox_AP50"] = out["fracatlas_valid"][
                "fracture_bbox_AP50"
            ]
        metrics = {k: float(v) for k, v in headline.items() if v is not None and v >= 0}
        save_card(replace(card, metrics={**card.metrics, **metrics}), args.card)
        print(f"metrics written to {args.card}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
