"""Import COCO instances JSON: polygons, RLE (compressed and not), boxes, and our extra keys.

Also the FracAtlas preset (its COCO file, ``dataset.csv`` tags as image attributes, and the
EXIF-rotated sizes some of its entries describe).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orthogui.core.annotation import Annotation, Provenance, Review, ReviewState, new_id
from orthogui.core.geometry import Box, Polygon, Shape
from orthogui.core.project import ImageRecord, ImageStatus
from orthogui.io.coco import REJECTED_KEY, SHAPE_KEY, category_set_from_coco, gc_paused
from orthogui.io.importers._base import (
    ImportResult,
    ImportValidationError,
    LabelMap,
    Problem,
    new_ids,
    resolve_image_path,
)
from orthogui.io.importers._fields import (
    MAX_PIXELS,
    MAX_SIDE,
    MISSING,
    FieldChecker,
    finite,
    optional,
    type_name,
)
from orthogui.io.importers._rings import EDGE_TOLERANCE, RingBatch, outside_message
from orthogui.io.importers.cocofile import CocoIds, coco_lists, load_json
from orthogui.io.masks import mask_to_polygons, rle_to_mask

_EXIF_SWAPS = {5, 6, 7, 8}  # EXIF orientations that turn the view by 90 degrees
_ANNOTATION_KEYS = ("annotations", REJECTED_KEY)  # findings, and the rejected ones as negatives


def image_header(path: Path) -> tuple[int, int, int] | None:
    """(width, height, EXIF orientation) of an image file as stored, or None if unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            orientation = im.getexif().get(274, 1)
            return im.width, im.height, orientation if isinstance(orientation, int) else 1
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
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


def rle_string_counts(text: str) -> list[int] | None:
    """The run lengths of a compressed COCO RLE string, or None when it is malformed.

    The same decoding as pycocotools' ``rleFrString``, done here first because pycocotools
    trusts its input: runs summing past the mask would make it write outside its buffer.
    """
    counts: list[int] = []
    p, n = 0, len(text)
    while p < n:
        x, k, more = 0, 0, True
        while more:
            if p >= n or k >= 7:  # cut off mid-number, or a run longer than 32 bits
                return None
            c = ord(text[p]) - 48
            if not 0 <= c < 64:
                return None
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p, k = p + 1, k + 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def _rle_shapes(
    ck: FieldChecker, seg: dict[str, Any], where: str, *, width: int, height: int
) -> list[Shape] | None:
    """The outline polygons of an RLE segmentation (``size`` and ``counts`` checked first)."""
    size = ck.array(seg.get("size", MISSING), f"{where}.size")
    counts = seg.get("counts", MISSING)
    if size is None:
        return None
    if len(size) != 2:
        ck.fail(f"{where}.size", f"needs [height, width], got {len(size)} values")
        return None
    h = ck.integer(size[0], f"{where}.size[0]", low=1, high=MAX_SIDE)
    w = ck.integer(size[1], f"{where}.size[1]", low=1, high=MAX_SIDE)
    if h is None or w is None:
        return None
    if h * w > MAX_PIXELS:
        ck.fail(f"{where}.size", f"mask of {h}x{w} pixels is larger than {MAX_PIXELS}")
        return None
    if width and height and (h, w) != (height, width):
        ck.fail(
            f"{where}.size",
            f"RLE size {[h, w]} differs from the image's [height, width] {[height, width]}",
        )
        return None
    if isinstance(counts, str):
        runs = rle_string_counts(counts)
        if runs is None:
            ck.fail(f"{where}.counts", "not a valid compressed RLE string")
            return None
    elif isinstance(counts, list):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in counts):
            ck.fail(f"{where}.counts", "run lengths must be integers")
            return None
        runs = counts
    else:
        ck.fail(f"{where}.counts", f"must be an RLE string or run lengths, got {type_name(counts)}")
        return None
    total = sum(runs)
    if any(v < 0 for v in runs) or total != h * w:
        ck.fail(
            f"{where}.counts",
            f"run lengths (sum {total}) do not cover the {h}x{w} mask ({h * w} pixels)",
        )
        return None
    polys = mask_to_polygons(
        rle_to_mask({"size": [h, w], "counts": counts}), tolerance=0.1, min_area=1.0
    )
    if not polys:
        ck.fail(where, "RLE mask is empty")
        return None
    return list(polys)


def _box(ck: FieldChecker, xywh: list[float], where: str) -> Box | None:
    """A COCO ``[x, y, w, h]`` box of positive size."""
    x, y, w, h = xywh
    if w <= 0 or h <= 0:
        ck.fail(where, f"box of size {w} x {h}: width and height must be positive")
        return None
    return Box.from_xywh(x, y, w, h)


def shape_field(ck: FieldChecker, value: Any, where: str) -> Shape | None:
    """A shape in our JSON form (``{"type": "box", "xyxy": ...}`` or polygon ``points``)."""
    data = ck.obj(value, where)
    if data is None:
        return None
    kind = ck.choice(data.get("type", MISSING), f"{where}.type", ("box", "polygon"))
    if kind == "box":
        xyxy = ck.numbers(data.get("xyxy", MISSING), f"{where}.xyxy", count=4)
        return None if xyxy is None else Box(*xyxy)
    if kind == "polygon":
        points = ck.array(data.get("points", MISSING), f"{where}.points")
        if points is None:
            return None
        if len(points) % 2 or len(points) < 6:
            ck.fail(f"{where}.points", "needs a flat list of at least 3 x, y pairs")
            return None
        if not all(finite(v) for v in points):
            ck.fail(f"{where}.points", f"vertices must be numbers within +-{MAX_SIDE}")
            return None
        return Polygon.from_flat([float(v) for v in points])
    return None


def _review(ann: dict[str, Any], prov: Provenance, cache: dict[Any, Review]) -> Review:
    if "review_state" in ann:
        key: tuple[Any, ...] = (
            ann["review_state"],
            ann.get("reviewed_by") or "",
            ann.get("reviewed_at") or "",
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
            "import" if p.get("source") is None else p["source"],
            p.get("model_name") or "",
            p.get("model_version") or "",
            None if score is None else float(score),
        )
    elif ann.get("score") is not None:
        key = ("model", "", "", float(ann["score"]))
    else:
        key = ("import", "", "", None)
    prov = cache.get(key)
    if prov is None:
        prov = cache[key] = Provenance(*key)
    return prov


def _categories(ck: FieldChecker, ids: CocoIds, categories: list[Any]) -> dict[int, str]:
    names: dict[int, str] = {}
    for i, entry in enumerate(categories):
        where = f"categories[{i}]"
        c = ck.obj(entry, where)
        if c is None:
            continue
        cid = ids.category(c, where)
        name = ck.text(c.get("name", MISSING), f"{where}.name", empty=False)
        if cid is not None and name is not None:
            names[cid] = name
    return names


@dataclass(frozen=True)
class _Image:
    """One validated COCO image entry."""

    where: str
    file_name: str
    width: int
    height: int
    status: str
    study: str
    attributes: dict[str, Any]


def _images(ck: FieldChecker, ids: CocoIds, images: list[Any]) -> dict[int, _Image]:
    """The valid image entries by id (``ids.images`` gets every id the file gives an image)."""
    out: dict[int, _Image] = {}
    names: dict[str, str] = {}
    for i, entry in enumerate(images):
        where = f"images[{i}]"
        im = ck.obj(entry, where)
        if im is None:
            continue
        iid = ids.image(im, where)
        name = ck.file_name(im.get("file_name", MISSING), f"{where}.file_name")
        width, height = (
            0 if optional(im, k) is MISSING else ck.integer(im[k], f"{where}.{k}", high=MAX_SIDE)
            for k in ("width", "height")
        )
        status, study = (
            "" if optional(im, k) is MISSING else ck.text(im[k], f"{where}.{k}")
            for k in ("status", "study")
        )
        attributes = ck.attributes(im.get("attributes", MISSING), f"{where}.attributes")
        if name is not None:
            key = os.path.normpath(name.replace("\\", "/"))
            if key in names:
                ck.fail(f"{where}.file_name", f"{name!r} is the file of {names[key]} too")
            names.setdefault(key, where)
        if (
            iid is not None
            and name is not None
            and width is not None
            and height is not None
            and status is not None
            and study is not None
            and attributes is not None
        ):
            out[iid] = _Image(where, name, width, height, status, study, dict(attributes))
    return out


def _image_record(
    im: _Image, *, images_root: Path | None, path: Path, warnings: list[Problem]
) -> ImageRecord:
    width, height = im.width, im.height
    attributes = dict(im.attributes)
    file_path = resolve_image_path(im.file_name, images_root)
    where = im.where
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
    status = im.status
    return ImageRecord(
        id=new_id(),
        path=file_path,
        width=width,
        height=height,
        status=ImageStatus(status) if status in ImageStatus._value2member_map_ else ImageStatus.NEW,
        study_key=im.study,
        attributes=attributes,
    )


@dataclass
class _Pending:
    """One valid COCO annotation waiting for its shapes (polygons come from a RingBatch)."""

    order: int
    where: str
    entry: dict[str, Any]
    image: int  # the COCO image id
    label: str  # the COCO category name
    rings: list[tuple[int, str]] = field(default_factory=list)  # (batch index, JSON path)
    shapes: list[Shape] = field(default_factory=list)
    original: Shape | None = None


_REVIEW_STATES = tuple(s.value for s in ReviewState)
_TEXT_KEYS = ("reviewed_by", "reviewed_at", "original_category", SHAPE_KEY)


def _check_extras(ck: FieldChecker, ann: dict[str, Any], where: str) -> Shape | None:
    """Check the optional keys of an annotation; returns its ``original_shape`` if any."""
    get = ann.get
    if get("score") is not None:
        ck.number(ann["score"], f"{where}.score", low=0.0, high=1.0)
    prov = get("provenance")
    if prov is not None and ck.obj(prov, f"{where}.provenance") is not None:
        for key in ("source", "model_name", "model_version"):
            if prov.get(key) is not None:
                ck.text(prov[key], f"{where}.provenance.{key}")
        if prov.get("score") is not None:
            ck.number(prov["score"], f"{where}.provenance.score", low=0.0, high=1.0)
    if "review_state" in ann and ann["review_state"] not in _REVIEW_STATES:
        ck.choice(ann["review_state"], f"{where}.review_state", _REVIEW_STATES)
    for key in _TEXT_KEYS:
        if get(key) is not None:
            ck.text(ann[key], f"{where}.{key}")
    if get("area") is not None:
        ck.number(ann["area"], f"{where}.area", low=0.0, high=float(MAX_SIDE) ** 2)
    if get("iscrowd") is not None:
        ck.integer(ann["iscrowd"], f"{where}.iscrowd", high=1)
    ck.attributes(get("attributes", MISSING), f"{where}.attributes")
    orig = get("original_shape")
    return None if orig is None else shape_field(ck, orig, f"{where}.original_shape")


def _check_annotation(
    ck: FieldChecker,
    ann: dict[str, Any],
    where: str,
    *,
    images: dict[int, _Image],
    ids: CocoIds,
    categories: dict[int, str],
    rings: RingBatch,
) -> _Pending | None:
    """Check every field of one annotation; queue its polygon rings in ``rings``.

    Its ids go through ``ids`` (results files give annotations no id of their own).
    """
    first = len(ck.problems)
    image_id, cat_id = ids.annotation(ann, where, id_required=False)
    original = _check_extras(ck, ann, where)
    im = images.get(image_id) if image_id is not None else None
    width, height = (im.width, im.height) if im is not None else (0, 0)
    bbox = ann.get("bbox", MISSING)
    xywh = None if bbox is MISSING else ck.numbers(bbox, f"{where}.bbox", count=4)
    seg = ann.get("segmentation")
    item = _Pending(
        0, where, ann, image_id or 0, categories.get(cat_id or 0, ""), original=original
    )
    shape_at = f"{where}.segmentation"
    if ann.get(SHAPE_KEY) == "box" or seg is None or seg == [] or seg == {}:
        if bbox is MISSING:
            ck.fail(where, "no segmentation and no [x, y, w, h] bbox")
        elif xywh is not None:
            shape_at = f"{where}.bbox"
            box = _box(ck, xywh, shape_at)
            item.shapes += [] if box is None else [box]
    elif isinstance(seg, list):
        for k, ring in enumerate(seg):
            at = f"{where}.segmentation[{k}]"
            if not isinstance(ring, list) or len(ring) % 2:
                ck.fail(at, "a polygon ring must be a flat list of x, y pairs")
            elif len(ring) < 6:
                ck.fail(at, f"polygon with {len(ring) // 2} points: at least 3 needed")
            else:
                item.rings.append((rings.add(ring, width=width, height=height), at))
    elif isinstance(seg, dict):
        item.shapes += (
            _rle_shapes(ck, seg, f"{where}.segmentation", width=width, height=height) or []
        )
    else:
        ck.fail(
            f"{where}.segmentation",
            f"must be polygons (a list) or RLE (an object), got {type_name(seg)}",
        )
    for shape in item.shapes:
        outside = check_inside(shape, width=width, height=height)
        if outside:
            ck.fail(shape_at, outside)
    return item if len(ck.problems) == first else None


def _annotations(
    items: list[_Pending], records: dict[int, ImageRecord], names: dict[str, str | None]
) -> list[Annotation]:
    """The annotations of validated entries, one per shape, with fresh ids."""
    kept = [item for item in items if names[item.label] is not None]
    ids = iter(new_ids(sum(len(item.shapes) for item in kept)))
    provs: dict[Any, Provenance] = {}
    reviews: dict[Any, Review] = {}
    out = []
    for item in kept:
        prov = _provenance(item.entry, provs)
        review = _review(item.entry, prov, reviews)
        for shape in item.shapes:
            out.append(
                Annotation(
                    id=next(ids),
                    image_id=records[item.image].id,
                    category=str(names[item.label]),
                    shape=shape,
                    provenance=prov,
                    review=review,
                    attributes=dict(item.entry.get("attributes") or {}),
                    original_category=item.entry.get("original_category"),
                    original_shape=item.original,
                )
            )
    return out


def read_coco(
    path: str | Path, *, label_map: LabelMap, images_root: Path | None = None
) -> ImportResult:
    """Read and validate a COCO instances file.

    Every field is checked before anything is built: types, finite numbers within
    +-``MAX_SIDE`` px, unique ids that resolve, polygons, boxes and RLE masks that fit their
    image, and ``file_name`` values that stay inside the images root.

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
        Listing every bad field by its JSON path (e.g. ``annotations[12].segmentation[0]``):
        bad JSON, wrong types, unknown image or category ids, polygons under 3 points, shapes
        outside the image, absolute or escaping file names, unknown labels.
    """
    with gc_paused():
        return _read_coco(Path(path), label_map=label_map, images_root=images_root)


def _read_coco(path: Path, *, label_map: LabelMap, images_root: Path | None) -> ImportResult:
    lists = coco_lists(
        load_json(path), path, required=("images", "categories"), optional=_ANNOTATION_KEYS
    )
    categories_raw = lists["categories"]
    ck = FieldChecker(str(path))
    ids = CocoIds(ck)
    cat_names = _categories(ck, ids, categories_raw)
    images = _images(ck, ids, lists["images"])
    head = ck.problems
    ck.problems = []
    rings = RingBatch()
    wanted: list[_Pending] = []
    bad: list[tuple[int, Problem]] = []  # (annotation order, problem): reported in file order
    order = 0
    for key in _ANNOTATION_KEYS:
        for i, ann in enumerate(lists.get(key, ())):
            where = f"{key}[{i}]"
            before = len(ck.problems)
            entry = ck.obj(ann, where)
            item = None
            if entry is not None:
                item = _check_annotation(
                    ck,
                    entry,
                    where,
                    images=images,
                    ids=ids,
                    categories=cat_names,
                    rings=rings,
                )
            if item is not None:
                item.order = order
                wanted.append(item)
            bad.extend((order, p) for p in ck.problems[before:])
            order += 1
    built = rings.build()
    for item in wanted:
        for k, at in item.rings:
            polygon = built[k]
            if isinstance(polygon, str):
                bad.append((item.order, Problem(str(path), at, polygon)))
            else:
                item.shapes.append(polygon)
    problems = head + [p for _, p in sorted(bad, key=lambda t: t[0])]
    if problems:
        raise ImportValidationError(problems)
    names = label_map.resolve({item.label for item in wanted}, file=path)
    warnings: list[Problem] = []
    records = {
        iid: _image_record(im, images_root=images_root, path=path, warnings=warnings)
        for iid, im in images.items()
    }
    for item in wanted:
        if len(item.shapes) > 1 and names[item.label] is not None:
            n = len(item.shapes)
            warnings.append(
                Problem(str(path), item.where, f"{n} separate parts: imported as {n} annotations")
            )
    out = _annotations(wanted, records, names)
    try:
        own = category_set_from_coco(categories_raw)
    except (ValueError, KeyError, TypeError, AttributeError):
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
