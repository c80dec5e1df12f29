"""``evaluate``: one report dict with COCOeval AP and the clinical metrics at a score threshold."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from orthogui.evaluation.cocoeval import CocoApResult, IouType, coco_ap, load_gt, load_results
from orthogui.evaluation.matching import (
    attribute_breakdown,
    confusion_matrix,
    detection_metrics,
    greedy_match,
    image_level,
)
from orthogui.evaluation.plots import write_pr_curves
from orthogui.evaluation.quality import mask_quality


def evaluate(
    gt: dict[str, Any] | str | Path,
    pred: list[Any] | dict[str, Any] | str | Path,
    *,
    iou_type: IouType = "bbox",
    score_threshold: float = 0.5,
    iou_threshold: float = 0.5,
    confusion_categories: Iterable[str] | None = None,
    plots_dir: str | Path | None = None,
    boundary_tolerance: float = 2.0,
) -> dict[str, Any]:
    """Evaluate detections against COCO ground truth.

    Parameters
    ----------
    gt
        COCO instances dict or JSON path (e.g. a snapshot's ``test.json``).
    pred
        COCO results list (``image_id``, ``category_id``, ``score``, ``bbox``/``segmentation``),
        a dict with ``annotations``, or a JSON path.
    iou_type
        ``"bbox"`` or ``"segm"``.
    score_threshold
        Detections below it are ignored by the threshold metrics (never by AP).
    iou_threshold
        IoU of a match for the threshold metrics.
    confusion_categories
        Rows/columns of the confusion matrix (default: all categories), e.g. the screw types.
    plots_dir
        Where PR curves go as PNG (none when not given).
    boundary_tolerance
        Distance in pixels within which boundaries agree (boundary F1, segm only).

    Returns
    -------
    dict
        ``coco`` (AP, AP50, AP75, APs/m/l, AR..., per category: exactly COCOeval's numbers;
        -1 where COCOeval has none), ``detection`` (P/R/F1, FP per image, per category),
        ``mask_quality`` (segm), ``confusion``, ``image_level``, ``attributes``, ``warnings``.
    """
    report, ap = evaluate_with_curves(
        gt,
        pred,
        iou_type=iou_type,
        score_threshold=score_threshold,
        iou_threshold=iou_threshold,
        confusion_categories=confusion_categories,
        boundary_tolerance=boundary_tolerance,
    )
    if plots_dir is not None:
        report["plots"] = write_pr_curves(ap, category_names(gt_categories(report)), plots_dir)
    return report


def gt_categories(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The ground truth's category entries, as ``evaluate_with_curves`` keeps them."""
    return list(report.get("categories", []))


def category_names(categories: Iterable[dict[str, Any]]) -> dict[int, str]:
    """COCO category id -> name."""
    return {int(c["id"]): str(c["name"]) for c in categories}


def evaluate_with_curves(
    gt: dict[str, Any] | str | Path,
    pred: list[Any] | dict[str, Any] | str | Path,
    *,
    iou_type: IouType = "bbox",
    score_threshold: float = 0.5,
    iou_threshold: float = 0.5,
    confusion_categories: Iterable[str] | None = None,
    boundary_tolerance: float = 2.0,
) -> tuple[dict[str, Any], CocoApResult]:
    """``evaluate`` without plots, plus COCOeval's precision arrays to draw PR curves from.

    Returns
    -------
    (report, ap)
        The report dict of ``evaluate`` (with the ground truth's ``categories``) and the
        ``CocoApResult`` for ``write_pr_curves``.
    """
    if iou_type not in ("bbox", "segm"):
        raise ValueError(f"iou_type must be 'bbox' or 'segm', got {iou_type!r}")
    coco_gt = load_gt(gt)
    coco_dt = load_results(coco_gt, pred)
    ap = coco_ap(coco_gt, coco_dt, iou_type=iou_type)
    matching = greedy_match(
        coco_gt,
        coco_dt,
        iou_type=iou_type,
        score_threshold=score_threshold,
        iou_threshold=iou_threshold,
    )
    agnostic = greedy_match(
        coco_gt,
        coco_dt,
        iou_type=iou_type,
        score_threshold=score_threshold,
        iou_threshold=iou_threshold,
        class_aware=False,
    )
    warnings = []
    if 0 in coco_gt.anns:
        warnings.append(
            "ground-truth annotation id 0: pycocotools' COCOeval counts detections matched to it "
            "as false positives (its AP here is COCOeval's, the threshold metrics are not affected)"
        )
    report: dict[str, Any] = {
        "iou_type": iou_type,
        "score_threshold": score_threshold,
        "iou_threshold": iou_threshold,
        "images": len(coco_gt.getImgIds()),
        "gt_instances": len(coco_gt.anns),
        "detections": len(coco_dt.anns),
        "coco": {**ap.stats, "per_category": ap.per_category},
        "detection": detection_metrics(coco_gt, matching),
        "mask_quality": (
            mask_quality(coco_gt, coco_dt, matching.matches, tolerance=boundary_tolerance)
            if iou_type == "segm"
            else None
        ),
        "confusion": confusion_matrix(coco_gt, agnostic, categories=confusion_categories),
        "image_level": image_level(coco_gt, coco_dt, score_threshold=score_threshold),
        "attributes": attribute_breakdown(coco_gt, matching),
        "warnings": warnings,
        "categories": [
            {"id": int(cid), "name": str(c["name"])} for cid, c in sorted(coco_gt.cats.items())
        ],
    }
    return report, ap
