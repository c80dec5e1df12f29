"""The bundled default model: its card, its weights, and screws it finds on held-out images."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orthogui.core.categories import DEFAULT_CATEGORIES
from orthogui.core.geometry import Polygon
from orthogui.io.masks import polygons_to_mask
from orthogui.io.readers import read_radiograph
from orthogui.ml.card import default_models_dir, list_cards
from orthogui.ml.data import decode_segmentation
from orthogui.ml.defaults import choose_card
from orthogui.ml.predictor import MaskRCNNPredictor
from orthogui.ml.weights import load_model
from orthogui.synth.dataset import write_dataset
from orthogui.training.default_model import DEFAULT_MODEL_NAME, Recipe

SCREWS = {c.name for c in DEFAULT_CATEGORIES if c.supercategory == "screw"}


@pytest.fixture(scope="module")
def card():  # type: ignore[no-untyped-def]
    cards = [c for c in list_cards(default_models_dir()) if c.name == DEFAULT_MODEL_NAME]
    assert cards, f"no {DEFAULT_MODEL_NAME} card in {default_models_dir()}"
    return cards[-1]


def test_the_shipped_card_describes_its_weights_data_and_metrics(card) -> None:  # type: ignore[no-untyped-def]
    assert card.architecture == "maskrcnn_mobilenet_v3_large_fpn_lite"
    assert card.weights_path.is_file()
    assert card.weights_path.stat().st_size <= 50 * 1024 * 1024
    assert [c.project_category for c in card.categories] == [c.name for c in DEFAULT_CATEGORIES]
    card.check_categories(DEFAULT_CATEGORIES)
    recipe = Recipe()
    assert card.preprocessing.window == "percentile"
    assert card.preprocessing.percentiles == recipe.window_percentiles
    assert card.preprocessing.min_size == card.preprocessing.max_size == recipe.size
    data = card.training_data
    fracatlas = [d for d in data["datasets"] if d["name"].startswith("FracAtlas")]
    assert fracatlas and fracatlas[0]["licence"] == "CC BY 4.0"
    assert "10.1038/s41597-023-02432-4" in fracatlas[0]["citation"]
    assert data["train_fracatlas_images"] > 500 and data["train_synthetic_images"] >= 1000
    assert data["recipe_rationale"] and data["command"].startswith("python -m orthogui")
    for key in (
        "synthetic_test/screw_segm_AP50",
        "synthetic_test/screw_segm_AP75",
        "synthetic_test/fracture_bbox_AP50",
        "fracatlas_valid/fracture_bbox_AP50",
    ):
        assert 0.0 <= card.metrics[key] <= 1.0, key
    # the app picks it on a CPU
    assert choose_card(list_cards(default_models_dir()), "cpu") == card


def test_the_weights_match_the_card(card) -> None:  # type: ignore[no-untyped-def]
    model, loaded = load_model(card, device="cpu")  # checks sha256, architecture, class count
    assert loaded.weights_sha256 == card.weights_sha256
    assert not model.training


def test_it_finds_the_screws_on_held_out_synthetic_radiographs(card, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    recipe = Recipe()
    write_dataset(
        tmp_path, n=6, seed=recipe.synth_test_seed, scene="limb", size=recipe.size, fmt="png16"
    )
    coco = json.loads((tmp_path / "annotations.json").read_text())
    names = {c["id"]: c["name"] for c in coco["categories"]}
    predictor = MaskRCNNPredictor.from_card(card, device="cpu")
    found = total = 0
    for im in coco["images"]:
        rg = read_radiograph(tmp_path / im["file_name"])
        preds = [p for p in predictor.predict(rg) if p.category in SCREWS]
        masks = [
            (p.category, polygons_to_mask([p.shape], rg.shape).astype(bool))
            for p in preds
            if isinstance(p.shape, Polygon)
        ]
        for a in coco["annotations"]:
            if a["image_id"] != im["id"] or names[a["category_id"]] not in SCREWS:
                continue
            total += 1
            gt = decode_segmentation(a["segmentation"], rg.rows, rg.columns).astype(bool)
            ious = [((m & gt).sum() / max((m | gt).sum(), 1), c) for c, m in masks]
            best = max(ious, default=(0.0, ""))
            if best[0] >= 0.3:
                found += 1
    assert total >= 10
    # Measured when version 3 was published: 13 of these 17 screws at mask IoU >= 0.3 and the
    # card's threshold (version 2 found 12, version 1 5; a random-weight network finds none).
    # The bundled model is a CPU run, far from the seed systems' targets (see the card's
    # metrics); this guards that the shipped weights, preprocessing and thresholds still find
    # most screws.
    assert found >= 11, f"found {found} of {total} screws"
