"""A small reviewed project and a model's predictions on it, with the COCO files written by hand.

Three approved 200x200 images plus one in review. Polygon screws are scored by mask (segm),
fracture boxes by box (bbox). By hand, cortical_screw segm AP50 = 0.5 (TP, FP, FP, TP over 3
references: precision 1 up to recall 1/3, then 0.5 up to 2/3), fracture bbox AP50 = 1.0.
"""

from __future__ import annotations

import contextlib
import copy
import io
from typing import Any

from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from orthogui.core.annotation import Annotation, Prediction, Provenance, Review, ReviewState
from orthogui.core.geometry import Box, Polygon
from orthogui.core.project import ImageRecord, ImageStatus, ProjectModel

SIZE = 200
CORTICAL, LOCKING, FRACTURE = "cortical_screw", "locking_screw", "fracture"
EXPECTED_AP50 = {CORTICAL: 0.5, FRACTURE: 1.0}


def rect(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    return Polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])


def _flat(x0: float, y0: float, x1: float, y1: float) -> list[float]:
    return [x0, y0, x1, y0, x1, y1, x0, y1]


# (image id, category, x0, y0, x1, y1): the references, all accepted or corrected.
REFERENCE = [
    ("A", CORTICAL, 20, 20, 60, 100),
    ("A", CORTICAL, 120, 20, 160, 100),  # missed by the model
    ("A", FRACTURE, 10, 150, 80, 190),
    ("B", CORTICAL, 50, 50, 90, 130),
    ("B", LOCKING, 120, 120, 150, 190),  # called cortical by the model
]
# (image id, category, score, x0, y0, x1, y1)
PREDICTED = [
    ("A", CORTICAL, 0.9, 20, 20, 60, 100),  # TP, exact
    ("A", CORTICAL, 0.8, 80, 120, 110, 190),  # FP
    ("A", FRACTURE, 0.7, 12, 152, 80, 190),  # TP
    ("B", CORTICAL, 0.85, 120, 120, 150, 190),  # FP as cortical (it is a locking screw)
    ("B", CORTICAL, 0.6, 50, 62, 90, 142),  # TP at IoU 0.74: a hit at 0.5, a miss at 0.75
    ("B", FRACTURE, 0.3, 100, 10, 140, 40),  # FP, low score
    ("D", CORTICAL, 0.95, 10, 10, 50, 50),  # on an image not approved: not evaluated
]
APPROVED = ("A", "B", "C")  # C: approved, nothing on it


def project() -> ProjectModel:
    """The project: images A, B, C approved, D in review; plus findings that are not reference."""
    model = ProjectModel()
    for image_id in ("A", "B", "C", "D"):
        status = ImageStatus.APPROVED if image_id in APPROVED else ImageStatus.IN_REVIEW
        model.put_image(
            ImageRecord(image_id, f"{image_id}.png", width=SIZE, height=SIZE, status=status)
        )
    anns = []
    for k, (image_id, cat, x0, y0, x1, y1) in enumerate(REFERENCE):
        shape = Box(x0, y0, x1, y1) if cat == FRACTURE else rect(x0, y0, x1, y1)
        if k % 2:
            anns.append(Annotation.human(image_id=image_id, category=cat, shape=shape))
        else:
            anns.append(
                Annotation(
                    id=f"ref{k}",
                    image_id=image_id,
                    category=cat,
                    shape=shape,
                    provenance=Provenance("model", "old", "0", 0.9),
                    review=Review(ReviewState.CORRECTED, "dr", "2024-01-01T00:00:00+00:00"),
                )
            )
    # Not reference: a proposal left on an approved image, a rejected finding, image D.
    anns.append(
        Annotation.from_prediction(
            Prediction(CORTICAL, 0.5, rect(150, 150, 190, 190), "old", "0"), image_id="B"
        )
    )
    rejected = Annotation.from_prediction(
        Prediction(LOCKING, 0.5, rect(5, 5, 15, 40), "old", "0"), image_id="C"
    )
    anns.append(rejected.evolve(review=Review(ReviewState.REJECTED, "dr", "")))
    anns.append(Annotation.human(image_id="D", category=CORTICAL, shape=rect(10, 10, 50, 50)))
    model.load([], anns)
    return model


def predictions() -> dict[str, list[Prediction]]:
    """Image id -> what the model says."""
    out: dict[str, list[Prediction]] = {i: [] for i in ("A", "B", "C", "D")}
    for image_id, cat, score, x0, y0, x1, y1 in PREDICTED:
        shape = Box(x0, y0, x1, y1) if cat == FRACTURE else rect(x0, y0, x1, y1)
        out[image_id].append(Prediction(cat, score, shape, "fake", "2"))
    return out


def by_hand(kind: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Ground truth and results of the approved images, written directly in COCO terms."""
    ids = {image_id: k for k, image_id in enumerate(APPROVED, start=1)}
    cat_ids = {CORTICAL: 1, LOCKING: 3, FRACTURE: 6}  # the default CategorySet's ids
    wanted = {FRACTURE} if kind == "bbox" else {CORTICAL, LOCKING}
    gt: dict[str, Any] = {
        "images": [{"id": k, "width": SIZE, "height": SIZE} for k in ids.values()],
        "categories": [{"id": cat_ids[c], "name": c} for c in sorted(wanted)],
        "annotations": [],
    }
    for n, (image_id, cat, x0, y0, x1, y1) in enumerate(REFERENCE, start=1):
        if cat in wanted:
            gt["annotations"].append(
                {
                    "id": n,
                    "image_id": ids[image_id],
                    "category_id": cat_ids[cat],
                    "segmentation": [_flat(x0, y0, x1, y1)],
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "area": (x1 - x0) * (y1 - y0),
                    "iscrowd": 0,
                }
            )
    dt = []
    for image_id, cat, score, x0, y0, x1, y1 in PREDICTED:
        if cat in wanted and image_id in ids:
            entry: dict[str, Any] = {
                "image_id": ids[image_id],
                "category_id": cat_ids[cat],
                "score": score,
            }
            entry["bbox"] = [x0, y0, x1 - x0, y1 - y0]
            if kind == "segm":  # with a bbox, loadRes keeps polygons (it needs RLE without)
                entry["segmentation"] = [_flat(x0, y0, x1, y1)]
            dt.append(entry)
    return gt, dt


def cocoeval_ap(kind: str, category: str) -> dict[str, float]:
    """AP, AP50, AP75 of one category straight from pycocotools' COCOeval."""
    gt_dict, dt_list = by_hand(kind)
    gt = COCO()
    gt.dataset = copy.deepcopy(gt_dict)
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt = gt.loadRes(copy.deepcopy(dt_list))
        ev = COCOeval(gt, dt, kind)
        cid = next(c["id"] for c in gt_dict["categories"] if c["name"] == category)
        ev.params.catIds = [cid]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {"AP": float(ev.stats[0]), "AP50": float(ev.stats[1]), "AP75": float(ev.stats[2])}
