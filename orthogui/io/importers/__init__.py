"""Importers of foreign annotation files into plain data, registered by format name.

``IMPORTERS[name](path, label_map=..., images_root=...)`` returns an ``ImportResult``;
``merge_into`` adds it to a project as one undo step.
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
)
from orthogui.io.importers.coco import read_coco, read_fracatlas
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


__all__ = [
    "IMPORTERS",
    "ImportResult",
    "ImportValidationError",
    "LabelMap",
    "Problem",
    "merge_into",
    "read_import",
]
