"""Import YOLO txt labels: boxes (``c cx cy w h``) and segments (``c x1 y1 x2 y2 ...``), normalised.

Class names come from ``classes.txt`` (one per line) or the ``names`` of ``data.yaml``; image
sizes from the image files beside the labels (``images/`` next to ``labels/``, or the same folder).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

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
from orthogui.io.importers.coco import image_header

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".dcm")
_TOLERANCE = 1e-3  # normalised coordinates may overshoot 1.0 by rounding


def read_text(path: Path) -> str:
    """A text file's content; unreadable or non-UTF-8 is an ``ImportValidationError``."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ImportValidationError.one(path, "", f"not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise ImportValidationError.one(
            path, "", f"cannot read the file ({exc.strerror or exc})"
        ) from exc


def parse_names(root: Path) -> list[str]:
    """Class names from ``classes.txt`` or ``data.yaml`` (list, block list or index map)."""
    classes = root / "classes.txt"
    if classes.is_file():
        return [ln.strip() for ln in read_text(classes).splitlines() if ln.strip()]
    yaml = root / "data.yaml"
    if not yaml.is_file():
        raise ImportValidationError.one(root, "", "no classes.txt or data.yaml with class names")
    lines = read_text(yaml).splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^names\s*:\s*(.*)$", line)
        if not m:
            continue
        inline = m.group(1).strip()
        if inline.startswith("["):
            return [n.strip().strip("'\"") for n in inline.strip("[]").split(",") if n.strip()]
        names: dict[int, str] = {}
        for sub in lines[i + 1 :]:
            item = re.match(r"^\s+-\s*(.+)$", sub)
            keyed = re.match(r"^\s+(\d+)\s*:\s*(.+)$", sub)
            if item:
                names[len(names)] = item.group(1).strip().strip("'\"")
            elif keyed:
                names[int(keyed.group(1))] = keyed.group(2).strip().strip("'\"")
            else:
                break
        return [names[k] for k in sorted(names)]
    raise ImportValidationError.one(yaml, "", "no 'names' entry")


def _find_image(label: Path, root: Path) -> Path | None:
    folders = [label.parent, root / "images"]
    if label.parent.name == "labels":
        folders.insert(0, label.parent.parent / "images")
    parts = label.relative_to(root).parts
    if parts and parts[0] == "labels":
        folders.insert(0, root.joinpath("images", *parts[1:-1]))
    for folder in folders:
        for suffix in IMAGE_SUFFIXES:
            candidate = folder / (label.stem + suffix)
            if candidate.is_file():
                return candidate
    return None


def _parse_line(values: list[float], width: int, height: int) -> Shape:
    coords = values[1:]
    if not all(math.isfinite(v) for v in coords):
        raise ValueError("coordinates must be finite numbers")
    if any(v < -_TOLERANCE or v > 1 + _TOLERANCE for v in coords):
        raise ValueError(f"coordinates outside the image (normalised to 0..1): {coords}")
    if len(coords) == 4:
        cx, cy, w, h = coords
        if w <= 0 or h <= 0:
            raise ValueError(f"box of size {w} x {h}: width and height must be positive")
        if (
            cx - w / 2 < -_TOLERANCE
            or cx + w / 2 > 1 + _TOLERANCE
            or cy - h / 2 < -_TOLERANCE
            or cy + h / 2 > 1 + _TOLERANCE
        ):
            raise ValueError(f"box (cx={cx}, cy={cy}, w={w}, h={h}) outside the image")
        return Box(
            (cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height
        )
    if len(coords) % 2 or len(coords) < 6:
        raise ValueError(
            f"expected 'class cx cy w h' or a class and at least 3 x y pairs, got {len(values)} values"
        )
    pts = [(coords[j] * width, coords[j + 1] * height) for j in range(0, len(coords), 2)]
    return Polygon(pts)


def read_yolo(
    path: str | Path, *, label_map: LabelMap, images_root: Path | None = None
) -> ImportResult:
    """Read a YOLO dataset folder (``labels/**/*.txt`` or ``*.txt``, class names, images).

    Raises
    ------
    ImportValidationError
        Naming the label file, the line number and the problem (class index out of range,
        wrong number of values, coordinates outside the image, image file not found).
    """
    root = Path(path)
    names = parse_names(root)
    files = (
        sorted((root / "labels").rglob("*.txt"))
        if (root / "labels").is_dir()
        else sorted(p for p in root.glob("*.txt") if p.name != "classes.txt")
    )
    mapping = label_map.resolve(names, file=root)
    problems: list[Problem] = []
    images: list[ImageRecord] = []
    anns: list[Annotation] = []
    for file in files:
        image = _find_image(file, images_root or root)
        header = image_header(image) if image is not None else None
        if image is None or header is None:
            problems.append(Problem(str(file), "", "no readable image with this name beside it"))
            continue
        width, height, _ = header
        rec = ImageRecord(id=new_id(), path=str(image), width=width, height=height)
        images.append(rec)
        for n, line in enumerate(read_text(file).splitlines(), start=1):
            if not line.strip():
                continue
            where = f"line {n}"
            try:
                values = [float(v) for v in line.split()]
                if not values[0].is_integer() or not 0 <= values[0] < len(names):
                    raise ValueError(f"class {line.split()[0]} not in 0..{len(names) - 1}")
                cls = int(values[0])
                shape = _parse_line(values, width, height)
            except (ValueError, IndexError) as exc:
                problems.append(Problem(str(file), where, str(exc)))
                continue
            target = mapping[names[cls]]
            if target is None:
                continue
            anns.append(human_label(image_id=rec.id, category=target, shape=shape))
    if problems:
        raise ImportValidationError(problems)
    return ImportResult(tuple(images), tuple(anns), (), str(root))
