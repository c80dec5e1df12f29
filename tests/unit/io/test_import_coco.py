"""COCO and FracAtlas import: every geometry kind, our extra keys, quirks, and bad-input errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from orthogui.core.annotation import ReviewState
from orthogui.core.categories import DEFAULT_CATEGORIES
from orthogui.core.geometry import Box, Polygon
from orthogui.core.history import History
from orthogui.core.project import ImageRecord, ProjectModel
from orthogui.io.coco import to_coco
from orthogui.io.importers import ImportValidationError, LabelMap, merge_into, read_import
from orthogui.io.masks import mask_to_rle, polygons_to_mask
from tests.unit.io.test_coco_export import make_model

LABELS = LabelMap(DEFAULT_CATEGORIES)


def _coco(tmp_path: Path, data: Any, name: str = "gt.json") -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return p


def _base() -> dict[str, Any]:
    return {
        "images": [{"id": 1, "file_name": "a.png", "width": 100, "height": 80}],
        "categories": [{"id": 3, "name": "screw_a"}, {"id": 9, "name": "fracture"}],
        "annotations": [],
    }


def test_polygons_rle_and_boxes(tmp_path: Path) -> None:
    square = Polygon([(10, 10), (30, 10), (30, 40), (10, 40)])
    mask = polygons_to_mask([square], (80, 100))
    compressed = mask_to_rle(mask)
    flat = mask.flatten(order="F")
    runs, last, count = [], 0, 0
    for v in flat:
        if v != last:
            runs.append(count)
            last, count = v, 0
        count += 1
    runs.append(count)
    data = _base()
    data["annotations"] = [
        {"id": 1, "image_id": 1, "category_id": 3, "segmentation": [square.flat()]},
        {"id": 2, "image_id": 1, "category_id": 3, "segmentation": compressed},
        {
            "id": 3,
            "image_id": 1,
            "category_id": 3,
            "segmentation": {"size": [80, 100], "counts": runs},
        },
        {"id": 4, "image_id": 1, "category_id": 9, "bbox": [50, 20, 10, 30], "segmentation": []},
        {"id": 5, "image_id": 1, "category_id": 9, "bbox": [1, 2, 3, 4], "score": 0.7},
    ]
    labels = LabelMap(DEFAULT_CATEGORIES, {"screw_a": "locking_screw"})
    res = read_import("coco", _coco(tmp_path, data), label_map=labels)
    assert len(res.images) == 1 and len(res.annotations) == 5
    poly, rle_c, rle_u, box, pred = res.annotations
    assert poly.shape == square and poly.category == "locking_screw"
    for a in (rle_c, rle_u):  # RLE comes back as the pixel outline of the same mask
        assert isinstance(a.shape, Polygon)
        np.testing.assert_array_equal(polygons_to_mask([a.shape], (80, 100)), mask)
    assert box.shape == Box(50, 20, 60, 50) and box.category == "fracture"
    assert box.review.state is ReviewState.ACCEPTED and box.provenance.source == "import"
    assert pred.provenance.score == 0.7 and pred.review.state is ReviewState.PROPOSED


def test_our_extra_keys_are_restored() -> None:
    model = make_model()
    coco = to_coco(model, include=set(ReviewState))
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        res = read_import("coco", _coco(Path(d), coco), label_map=LABELS)
    by_state = {a.review.state for a in res.annotations}
    assert by_state == {ReviewState.CORRECTED, ReviewState.ACCEPTED, ReviewState.REJECTED}
    src = sorted(model.annotations(), key=lambda a: (a.image_id, a.category))
    corrected = next(a for a in res.annotations if a.review.state is ReviewState.CORRECTED)
    orig = next(a for a in src if a.review.state is ReviewState.CORRECTED)
    assert corrected.provenance == orig.provenance and corrected.review == orig.review
    assert corrected.attributes == orig.attributes
    assert corrected.original_category == orig.original_category
    assert corrected.original_shape == orig.original_shape
    assert sum(a.is_box for a in res.annotations) == 12  # boxes stay boxes


@pytest.mark.parametrize(
    ("mutate", "entry", "problem"),
    [
        (
            lambda d: d["annotations"][0].update(image_id=7),
            "annotations[0].image_id",
            "image id 7 is not",
        ),
        (
            lambda d: d["annotations"][0].update(category_id=5),
            "annotations[0].category_id",
            "category id 5 is missing",
        ),
        (
            lambda d: d["annotations"][0].update(segmentation=[[1, 1, 5, 5]]),
            "annotations[0].segmentation[0]",
            "polygon with 2 points",
        ),
        (
            lambda d: d["annotations"][0].update(segmentation=[], bbox=[90, 70, 30, 30]),
            "annotations[0].bbox",
            "outside the image 100x80",
        ),
    ],
)
def test_bad_entries_name_file_entry_and_problem(
    tmp_path: Path, mutate: Any, entry: str, problem: str
) -> None:
    data = _base()
    data["annotations"] = [
        {"id": 1, "image_id": 1, "category_id": 3, "segmentation": [[1, 1, 5, 1, 5, 5]]},
        {"id": 2, "image_id": 1, "category_id": 9, "bbox": [1, 1, 2, 2]},
    ]
    mutate(data)
    path = _coco(tmp_path, data)
    with pytest.raises(ImportValidationError) as err:
        read_import(
            "coco", path, label_map=LabelMap(DEFAULT_CATEGORIES, {"screw_a": "locking_screw"})
        )
    text = str(err.value)
    assert str(path) in text and entry in text and problem in text


def test_bad_json_and_unknown_labels(tmp_path: Path) -> None:
    path = _coco(tmp_path, '{"images": [\n  {"id": 1,}\n]}')
    with pytest.raises(ImportValidationError, match=r"gt.json: line 2 column .*bad JSON"):
        read_import("coco", path, label_map=LABELS)
    data = _base()
    data["annotations"] = [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [1, 1, 2, 2]}]
    with pytest.raises(
        ImportValidationError, match=r"labels not in the project's categories: \['screw_a'\]"
    ):
        read_import("coco", _coco(tmp_path, data), label_map=LABELS)
    # a reader that wants only some categories drops the unknown ones instead
    data["annotations"].append({"id": 2, "image_id": 1, "category_id": 9, "bbox": [1, 1, 2, 2]})
    some = LabelMap(DEFAULT_CATEGORIES, drop_unknown=True)
    result = read_import("coco", _coco(tmp_path, data), label_map=some)
    assert [a.category for a in result.annotations] == ["fracture"]


def test_merge_is_one_undo_step_and_nothing_half_imported(tmp_path: Path) -> None:
    model = ProjectModel()
    model.put_image(ImageRecord(id="old", path="/data/a.png", width=100, height=80))
    history = History(model)
    data = _base()
    data["images"].append({"id": 2, "file_name": "b.png", "width": 100, "height": 80})
    data["annotations"] = [
        {"id": 1, "image_id": 1, "category_id": 9, "bbox": [1, 1, 2, 2]},
        {"id": 2, "image_id": 2, "category_id": 9, "bbox": [1, 1, 5, 5]},
    ]
    labels = LabelMap(DEFAULT_CATEGORIES, {"screw_a": "locking_screw"})
    res = read_import("coco", _coco(tmp_path, data), label_map=labels)
    id_map = merge_into(model, res, history=history)
    assert id_map[res.images[0].id] == "old"  # matched by file name
    assert len(model.images()) == 2 and len(model.annotations()) == 2 and len(history) == 1
    history.undo()
    assert model.annotations() == []
    # A bad file raises before anything reaches the model.
    data["annotations"].append({"id": 3, "image_id": 2, "category_id": 9, "bbox": [99, 79, 50, 5]})
    with pytest.raises(ImportValidationError):
        merge_into(
            model, read_import("coco", _coco(tmp_path, data), label_map=labels), history=history
        )
    assert model.annotations() == [] and len(model.images()) == 2


def test_fracatlas_fixture_with_its_quirks(test_data: Path) -> None:
    res = read_import("fracatlas", test_data / "fracatlas", label_map=LABELS)
    assert len(res.images) == 4 and len(res.annotations) == 3
    assert {a.category for a in res.annotations} == {"fracture"}
    assert all(isinstance(a.shape, Polygon) for a in res.annotations)
    rotated = next(im for im in res.images if im.path.endswith("IMG0002628.jpg"))
    assert rotated.attributes["exif_orientation"] == 8
    assert (rotated.width, rotated.height) == (454, 373)  # the view the COCO file describes
    assert any("EXIF-rotated view" in str(w) for w in res.warnings)
    normal = next(im for im in res.images if im.path.endswith("IMG0000514.jpg"))
    assert normal.attributes["source_split"] == "normal" and normal.attributes["body_region"]


@pytest.mark.realdata
@pytest.mark.slow
def test_real_fracatlas_imports_whole(shared_data: Path) -> None:
    res = read_import("fracatlas", shared_data / "fracatlas", label_map=LABELS)
    raw = json.loads((shared_data / "fracatlas" / "annotations.json").read_text())
    n_images, n_anns = len(raw["images"]), len(raw["annotations"])
    assert n_images > 700 and n_anns > 800  # the whole file, not a sample
    assert len(res.images) == n_images and len(res.annotations) == n_anns
    assert sum(im.attributes.get("body_region") == "hand" for im in res.images) > 100
    model = ProjectModel()
    merge_into(model, res)
    assert len(model.annotations()) == n_anns
