"""Import COCO instances JSON: polygons, RLE (compressed and not), boxes, and our extra keys.

Also the FracAtlas preset (its COCO file, ``dataset.csv`` tags as image attributes, and the
EXIF-rotated sizes some of its entries describe).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orthogui.core.annotation import Annotation, Provenance, Review, ReviewState, new_id
from orthogui.core.geometry import Box, Polygon, Shape
from orthogui.core.project import ImageRecord, ImageStatus
from orthogui.core.serialize import shape_from_dict
from orthogui.io.coco import REJECTED_KEY, SHAPE_KEY, category_set_from_coco, gc_paused
from orthogui.io.importers._base import (
    ImportResult,
    ImportValidationError,
    LabelMap,
    Problem,
    new_ids,
    resolve_image_path,
)
from orthogui.io.importers._rings import EDGE_TOLERANCE, RingBatch, outside_message, polygon_rings
from orthogui.io.masks import mask_to_polygons, rle_to_mask

_EXIF_SWAPS = {5, 6, 7, 8}  # EXIF orientations that turn the view by 90 degrees


def load_json(path: Path) -> Any:
    """Parse a JSON file; bad JSON becomes an ``ImportValidationError`` naming line/column."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ImportValidationError.one(path, "", f"not UTF-8 text ({exc.reason})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportValidationError.one(
            path, f"line {exc.lineno} column {exc.colno}", f"bad JSON: {exc.msg}"
        ) from exc


def image_header(path: Path) -> tuple[int, int, int] | None:
    """(width, height, EXIF orientation) of an image file as stored, or None if unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.width, im.height, int(im.getexif().get(274, 1) or 1)
    except (OSError, UnidentifiedImageError):
        return None


def check_inside(shape: Shape, *, width: int, height: int) -> str | None:
    """Why a shape lies outside a ``width`` x ``height`` image, or None when it fits."""
    if width <= 0 or height <= 0:
        return None
    b = shape.bbox()
    t = EDGE_TOLERANCE
    if b.x0 < -t or b.y0 < -t or b.x1 > width + t or b.y1 > height + t:
        kind = "box" if isinstance(shape, Box) else "polygon"
        return outside_message(kind, (b.x0, b.y0, b.x1, b.y1), width=width, height=height)
    return None


def _shapes(ann: dict[str, Any], im: dict[str, Any]) -> Iterator[Shape]:
    """The shapes of one COCO annotation; ``ValueError`` says what is wrong with it."""
    seg = ann.get("segmentation")
    if ann.get(SHAPE_KEY) == "box" or not seg:
        bbox = ann.get("bbox")
        if not isinstance(bbox, list) or len(bbox) != 4:
            raise ValueError(f"no segmentation and no [x, y, w, h] bbox (bbox={bbox!r})")
        x, y, w, h = (float(v) for v in bbox)
        if w <= 0 or h <= 0:
            raise ValueError(f"box of size {w} x {h}: width and height must be positive")
        yield Box.from_xywh(x, y, w, h)
        return
    if isinstance(seg, dict):
        size = seg.get("size")
        if size is None or "counts" not in seg:
            raise ValueError("RLE segmentation needs 'size' and 'counts'")
        expected = [int(im.get("height", 0)), int(im.get("width", 0))]
        if 0 not in expected and [int(v) for v in size] != expected:
            raise ValueError(f"RLE size {size} differs from the image's [height, width] {expected}")
        polys = mask_to_polygons(rle_to_mask(seg), tolerance=0.1, min_area=1.0)
        if not polys:
            raise ValueError("RLE mask is empty")
        yield from polys
        return
    if not isinstance(seg, list):
        raise ValueError(f"segmentation must be polygons or RLE, got {type(seg).__name__}")
    for ring in polygon_rings(seg):
        yield Polygon.from_flat([float(v) for v in ring])


def _review(ann: dict[str, Any], prov: Provenance, cache: dict[Any, Review]) -> Review:
    if "review_state" in ann:
        state = ann["review_state"]
        key: tuple[Any, ...] = (
            state if isinstance(state, str) else repr(state),
            str(ann.get("reviewed_by", "")),
            str(ann.get("reviewed_at", "")),
        )
    else:
        # A file from another tool is someone's ground truth; a results file is a proposal.
        key = (ReviewState.PROPOSED if prov.is_model else ReviewState.ACCEPTED, "", "")
    review = cache.get(key)
    if review is None:  # reviews repeat a lot: one shared (immutable) value each
        review = cache[key] = Review(ReviewState(key[0]), key[1], key[2])
    return review


def _provenance(ann: dict[str, Any], cache: dict[Any, Provenance]) -> Provenance:
    p = ann.get("provenance")
    if isinstance(p, dict):
        score = p.get("score")
        key: tuple[Any, ...] = (
            str(p.get("source", "import")),
            str(p.get("model_name", "")),
            str(p.get("model_version", "")),
            None if score is None else float(score),
        )
    elif "score" in ann:
        key = ("model", "", "", float(ann["score"]))
    else:
        key = ("import", "", "", None)
    prov = cache.get(key)
    if prov is None:
        prov = cache[key] = Provenance(*key)
    return prov


def _entries(data: Any, path: Path) -> tuple[list[Any], list[Any], list[Any]]:
    if not isinstance(data, dict):
        raise ImportValidationError.one(path, "", "a COCO file is a JSON object")
    missing = [k for k in ("images", "categories") if not isinstance(data.get(k), list)]
    if missing:
        raise ImportValidationError.one(path, "", f"not COCO instances: no list {missing}")
    anns = list(data.get("annotations") or []) + list(data.get(REJECTED_KEY) or [])
    return data["images"], data["categories"], anns


def _image_record(
    im: dict[str, Any], *, images_root: Path | None, path: Path, warnings: list[Problem]
) -> ImageRecord:
    width, height = int(im.get("width") or 0), int(im.get("height") or 0)
    attributes = dict(im.get("attributes") or {})
    file_path = resolve_image_path(str(im["file_name"]), images_root)
    where = f"image id {im['id']}"
    if images_root is not None:
        header = image_header(Path(file_path))
        if header is None:
            warnings.append(
                Problem(str(path), where, f"image file {file_path} missing or unreadable")
            )
        else:
            fw, fh, orientation = header
            if orientation != 1:
                attributes["exif_orientation"] = orientation
            if width and height and (fw, fh) != (width, height):
                if (fh, fw) == (width, height) and orientation in _EXIF_SWAPS:
                    note = f"COCO size {width}x{height} is the EXIF-rotated view (orientation {orientation})"
                else:
                    note = f"COCO size {width}x{height} differs from the file's {fw}x{fh}"
                    attributes["size_mismatch"] = [fw, fh]
                warnings.append(Problem(str(path), where, note))
            elif orientation in _EXIF_SWAPS and width and height and fw != fh:
                # The readers show such a file upright (turned by 90 degrees), while these
                # coordinates fit the stored pixels: flag it for the reviewer, never guess.
                attributes["annotation_frame"] = "stored"
                warnings.append(
                    Problem(
                        str(path),
                        where,
                        f"COCO size {width}x{height} is the stored frame, but EXIF orientation "
                        f"{orientation} turns the view: check the shapes' placement",
                    )
                )
            width, height = width or fw, height or fh
    status = str(im.get("status", ""))
    return ImageRecord(
        id=new_id(),
        path=file_path,
        width=width,
        height=height,
        status=ImageStatus(status) if status in ImageStatus._value2member_map_ else ImageStatus.NEW,
        study_key=str(im.get("study", "")),
        attributes=attributes,
    )


@dataclass
class _Pending:
    """One valid COCO annotation waiting for its shapes (polygons come from a RingBatch)."""

    index: int
    where: str
    entry: dict[str, Any]
    image_id: str
    category: str
    rings: list[int] = field(default_factory=list)
    shapes: list[Shape] = field(default_factory=list)
    provenance: Provenance = field(default_factory=lambda: Provenance("import"))
    review: Review = field(default_factory=Review)
    original: Shape | None = None


def _annotations(items: list[_Pending]) -> list[Annotation]:
    """The annotations of validated entries, one per shape, with fresh ids."""
    ids = iter(new_ids(sum(len(item.shapes) for item in items)))
    return [
        Annotation(
            id=next(ids),
            image_id=item.image_id,
            category=item.category,
            shape=shape,
            provenance=item.provenance,
            review=item.review,
            attributes=dict(item.entry.get("attributes") or {}),
            original_category=item.entry.get("original_category"),
            original_shape=item.original,
        )
        for item in items
        for shape in item.shapes
    ]


def read_coco(
    path: str | Path, *, label_map: LabelMap, images_root: Path | None = None
) -> ImportResult:
    """Read and validate a COCO instances file.

    Parameters
    ----------
    path
        The JSON file.
    label_map
        COCO category names -> project categories; unknown names are an error.
    images_root
        Folder the ``file_name`` entries are relative to; when given, each image's header is
        read to check its size (EXIF-rotated views and mismatches become warnings).

    Returns
    -------
    ImportResult
        New image records and annotations. A polygon annotation with several rings (or an RLE
        mask with several parts) becomes several annotations, with a warning.

    Raises
    ------
    ImportValidationError
        Listing every bad entry: bad JSON, unknown image or category id, polygons under 3
        points, shapes outside the image, unknown labels.
    """
    with gc_paused():
        return _read_coco(Path(path), label_map=label_map, images_root=images_root)


def _read_coco(path: Path, *, label_map: LabelMap, images_root: Path | None) -> ImportResult:
    images, categories, anns = _entries(load_json(path), path)
    problems: list[Problem] = []
    warnings: list[Problem] = []
    cat_names: dict[int, str] = {}
    for i, c in enumerate(categories):
        if not isinstance(c, dict) or "id" not in c or "name" not in c:
            problems.append(Problem(str(path), f"category {i}", "needs an id and a name"))
            continue
        cat_names[int(c["id"])] = str(c["name"])
    used = {int(a["category_id"]) for a in anns if isinstance(a, dict) and "category_id" in a}
    names = label_map.resolve((cat_names[c] for c in used if c in cat_names), file=path)
    by_id: dict[int, dict[str, Any]] = {}
    records: dict[int, ImageRecord] = {}
    for i, im in enumerate(images):
        if not isinstance(im, dict) or "id" not in im or "file_name" not in im:
            problems.append(Problem(str(path), f"image {i}", "needs an id and a file_name"))
            continue
        if int(im["id"]) in by_id:
            problems.append(Problem(str(path), f"image id {im['id']}", "duplicate image id"))
            continue
        by_id[int(im["id"])] = im
        records[int(im["id"])] = _image_record(
            im, images_root=images_root, path=path, warnings=warnings
        )
    wanted: list[_Pending] = []
    rings = RingBatch()
    provs: dict[Any, Provenance] = {}
    reviews: dict[Any, Review] = {}
    bad: list[tuple[int, Problem]] = []  # (annotation index, problem): reported in file order
    for i, ann in enumerate(anns):
        where = f"annotation id {ann.get('id', f'#{i}')}" if isinstance(ann, dict) else f"#{i}"
        if not isinstance(ann, dict):
            bad.append((i, Problem(str(path), where, "an annotation is a JSON object")))
            continue
        image_id, cat_id = ann.get("image_id"), ann.get("category_id")
        if image_id not in by_id:
            bad.append((i, Problem(str(path), where, f"image id {image_id} is not in images")))
            continue
        if cat_id not in cat_names:
            bad.append((i, Problem(str(path), where, f"category id {cat_id} is missing")))
            continue
        target = names[cat_names[cat_id]]
        if target is None:
            continue
        im = by_id[image_id]
        width, height = int(im.get("width") or 0), int(im.get("height") or 0)
        seg = ann.get("segmentation")
        try:
            item = _Pending(i, where, ann, records[image_id].id, target)
            if ann.get(SHAPE_KEY) != "box" and isinstance(seg, list) and seg:
                # Polygons, the bulk of any file: checked together in RingBatch.build.
                for ring in polygon_rings(seg):
                    item.rings.append(rings.add(ring, width=width, height=height))
            else:
                item.shapes = list(_shapes(ann, im))
            item.provenance = _provenance(ann, provs)
            item.review = _review(ann, item.provenance, reviews)
            orig = ann.get("original_shape")
            item.original = None if orig is None else shape_from_dict(orig)
        except (ValueError, TypeError) as exc:
            bad.append((i, Problem(str(path), where, str(exc))))
            continue
        except KeyError as exc:  # only shape_from_dict indexes without a default
            bad.append((i, Problem(str(path), where, f"original_shape lacks the field {exc}")))
            continue
        for shape in item.shapes:
            outside = check_inside(shape, width=width, height=height)
            if outside:
                bad.append((i, Problem(str(path), where, outside)))
        wanted.append(item)
    built = rings.build()
    for item in wanted:
        for k in item.rings:
            polygon = built[k]
            if isinstance(polygon, str):
                bad.append((item.index, Problem(str(path), item.where, polygon)))
            else:
                item.shapes.append(polygon)
        if len(item.shapes) > 1:
            n = len(item.shapes)
            warnings.append(
                Problem(str(path), item.where, f"{n} separate parts: imported as {n} annotations")
            )
    problems += [p for _, p in sorted(bad, key=lambda t: t[0])]
    if problems:
        raise ImportValidationError(problems)
    out = _annotations(wanted)
    own = None
    try:
        own = category_set_from_coco(categories)
    except (ValueError, KeyError):
        own = None
    return ImportResult(tuple(records.values()), tuple(out), tuple(warnings), str(path), own)


_REGIONS = ("hand", "leg", "hip", "shoulder", "mixed")
_VIEWS = ("frontal", "lateral", "oblique")


def read_fracatlas(
    path: str | Path, *, label_map: LabelMap, images_root: Path | None = None
) -> ImportResult:
    """Read the FracAtlas folder: ``annotations.json``, ``images/`` and ``dataset.csv`` tags.

    ``fractured`` maps to ``fracture`` unless the label map says otherwise. Each image gets
    ``body_region``, ``views``, ``hardware``, ``multiscan`` and ``source_split`` attributes.
    """
    root = Path(path)
    if not label_map.mapping:
        label_map = LabelMap(label_map.categories, {"fractured": "fracture"}, label_map.drop)
    result = read_coco(
        root / "annotations.json", label_map=label_map, images_root=images_root or root / "images"
    )
    tags: dict[str, dict[str, Any]] = {}
    csv_path = root / "dataset.csv"
    if csv_path.is_file():
        with csv_path.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                tags[row["image_id"]] = {
                    "body_region": next((r for r in _REGIONS if row.get(r) == "1"), ""),
                    "views": [v for v in _VIEWS if row.get(v) == "1"],
                    "hardware": row.get("hardware") == "1",
                    "multiscan": row.get("multiscan") == "1",
                    "source_split": row.get("split", ""),
                }
    images = tuple(
        im.evolve(attributes={**im.attributes, **tags.get(Path(im.path).name, {})})
        for im in result.images
    )
    return ImportResult(images, result.annotations, result.warnings, result.source)
