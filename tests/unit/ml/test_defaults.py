"""The app's model choice: none installed -> None; a GPU prefers the accurate model, a CPU the
light one; a card whose weights are missing is not a candidate."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from orthogui.ml.architectures import build_model
from orthogui.ml.defaults import choose_card, default_predictor
from orthogui.ml.predictor import MaskRCNNPredictor
from orthogui.ml.weights import build_options, save_weights
from tests.unit.ml.conftest import LITE, card_for


def test_no_model_installed_gives_none(tmp_path: Path) -> None:
    assert default_predictor(models_dir=tmp_path, device="cpu") is None


def test_installed_light_model_is_loaded_on_cpu(tmp_path: Path) -> None:
    card = card_for()
    torch.manual_seed(0)
    save_weights(build_model(card.architecture, build_options(card)), card, tmp_path)
    pred = default_predictor(models_dir=tmp_path, device="cpu")
    assert isinstance(pred, MaskRCNNPredictor)
    assert (pred.model_name, pred.model_version) == ("test-model", "0.1")


def test_preference_by_device_and_missing_weights(tmp_path: Path) -> None:
    (tmp_path / "w.safetensors").write_bytes(b"x")
    light = replace(card_for(), weights_file="w.safetensors", source=tmp_path / "a.json")
    heavy = replace(light, architecture="maskrcnn_resnet50_fpn_v2", name="big")
    missing = replace(heavy, weights_file="absent.safetensors")
    assert light.architecture == LITE
    assert choose_card([heavy, light], "cpu") is light
    assert choose_card([light, heavy], "cuda") is heavy
    assert choose_card([missing, light], "cuda") is light
    assert choose_card([missing], "cpu") is None
