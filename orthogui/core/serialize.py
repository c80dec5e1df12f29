"""Plain-JSON forms of the core values, for the project store's journal and rows.

Round trips are exact: ``annotation_from_dict(annotation_to_dict(a)) == a``.
"""

from __future__ import annotations

from typing import Any

from orthogui.core.annotation import Annotation, Provenance, Review, ReviewState
from orthogui.core.geometry import Box, Polygon, Shape
from orthogui.core.project import ImageRecord, ImageStatus


def shape_to_dict(shape: Shape) -> dict[str, Any]:
    if isinstance(shape, Box):
        return {"type": "box", "xyxy": [shape.x0, shape.y0, shape.x1, shape.y1]}
    return {"type": "polygon", "points": shape.flat()}


def shape_from_dict(data: dict[str, Any]) -> Shape:
    kind = data.get("type")
    if kind == "box":
        x0, y0, x1, y1 = (float(v) for v in data["xyxy"])
        return Box(x0, y0, x1, y1)
    if kind == "polygon":
        return Polygon.from_flat(data["points"])
    raise ValueError(f"unknown shape type {kind!r}")


def annotation_to_dict(ann: Annotation) -> dict[str, Any]:
    return {
        "id": ann.id,
        "image_id": ann.image_id,
        "category": ann.category,
        "shape": shape_to_dict(ann.shape),
        "provenance": {
            "source": ann.provenance.source,
            "model_name": ann.provenance.model_name,
            "model_version": ann.provenance.model_version,
            "score": ann.provenance.score,
        },
        "review": {"state": ann.review.state.value, "by": ann.review.by, "at": ann.review.at},
        "attributes": dict(ann.attributes),
        "original_category": ann.original_category,
        "original_shape": None if ann.original_shape is None else shape_to_dict(ann.original_shape),
    }


def annotation_from_dict(data: dict[str, Any]) -> Annotation:
    prov = data.get("provenance") or {"source": "human"}
    rev = data.get("review") or {}
    orig = data.get("original_shape")
    return Annotation(
        id=str(data["id"]),
        image_id=str(data["image_id"]),
        category=str(data["category"]),
        shape=shape_from_dict(data["shape"]),
        provenance=Provenance(
            str(prov.get("source", "human")),
            str(prov.get("model_name", "")),
            str(prov.get("model_version", "")),
            None if prov.get("score") is None else float(prov["score"]),
        ),
        review=Review(
            ReviewState(rev.get("state", ReviewState.PROPOSED.value)),
            str(rev.get("by", "")),
            str(rev.get("at", "")),
        ),
        attributes=dict(data.get("attributes") or {}),
        original_category=data.get("original_category"),
        original_shape=None if orig is None else shape_from_dict(orig),
    )


def image_to_dict(im: ImageRecord) -> dict[str, Any]:
    return {
        "id": im.id,
        "path": im.path,
        "sha256": im.sha256,
        "width": im.width,
        "height": im.height,
        "status": im.status.value,
        "uncertainty": im.uncertainty,
        "study_key": im.study_key,
        "attributes": dict(im.attributes),
    }


def image_from_dict(data: dict[str, Any]) -> ImageRecord:
    return ImageRecord(
        id=str(data["id"]),
        path=str(data["path"]),
        sha256=str(data.get("sha256", "")),
        width=int(data.get("width", 0)),
        height=int(data.get("height", 0)),
        status=ImageStatus(data.get("status", ImageStatus.NEW.value)),
        uncertainty=None if data.get("uncertainty") is None else float(data["uncertainty"]),
        study_key=str(data.get("study_key", "")),
        attributes=dict(data.get("attributes") or {}),
    )
