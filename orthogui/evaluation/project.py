"""Evaluate a model's predictions on a project's approved images against the reviewed findings.

The reference of an approved image is what the experts left on it: accepted and corrected
findings and the ones they drew. Box categories are scored by bbox IoU, polygon categories by
mask IoU (``segm``), each through ``evaluate`` (pycocotools' COCOeval numbers).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pycocotools import mask as mask_utils

from orthogui.core.annotation import Annotation, Prediction, ReviewState
from orthogui.core.categories import SCREW_GROUP, CategorySet, ShapeKind
from orthogui.core.geometry import Box, Shape
from orthogui.core.project import ImageRecord, ImageStatus, ProjectModel
from orthogui.evaluation.cocoeval import CocoApResult
from orthogui.evaluation.plots import write_pr_curves
from orthogui.evaluation.report import category_names, evaluate_with_curves
from orthogui.io.coco import REJECTED_KEY, to_coco

Kind = Literal["bbox", "segm"]
KINDS: tuple[Kind, ...] = ("segm", "bbox")
REFERENCE_STATES = frozenset({ReviewState.ACCEPTED, ReviewState.CORRECTED})
"""Review states whose findings are ground truth (a human-drawn finding is ``ACCEPTED``)."""


def reference_images(model: ProjectModel) -> list[ImageRecord]:
    """The approved images of a project, in project order: the evaluation set."""
    return [r for r in model.images() if r.status is ImageStatus.APPROVED]


def is_reference(ann: Annotation) -> bool:
    """Whether a finding counts as ground truth: accepted or corrected (drawn ones are accepted).

    Proposals an expert left on an approved image stay proposals: not reference.
    """
    return ann.review.state in REFERENCE_STATES


def kind_of(category: str, categories: CategorySet) -> Kind:
    """``bbox`` for box categories (e.g. fracture), ``segm`` for polygon ones."""
    return "bbox" if categories.by_name(category).shape is ShapeKind.BOX else "segm"


def _names(categories: CategorySet, kind: Kind) -> list[str]:
    return [c.name for c in categories if kind_of(c.name, categories) == kind]


def ground_truth_coco(
    model: ProjectModel, records: Sequence[ImageRecord], *, kind: Kind
) -> dict[str, Any]:
    """COCO ground truth of ``records`` for the categories scored as ``kind``.

    Image ids are 1..N in the order of ``records``, annotation ids 1..M; category ids are the
    project's. Only reference findings (``is_reference``) are in it.
    """
    coco = to_coco(
        model,
        images=records,
        categories=_names(model.categories, kind),
        include=REFERENCE_STATES,
        file_name_of=lambda r: r.path,
        image_fields_of=lambda r: {"attributes": dict(r.attributes)},
    )
    coco.pop(REJECTED_KEY, None)
    return coco


def _segmentation(shape: Shape, *, height: int, width: int) -> dict[str, Any]:
    ring = (shape.to_polygon() if isinstance(shape, Box) else shape).flat()
    rle = mask_utils.frPyObjects([ring], height, width)[0]
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def detections_coco(
    records: Sequence[ImageRecord],
    predictions: Mapping[str, Sequence[Prediction]],
    categories: CategorySet,
    *,
    kind: Kind,
) -> list[dict[str, Any]]:
    """COCO results of the predictions of ``records`` (ids as in ``ground_truth_coco``).

    ``bbox`` results carry the box; ``segm`` results the RLE mask of the polygon (a predicted
    box of a polygon category counts as its rectangle), so pycocotools derives area and box
    from the mask as it does for any segmentation results file.
    """
    names = set(_names(categories, kind))
    out: list[dict[str, Any]] = []
    for index, rec in enumerate(records, start=1):
        for p in predictions.get(rec.id, ()):
            if p.category not in names:
                continue
            entry: dict[str, Any] = {
                "image_id": index,
                "category_id": categories.by_name(p.category).id,
                "score": float(p.score),
            }
            if kind == "bbox":
                b = p.shape.bbox()
                entry["bbox"] = [b.x0, b.y0, b.width, b.height]
            else:
                entry["segmentation"] = _segmentation(p.shape, height=rec.height, width=rec.width)
            out.append(entry)
    return out


@dataclass(frozen=True)
class CategoryRow:
    """One line of the results table: a category and its numbers (None where undefined)."""

    category: str
    kind: Kind
    reference: int
    detections: int
    ap: float | None
    ap50: float | None
    ap75: float | None
    precision: float | None
    recall: float | None
    mask_iou: float | None
    dice: float | None


@dataclass
class ProjectEvaluation:
    """Everything one evaluation of a model on a project produced."""

    model_name: str
    model_version: str
    images: int
    score_threshold: float
    rows: list[CategoryRow]
    reports: dict[str, dict[str, Any]]
    curves: dict[str, CocoApResult] = field(default_factory=dict, repr=False)
    ground_truth: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    detections: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False)
    warnings: list[str] = field(default_factory=list)

    @property
    def confusion(self) -> dict[str, Any] | None:
        """The screw-type confusion matrix (from the segm evaluation), if there is one."""
        report = self.reports.get("segm")
        return None if report is None else report.get("confusion")

    def to_json(self) -> dict[str, Any]:
        """The report as plain JSON data."""
        return {
            "format": "orthogui-model-evaluation/1",
            "model": {"name": self.model_name, "version": self.model_version},
            "images": self.images,
            "score_threshold": self.score_threshold,
            "rows": [row.__dict__ for row in self.rows],
            "reports": self.reports,
            "warnings": self.warnings,
        }


def _valid(value: Any) -> float | None:
    return None if value is None or float(value) < 0 else float(value)


def _rows(
    kind: Kind, report: dict[str, Any], gt: dict[str, Any], dt: list[dict[str, Any]]
) -> Iterator[CategoryRow]:
    per_ap = report["coco"]["per_category"]
    per_det = report["detection"]["per_category"]
    quality = (report.get("mask_quality") or {}).get("per_category", {})
    for c in gt["categories"]:
        name, cid = str(c["name"]), int(c["id"])
        ap = per_ap.get(name, {})
        det = per_det.get(name, {})
        q = quality.get(name, {})
        yield CategoryRow(
            category=name,
            kind=kind,
            reference=sum(1 for a in gt["annotations"] if a["category_id"] == cid),
            detections=sum(1 for d in dt if d["category_id"] == cid),
            ap=_valid(ap.get("AP")),
            ap50=_valid(ap.get("AP50")),
            ap75=_valid(ap.get("AP75")),
            precision=det.get("precision"),
            recall=det.get("recall"),
            mask_iou=q.get("mask_iou"),
            dice=q.get("dice"),
        )


def evaluate_project(
    model: ProjectModel,
    predictions: Mapping[str, Sequence[Prediction]],
    *,
    records: Sequence[ImageRecord] | None = None,
    sizes: Mapping[str, tuple[int, int]] | None = None,
    model_name: str = "",
    model_version: str = "",
    score_threshold: float = 0.5,
) -> ProjectEvaluation:
    """Score predictions against the reviewed findings of the approved images.

    Parameters
    ----------
    model
        The project; its CategorySet decides which categories are boxes and which polygons.
    predictions
        Image id -> the model's predictions on that image (low score threshold, so AP sees the
        whole precision-recall curve).
    records
        The images to score (default: ``reference_images(model)``).
    sizes
        Image id -> (rows, columns) as read, for records whose size the project lacks.
    model_name, model_version
        Written into the report.
    score_threshold
        For precision, recall and the confusion matrix (never for AP).

    Returns
    -------
    ProjectEvaluation
        A table row per category (bbox AP for box categories, segm AP/AP50/AP75 and mask
        IoU/Dice for polygon ones) and the full reports per kind.

    Raises
    ------
    ValueError
        No images to evaluate, or an image whose size is unknown.
    """
    recs = list(reference_images(model) if records is None else records)
    if not recs:
        raise ValueError("no approved images: approve reviewed images to make a reference set")
    known = dict(sizes or {})
    recs = [
        r.evolve(height=known[r.id][0], width=known[r.id][1])
        if (r.width <= 0 or r.height <= 0) and r.id in known
        else r
        for r in recs
    ]
    unsized = [Path(r.path).name for r in recs if r.width <= 0 or r.height <= 0]
    if unsized:
        raise ValueError(f"image size unknown (never opened?) for {unsized[:5]}")
    cats = model.categories
    screws = [c.name for c in cats.group(SCREW_GROUP)]
    out = ProjectEvaluation(model_name, model_version, len(recs), score_threshold, [], {})
    left = sum(
        1 for r in recs for a in model.annotations(r.id) if a.review.state is ReviewState.PROPOSED
    )
    if left:
        out.warnings.append(
            f"{left} finding(s) on approved images are still proposed: not part of the reference"
        )
    foreign = sorted(
        {p.category for r in recs for p in predictions.get(r.id, ()) if p.category not in cats}
    )
    if foreign:
        out.warnings.append(f"predictions of categories the project lacks, not scored: {foreign}")
    for kind in KINDS:
        if not _names(cats, kind):
            continue
        gt = ground_truth_coco(model, recs, kind=kind)
        dt = detections_coco(recs, predictions, cats, kind=kind)
        if not gt["annotations"] and not dt:
            continue
        report, ap = evaluate_with_curves(
            gt,
            dt,
            iou_type=kind,
            score_threshold=score_threshold,
            confusion_categories=[n for n in screws if kind == "segm"] or None,
        )
        out.reports[kind] = report
        out.curves[kind] = ap
        out.ground_truth[kind] = gt
        out.detections[kind] = dt
        out.rows.extend(_rows(kind, report, gt, dt))
        out.warnings.extend(report.get("warnings", []))
    if not out.reports:
        out.warnings.append("neither reference findings nor predictions on the approved images")
    return out


def save_report(result: ProjectEvaluation, folder: str | Path) -> list[Path]:
    """Write ``report.json``, the ground truth and detections per kind, and the PR curves.

    The ground truth and detections files reproduce the numbers with ``orthogui evaluate``.
    Returns the written files.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    report = out / "report.json"
    report.write_text(json.dumps(result.to_json(), indent=2), encoding="utf-8")
    written.append(report)
    for kind, gt in result.ground_truth.items():
        for name, data in (
            (f"gt_{kind}.json", gt),
            (f"detections_{kind}.json", result.detections[kind]),
        ):
            (out / name).write_text(json.dumps(data), encoding="utf-8")
            written.append(out / name)
        names = category_names(gt["categories"])
        plots = out / f"pr_{kind}"
        written += [plots / f for f in write_pr_curves(result.curves[kind], names, plots)]
    return written
