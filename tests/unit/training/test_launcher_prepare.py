"""Making a fine-tuning job from a project (orthogui.training.prepare, Qt-free): the
approved-only copy, the 16-bit snapshot with a non-empty held-out split even for two images,
the job's start card, models folder and small-CPU hyper-parameters, and the refusals."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from orthogui.core.annotation import Annotation, Prediction, ReviewState
from orthogui.core.geometry import Polygon
from orthogui.core.project import ImageRecord, ImageStatus, ProjectModel
from orthogui.core.review import set_state
from orthogui.ml.card import CardCategory, ModelCard, save_card
from orthogui.training import prepare
from orthogui.training.job import load_job
from orthogui.training.prepare import (
    FineTuneRequest,
    NotReady,
    check_ready,
    choose_models_dir,
    fine_tune_hyper,
    freeze_approved,
    prepare_fine_tune,
    writable,
)


def _card(models: Path, category: str = "cortical_screw") -> ModelCard:
    models.mkdir(parents=True, exist_ok=True)
    (models / "w.safetensors").write_bytes(b"w")
    card = ModelCard(
        name="m",
        version="4",
        architecture="maskrcnn_mobilenet_v3_large_fpn_lite",
        num_classes=2,
        categories=(CardCategory(1, category, category),),
        weights_file="w.safetensors",
        weights_sha256="0" * 64,
    )
    return save_card(card, models / "m-4.json")


def _project(folder: Path, n: int, approved: int) -> tuple[ProjectModel, dict[str, Path]]:
    model = ProjectModel()
    records, anns = [], []
    for i in range(n):
        path = folder / f"x{i}.png"
        img = np.full((64, 64), 1000 * (i + 1), np.uint16)
        img[20:30, 10:50] = 60000
        assert cv2.imwrite(str(path), img)
        status = ImageStatus.APPROVED if i < approved else ImageStatus.IN_REVIEW
        records.append(ImageRecord(id=f"i{i}", path=str(path), status=status, study_key=f"s{i}"))
        poly = Polygon([(10, 20), (50, 20), (50, 30), (10, 30)])
        proposal = Annotation.from_prediction(
            Prediction("cortical_screw", 0.9, poly, "m", "4"), image_id=f"i{i}"
        )
        # Approved images hold reviewed findings only (approval means reviewed).
        anns += set_state([proposal], ReviewState.ACCEPTED, user="t").after

    model.load(records, anns)
    return freeze_approved(model, lambda r: Path(r.path))


def test_two_approved_images_make_a_job_with_one_held_out(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    copy, paths = _project(tmp_path / "img", n=4, approved=2)
    assert sorted(r.id for r in copy.images()) == ["i0", "i1"] and set(paths) == {"i0", "i1"}
    assert len(copy.annotations()) == 2  # only the approved images' findings
    card = _card(tmp_path / "models")
    when = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    done = prepare_fine_tune(
        FineTuneRequest(copy, paths, tmp_path, card, tmp_path / "models"), now=when
    )
    root = tmp_path / "training" / "20250304T050607.000000Z"
    assert done.job == root / "job.json" and done.events == root / "run" / "events.jsonl"
    assert (done.train_images, done.val_images) == (1, 1)
    job = load_job(done.job)  # the worker's own validation accepts it
    assert job.start_card == card.source and job.models_dir == tmp_path / "models"
    assert job.snapshot == root / "snapshot" and job.device == "auto"
    assert job.hyper.max_steps == 10 and job.threads == max((os.cpu_count() or 2) - 1, 1)
    png = next((root / "snapshot" / "images").glob("*.png"))
    assert cv2.imread(str(png), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    train = json.loads((root / "snapshot" / "annotations" / "train.json").read_text())
    assert [c["name"] for c in train["categories"]] == ["cortical_screw"]


def test_a_model_without_the_project_categories_is_refused(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    copy, paths = _project(tmp_path / "img", n=2, approved=2)
    card = _card(tmp_path / "models", category="no_such_category")
    with pytest.raises(NotReady, match="none of this project's categories"):
        prepare_fine_tune(FineTuneRequest(copy, paths, tmp_path, card, tmp_path / "models"))
    assert not (tmp_path / "training").exists()


def test_a_missing_image_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    copy, paths = _project(tmp_path / "img", n=2, approved=2)
    paths["i1"].unlink()
    card = _card(tmp_path / "models")
    with pytest.raises(Exception, match=r"x1\.png"):
        prepare_fine_tune(FineTuneRequest(copy, paths, tmp_path, card, tmp_path / "models"))
    assert not list((tmp_path / "training").rglob("manifest.json"))  # nothing half-written


def test_check_ready_explains_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(NotReady, match="No model is loaded"):
        check_ready(10, None)
    card = _card(tmp_path)
    with pytest.raises(NotReady, match=r"at least 2 approved images.*has 1"):
        check_ready(1, card)
    with pytest.raises(NotReady, match="no card file"):
        check_ready(5, replace(card, source=None))
    check_ready(2, card)


def test_hyper_parameters_scale_with_the_images_within_bounds() -> None:
    assert fine_tune_hyper(1).max_steps == 10
    assert fine_tune_hyper(100).max_steps == 150
    assert fine_tune_hyper(10_000).max_steps == 600
    hp = fine_tune_hyper(100)
    assert hp.batch_size == 2 and hp.warmup_steps == 15 and hp.lr == 0.005


def test_new_versions_go_beside_the_model_or_to_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    card = _card(tmp_path / "bundled")
    assert choose_models_dir(card, tmp_path / "proj") == tmp_path / "bundled"
    monkeypatch.setattr(prepare, "writable", lambda folder: False)
    assert choose_models_dir(card, tmp_path / "proj") == tmp_path / "proj" / "models"


def test_writable_looks_at_the_nearest_existing_folder(tmp_path: Path) -> None:
    assert writable(tmp_path / "not" / "yet")
    (tmp_path / "file").write_text("x")
    assert not writable(tmp_path / "file" / "below")
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert not writable(locked / "models")
