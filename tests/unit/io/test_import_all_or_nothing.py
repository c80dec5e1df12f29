"""Imports are all or nothing: every bad field is refused by its JSON path before anything is
written, and a failure while writing leaves the project file, model and history as they were."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orthogui.cli.import_ import import_into_project
from orthogui.core.categories import DEFAULT_CATEGORIES
from orthogui.io.importers import ImportValidationError, LabelMap, merge_into, read_import
from orthogui.io.store import ProjectStore, StoreWriteError

LABELS = LabelMap(DEFAULT_CATEGORIES)


def _coco() -> dict[str, Any]:
    return {
        "images": [
            {"id": 1, "file_name": "a.png", "width": 100, "height": 80},
            {"id": 2, "file_name": "sub/b.png", "width": 100, "height": 80},
        ],
        "categories": [{"id": 6, "name": "fracture"}, {"id": 1, "name": "cortical_screw"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 6, "bbox": [1, 1, 5, 5], "score": 0.5},
            {"id": 2, "image_id": 2, "category_id": 1, "segmentation": [[1, 1, 9, 1, 9, 9]]},
        ],
    }


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "gt.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))  # NaN stays NaN
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "p.orthogui"
    ProjectStore.create(path).close()
    return path


def _contents(project: Path) -> tuple[int, int, int]:
    with ProjectStore.open(project, read_only=True) as store:
        return len(store.model.images()), len(store.model.annotations()), len(store.history)


@pytest.mark.parametrize(
    ("mutate", "where", "why"),
    [
        (lambda d: d["annotations"][0].update(score=float("nan")), "annotations[0].score", "nan"),
        (lambda d: d["annotations"][0].update(score=float("inf")), "annotations[0].score", "inf"),
        (lambda d: d["images"][1].update(file_name="../b.png"), "images[1].file_name", "leaves"),
        (
            lambda d: d["images"][1].update(file_name="/etc/passwd"),
            "images[1].file_name",
            "absolute path",
        ),
        (
            lambda d: d["images"][1].update(file_name="sub/../../b.png"),
            "images[1].file_name",
            "leaves the images root",
        ),
        (lambda d: d["images"][1].update(file_name="./a.png"), "images[1].file_name", "a.png"),
        (lambda d: d["images"][0].update(width="100"), "images[0].width", "must be an integer"),
        (lambda d: d["images"][0].update(id=2), "images[1].id", "duplicate image id 2"),
        (lambda d: d["annotations"][1].update(id=1), "annotations[1].id", "duplicate annotation"),
        (
            lambda d: d["annotations"][1].update(segmentation=[[1, 1, 9, 1, 1e300, 9]]),
            "annotations[1].segmentation[0]",
            "beyond",
        ),
        (
            lambda d: d["annotations"][1].update(segmentation=[[1, 1, 9, 1, "9", 9]]),
            "annotations[1].segmentation[0]",
            "must be numbers",
        ),
        (lambda d: d["annotations"][0].update(bbox=[1, 1, 5]), "annotations[0].bbox", "needs 4"),
        (lambda d: d["annotations"][0].update(image_id=None), "annotations[0].image_id", "null"),
        (
            lambda d: d["annotations"][0].update(attributes={"x": [1, float("-inf")]}),
            "annotations[0].attributes.x[1]",
            "finite",
        ),
        (
            lambda d: d["annotations"][1].update(original_shape={"type": "box", "xyxy": [1]}),
            "annotations[1].original_shape.xyxy",
            "needs 4 numbers",
        ),
        (lambda d: d.update(annotations={}), "annotations", "must be a list"),
    ],
)
def test_a_bad_field_is_refused_by_its_path_and_nothing_is_written(
    tmp_path: Path, project: Path, mutate: Any, where: str, why: str
) -> None:
    data = _coco()
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(ImportValidationError) as err:
        import_into_project(project, "coco", path, images_root=tmp_path)
    assert f"{path}: {where}: " in str(err.value) and why in str(err.value)
    assert _contents(project) == (0, 0, 0)


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    data = _coco()
    data["images"][0]["file_name"] = "../../x.png"
    data["annotations"][0]["score"] = 7
    data["annotations"][1]["category_id"] = "1"
    with pytest.raises(ImportValidationError) as err:
        read_import("coco", _write(tmp_path, data), label_map=LABELS)
    assert [p.entry for p in err.value.problems] == [
        "images[0].file_name",
        "annotations[0].score",
        "annotations[1].category_id",
    ]


@pytest.mark.parametrize(
    ("segmentation", "why"),
    [
        ({"size": [80, 100], "counts": [8000, 1]}, "do not cover the 80x100 mask"),
        ({"size": [80, 100], "counts": "3P"}, "not a valid compressed RLE string"),
        ({"size": [80, 100], "counts": "1"}, "do not cover"),
        ({"size": [8000, 10000], "counts": [1]}, "differs from the image's"),
        ({"size": [80], "counts": [1]}, "needs [height, width]"),
    ],
)
def test_rle_is_checked_before_pycocotools_decodes_it(
    tmp_path: Path, segmentation: dict[str, Any], why: str
) -> None:
    data = _coco()
    data["annotations"][1]["segmentation"] = segmentation
    with pytest.raises(ImportValidationError, match=r"annotations\[1\]\.segmentation") as err:
        read_import("coco", _write(tmp_path, data), label_map=LABELS)
    assert why in str(err.value)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("[" * 5000 + "]" * 5000, "nested too deeply"),
        ('{"images": [{"id": 1' + "0" * 5000 + "}]}", "bad JSON"),
        ('{"images": [], "categories": [], "annotations": [', "bad JSON"),
    ],
)
def test_unparseable_files_are_refused(tmp_path: Path, text: str, why: str) -> None:
    with pytest.raises(ImportValidationError, match=why):
        read_import("coco", _write(tmp_path, text), label_map=LABELS)
    with pytest.raises(ImportValidationError, match="cannot read the file"):
        read_import("coco", tmp_path / "absent.json", label_map=LABELS)


def test_a_failed_write_takes_back_images_and_annotations(
    tmp_path: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orthogui.io.store import codec

    result = read_import("coco", _write(tmp_path, _coco()), label_map=LABELS)

    def disk_full(ann: object) -> object:
        raise ValueError("database or disk is full")

    store = ProjectStore.open(project)
    try:
        monkeypatch.setattr(codec, "annotation_to_row", disk_full)
        with pytest.raises(StoreWriteError, match="disk is full"):
            merge_into(store.model, result, commit=store.add_images_and_push)
        assert store.model.images() == [] and store.model.annotations() == []
        assert len(store.history) == 0
        monkeypatch.undo()
        merge_into(store.model, result, commit=store.add_images_and_push)  # the same again
        assert (len(store.model.images()), len(store.model.annotations())) == (2, 2)
    finally:
        store.close()
    assert _contents(project) == (2, 2, 1)


def test_a_good_file_imports_in_one_step(tmp_path: Path, project: Path) -> None:
    path = _write(tmp_path, _coco())
    result = import_into_project(project, "coco", path, images_root=tmp_path)
    assert (len(result.images), len(result.annotations)) == (2, 2)
    assert _contents(project) == (2, 2, 1)
    assert any("missing or unreadable" in str(w) for w in result.warnings)


def test_labelme_and_yolo_refuse_nan_and_escaping_paths(tmp_path: Path) -> None:
    doc = {
        "imagePath": "/etc/x.png",
        "imageWidth": 100,
        "imageHeight": 80,
        "shapes": [{"label": "fracture", "points": [[1, 1], ["NaN", 2], [3, 3]]}],
    }
    path = tmp_path / "a.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ImportValidationError, match="imagePath: absolute path"):
        read_import("labelme", path, label_map=LABELS)
    doc["imagePath"] = "a.png"
    doc["shapes"][0]["points"][1] = [float("nan"), 2]
    path.write_text(json.dumps(doc))
    with pytest.raises(ImportValidationError, match=r"shapes\[0\].points: point coordinates"):
        read_import("labelme", path, label_map=LABELS)
    yolo = tmp_path / "yolo"
    yolo.mkdir()
    (yolo / "classes.txt").write_text("fracture\n")
    (yolo / "a.txt").write_text("0 nan 0.5 0.1 0.1\n")
    from PIL import Image

    Image.new("L", (10, 10)).save(yolo / "a.png")
    with pytest.raises(ImportValidationError, match="line 1: coordinates must be finite"):
        read_import("yolo", yolo, label_map=LABELS)
    (yolo / "a.txt").write_bytes(b"0 0.5 \xff 0.1 0.1\n")
    with pytest.raises(ImportValidationError, match=r"a\.txt: not UTF-8"):
        read_import("yolo", yolo, label_map=LABELS)
