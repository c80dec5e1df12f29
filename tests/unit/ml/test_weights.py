"""Weights against their card: save/load, refusals (architecture, class count, checksum,
unreadable file), the architecture registry, and importing a torchvision COCO checkpoint.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from orthogui.io.fileops import file_sha256
from orthogui.ml.architectures import ARCHITECTURES, build_model, register_architecture
from orthogui.ml.card import ModelCard, ModelLoadError, load_card, save_card
from orthogui.ml.weights import (
    build_options,
    import_torchvision_checkpoint,
    load_model,
    save_weights,
)
from tests.unit.ml.conftest import card_for


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> ModelCard:
    card = card_for()
    torch.manual_seed(0)
    model = build_model(card.architecture, build_options(card))
    return save_weights(model, card, tmp_path_factory.mktemp("models"))


def test_save_then_load_gives_the_same_network(saved: ModelCard) -> None:
    model, card = load_model(saved.source, device="cpu")  # type: ignore[arg-type]
    assert card == saved and card.weights_sha256 == file_sha256(card.weights_path)
    torch.manual_seed(0)
    ref = build_model(card.architecture, build_options(card))
    for k, v in ref.state_dict().items():
        assert torch.equal(v, model.state_dict()[k]), k
    assert model.roi_heads.score_thresh == card.postprocessing.score_threshold
    assert not model.training


def test_load_by_name_from_a_models_folder(saved: ModelCard) -> None:
    _, card = load_model("test-model", models_dir=saved.source.parent, device="cpu")  # type: ignore[union-attr]
    assert card.version == saved.version


def _variant(saved: ModelCard, tmp_path: Path, **changes: object) -> Path:
    """A card beside the same weights file with some fields changed."""
    obj = saved.to_json()
    obj["weights"]["file"] = str(saved.weights_path)
    for k, v in changes.items():
        obj[k] = v
    path = tmp_path / "variant.json"
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def test_wrong_checksum_is_refused(saved: ModelCard, tmp_path: Path) -> None:
    path = _variant(saved, tmp_path, weights={"file": str(saved.weights_path), "sha256": "a" * 64})
    with pytest.raises(ModelLoadError, match="sha256 differs") as info:
        load_model(path)
    assert info.value.path == str(saved.weights_path)


def test_wrong_architecture_is_refused(saved: ModelCard, tmp_path: Path) -> None:
    path = _variant(saved, tmp_path, architecture="maskrcnn_resnet50_fpn_v2")
    with pytest.raises(ModelLoadError, match=r"architecture differs.*missing keys"):
        load_model(path)


def test_wrong_class_count_is_refused(saved: ModelCard, tmp_path: Path) -> None:
    cats = saved.to_json()["categories"][:3]
    path = _variant(saved, tmp_path, num_classes=4, categories=cats)
    with pytest.raises(
        ModelLoadError, match="class count differs: weights have 8 classes, the card says 4"
    ):
        load_model(path)


def test_unknown_architecture_and_norm_are_refused(saved: ModelCard, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="unknown architecture 'resnet9000'"):
        load_model(_variant(saved, tmp_path, architecture="resnet9000"))
    with pytest.raises(ModelLoadError, match="norm_layer 'group_norm'"):
        load_model(_variant(saved, tmp_path, norm_layer="group_norm"))


def test_corrupt_weights_file_is_refused(saved: ModelCard, tmp_path: Path) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file at all")
    card = save_card(saved.with_weights(bad.name, file_sha256(bad)), tmp_path / "bad.json")
    with pytest.raises(ModelLoadError, match=r"bad\.safetensors: not a readable safetensors"):
        load_model(card)
    missing = save_card(saved.with_weights("gone.safetensors", "b" * 64), tmp_path / "gone.json")
    with pytest.raises(ModelLoadError, match="weights file not found"):
        load_model(missing)


def test_registry_refuses_duplicate_names() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_architecture(ARCHITECTURES["maskrcnn_resnet50_fpn_v2"])


def test_import_torchvision_coco_checkpoint(tmp_path: Path) -> None:
    from torchvision.models.detection import maskrcnn_resnet50_fpn_v2

    torch.manual_seed(1)
    coco = maskrcnn_resnet50_fpn_v2(weights=None, weights_backbone=None, num_classes=91)
    # torchvision's pretrained files use FrozenBatchNorm2d: no num_batches_tracked counters.
    state = {k: v for k, v in coco.state_dict().items() if not k.endswith("num_batches_tracked")}
    ckpt = tmp_path / "maskrcnn_resnet50_fpn_v2_coco.pth"
    torch.save(state, ckpt)
    card = card_for(architecture="maskrcnn_resnet50_fpn_v2")
    model = import_torchvision_checkpoint(ckpt, card)
    got = model.state_dict()
    key = "backbone.body.layer1.0.conv1.weight"
    assert torch.equal(got[key], state[key])
    assert torch.equal(got["rpn.head.cls_logits.weight"], state["rpn.head.cls_logits.weight"])
    assert got["roi_heads.box_predictor.cls_score.weight"].shape[0] == 8
    assert got["roi_heads.box_predictor.bbox_pred.weight"].shape[0] == 8 * 4
    assert got["roi_heads.mask_predictor.mask_fcn_logits.weight"].shape[0] == 8
    # The result saves and loads as one of our models.
    published = save_weights(model, replace(card, version="0.2"), tmp_path / "out")
    assert load_card(published.source).num_classes == 8  # type: ignore[arg-type]

    with pytest.raises(
        ModelLoadError, match="not a maskrcnn_mobilenet_v3_large_fpn_lite checkpoint"
    ):
        import_torchvision_checkpoint(ckpt, card_for())
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x00garbage")
    with pytest.raises(ModelLoadError, match=r"junk\.pth: not a readable PyTorch checkpoint"):
        import_torchvision_checkpoint(junk, card)
