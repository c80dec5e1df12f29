"""Publishing a trained candidate as the bundled default: float16 weights that load into the
same network, and a card with the data, licence, recipe and the recipe's display threshold."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from orthogui.core.categories import DEFAULT_CATEGORIES  # noqa: E402
from orthogui.ml.architectures import build_model  # noqa: E402
from orthogui.ml.card import (  # noqa: E402
    CardCategory,
    ModelCard,
    Postprocessing,
    Preprocessing,
    load_card,
)
from orthogui.ml.weights import build_options, load_model, save_weights  # noqa: E402
from orthogui.training.default_model import (  # noqa: E402
    DEFAULT_MODEL_NAME,
    FRACATLAS_CITATION,
    Recipe,
    publish_default,
)


def _candidate(folder: Path) -> ModelCard:
    """A worker-style candidate: random weights, the worker's default threshold (0.5)."""
    cats = tuple(CardCategory(c.id, c.name, c.name, c.shape) for c in DEFAULT_CATEGORIES)
    card = ModelCard(
        name=DEFAULT_MODEL_NAME,
        version="7",
        architecture="maskrcnn_mobilenet_v3_large_fpn_lite",
        num_classes=len(cats) + 1,
        categories=cats,
        weights_file="none.safetensors",
        weights_sha256="0" * 64,
        preprocessing=Preprocessing(min_size=256, max_size=256),
        postprocessing=Postprocessing(score_threshold=0.5),
    )
    torch.manual_seed(0)
    return save_weights(build_model(card.architecture, build_options(card)), card, folder)


def test_publish_writes_half_weights_and_the_recipe_threshold(tmp_path: Path) -> None:
    candidate = _candidate(tmp_path / "candidate")
    assert candidate.source is not None
    recipe = Recipe()
    summary = {
        "recipe": {"synth_train_seed": 1, "synth_val_seed": 2, "synth_test_seed": 3},
        "train_images": 10,
        "train_synthetic_images": 8,
        "train_fracatlas_images": 2,
    }
    path = publish_default(
        candidate.source, tmp_path / "models", summary=summary, command="python -m orthogui x"
    )
    card = load_card(path)
    assert card.postprocessing.score_threshold == recipe.display_threshold != 0.5
    # fracture boxes from the outline, as the recipe says (the candidate's card had them off)
    assert card.postprocessing.box_from_mask == recipe.box_from_mask > 0.0
    assert card.postprocessing.mask_score_power == recipe.mask_score_power > 0.0
    assert card.postprocessing.box_score_threshold == recipe.box_display_threshold
    assert card.training_data["command"] == "python -m orthogui x"
    assert card.training_data["datasets"][1]["citation"] == FRACATLAS_CITATION
    assert card.training_data["datasets"][0]["seeds"]["held_out_test"] == 3
    # float16 on disk: about half the float32 candidate, and the same network within fp16
    assert card.weights_path.stat().st_size < 0.6 * candidate.weights_path.stat().st_size
    published, _ = load_model(card, device="cpu")
    original, _ = load_model(candidate, device="cpu")
    for (name, a), (_, b) in zip(
        published.state_dict().items(), original.state_dict().items(), strict=True
    ):
        if a.is_floating_point():
            assert torch.allclose(a, b, rtol=1e-3, atol=1e-3), name
    # a threshold the recipe of that run recorded wins over today's default
    summary["recipe"]["display_threshold"] = 0.42
    again = load_card(
        publish_default(candidate.source, tmp_path / "m2", summary=summary, command="c")
    )
    assert again.postprocessing.score_threshold == 0.42
    summary["recipe"]["box_from_mask"] = 0.0  # a recipe that kept the regressed boxes
    summary["recipe"]["box_display_threshold"] = 0.55  # and showed fractures from 0.55
    kept = load_card(
        publish_default(candidate.source, tmp_path / "m4", summary=summary, command="c")
    )
    assert kept.postprocessing.box_from_mask == 0.0
    assert kept.postprocessing.box_score_threshold == 0.55
    del summary["recipe"]["box_display_threshold"]
    del summary["recipe"]["box_from_mask"]
    assert len(again.training_data["datasets"]) == 2  # no real-screw labels in that recipe
    # trained with the real-screw outlines: the card names them and the films held out
    summary["recipe"]["real_screws"] = "real-screws/fracatlas-screws.json"
    summary["real_screws_sha256"] = "ab" * 32
    summary["real_screw_films_held_out"] = ["IMG1.jpg"]
    third = load_card(
        publish_default(candidate.source, tmp_path / "m3", summary=summary, command="c")
    )
    screws = third.training_data["datasets"][2]
    assert screws["file"] == "resources/real-screws/fracatlas-screws.json"
    assert screws["sha256"] == "ab" * 32 and "not radiologists" in screws["drawn_by"]
    assert third.training_data["real_screw_films_held_out"] == ["IMG1.jpg"]
