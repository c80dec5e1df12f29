"""COCO instances JSON from the project model: images, categories, annotations, review fields.

Boxes are written as a 4-corner polygon plus ``"orthogui_shape": "box"``, so every annotation
has a segmentation pycocotools can rasterise; rejected findings go to ``rejected_annotations``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import PurePath
from typing import Any

from pycocotools import mask as mask_utils

from orthogui.core.annotation import Annotation, ReviewState
from orthogui.core.categories import Category, CategorySet
from orthogui.core.geometry import Box, Polygon, Shape
from orthogui.core.project import ImageRecord, ProjectModel
from orthogui.core.serialize import shape_to_dict

DEFAULT_INCLUDE: frozenset[ReviewState] = frozenset(
    {ReviewState.PROPOSED, ReviewState.ACCEPTED, ReviewState.CORRECTED}
)
"""Review states exported by default: rejected findings only when asked for."""

SHAPE_KEY = "orthogui_shape"
REJECTED_KEY = "rejected_annotations"
FORMAT_KEY = "orthogui_format"
FORMAT_VERSION = 1


def _ring(shape: Shape) -> list[float]:
    if isinstance(shape, Box):
        return [shape.x0, shape.y0, shape.x1, shape.y0, shape.x1, shape.y1, shape.x0, shape.y1]
    # ``tolist`` is several times faster than converting numpy scalars one by one.
    ring: list[float] = shape.points.ravel().tolist()
    return ring


def coco_areas(shapes: Sequence[Shape], *, height: int, width: int) -> list[float]:
    """Areas as COCOeval sees them: polygons rasterised by pycocotools, boxes as ``w * h``.

    Parameters
    ----------
    shapes
        The shapes of one image (rasterised in one pycocotools call: much faster than one by one).
    height, width
        Image size in pixels; 0 means unknown, then the shapes' own extent is used.
    """
    polys = [(i, s) for i, s in enumerate(shapes) if isinstance(s, Polygon)]
    out = [s.area if isinstance(s, Box) else 0.0 for s in shapes]
    if not polys:
        return out
    if height <= 0 or width <= 0:
        x1 = max(p.bbox().x1 for _, p in polys)
        y1 = max(p.bbox().y1 for _, p in polys)
        height, width = int(y1) + 1, int(x1) + 1
    rles = mask_utils.frPyObjects([_ring(p) for _, p in polys], height, width)
    for (i, _), a in zip(polys, mask_utils.area(rles)):
        out[i] = float(a)
    return out


def annotation_to_coco(
    ann: Annotation,
    *,
    coco_id: int,
    image_id: int,
    category_id: int,
    area: float,
) -> dict[str, Any]:
    """One COCO annotation with our extra keys (review, provenance, attributes, original)."""
    ring = _ring(ann.shape)
    xs, ys = ring[0::2], ring[1::2]
    x0, y0 = min(xs), min(ys)
    prov = ann.provenance
    return {
        "id": coco_id,
        "image_id": image_id,
        "category_id": category_id,
        "segmentation": [ring],
        "bbox": [x0, y0, max(xs) - x0, max(ys) - y0],
        "area": area,
        "iscrowd": 0,
        SHAPE_KEY: "box" if isinstance(ann.shape, Box) else "polygon",
        "review_state": ann.review.state.value,
        "reviewed_by": ann.review.by,
        "reviewed_at": ann.review.at,
        "provenance": {
            "source": prov.source,
            "model_name": prov.model_name,
            "model_version": prov.model_version,
            "score": prov.score,
        },
        "attributes": dict(ann.attributes),
        "original_category": ann.original_category,
        "original_shape": None if ann.original_shape is None else shape_to_dict(ann.original_shape),
    }


def categories_to_coco(categories: Iterable[Category]) -> list[dict[str, Any]]:
    """COCO category entries; ids are the CategorySet's stable ids."""
    return [
        {
            "id": c.id,
            "name": c.name,
            "supercategory": c.supercategory,
            "orthogui": {"shape": c.shape.value, "color": c.color, "group": c.group},
        }
        for c in categories
    ]


def default_file_name(record: ImageRecord) -> str:
    return PurePath(record.path).name


def to_coco(
    model: ProjectModel,
    *,
    images: Iterable[ImageRecord] | None = None,
    categories: Collection[str] | None = None,
    include: Collection[ReviewState] = DEFAULT_INCLUDE,
    file_name_of: Callable[[ImageRecord], str] = default_file_name,
    image_fields_of: Callable[[ImageRecord], dict[str, Any]] | None = None,
    info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Export images and their findings as a COCO instances dict.

    Parameters
    ----------
    model
        The project model.
    images
        Which images, in output order (default: all, in model order). COCO image ids are
        1..N in this order, annotation ids 1..M.
    categories
        Names of the categories to export (default: all of the model's CategorySet).
    include
        Review states to export. ``REJECTED`` findings, when included, are written to the
        top-level ``rejected_annotations`` list (never ``annotations``), so standard COCO tools
        never train or evaluate on them as positives.
    file_name_of
        ``file_name`` of each image (default: the base name of its path).
    image_fields_of
        Extra keys per image entry (e.g. split, study hash, attributes).
    info
        The ``info`` block.

    Returns
    -------
    dict
        ``{"info", "images", "categories", "annotations", "rejected_annotations"}``.
    """
    records = list(model.images() if images is None else images)
    wanted = set(model.categories.names() if categories is None else categories)
    unknown = wanted - set(model.categories.names())
    if unknown:
        raise KeyError(f"unknown categories {sorted(unknown)}; known: {model.categories.names()}")
    cats = [c for c in model.categories if c.name in wanted]
    cat_ids = {c.name: c.id for c in cats}
    states = set(include)
    coco_images: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    next_ann = 1
    for index, rec in enumerate(records, start=1):
        entry: dict[str, Any] = {
            "id": index,
            "file_name": file_name_of(rec),
            "width": rec.width,
            "height": rec.height,
        }
        if image_fields_of is not None:
            entry.update(image_fields_of(rec))
        coco_images.append(entry)
        anns = [
            a
            for a in model.annotations(rec.id)
            if a.category in cat_ids and a.review.state in states
        ]
        areas = coco_areas([a.shape for a in anns], height=rec.height, width=rec.width)
        for ann, area in zip(anns, areas):
            item = annotation_to_coco(
                ann,
                coco_id=next_ann,
                image_id=index,
                category_id=cat_ids[ann.category],
                area=area,
            )
            next_ann += 1
            (rejected if ann.review.state is ReviewState.REJECTED else kept).append(item)
    return {
        "info": {FORMAT_KEY: FORMAT_VERSION, **(info or {})},
        "images": coco_images,
        "categories": categories_to_coco(cats),
        "annotations": kept,
        REJECTED_KEY: rejected,
    }


def category_set_from_coco(entries: Sequence[dict[str, Any]]) -> CategorySet:
    """Rebuild a CategorySet from COCO categories (ours keep shape and colour)."""
    from orthogui.core.categories import ShapeKind

    cats = []
    for e in entries:
        extra = e.get("orthogui") or {}
        cats.append(
            Category(
                id=int(e["id"]),
                name=str(e["name"]),
                shape=ShapeKind(extra.get("shape", ShapeKind.POLYGON.value)),
                color=str(extra.get("color", "#ff0000")),
                group=str(extra.get("group", "")),
                supercategory=str(e.get("supercategory", "")),
            )
        )
    return CategorySet(tuple(cats))
