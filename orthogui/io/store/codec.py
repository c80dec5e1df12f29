"""Row forms of the project's values: images, annotations and categories as SQLite rows/JSON.

Annotations and commands reuse ``orthogui.core.serialize``; JSON is compact and exact.
"""

from __future__ import annotations

import json
from typing import Any

from orthogui.core.annotation import Annotation
from orthogui.core.categories import AttributeSpec, Category, CategorySet, ShapeKind
from orthogui.core.measurement import Measurement, measurement_from_dict, measurement_to_dict
from orthogui.core.project import ImageRecord, ImageStatus
from orthogui.core.serialize import annotation_from_dict, annotation_to_dict

ImageRow = tuple[str, str, str, int, int, str, float | None, str, str]
AnnotationRow = tuple[str, str, str, str, str]

IMAGE_COLUMNS = "id, path, sha256, width, height, status, uncertainty, study_key, attributes"
ANNOTATION_COLUMNS = "id, image_id, data, category, review_state"
MeasurementRow = tuple[str, str, str]
MEASUREMENT_COLUMNS = "id, image_id, data"


def dumps(value: Any) -> str:
    """Compact JSON; ``allow_nan=False`` so that nothing unreadable by other tools is written."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def image_to_row(im: ImageRecord) -> ImageRow:
    return (
        im.id,
        im.path,
        im.sha256,
        im.width,
        im.height,
        im.status.value,
        im.uncertainty,
        im.study_key,
        dumps(im.attributes),
    )


def image_from_row(row: tuple[Any, ...]) -> ImageRecord:
    id_, path, sha, width, height, status, uncertainty, study_key, attributes = row
    return ImageRecord(
        id=str(id_),
        path=str(path),
        sha256=str(sha),
        width=int(width),
        height=int(height),
        status=ImageStatus(status),
        uncertainty=None if uncertainty is None else float(uncertainty),
        study_key=str(study_key),
        attributes=dict(json.loads(attributes)),
    )


def annotation_to_row(ann: Annotation) -> AnnotationRow:
    return (
        ann.id,
        ann.image_id,
        dumps(annotation_to_dict(ann)),
        ann.category,
        ann.review.state.value,
    )


def annotation_from_data(data: str) -> Annotation:
    return annotation_from_dict(json.loads(data))


def measurement_to_row(m: Measurement) -> MeasurementRow:
    return (m.id, m.image_id, dumps(measurement_to_dict(m)))


def measurement_from_data(data: str) -> Measurement:
    return measurement_from_dict(json.loads(data))


def category_to_dict(category: Category) -> dict[str, Any]:
    return {
        "id": category.id,
        "name": category.name,
        "shape": category.shape.value,
        "color": category.color,
        "group": category.group,
        "shortcut": category.shortcut,
        "attributes": [
            {"name": a.name, "choices": list(a.choices), "required": a.required}
            for a in category.attributes
        ],
        "supercategory": category.supercategory,
    }


def category_from_dict(data: dict[str, Any]) -> Category:
    return Category(
        id=int(data["id"]),
        name=str(data["name"]),
        shape=ShapeKind(data["shape"]),
        color=str(data["color"]),
        group=str(data.get("group", "")),
        shortcut=str(data.get("shortcut", "")),
        attributes=tuple(
            AttributeSpec(str(a["name"]), tuple(a.get("choices", ())), bool(a.get("required")))
            for a in data.get("attributes", ())
        ),
        supercategory=str(data.get("supercategory", "")),
    )


def categories_from_rows(rows: list[tuple[Any, ...]]) -> CategorySet:
    """Rebuild the project's category set from ``(data,)`` rows in position order."""
    return CategorySet(tuple(category_from_dict(json.loads(r[0])) for r in rows))
