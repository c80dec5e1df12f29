"""Import LabelMe JSON (one file per image): polygon and rectangle shapes, image size and path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orthogui.core.annotation import Annotation, new_id
from orthogui.core.geometry import Box, Polygon, Shape
from orthogui.core.project import ImageRecord
from orthogui.io.importers._base import (
    ImportResult,
    ImportValidationError,
    LabelMap,
    Problem,
    human_label,
)
from orthogui.io.importers.coco import check_inside, load_json


def _shape(item: dict[str, Any]) -> Shape:
    kind = item.get("shape_type") or "polygon"
    points = item.get("points")
    if not isinstance(points, list) or not all(
        isinstance(p, list | tuple) and len(p) == 2 for p in points
    ):
        raise ValueError("points must be a list of [x, y] pairs")
    pts = [(float(x), float(y)) for x, y in points]
    if kind == "rectangle":
        if len(pts) != 2:
            raise ValueError(f"rectangle with {len(pts)} points: 2 corners needed")
        box = Box(pts[0][0], pts[0][1], pts[1][0], pts[1][1])
        if box.width <= 0 or box.height <= 0:
            raise ValueError("rectangle of zero width or height")
        return box
    if kind == "polygon":
        if len(pts) < 3:
            raise ValueError(f"polygon with {len(pts)} points: at least 3 needed")
        return Polygon(pts)
    raise ValueError(f"shape_type {kind!r} is not supported (polygon, rectangle)")


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(path.glob("*.json"))
    return [path]


def read_labelme(
    path: str | Path, *, label_map: LabelMap, images_root: Path | None = None
) -> ImportResult:
    """Read one LabelMe JSON file, or every ``*.json`` of a folder.

    Parameters
    ----------
    path
        A LabelMe file or a folder of them.
    label_map
        Shape labels -> project categories.
    images_root
        Folder ``imagePath`` is relative to (default: the JSON file's folder).

    Raises
    ------
    ImportValidationError
        Naming the file, the shape index and the problem, for every bad shape of every file.
    """
    problems: list[Problem] = []
    parsed: list[tuple[Path, dict[str, Any]]] = []
    for file in _files(Path(path)):
        data = load_json(file)
        if not isinstance(data, dict) or not isinstance(data.get("shapes"), list):
            problems.append(Problem(str(file), "", "not a LabelMe file: no 'shapes' list"))
            continue
        if not data.get("imagePath"):
            problems.append(Problem(str(file), "", "no imagePath"))
            continue
        parsed.append((file, data))
    if problems:
        raise ImportValidationError(problems)
    labels = {
        str(s.get("label", "")) for _, d in parsed for s in d["shapes"] if isinstance(s, dict)
    }
    names = label_map.resolve(labels, file=path)
    images: list[ImageRecord] = []
    anns: list[Annotation] = []
    for file, data in parsed:
        root = images_root if images_root is not None else file.parent
        width, height = int(data.get("imageWidth") or 0), int(data.get("imageHeight") or 0)
        rec = ImageRecord(
            id=new_id(), path=str(root / str(data["imagePath"])), width=width, height=height
        )
        images.append(rec)
        for i, item in enumerate(data["shapes"]):
            where = f"shape {i}"
            if not isinstance(item, dict):
                problems.append(Problem(str(file), where, "a shape is a JSON object"))
                continue
            try:
                shape = _shape(item)
            except (ValueError, TypeError) as exc:
                problems.append(Problem(str(file), where, str(exc)))
                continue
            outside = check_inside(shape, width=width, height=height)
            if outside:
                problems.append(Problem(str(file), where, outside))
                continue
            target = names[str(item.get("label", ""))]
            if target is None:
                continue
            attributes = dict(item.get("attributes") or {})
            flags = {k: v for k, v in (item.get("flags") or {}).items() if v}
            if flags:
                attributes["flags"] = flags
            if item.get("group_id") is not None:
                attributes["group_id"] = item["group_id"]
            anns.append(
                human_label(image_id=rec.id, category=target, shape=shape, attributes=attributes)
            )
    if problems:
        raise ImportValidationError(problems)
    return ImportResult(tuple(images), tuple(anns), (), str(path))
