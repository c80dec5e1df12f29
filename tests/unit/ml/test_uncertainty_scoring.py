"""Scoring with a loaded model: the card gives screw labels and rarity, MaskRCNNPredictor turns
a radiograph into the number stored per image, the inference service runs it in the background,
and ``orthogui predict --project --score`` stores it."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import cv2
import pytest
import torch

from orthogui.cli import main
from orthogui.core.project import ImageRecord
from orthogui.io.store import ProjectStore
from orthogui.ml.architectures import build_model
from orthogui.ml.card import ModelCard
from orthogui.ml.diversity import ScoredImage, stored_score
from orthogui.ml.predictor import MaskRCNNPredictor
from orthogui.ml.scoring import (
    SCORERS,
    ScoringContext,
    combined,
    context_from_card,
)
from orthogui.ml.service import SCORED_BY, InferenceService, Priority
from orthogui.ml.weights import build_options, save_weights
from tests.unit.ml.conftest import card_for, synthetic_radiograph, wake_up

TIMEOUT = 120


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> ModelCard:
    """A saved tiny model that finds cortical screws (1), locking screws (3) and fractures (6)."""
    card = card_for(score_threshold=0.3, size=128)
    torch.manual_seed(0)
    model = build_model(card.architecture, build_options(card))
    wake_up(model, card, [1, 3, 6], bias=2.0)
    return save_weights(model, card, tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def predictor(published: ModelCard) -> MaskRCNNPredictor:
    return MaskRCNNPredictor.from_card(published, device="cpu")


def test_context_from_card_screws_and_training_counts() -> None:
    card = card_for()  # labels 1-7 = the default categories, 1-5 the screw types
    assert context_from_card(card) == ScoringContext(screw_labels=frozenset(range(1, 6)))
    counted = replace(
        card,
        training_data={
            "train_instances": {"cortical_screw": 120, "fracture": 4, "2": 9, "elsewhere": 3}
        },
    )
    assert context_from_card(counted).label_counts == {1: 120, 6: 4, 2: 9}
    assert context_from_card(counted, label_counts={3: 1}).label_counts == {3: 1}
    for bad, reason in (([1, 2], "must map categories to counts"), ({"fracture": -1}, ">= 0")):
        broken = replace(card, training_data={"train_instances": bad})
        with pytest.raises(ValueError, match=reason) as err:
            context_from_card(broken)
        assert "test-model: training_data.train_instances" in str(err.value)


def test_predictor_scores_a_radiograph(predictor: MaskRCNNPredictor) -> None:
    rg = synthetic_radiograph(0)
    scores = predictor.image_scores(rg)
    assert set(scores.scores) == set(SCORERS)
    assert all(0.0 <= v <= 1.0 for v in scores.scores.values())
    assert scores.labels and set(scores.labels) <= {1, 3, 6}  # the low threshold keeps many
    assert max(scores.scores.values()) > 0.0  # a random model is unsure of something
    ctx = predictor.scoring_context()
    value = predictor.uncertainty(rg)
    assert math.isfinite(value) and value == pytest.approx(combined(scores, ctx))
    assert predictor.uncertainty(rg) == pytest.approx(value)  # deterministic
    # Categories the training data hardly had weigh the image up (at most rare_cap times).
    rare = ScoringContext(
        screw_labels=ctx.screw_labels, label_counts={1: 1000, 3: 1000, 6: 1000, 7: 10}
    )
    assert predictor.uncertainty(rg, context=rare) == pytest.approx(value)
    rarest = {1: 1, 3: 1, 6: 1, 7: 10_000}
    boosted = predictor.uncertainty(rg, context=replace(rare, label_counts=rarest))
    assert boosted == pytest.approx(value * rare.rare_cap)
    # Scoring leaves the card's score threshold in place for predictions.
    assert predictor.model.roi_heads.score_thresh == pytest.approx(0.3)


def test_service_scores_in_the_background_with_the_same_value(
    predictor: MaskRCNNPredictor,
) -> None:
    rgs = {f"im{s}": synthetic_radiograph(s) for s in (0, 1)}
    with InferenceService(predictor) as svc:
        assert svc.can_score
        scores = {i: svc.score(i, lambda rg=rg: rg) for i, rg in rgs.items()}
        preds = svc.request("im1", lambda: rgs["im1"], priority=Priority.CURRENT)
        assert isinstance(preds.result(timeout=TIMEOUT), list)
        got = {i: f.result(timeout=TIMEOUT) for i, f in scores.items()}
        assert svc.cached_score("im0") == pytest.approx(float(got["im0"]))
    for i, rg in rgs.items():
        # The service keeps what the queue shows: the value, the reason, compact features.
        assert isinstance(got[i], ScoredImage)
        assert float(got[i]) == pytest.approx(predictor.uncertainty(rg))
        assert got[i].why and got[i].features is not None and len(got[i].features) == 32
        assert got[i].mass is not None and got[i].mass >= 0
    assert float(got["im0"]) != pytest.approx(float(got["im1"]))  # two different scores


def test_cli_predict_project_stores_the_uncertainty(
    published: ModelCard, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "p.orthogui"
    store = ProjectStore.create(project)
    records = []
    for s in (0, 1):
        png = tmp_path / f"img{s}.png"
        assert cv2.imwrite(str(png), synthetic_radiograph(s).stored)
        records.append(ImageRecord(id=f"im{s}", path=str(png), width=240, height=200))
    store.add_images(records)
    store.close()
    args = ["predict", "--model", str(published.source), "--device", "cpu"]
    assert main([*args, "--project", str(project), "--score"]) == 0
    assert "uncertainty" in capsys.readouterr().err
    predictor = MaskRCNNPredictor.from_card(published, device="cpu")
    with ProjectStore.open(project) as store:
        for rec in store.model.images():
            assert rec.attributes[SCORED_BY] == "test-model 0.1"
            rg = synthetic_radiograph(int(rec.id[-1]))
            assert rec.uncertainty == pytest.approx(predictor.uncertainty(rg))
            # As the workbench stores it: the reason, compact features, the summed doubt.
            expected = predictor.explained_uncertainty(rg)
            assert stored_score(rec) == ScoredImage(
                rec.uncertainty, expected.why, expected.features, expected.mass
            )
        assert len(store.history) == 2  # the pre-annotations; scores are no undo steps

    assert main([*args, "--out", str(tmp_path / "r.json"), "--score", str(tmp_path)]) != 0
    assert "--score needs --project" in capsys.readouterr().err
