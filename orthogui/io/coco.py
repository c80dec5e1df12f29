"""COCO instances JSON from the project model: images, categories, annotations, review fields.

Boxes are written as a 4-corner polygon plus ``"orthogui_shape": "box"``, so every annotation
has a segmentation pycocotools can rasterise; rejected findings go to ``rejected_annotations``.
Coordinates are rounded to ``COORD_DECIMALS``; geometry is computed for many images at once.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import PurePath
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pycocotools import mask as mask_utils

from orthogui.core.annotation import Annotation, ReviewState
from orthogui.core.categories import Category, CategorySet
from orthogui.core.geometry import Box, Polygon, Shape
from orthogui.core.project import ImageRecord, ProjectModel

DEFAULT_INCLUDE: frozenset[ReviewState] = frozenset(
    {ReviewState.PROPOSED, ReviewState.ACCEPTED, ReviewState.CORRECTED}
)
"""Review states exported by default: rejected findings only when asked for."""

SHAPE_KEY = "orthogui_shape"
REJECTED_KEY = "rejected_annotations"
FORMAT_KEY = "orthogui_format"
FORMAT_VERSION = 1


COORD_DECIMALS = 2
"""Decimals of the coordinates written (0.01 px): short JSON numbers, far inside the 0.5 px
a round trip may move a vertex."""


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building or parsing many small objects.

    COCO files hold no reference cycles, yet every few hundred new dicts or lists trigger a
    collection that walks the whole growing heap: a quarter of an import's time. Reference
    counting still frees everything; the collector is switched back on (if it was on) after.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _rounded(values: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.round(values, COORD_DECIMALS)


def _ring(shape: Shape) -> list[float]:
    """The COCO ring of one shape (boxes as 4 corners), rounded as it is written."""
    if isinstance(shape, Box):
        x0, y0, x1, y1 = _rounded(np.array([shape.x0, shape.y0, shape.x1, shape.y1])).tolist()
        return [x0, y0, x1, y0, x1, y1, x0, y1]
    ring: list[float] = _rounded(shape.points).ravel().tolist()
    return ring


Geometry = tuple[list[list[float]], list[list[float]], list[float]]
"""Rings, COCO boxes and areas of the shapes of one image (see ``images_geometry``)."""

_RASTER_CHUNK = 200  # pycocotools' area() overflows a uint8 count past 255 masks per call


def images_geometry(groups: Sequence[tuple[Sequence[Shape], int, int]]) -> list[Geometry]:
    """Rings, COCO boxes and areas of the shapes of many images, as written, in one numpy pass.

    Coordinates are rounded to ``COORD_DECIMALS``; boxes and areas are those of the rounded
    rings, so a reader recomputing them from the file gets the same numbers. Areas are what
    COCOeval bins by size: polygons rasterised by pycocotools, boxes as ``w * h``.

    Parameters
    ----------
    groups
        ``(shapes, height, width)`` per image; a size of 0 means unknown, then the shapes' own
        extent stands in for it.

    Returns
    -------
    list of (rings, bboxes, areas)
        Per image: flat ``[x0, y0, x1, y1, ...]`` rings, ``[x, y, w, h]`` boxes and areas, one
        per shape.
    """
    shapes = [s for group in groups for s in group[0]]
    owner = [g for g, group in enumerate(groups) for _ in group[0]]
    n = len(shapes)
    rings: list[list[float]] = [[] for _ in range(n)]
    bboxes: list[list[float]] = [[] for _ in range(n)]
    areas = [0.0] * n
    boxes = [(i, s) for i, s in enumerate(shapes) if isinstance(s, Box)]
    polys = [(i, s) for i, s in enumerate(shapes) if isinstance(s, Polygon)]
    if boxes:
        xyxy = _rounded(np.array([(b.x0, b.y0, b.x1, b.y1) for _, b in boxes]).reshape(-1, 4))
        wh = _rounded(xyxy[:, 2:] - xyxy[:, :2])
        box_area = np.round(wh[:, 0] * wh[:, 1], 2 * COORD_DECIMALS)
        for (i, _), (x0, y0, x1, y1), (w, h), area in zip(
            boxes, xyxy.tolist(), wh.tolist(), box_area.tolist()
        ):
            rings[i] = [x0, y0, x1, y0, x1, y1, x0, y1]
            bboxes[i] = [x0, y0, w, h]
            areas[i] = area
    if polys:
        sizes = np.array([len(p) for _, p in polys])
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        pts = _rounded(np.concatenate([p.points for _, p in polys]))
        mins = np.minimum.reduceat(pts, starts, axis=0)
        maxs = np.maximum.reduceat(pts, starts, axis=0)
        boxes_xywh = np.concatenate([mins, _rounded(maxs - mins)], axis=1).tolist()
        flat = pts.ravel().tolist()
        bounds = (2 * np.concatenate([starts, [len(pts)]])).tolist()
        extent = np.floor(maxs).astype(np.int64) + 1  # image size where it is unknown
        by_image: dict[int, list[int]] = {}
        for k, (i, _) in enumerate(polys):
            rings[i] = flat[bounds[k] : bounds[k + 1]]
            bboxes[i] = boxes_xywh[k]
            by_image.setdefault(owner[i], []).append(k)
        for g, ks in by_image.items():
            _, height, width = groups[g]
            if height <= 0 or width <= 0:
                width, height = extent[ks].max(axis=0).tolist()
            for c in range(0, len(ks), _RASTER_CHUNK):
                chunk = [polys[k][0] for k in ks[c : c + _RASTER_CHUNK]]
                rles = mask_utils.frPyObjects([rings[i] for i in chunk], height, width)
                for i, area in zip(chunk, mask_utils.area(rles).tolist()):
                    areas[i] = float(area)
    out: list[Geometry] = []
    start = 0
    for group in groups:
        end = start + len(group[0])
        out.append((rings[start:end], bboxes[start:end], areas[start:end]))
        start = end
    return out


def shape_geometry(shapes: Sequence[Shape], *, height: int, width: int) -> Geometry:
    """``images_geometry`` of one image."""
    return images_geometry([(shapes, height, width)])[0]


def coco_areas(shapes: Sequence[Shape], *, height: int, width: int) -> list[float]:
    """Areas as COCOeval sees them: polygons rasterised by pycocotools, boxes as ``w * h``.

    Parameters
    ----------
    shapes
        The shapes of one image (rasterised in one pycocotools call: much faster than one by one).
    height, width
        Image size in pixels; 0 means unknown, then the shapes' own extent is used.
    """
    return shape_geometry(shapes, height=height, width=width)[2]


def _shape_dict(shape: Shape) -> dict[str, Any]:
    """``shape_to_dict`` with the coordinates rounded as the rings are."""
    ring = _ring(shape)
    if isinstance(shape, Box):
        return {"type": "box", "xyxy": [ring[0], ring[1], ring[4], ring[5]]}
    return {"type": "polygon", "points": ring}


def annotation_to_coco(
    ann: Annotation,
    *,
    coco_id: int,
    image_id: int,
    category_id: int,
    area: float,
    ring: list[float] | None = None,
    bbox: list[float] | None = None,
) -> dict[str, Any]:
    """One COCO annotation with our extra keys (review, provenance, attributes, original).

    ``ring`` and ``bbox`` are the rounded geometry from ``shape_geometry`` (computed from the
    shape when not given).
    """
    if ring is None or bbox is None:
        ring = _ring(ann.shape)
        x0, y0 = min(ring[0::2]), min(ring[1::2])
        w, h = _rounded(np.array([max(ring[0::2]) - x0, max(ring[1::2]) - y0])).tolist()
        bbox = [x0, y0, w, h]
    prov = ann.provenance
    orig = ann.original_shape
    return {
        "id": coco_id,
        "image_id": image_id,
        "category_id": category_id,
        "segmentation": [ring],
        "bbox": bbox,
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
        "original_shape": None if orig is None else _shape_dict(orig),
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
    with gc_paused():
        chosen = [
            [
                a
                for a in model.annotations(rec.id)
                if a.category in cat_ids and a.review.state in states
            ]
            for rec in records
        ]
        geometry = images_geometry(
            [([a.shape for a in anns], rec.height, rec.width) for rec, anns in zip(records, chosen)]
        )
        for index, (rec, anns, (rings, bboxes, areas)) in enumerate(
            zip(records, chosen, geometry), start=1
        ):
            entry: dict[str, Any] = {
                "id": index,
                "file_name": file_name_of(rec),
                "width": rec.width,
                "height": rec.height,
            }
            if image_fields_of is not None:
                entry.update(image_fields_of(rec))
            coco_images.append(entry)
            for ann, ring, bbox, area in zip(anns, rings, bboxes, areas):
                item = annotation_to_coco(
                    ann,
                    coco_id=next_ann,
                    image_id=index,
                    category_id=cat_ids[ann.category],
                    area=area,
                    ring=ring,
                    bbox=bbox,
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
