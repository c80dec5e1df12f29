"""LabelMe and YOLO import on the FracAtlas fixture images, and their bad-input errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from orthogui.core.categories import DEFAULT_CATEGORIES
from orthogui.core.geometry import Box, Polygon
from orthogui.io.importers import ImportValidationError, LabelMap, read_import

LABELS = LabelMap(DEFAULT_CATEGORIES, {"fractured": "fracture", "screw": "cortical_screw"})
IMAGE = "IMG0002553.jpg"  # 454 x 373, one fracture polygon


def _fixture(test_data: Path) -> tuple[dict, list[float]]:
    coco = json.loads((test_data / "fracatlas" / "annotations.json").read_text())
    im = next(i for i in coco["images"] if i["file_name"] == IMAGE)
    ann = next(a for a in coco["annotations"] if a["image_id"] == im["id"])
    return im, ann["segmentation"][0]


def _labelme(test_data: Path, folder: Path) -> Path:
    im, ring = _fixture(test_data)
    shutil.copy(test_data / "fracatlas" / "images" / IMAGE, folder / IMAGE)
    doc = {
        "version": "5.4.1",
        "imagePath": IMAGE,
        "imageHeight": im["height"],
        "imageWidth": im["width"],
        "imageData": None,
        "shapes": [
            {
                "label": "fractured",
                "points": np.reshape(ring, (-1, 2)).tolist(),
                "shape_type": "polygon",
                "flags": {},
            },
            {
                "label": "screw",
                "points": [[10, 20], [40, 60]],
                "shape_type": "rectangle",
                "group_id": 2,
            },
        ],
    }
    path = folder / "IMG0002553.json"
    path.write_text(json.dumps(doc))
    return path


def test_labelme_polygon_and_rectangle(test_data: Path, tmp_path: Path) -> None:
    path = _labelme(test_data, tmp_path)
    _, ring = _fixture(test_data)
    res = read_import("labelme", tmp_path, label_map=LABELS)
    (rec,) = res.images
    assert rec.path == str(tmp_path / IMAGE) and (rec.width, rec.height) == (454, 373)
    poly, box = res.annotations
    assert poly.category == "fracture" and poly.shape == Polygon.from_flat(ring)
    assert box.category == "cortical_screw" and box.shape == Box(10, 20, 40, 60)
    assert box.attributes == {"group_id": 2}
    assert res.source == str(tmp_path)
    assert read_import("labelme", path, label_map=LABELS).annotations[0].shape == poly.shape


@pytest.mark.parametrize(
    ("shape", "problem"),
    [
        (
            {"label": "screw", "points": [[1, 1], [5, 5]], "shape_type": "polygon"},
            "polygon with 2 points",
        ),
        (
            {"label": "screw", "points": [[400, 300], [500, 390]], "shape_type": "rectangle"},
            "outside the image 454x373",
        ),
        (
            {"label": "screw", "points": [[1, 1], [5, 5]], "shape_type": "line"},
            "'line' is not supported",
        ),
    ],
)
def test_labelme_bad_shapes(test_data: Path, tmp_path: Path, shape: dict, problem: str) -> None:
    path = _labelme(test_data, tmp_path)
    doc = json.loads(path.read_text())
    doc["shapes"].append(shape)
    path.write_text(json.dumps(doc))
    with pytest.raises(ImportValidationError) as err:
        read_import("labelme", path, label_map=LABELS)
    assert f"{path}: shapes[2]" in str(err.value) and problem in str(err.value)


def _yolo(test_data: Path, root: Path, names: str = "classes") -> Path:
    im, ring = _fixture(test_data)
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    shutil.copy(test_data / "fracatlas" / "images" / IMAGE, root / "images" / IMAGE)
    pts = np.reshape(ring, (-1, 2)) / [im["width"], im["height"]]
    seg = " ".join(f"{v:.6f}" for v in pts.ravel())
    (root / "labels" / "IMG0002553.txt").write_text(f"0 {seg}\n\n1 0.5 0.5 0.2 0.1\n")
    if names == "classes":
        (root / "classes.txt").write_text("fractured\nscrew\n")
    else:
        (root / "data.yaml").write_text(
            "path: .\ntrain: images\nnames:\n  0: fractured\n  1: screw\n"
        )
    return root / "labels" / "IMG0002553.txt"


@pytest.mark.parametrize("names", ["classes", "yaml"])
def test_yolo_segments_and_boxes(test_data: Path, tmp_path: Path, names: str) -> None:
    _yolo(test_data, tmp_path, names)
    _, ring = _fixture(test_data)
    res = read_import("yolo", tmp_path, label_map=LABELS)
    (rec,) = res.images
    assert (rec.width, rec.height) == (454, 373)
    seg, box = res.annotations
    assert seg.category == "fracture"
    np.testing.assert_allclose(seg.shape.points, np.reshape(ring, (-1, 2)), atol=0.01)
    assert box.category == "cortical_screw"
    assert box.shape == Box(0.4 * 454, 0.45 * 373, 0.6 * 454, 0.55 * 373)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("0 0.1 0.1 0.2 0.2 0.3", "got 6 values"),
        ("7 0.5 0.5 0.1 0.1", "class 7 not in 0..1"),
        ("1 0.95 0.5 0.2 0.1", "outside the image"),
        ("1 0.1 0.1 0.5 0.1 0.5", "at least 3 x y pairs"),
    ],
)
def test_yolo_bad_lines_name_file_and_line(
    test_data: Path, tmp_path: Path, line: str, problem: str
) -> None:
    label = _yolo(test_data, tmp_path)
    label.write_text(label.read_text() + line + "\n")
    with pytest.raises(ImportValidationError) as err:
        read_import("yolo", tmp_path, label_map=LABELS)
    assert f"{label}: line 4: " in str(err.value) and problem in str(err.value)
