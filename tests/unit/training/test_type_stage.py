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
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    typed = load_card(saved.source)
    stage = typed.type_stage
    assert stage is not None and stage.categories == screws
    assert report["held_out_strips"] == stage.metrics["held_out_strips"] > 0
    matrix = np.asarray(stage.metrics["confusion"])
    assert matrix.shape == (5, 5) and matrix.sum() == stage.metrics["held_out_strips"]
    assert stage.training_data["recipe"]["images"] == 4
    classifier = load_type_stage(typed, torch.device("cpu"))
    assert classifier is not None and not classifier.training
