"""The training data set, the evaluation and the importer read COCO through one loader: the
same bad file is refused by each with the same message (the file, the entry, the reason)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orthogui.core.categories import DEFAULT_CATEGORIES
from orthogui.core.errors import PathError
from orthogui.evaluation.cocoeval import EvaluationInputError, load_gt
from orthogui.io.importers import CocoError, ImportValidationError, LabelMap, read_import
from orthogui.ml.data import DatasetError, load_split


def _coco() -> dict[str, Any]:
    return {
        "images": [{"id": i, "file_name": f"{i}.png", "width": 64, "height": 64} for i in (1, 2)],
        "categories": [{"id": 1, "name": "fracture"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 4, 4], "area": 16.0},
            {"id": 2, "image_id": 2, "category_id": 1, "bbox": [1, 1, 4, 4], "area": 16.0},
        ],
    }


def _refusals(path: Path) -> list[BaseException]:
    errors: list[BaseException] = []
    for load, kind in (
        (lambda: load_split(path, "train"), DatasetError),
        (lambda: load_gt(path), EvaluationInputError),
        (
            lambda: read_import("coco", path, label_map=LabelMap(DEFAULT_CATEGORIES)),
            ImportValidationError,
        ),
    ):
        with pytest.raises(kind) as err:
            load()
        errors.append(err.value)
    return errors


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d["annotations"][1].update(image_id=7), "annotations[1].image_id: image id 7"),
        (lambda d: d["images"][1].update(id=1), "images[1].id: duplicate image id 1"),
    ],
)
def test_one_loader_for_every_reader_of_coco(tmp_path: Path, mutate: Any, reason: str) -> None:
    data = _coco()
    mutate(data)
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    errors = _refusals(path)
    assert len({str(e) for e in errors}) == 1, [str(e) for e in errors]
    for err in errors:
        assert isinstance(err, PathError) and isinstance(err, ValueError)
        assert err.path == str(path) and err.reason.startswith(reason)
    # the data set and the evaluation keep their own error types, raised from the loader's
    assert all(isinstance(e.__cause__, CocoError) for e in errors[:2])


def test_truncated_json_is_refused_alike(tmp_path: Path) -> None:
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps(_coco())[:-20], encoding="utf-8")
    errors = _refusals(path)
    assert len({str(e) for e in errors}) == 1
    assert str(errors[0]).startswith(f"{path}: line 1 column ")
    assert "bad JSON" in str(errors[0])
