"""Mask quality of matched instances: IoU, Dice and boundary F1 (contour agreement within d px)."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from orthogui.evaluation.matching import Match


def _boundary(mask: NDArray[np.uint8]) -> NDArray[np.bool_]:
    eroded = cv2.erode(
        mask, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0
    )
    edge: NDArray[np.bool_] = (mask > 0) & (eroded == 0)
    return edge


def boundary_f1(a: NDArray[Any], b: NDArray[Any], *, tolerance: float = 2.0) -> float:
    """F1 of boundary pixels of ``a`` (prediction) and ``b`` (truth) within ``tolerance`` px."""
    ba, bb = _boundary(a.astype(np.uint8)), _boundary(b.astype(np.uint8))
    if not ba.any() and not bb.any():
        return 1.0
    if not ba.any() or not bb.any():
        return 0.0
    # Distance of every pixel to the nearest boundary pixel of the other mask.
    da = cv2.distanceTransform((~ba).astype(np.uint8), cv2.DIST_L2, 5)
    db = cv2.distanceTransform((~bb).astype(np.uint8), cv2.DIST_L2, 5)
    precision = float(np.mean(db[ba] <= tolerance))
    recall = float(np.mean(da[bb] <= tolerance))
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def mask_quality(
    gt: COCO, dt: COCO, matches: list[Match], *, tolerance: float = 2.0
) -> dict[str, Any]:
    """Mean (and per-category mean) mask IoU, Dice and boundary F1 over matched instances."""
    rows: list[tuple[int, float, float, float]] = []
    pad = int(np.ceil(tolerance)) + 2
    for m in matches:
        rg, rd = gt.annToRLE(m.gt), dt.annToRLE(m.dt)
        mg, md = mask_utils.decode(rg), mask_utils.decode(rd)
        inter = float(np.count_nonzero(mg & md))
        total = float(np.count_nonzero(mg) + np.count_nonzero(md))
        union = total - inter
        iou = inter / union if union else 1.0
        dice = 2 * inter / total if total else 1.0
        ys, xs = np.nonzero(mg | md)
        if ys.size:
            y0, y1 = max(ys.min() - pad, 0), ys.max() + pad + 1
            x0, x1 = max(xs.min() - pad, 0), xs.max() + pad + 1
            # Crop with a margin of zeros so boundaries at the image edge still count.
            crop_d = np.pad(md[y0:y1, x0:x1], 1)
            crop_g = np.pad(mg[y0:y1, x0:x1], 1)
            bf = boundary_f1(crop_d, crop_g, tolerance=tolerance)
        else:
            bf = 1.0
        rows.append((int(m.gt["category_id"]), iou, dice, bf))

    def summary(sel: list[tuple[int, float, float, float]]) -> dict[str, Any]:
        if not sel:
            return {"n": 0, "mask_iou": None, "dice": None, "boundary_f1": None}
        arr = np.array([r[1:] for r in sel])
        return {
            "n": len(sel),
            "mask_iou": float(arr[:, 0].mean()),
            "dice": float(arr[:, 1].mean()),
            "boundary_f1": float(arr[:, 2].mean()),
        }

    per_cat = {
        str(c["name"]): summary([r for r in rows if r[0] == cid]) for cid, c in gt.cats.items()
    }
    return {"overall": summary(rows), "per_category": per_cat, "boundary_tolerance_px": tolerance}
