"""COCO AP through pycocotools' own ``COCOeval``, so the numbers are the field's numbers exactly.

Loads ground truth and results (dicts, lists or paths), runs COCOeval silently and extracts the
summary stats, per-category AP and the precision arrays the PR curves are drawn from.
"""

from __future__ import annotations

import contextlib
import copy
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from orthogui.core.errors import PathError
from orthogui.io.importers import CocoError, check_coco, load_coco, load_json

IouType = Literal["bbox", "segm"]
STAT_NAMES = (
    "AP",
    "AP50",
    "AP75",
    "APs",
    "APm",
    "APl",
    "AR1",
    "AR10",
    "AR100",
    "ARs",
    "ARm",
    "ARl",
)


class EvaluationInputError(PathError, ValueError):
    """Ground truth or results that cannot be evaluated; names the file and the problem.

    ``path`` is ``"<ground truth>"`` or ``"<results>"`` for data given in memory.
    """


def load_gt(gt: dict[str, Any] | str | Path) -> COCO:
    """A pycocotools ``COCO`` from a dict (copied, never modified) or a JSON path.

    Raises
    ------
    EvaluationInputError
        Not a COCO instances file, or ids that are not unique or do not resolve
        (``orthogui.io.importers.check_coco``).
    """
    try:
        if isinstance(gt, str | Path):
            data = load_coco(gt)
        else:
            data = copy.deepcopy(check_coco(gt, "<ground truth>"))
    except CocoError as exc:
        raise EvaluationInputError(exc.path, exc.reason) from exc
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def load_results(gt: COCO, pred: list[Any] | dict[str, Any] | str | Path) -> COCO:
    """Results (a list, or a COCO dict's ``annotations``) loaded against ``gt`` by ``loadRes``."""
    data, name = _read(pred, "results")
    if isinstance(data, dict):
        data = data.get("annotations")
    if not isinstance(data, list):
        raise EvaluationInputError(name, "results must be a list of detections")
    known = set(gt.getImgIds())
    stray = sorted({d.get("image_id") for d in data if d.get("image_id") not in known}, key=str)
    if stray:
        raise EvaluationInputError(name, f"image ids {stray[:5]} are not in the ground truth")
    missing = [i for i, d in enumerate(data) if "score" not in d]
    if missing:
        raise EvaluationInputError(name, f"detection #{missing[0]} has no score")
    if not data:
        empty = COCO()
        empty.dataset = {
            "images": gt.dataset["images"],
            "categories": gt.dataset["categories"],
            "annotations": [],
        }
        with contextlib.redirect_stdout(io.StringIO()):
            empty.createIndex()
        return empty
    with contextlib.redirect_stdout(io.StringIO()):
        return gt.loadRes(copy.deepcopy(data))


def _read(source: Any, what: str) -> tuple[Any, str]:
    if isinstance(source, str | Path):
        try:
            return load_json(Path(source), error=CocoError), str(source)
        except CocoError as exc:
            raise EvaluationInputError(exc.path, exc.reason) from exc
    return source, f"<{what}>"


@dataclass(frozen=True)
class CocoApResult:
    """What COCOeval computed: summary stats, per-category AP, precision [T, R, K, A, M]."""

    stats: dict[str, float]
    per_category: dict[str, dict[str, float]]
    precision: NDArray[np.float64]
    iou_thresholds: NDArray[np.float64]
    recall_thresholds: NDArray[np.float64]
    category_ids: list[int]


def _mean_valid(values: NDArray[np.float64]) -> float:
    valid = values[values > -1]
    return float(np.mean(valid)) if valid.size else -1.0


def coco_ap(gt: COCO, dt: COCO, *, iou_type: IouType) -> CocoApResult:
    """Run ``COCOeval`` (evaluate, accumulate, summarize) and collect its numbers.

    Per-category AP follows ``COCOeval.summarize``: the mean of the valid precision entries
    over IoU 0.50:0.95 and recall, at area "all" and 100 detections, for that category alone.
    """
    ev = COCOeval(gt, dt, iou_type)
    with contextlib.redirect_stdout(io.StringIO()):
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    precision = np.asarray(ev.eval["precision"], dtype=np.float64)
    cat_ids = [int(c) for c in ev.params.catIds]
    iou = np.asarray(ev.params.iouThrs)
    i50 = int(np.argmin(np.abs(iou - 0.5)))
    i75 = int(np.argmin(np.abs(iou - 0.75)))
    per_category = {}
    for k, cid in enumerate(cat_ids):
        name = str(gt.cats[cid]["name"]) if cid in gt.cats else str(cid)
        per_category[name] = {
            "category_id": cid,
            "AP": _mean_valid(precision[:, :, k, 0, -1]),
            "AP50": _mean_valid(precision[i50, :, k, 0, -1]),
            "AP75": _mean_valid(precision[i75, :, k, 0, -1]),
        }
    return CocoApResult(
        stats={n: float(v) for n, v in zip(STAT_NAMES, ev.stats)},
        per_category=per_category,
        precision=precision,
        iou_thresholds=iou,
        recall_thresholds=np.asarray(ev.params.recThrs),
        category_ids=cat_ids,
    )
