"""The screw-type stage's command: strips from phantoms, a pretrained classifier trained on
them, its held-out figures and weights attached to the detector's card."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("timm")


@pytest.mark.slow
def test_train_screw_types_attaches_a_measured_stage(tmp_path: Path, capsys) -> None:
    from orthogui.cli import main
    from orthogui.core.categories import DEFAULT_CATEGORIES, SCREW_GROUP
    from orthogui.ml.architectures import BuildOptions, build_model
    from orthogui.ml.card import CardCategory, load_card
    from orthogui.ml.weights import load_type_stage, save_weights
    from tests.unit.ml.conftest import card_for

    screws = tuple(c.name for c in DEFAULT_CATEGORIES if c.group == SCREW_GROUP)
    card = replace(
        card_for(num_classes=2),
        categories=(CardCategory(1, "screw", screws[0], covers=screws),),
    )
    model = build_model(card.architecture, BuildOptions(num_classes=2, min_size=64, max_size=64))
    saved = save_weights(model, card, tmp_path)
    args = ["train-screw-types", "--card", str(saved.source), "--images", "4"]
    args += ["--test-images", "2", "--epochs", "1", "--copies", "1", "--threads", "1"]
    assert main([*args, "--from-stage"]) == 1  # nothing to continue from: said, nothing written
    assert "has no type stage to continue from" in capsys.readouterr().err
    assert load_card(saved.source).type_stage is None
    assert main([*args, "--limb-images", "2"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    typed = load_card(saved.source)
    stage = typed.type_stage
    assert stage is not None and stage.categories == screws
    assert report["held_out_strips"] == stage.metrics["held_out_strips"] > 0
    matrix = np.asarray(stage.metrics["confusion"])
    assert matrix.shape == (5, 5) and matrix.sum() == stage.metrics["held_out_strips"]
    assert stage.training_data["recipe"]["images"] == 4
    assert stage.training_data["recipe"]["limb_images"] == 2
    assert "4 mixed and 2 limb phantoms" in stage.training_data["data"]
    command = stage.training_data["command"]
    assert "--images 4 " in command and "--limb-images 2" in command and "--seed" not in command
    classifier = load_type_stage(typed, torch.device("cpu"))
    assert classifier is not None and not classifier.training
    # Cut by the screw's length, as the card records; continuing the stage on strips cut
    # another way, or cutting them with a context under one length, is refused before training.
    assert (stage.crop_context, stage.crop_diameters) == (2.2, 1.0)
    assert main([*args, "--from-stage", "--crop-context", "1.2", "--crop-diameters", "2"]) == 1
    assert "was trained on strips cut as" in capsys.readouterr().err
    assert main([*args, "--crop-context", "0.5"]) == 1
    assert "crop context must be >= 1" in capsys.readouterr().err
    assert load_card(saved.source).type_stage == stage


def test_detector_outlines_are_matched_one_to_one_by_mask_iou() -> None:
    from orthogui.training.screw_types import _matched

    def box(x0: int, x1: int) -> np.ndarray:
        m = np.zeros((20, 40), bool)
        m[5:15, x0:x1] = True
        return m

    truth = [box(0, 10), box(20, 30)]
    # two outlines on the first screw (the better one wins), one half on the second, one on air
    found = [box(1, 10), box(0, 10), box(25, 30), box(32, 40)]
    assert _matched(truth, found, 0.5) == [(0, 1), (1, 2)]
    assert _matched(truth, found, 0.6) == [(0, 1)]  # the half outline (IoU 0.5) is not enough
    assert _matched([], found, 0.5) == [] and _matched(truth, [], 0.5) == []


@pytest.mark.slow
def test_detector_strips_are_cut_where_the_bundled_detector_outlines_true_screws() -> None:
    """The bundled detector on two phantoms: a strip per screw it finds, labelled with the true
    type, shaped like the type stage's input."""
    from collections import Counter

    from orthogui.ml.card import default_models_dir, list_cards
    from orthogui.training.default_model import DEFAULT_MODEL_NAME
    from orthogui.training.screw_types import SCREW_TYPES, detector_strips, scene_phantoms

    card = [c for c in list_cards(default_models_dir()) if c.name == DEFAULT_MODEL_NAME][-1]
    strips = detector_strips(card, n_images=2, seed=8203)
    truth = [
        inst.category
        for img, _rng in scene_phantoms(2, 8203)
        for inst in img.scene.instances
        if inst.category in SCREW_TYPES
    ]
    assert 0 < len(strips.labels) <= len(truth)
    assert Counter(SCREW_TYPES[k] for k in strips.labels) <= Counter(truth)
    spec = card.type_stage
    assert spec is not None
    assert {s.shape for s in strips.images} == {(spec.crop_width, spec.crop_length)}
