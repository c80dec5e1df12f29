"""The one COCO loader: bad files are refused naming the file, the entry and the reason."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path
from typing import Any

import pytest

from orthogui.core.errors import PathError
from orthogui.io.importers import (
    CocoError,
    ImportValidationError,
    LabelMap,
    check_coco,
    load_coco,
    read_import,
)


def _coco() -> dict[str, Any]:
    return {
        "images": [
            {"id": 1, "file_name": "a.png", "width": 100, "height": 80},
            {"id": 2, "file_name": "b.png", "width": 100, "height": 80},
        ],
        "categories": [{"id": 7, "name": "fracture"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 7, "bbox": [1, 1, 5, 5]},
            {"id": 2, "image_id": 2, "category_id": 7, "bbox": [2, 2, 5, 5]},
        ],
    }


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "gt.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_a_sound_file_is_returned_as_parsed(tmp_path: Path) -> None:
    assert load_coco(_write(tmp_path, _coco())) == _coco()


@pytest.mark.parametrize(
    ("mutate", "entry", "why"),
    [
        (lambda d: d["annotations"][1].update(image_id=9), "annotations[1].image_id", "image id 9 is not in images"),
        (lambda d: d["annotations"][0].update(category_id=3), "annotations[0].category_id", "category id 3 is missing"),
        (lambda d: d["images"][1].update(id=1), "images[1].id", "duplicate image id 1"),
        (lambda d: d["annotations"][1].update(id=1), "annotations[1].id", "duplicate annotation id 1 (also annotations[0])"),
        (lambda d: d["categories"].append({"id": 7, "name": "x"}), "categories[1].id", "duplicate category id 7"),
        (lambda d: d["annotations"][0].pop("id"), "annotations[0].id", "missing (needs an integer)"),
        (lambda d: d["images"][0].update(id="1"), "images[0].id", "must be an integer, got a string"),
        (lambda d: d["annotations"].append(3), "annotations[2]", "must be an object, got a number"),
    ],
)  # fmt: skip
def test_bad_ids_name_the_file_the_entry_and_the_reason(
    tmp_path: Path, mutate: Any, entry: str, why: str
) -> None:
    data = _coco()
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(CocoError) as err:
        load_coco(path)
    assert str(err.value).startswith(f"{path}: {entry}: {why}")
    assert err.value.path == str(path) and err.value.problems[0].entry == entry
    assert isinstance(err.value, PathError) and isinstance(err.value, ValueError)
    with pytest.raises(CocoError, match=re.escape(f"<memory>: {entry}: {why}")):
        check_coco(data, "<memory>")


def test_every_bad_id_is_listed(tmp_path: Path) -> None:
    data = _coco()
    data["annotations"][0]["image_id"] = 5
    data["annotations"][1]["image_id"] = 6
    with pytest.raises(CocoError, match=r"\(and 1 more problem\)") as err:
        load_coco(_write(tmp_path, data))
    assert [p.entry for p in err.value.problems] == [
        "annotations[0].image_id",
        "annotations[1].image_id",
    ]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('{"images": [{"id": 1}], "annotations": [', r"line 1 column \d+: bad JSON"),
        ("", r"line 1 column 1: bad JSON"),
        ("[]", "a COCO file is a JSON object"),
        ('{"images": [], "annotations": []}', r"not COCO instances: no list \['categories'\]"),
        (
            '{"images": {}, "annotations": [], "categories": []}',
            r"not COCO instances: no list \['images'\]",
        ),
    ],
)
def test_truncated_json_and_missing_keys_are_named(tmp_path: Path, text: str, why: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(CocoError, match=f"^{path}: {why}"):
        load_coco(path)


def test_unreadable_and_undecodable_files(tmp_path: Path) -> None:
    with pytest.raises(CocoError, match=r"absent\.json: cannot read the file"):
        load_coco(tmp_path / "absent.json")
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"images": "\xe9"}')
    with pytest.raises(CocoError, match=r"latin1\.json: not UTF-8 text"):
        load_coco(path)


def test_the_error_pickles_with_its_problems(tmp_path: Path) -> None:
    data = _coco()
    data["annotations"][0]["image_id"] = 5
    with pytest.raises(CocoError) as err:
        load_coco(_write(tmp_path, data))
    back = pickle.loads(pickle.dumps(err.value))
    assert type(back) is CocoError and str(back) == str(err.value)
    assert back.problems == err.value.problems and back.path == err.value.path


def test_the_importer_applies_the_same_id_rules(tmp_path: Path) -> None:
    from orthogui.core.categories import DEFAULT_CATEGORIES

    data = _coco()
    data["annotations"][1]["image_id"] = 9
    data["images"][1]["id"] = 1
    path = _write(tmp_path, data)
    with pytest.raises(CocoError) as loaded:
        load_coco(path)
    with pytest.raises(ImportValidationError) as imported:
        read_import("coco", path, label_map=LabelMap(DEFAULT_CATEGORIES))
    assert loaded.value.problems == imported.value.problems
    assert str(loaded.value) == str(imported.value)


def test_import_errors_are_path_errors() -> None:
    err = ImportValidationError.one("/d/x.json", "images[0].id", "missing")
    assert (err.path, err.reason, str(err)) == ("/d/x.json", "images[0].id: missing", str(err))
    assert str(err) == "/d/x.json: images[0].id: missing"
    assert str(ImportValidationError([])) == "invalid import"
    back = pickle.loads(pickle.dumps(err))
    assert str(back) == str(err) and back.problems == err.problems
