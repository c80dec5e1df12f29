"""Importers of foreign annotation files into plain data, registered by format name.

``IMPORTERS[name](path, label_map=..., images_root=...)`` returns an ``ImportResult``;
``merge_into`` adds it to a project as one undo step. ``load_coco`` is the one loader of a COCO
instances file that the importer, the training data set and the evaluation share.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from orthogui.io.importers._base import (
    ImportResult,
    ImportValidationError,
    LabelMap,
    Problem,
    merge_into,
    note_known_images,
)
from orthogui.io.importers.coco import read_coco, read_fracatlas
from orthogui.io.importers.cocofile import CocoError, check_coco, load_coco, load_json
from orthogui.io.importers.labelme import read_labelme
from orthogui.io.importers.yolo import read_yolo

Importer = Callable[..., ImportResult]

IMPORTERS: dict[str, Importer] = {
    "coco": read_coco,
    "fracatlas": read_fracatlas,
    "labelme": read_labelme,
    "yolo": read_yolo,
}
"""Format name -> reader ``(path, *, label_map, images_root=None) -> ImportResult``."""


def read_import(
    fmt: str, path: str | Path, *, label_map: LabelMap, images_root: Path | None = None
) -> ImportResult:
    """Read a file or folder in a registered format."""
    try:
        reader = IMPORTERS[fmt]
    except KeyError:
        raise ValueError(f"unknown import format {fmt!r}; known: {sorted(IMPORTERS)}") from None
    return reader(path, label_map=label_map, images_root=images_root)


def detect_format(path: str | Path) -> str:
    """The import format of a file or folder by its content: ``coco`` (a JSON file with
    ``images``), ``labelme`` (a JSON file with ``shapes``, or a folder of such files),
    ``yolo`` (a folder with ``classes.txt``, ``data.yaml`` or ``labels/``).

    Raises
    ------
    ImportValidationError
        Naming ``path``: none of these.
    """
    p = Path(path)
    if p.is_dir():
        if any((p / n).exists() for n in ("classes.txt", "data.yaml", "data.yml", "labels")):
            return "yolo"
        if (p / "annotations.json").is_file() and (p / "images").is_dir():
            return "fracatlas"
        if any(p.glob("*.json")):
            return "labelme"
        if any(p.glob("*.txt")):
            return "yolo"
    elif p.suffix.lower() == ".json":
        data = load_json(p)
        if isinstance(data, dict) and "images" in data:
            return "coco"
        if isinstance(data, dict) and "shapes" in data:
            return "labelme"
    raise ImportValidationError.one(
        p, "", "not a COCO file, a LabelMe file or folder, or a YOLO folder"
    )


__all__ = [
    "IMPORTERS",
    "CocoError",
    "ImportResult",
    "ImportValidationError",
    "LabelMap",
    "Problem",
    "check_coco",
    "detect_format",
    "load_coco",
    "load_json",
    "merge_into",
    "note_known_images",
    "read_import",
]
