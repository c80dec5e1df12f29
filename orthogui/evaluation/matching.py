"""Detections at one score threshold: greedy matching by score at an IoU, and what follows.

Precision, recall, F1 and false positives per image; a confusion matrix from class-agnostic
matches; image-level sensitivity and specificity; breakdowns by image or annotation attribute.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from orthogui.evaluation.cocoeval import IouType

BACKGROUND = "(none)"


@dataclass
class Match:
    """One ground-truth instance matched to one detection."""

    gt: dict[str, Any]
    dt: dict[str, Any]
    iou: float


@dataclass
class Matching:
    """The outcome of greedy matching over every image."""

    matches: list[Match] = field(default_factory=list)
    unmatched_gt: list[dict[str, Any]] = field(default_factory=list)
    unmatched_dt: list[dict[str, Any]] = field(default_factory=list)


def _geometry(coco: COCO, anns: list[dict[str, Any]], iou_type: IouType) -> list[Any]:
    if iou_type == "bbox":
        return [a["bbox"] for a in anns]
    return [coco.annToRLE(a) for a in anns]


def iou_matrix(
    gt: COCO, dt: COCO, g: list[dict[str, Any]], d: list[dict[str, Any]], iou_type: IouType
) -> np.ndarray:
    """IoU of each detection (rows) with each ground truth (columns), as COCOeval computes it."""
    if not g or not d:
        return np.zeros((len(d), len(g)))
    crowd = [int(a.get("iscrowd", 0)) for a in g]
    return np.asarray(
        mask_utils.iou(_geometry(dt, d, iou_type), _geometry(gt, g, iou_type), crowd), dtype=float
    ).reshape(len(d), len(g))


def greedy_match(
    gt: COCO,
    dt: COCO,
    *,
    iou_type: IouType,
    score_threshold: float,
    iou_threshold: float = 0.5,
    class_aware: bool = True,
) -> Matching:
    """Match detections (score >= threshold, highest first) to the best free ground truth.

    Crowd ground truth is neither a hit nor a miss: detections on it are ignored.
    """
    out = Matching()
    for img_id in gt.getImgIds():
        g_all = gt.loadAnns(gt.getAnnIds(imgIds=[img_id]))
        d_all = [
            a for a in dt.loadAnns(dt.getAnnIds(imgIds=[img_id])) if a["score"] >= score_threshold
        ]
        keys = {a["category_id"] for a in g_all + d_all} if class_aware else {None}
        for key in keys:
            g = [a for a in g_all if key is None or a["category_id"] == key]
            d = sorted(
                (a for a in d_all if key is None or a["category_id"] == key),
                key=lambda a: -a["score"],
            )
            ious = iou_matrix(gt, dt, g, d, iou_type)
            taken = np.zeros(len(g), dtype=bool)
            crowd = np.array([bool(a.get("iscrowd", 0)) for a in g], dtype=bool)
            for i, det in enumerate(d):
                row = np.where(taken | crowd, -1.0, ious[i]) if len(g) else np.array([])
                j = int(np.argmax(row)) if row.size else -1
                if j >= 0 and row[j] >= iou_threshold:
                    taken[j] = True
                    out.matches.append(Match(g[j], det, float(row[j])))
                elif len(g) and crowd.any() and ious[i][crowd].max() >= iou_threshold:
                    continue
                else:
                    out.unmatched_dt.append(det)
            out.unmatched_gt += [a for a, t, c in zip(g, taken, crowd) if not t and not c]
    return out


def prf(tp: int, fp: int, fn: int) -> dict[str, float | int | None]:
    """Precision, recall and F1 from counts (None where undefined)."""
    p = tp / (tp + fp) if tp + fp else None
    r = tp / (tp + fn) if tp + fn else None
    f1 = 2 * p * r / (p + r) if p is not None and r is not None and p + r > 0 else None
    return {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": f1}


def detection_metrics(gt: COCO, m: Matching) -> dict[str, Any]:
    """Overall and per-category P/R/F1, plus false positives per image."""
    n_images = len(gt.getImgIds())
    overall = prf(len(m.matches), len(m.unmatched_dt), len(m.unmatched_gt))
    overall["fp_per_image"] = len(m.unmatched_dt) / n_images if n_images else None
    per_cat: dict[str, Any] = {}
    for cid, cat in gt.cats.items():
        tp = sum(1 for x in m.matches if x.gt["category_id"] == cid)
        fp = sum(1 for x in m.unmatched_dt if x["category_id"] == cid)
        fn = sum(1 for x in m.unmatched_gt if x["category_id"] == cid)
        per_cat[str(cat["name"])] = {
            **prf(tp, fp, fn),
            "fp_per_image": fp / n_images if n_images else None,
        }
    return {"overall": overall, "per_category": per_cat}


def confusion_matrix(
    gt: COCO, m: Matching, *, categories: Iterable[str] | None = None
) -> dict[str, Any]:
    """Ground-truth category (rows) vs predicted category (columns) of class-agnostic matches.

    The last row and column are ``(none)``: detections without a ground truth and misses.
    """
    names = {cid: str(c["name"]) for cid, c in gt.cats.items()}
    labels = list(categories) if categories is not None else [names[c] for c in sorted(names)]
    index = {n: i for i, n in enumerate([*labels, BACKGROUND])}
    mat = np.zeros((len(index), len(index)), dtype=int)
    bg = index[BACKGROUND]

    def at(ann: dict[str, Any]) -> int | None:
        return index.get(names.get(ann["category_id"], ""))

    for x in m.matches:
        r, c = at(x.gt), at(x.dt)
        if r is not None and c is not None:
            mat[r, c] += 1
    for a in m.unmatched_gt:
        if (r := at(a)) is not None:
            mat[r, bg] += 1
    for a in m.unmatched_dt:
        if (c := at(a)) is not None:
            mat[bg, c] += 1
    return {"labels": [*labels, BACKGROUND], "matrix": mat.tolist()}


def image_level(gt: COCO, dt: COCO, *, score_threshold: float) -> dict[str, Any]:
    """Any finding vs none per image: sensitivity, specificity and the 2x2 counts."""
    tp = fp = tn = fn = 0
    for img_id in gt.getImgIds():
        truth = any(not a.get("iscrowd", 0) for a in gt.loadAnns(gt.getAnnIds(imgIds=[img_id])))
        said = any(
            a["score"] >= score_threshold for a in dt.loadAnns(dt.getAnnIds(imgIds=[img_id]))
        )
        tp += truth and said
        fn += truth and not said
        fp += said and not truth
        tn += not truth and not said
    return {
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "sensitivity": tp / (tp + fn) if tp + fn else None,
        "specificity": tn / (tn + fp) if tn + fp else None,
    }


def _values(value: Any) -> list[str]:
    if isinstance(value, list | tuple | set):
        return [str(v) for v in value]
    return [str(value)]


def attribute_breakdown(gt: COCO, m: Matching) -> dict[str, Any]:
    """Detection counts per attribute value.

    Image attributes (the image entry's ``attributes``) split everything: P/R/F1 on the images
    with that value. Annotation attributes (e.g. ``vertebra_level``) split the ground truth:
    recall of the instances with that value.
    """
    per_image: dict[Any, list[int]] = defaultdict(lambda: [0, 0, 0])
    for x in m.matches:
        per_image[x.gt["image_id"]][0] += 1
    for a in m.unmatched_dt:
        per_image[a["image_id"]][1] += 1
    for a in m.unmatched_gt:
        per_image[a["image_id"]][2] += 1
    images: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0, 0]))
    for img in gt.dataset["images"]:
        counts = per_image.get(img["id"], [0, 0, 0])
        for key, value in (img.get("attributes") or {}).items():
            for v in _values(value):
                acc = images[key][v]
                for i in range(3):
                    acc[i] += counts[i]
                acc[3] += 1
    out: dict[str, Any] = {"image": {}, "annotation": {}}
    for key, by_value in images.items():
        out["image"][key] = {
            v: {**prf(c[0], c[1], c[2]), "images": c[3]} for v, c in sorted(by_value.items())
        }
    anns: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for ann, hit in [(x.gt, 1) for x in m.matches] + [(a, 0) for a in m.unmatched_gt]:
        for key, value in (ann.get("attributes") or {}).items():
            for v in _values(value):
                anns[key][v][0] += 1
                anns[key][v][1] += hit
    for key, by_value in anns.items():
        out["annotation"][key] = {
            v: {"gt": n, "tp": t, "recall": t / n if n else None}
            for v, (n, t) in sorted(by_value.items())
        }
    return out
