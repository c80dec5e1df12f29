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
from orthogui.io.importers._fields import (
    MAX_ID,
    MAX_SIDE,
    MISSING,
    FieldChecker,
    finite,
    optional,
    unsafe_path_reason,
)
from orthogui.io.importers.coco import check_inside
from orthogui.io.importers.cocofile import load_json


def _points(ck: FieldChecker, value: Any, where: str) -> list[tuple[float, float]] | None:
    points = ck.array(value, where)
    if points is None:
        return None
    if not all(isinstance(p, list) and len(p) == 2 for p in points):
        ck.fail(where, "points must be a list of [x, y] pairs")
        return None
    if not all(finite(v) for p in points for v in p):
        ck.fail(where, f"point coordinates must be numbers within +-{MAX_SIDE}")
        return None
    return [(float(x), float(y)) for x, y in points]


def _shape(ck: FieldChecker, item: dict[str, Any], where: str) -> Shape | None:
    raw_kind = item.get("shape_type")
    kind = ck.text(raw_kind, f"{where}.shape_type") if raw_kind else "polygon"
    pts = _points(ck, item.get("points", MISSING), f"{where}.points")
    if kind is None or pts is None:
        return None
    if kind == "rectangle":
        if len(pts) != 2:
            ck.fail(f"{where}.points", f"rectangle with {len(pts)} points: 2 corners needed")
            return None
        box = Box(pts[0][0], pts[0][1], pts[1][0], pts[1][1])
        if box.width <= 0 or box.height <= 0:
            ck.fail(f"{where}.points", "rectangle of zero width or height")
            return None
        return box
    if kind == "polygon":
        if len(pts) < 3:
            ck.fail(f"{where}.points", f"polygon with {len(pts)} points: at least 3 needed")
            return None
        return Polygon(pts)
    ck.fail(f"{where}.shape_type", f"shape_type {kind!r} is not supported (polygon, rectangle)")
    return None


def _extras(ck: FieldChecker, item: dict[str, Any], where: str) -> dict[str, Any] | None:
    """The attributes a shape carries: its own, its true flags and its group id."""
    attributes = ck.attributes(item.get("attributes", MISSING), f"{where}.attributes")
    flags = ck.attributes(item.get("flags", MISSING), f"{where}.flags")
    group = optional(item, "group_id")
    if group is not MISSING:
        group = ck.integer(group, f"{where}.group_id", low=-MAX_ID)
    if attributes is None or flags is None or group is None:
        return None
    out = dict(attributes)
    true_flags = {k: v for k, v in flags.items() if v}
    if true_flags:
        out["flags"] = true_flags
    if group is not MISSING:
        out["group_id"] = group
    return out


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
        Naming the file, the JSON path (``shapes[2].points``) and the problem, for every bad
        field of every file; an absolute ``imagePath`` (or, with ``images_root``, one that
        leaves it) is refused.
    """
    problems: list[Problem] = []
    parsed: list[tuple[Path, dict[str, Any]]] = []
    for file in _files(Path(path)):
        data = load_json(file)
        if not isinstance(data, dict) or not isinstance(data.get("shapes"), list):
            problems.append(Problem(str(file), "", "not a LabelMe file: no 'shapes' list"))
            continue
        parsed.append((file, data))
    if problems:
        raise ImportValidationError(problems)
    labels = {
        s["label"]
        for _, d in parsed
        for s in d["shapes"]
        if isinstance(s, dict) and isinstance(s.get("label"), str)
    }
    images: list[ImageRecord] = []
    pending: list[tuple[ImageRecord, str, Shape, dict[str, Any]]] = []
    for file, data in parsed:
        ck = FieldChecker(str(file))
        image_path = _image_path(ck, data, images_root)
        width, height = (
            0 if optional(data, k) is MISSING else ck.integer(data[k], k, high=MAX_SIDE)
            for k in ("imageWidth", "imageHeight")
        )
        if image_path is None or width is None or height is None:
            problems += ck.problems
            continue
        root = images_root if images_root is not None else file.parent
        rec = ImageRecord(id=new_id(), path=str(root / image_path), width=width, height=height)
        images.append(rec)
        for i, entry in enumerate(data["shapes"]):
            where = f"shapes[{i}]"
            item = ck.obj(entry, where)
            if item is None:
                continue
            label = ck.text(item.get("label", MISSING), f"{where}.label")
            shape = _shape(ck, item, where)
            attributes = _extras(ck, item, where)
            if shape is None or label is None or attributes is None:
                continue
            outside = check_inside(shape, width=width, height=height)
            if outside:
                ck.fail(f"{where}.points", outside)
                continue
            pending.append((rec, label, shape, attributes))
        problems += ck.problems
    if problems:
        raise ImportValidationError(problems)
    names = label_map.resolve(labels, file=path)
    anns: list[Annotation] = [
        human_label(image_id=rec.id, category=target, shape=shape, attributes=attributes)
        for rec, label, shape, attributes in pending
        if (target := names[label]) is not None
    ]
    return ImportResult(tuple(images), tuple(anns), (), str(path))


def _image_path(ck: FieldChecker, data: dict[str, Any], images_root: Path | None) -> str | None:
    """``imagePath``: relative; inside ``images_root`` when one is given (LabelMe's own
    files name it relative to the JSON file, often as ``../images/x.png``)."""
    name = ck.text(data.get("imagePath", MISSING), "imagePath", empty=False)
    if name is None:
        return None
    reason = unsafe_path_reason(name)
    if reason and (images_root is not None or "absolute" in reason or "NUL" in reason):
        ck.fail("imagePath", reason)
        return None
    return name
