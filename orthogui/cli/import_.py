"""``orthogui import FORMAT PATH``: read COCO, FracAtlas, LabelMe or YOLO into a project (or COCO).

Everything is validated before anything is written; the import is one undo step in the project.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orthogui.io.importers import ImportResult

COMMAND = "import"
HELP = "Import annotations (coco, fracatlas, labelme, yolo) into a project, or convert to COCO."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the format, the source, the label map and the destination."""
    from orthogui.io.importers import IMPORTERS

    parser.add_argument("format", choices=sorted(IMPORTERS))
    parser.add_argument("path", type=Path, help="file or folder to import")
    parser.add_argument("--images-root", type=Path, help="folder the image names are relative to")
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="LABEL=CATEGORY",
        help="map a source label to a project category (repeatable)",
    )
    parser.add_argument("--drop", action="append", default=[], metavar="LABEL")
    dest = parser.add_mutually_exclusive_group(required=True)
    dest.add_argument("--project", type=Path, help="project file to import into")
    dest.add_argument("--to-coco", type=Path, help="write a COCO file instead (no project)")


def _mapping(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        label, sep, category = item.partition("=")
        if not sep or not label or not category:
            raise ValueError(f"--map {item!r}: expected LABEL=CATEGORY")
        out[label] = category
    return out


def import_into_project(
    project: Path,
    fmt: str,
    path: Path,
    *,
    mapping: dict[str, str] | None = None,
    drop: frozenset[str] = frozenset(),
    images_root: Path | None = None,
) -> ImportResult:
    """Import a file or folder into a project file, all or nothing.

    The whole source is validated first; then its new images and its annotations (one undo
    step) are written in one transaction.

    Parameters
    ----------
    project
        An existing project file.
    fmt, path
        A registered import format and the file or folder to read.
    mapping, drop
        Source label -> project category, and source labels to skip.
    images_root
        Folder the source's image names are relative to.

    Returns
    -------
    ImportResult
        What was imported (with its warnings).

    Raises
    ------
    ImportValidationError
        The source is refused (every problem named by file, entry and reason); the project
        is unchanged.
    ProjectStoreError
        The project cannot be opened or written; the project is unchanged.
    """
    from orthogui.io.importers import LabelMap, merge_into, note_known_images, read_import
    from orthogui.io.store import ProjectStore

    store = ProjectStore.open(project, require_write=True)
    try:
        labels = LabelMap(store.model.categories, dict(mapping or {}), drop)
        result = read_import(fmt, path, label_map=labels, images_root=images_root)
        known = {im.id for im in store.model.images()}
        id_map = merge_into(store.model, result, commit=store.add_images_and_push)
    finally:
        store.close()
    return note_known_images(result, [im for im in result.images if id_map[im.id] in known])


def run(args: argparse.Namespace) -> int:
    """Import, report warnings, and say how many images and findings came in."""
    from orthogui.core.categories import DEFAULT_CATEGORIES
    from orthogui.core.project import ProjectModel
    from orthogui.io.importers import LabelMap, merge_into, read_import

    mapping = _mapping(args.map)
    if args.project is not None:
        result = import_into_project(
            args.project,
            args.format,
            args.path,
            mapping=mapping,
            drop=frozenset(args.drop),
            images_root=args.images_root,
        )
        where = str(args.project)
    else:
        from orthogui.io.coco import to_coco

        labels = LabelMap(DEFAULT_CATEGORIES, mapping, frozenset(args.drop))
        result = read_import(args.format, args.path, label_map=labels, images_root=args.images_root)
        model = ProjectModel(DEFAULT_CATEGORIES)
        merge_into(model, result)
        args.to_coco.write_text(json.dumps(to_coco(model, file_name_of=lambda r: r.path)))
        where = str(args.to_coco)
    for w in result.warnings:
        print(f"warning: {w}")
    print(f"imported {len(result.images)} images, {len(result.annotations)} findings into {where}")
    return 0
