"""Every error naming a file shares one base: ``str()`` is ``"path: reason"``, both parts stay
attributes, and it pickles (the training worker and process pools send errors across)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from orthogui.core.errors import PathError
from orthogui.core.radiograph import CorruptFileError, RadiographError
from orthogui.evaluation.cocoeval import EvaluationInputError
from orthogui.io.importers import CocoError, ImportValidationError
from orthogui.io.store.errors import CorruptProjectError, ProjectLockedError, ProjectStoreError
from orthogui.ml.card import ModelCardError, ModelError
from orthogui.ml.data import DatasetError
from orthogui.training.default_model import RecipeError
from orthogui.training.job import JobError


@pytest.mark.parametrize(
    ("cls", "bases"),
    [
        (CorruptFileError, (RadiographError,)),
        (ModelCardError, (ModelError,)),
        (CorruptProjectError, (ProjectStoreError,)),
        (DatasetError, (ValueError,)),
        (EvaluationInputError, (ValueError,)),
        (RecipeError, (ValueError,)),
    ],
)
def test_path_errors_keep_their_bases_and_pickle(
    cls: type[PathError], bases: tuple[type[Exception], ...]
) -> None:
    err = cls(Path("/data/x.json"), "truncated")
    assert isinstance(err, PathError) and isinstance(err, bases)
    assert (str(err), err.path, err.reason) == (
        "/data/x.json: truncated",
        "/data/x.json",
        "truncated",
    )
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cls and str(back) == str(err) and back.reason == err.reason


def test_job_error_names_the_field() -> None:
    err = JobError(Path("/jobs/a.json"), "hyper.lr", "out of range: -1")
    assert str(err) == "/jobs/a.json: field 'hyper.lr': out of range: -1"
    assert (err.path, err.field, err.problem) == ("/jobs/a.json", "hyper.lr", "out of range: -1")
    assert err.reason == "field 'hyper.lr': out of range: -1"
    assert isinstance(err, PathError) and isinstance(err, ValueError)
    back = pickle.loads(pickle.dumps(err))
    assert str(back) == str(err) and back.field == "hyper.lr"
    assert str(JobError("/jobs/a.json", "", "not valid JSON")) == "/jobs/a.json: not valid JSON"


def test_locked_project_pickles_with_its_holder() -> None:
    err = ProjectLockedError("/p/a.orthogui", "pid 7 on ws-1")
    back = pickle.loads(pickle.dumps(err))
    assert back.holder == "pid 7 on ws-1" and str(back) == str(err)


def test_import_and_coco_errors_are_path_errors() -> None:
    err = CocoError.one("/d/gt.json", "annotations[2].image_id", "image id 9 is not in images")
    assert isinstance(err, ImportValidationError) and isinstance(err, PathError)
    assert err.path == "/d/gt.json"
    assert err.reason == "annotations[2].image_id: image id 9 is not in images"
