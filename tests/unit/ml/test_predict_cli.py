"""``orthogui predict``: COCO results that pycocotools accepts, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
import torch
from pycocotools.coco import COCO

from orthogui.cli import main
from orthogui.ml.architectures import build_model
from orthogui.ml.card import ModelCard
from orthogui.ml.weights import build_options, save_weights
from tests.unit.ml.conftest import card_for, synthetic_radiograph, wake_up


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> ModelCard:
    card = card_for(score_threshold=0.3)
    torch.manual_seed(0)
    model = build_model(card.architecture, build_options(card))
    wake_up(model, card, [1, 6])
    return save_weights(model, card, tmp_path_factory.mktemp("models"))


def test_coco_results_load_in_pycocotools(
    published: ModelCard, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = []
    for seed in (0, 1):
        path = tmp_path / f"img{seed}.png"
        assert cv2.imwrite(str(path), synthetic_radiograph(seed).stored)  # 16-bit PNG
        inputs.append(str(path))
    out = tmp_path / "results.json"
    rc = main(
        ["predict", "--model", str(published.source), "--device", "cpu", "--out", str(out), *inputs]
    )
    assert rc == 0
    err = capsys.readouterr().err
    assert "2/2" in err and "findings on 2 images" in err
    results = json.loads(out.read_text())
    assert results and {r["image_id"] for r in results} == {1, 2}
    assert {r["category_id"] for r in results} == {1, 6}
    assert all("segmentation" in r for r in results if r["category_id"] == 1)
    assert not any("segmentation" in r for r in results if r["category_id"] == 6)
    gt = COCO(str(tmp_path / "results.images.json"))
    dt = gt.loadRes(str(out))
    assert len(dt.getAnnIds()) == len(results)
    for ann in dt.loadAnns(dt.getAnnIds(catIds=[1])):
        assert ann["area"] > 0 and dt.annToMask(ann).shape == (200, 240)
    # A stricter threshold on the command line gives a subset.
    strict = tmp_path / "strict.json"
    assert (
        main(
            [
                "predict",
                "--model",
                str(published.source),
                "--score-threshold",
                "0.6",
                "--out",
                str(strict),
                inputs[0],
            ]
        )
        == 0
    )
    assert len(json.loads(strict.read_text())) < sum(r["image_id"] == 1 for r in results)


def test_errors_are_one_line(
    published: ModelCard, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    assert (
        main(
            [
                "predict",
                "--model",
                str(published.source),
                "--out",
                str(tmp_path / "r.json"),
                str(bad),
            ]
        )
        == 1
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "notes.png" in err[0]
    assert (
        main(
            [
                "predict",
                "--model",
                "no-such-model",
                "--models-dir",
                str(tmp_path),
                "--out",
                "x.json",
                str(bad),
            ]
        )
        == 1
    )
    assert "no model card named 'no-such-model'" in capsys.readouterr().err


def test_project_gets_pre_annotations(published: ModelCard, tmp_path: Path) -> None:
    from orthogui.core.annotation import ReviewState
    from orthogui.core.project import ImageRecord
    from orthogui.io.store import ProjectStore

    png = tmp_path / "img0.png"
    assert cv2.imwrite(str(png), synthetic_radiograph(0).stored)
    project = tmp_path / "p.orthogui"
    store = ProjectStore.create(project)
    store.add_images([ImageRecord(id="im0", path=str(png), width=240, height=200)])
    store.close()
    assert main(["predict", "--model", str(published.source), "--project", str(project)]) == 0
    store = ProjectStore.open(project)
    try:
        anns = store.model.annotations("im0")
        assert anns and all(a.review.state is ReviewState.PROPOSED for a in anns)
        assert {a.provenance.model_name for a in anns} == {"test-model"}
        assert {a.category for a in anns} == {"cortical_screw", "fracture"}
    finally:
        store.close()
