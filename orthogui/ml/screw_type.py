"""Screw type from a crop aligned with the screw's long axis at native resolution.

The detector finds *screw*; threads, heads and the cannulation channel that tell the types
apart vanish at its input size, so the type is decided here, on the full-depth pixels: the
screw's outline gives a rotated rectangle, the image is resampled into a fixed
``length x width`` strip along that axis (one isotropic scale, close to 1 for a typical screw),
and an ImageNet-pretrained EfficientNet-Lite classifies the strip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn

from orthogui.ml.backbones import LITE_MEAN, LITE_STD, LITE_VARIANTS, imagenet_state_dict
from orthogui.ml.card import TypeStage


@dataclass(frozen=True)
class CropSpec:
    """How a screw's strip is cut: output size and how much context around the screw."""

    length: int = 256  # px along the screw's axis
    width: int = 64  # px across it
    context: float = 1.2  # the strip spans at least this many screw lengths
    # ...and its width at least this many screw diameters (the outline's short side); 0: the
    # length alone sets the scale. A detector's outline is much less sure of a screw's width
    # than of its length (thread tips and heads fall outside it), so a scale set by the width
    # zooms a found screw's strip in and cuts its ends off.
    diameters: float = 2.0


def _axis(points: NDArray[np.float32]) -> tuple[tuple[float, float], float, float, float]:
    """Centre, angle (deg) of the long axis, long and short side of the rotated hull."""
    (cx, cy), (w, h), angle = cv2.minAreaRect(points.astype(np.float32).reshape(-1, 1, 2))
    if w < h:
        w, h, angle = h, w, angle + 90.0
    return (float(cx), float(cy)), float(angle), float(w), float(h)


DEFAULT_CROP = CropSpec()
"""The crop of type stages whose card does not say otherwise (the first bundled ones)."""

LENGTH_CROP = CropSpec(context=2.2, diameters=1.0)
"""The crop new type stages are trained with: scaled by the screw's length, which a detector's
outline gets right, not by its width, which it does not; 2.2 lengths keep a typical screw
(length about 3.6 diameters) at the scale ``DEFAULT_CROP`` gives its true outline."""


def crop_of(stage: TypeStage) -> CropSpec:
    """How ``stage``'s strips are cut, as its card says."""
    return CropSpec(stage.crop_length, stage.crop_width, stage.crop_context, stage.crop_diameters)


def strip_span(long_side: float, short_side: float, spec: CropSpec) -> float:
    """Image pixels the strip's length covers for a screw of these sides: one isotropic scale
    whose length holds ``context`` screw lengths and whose width at least ``diameters`` screw
    diameters (short, thick screws)."""
    return max(
        long_side * spec.context, spec.diameters * short_side * spec.length / spec.width, 8.0
    )


def aligned_crop(
    unit: NDArray[np.float32], points: NDArray[np.float32], spec: CropSpec = DEFAULT_CROP
) -> NDArray[np.float32]:
    """The ``(width, length)`` strip of ``unit`` along the long axis of ``points`` (x, y).

    The strip is normalised by its own 1st and 99.5th percentiles, so metal detail keeps its
    contrast whatever the image's global window.
    """
    (cx, cy), angle, long_side, short_side = _axis(points)
    span = strip_span(long_side, short_side, spec)
    scale = spec.length / span
    m = cv2.getRotationMatrix2D((cx, cy), angle, scale)
    m[0, 2] += spec.length / 2.0 - cx
    m[1, 2] += spec.width / 2.0 - cy
    strip = cv2.warpAffine(
        unit.astype(np.float32, copy=False),
        m,
        (spec.length, spec.width),
        flags=cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    lo, hi = (float(v) for v in np.percentile(strip, (1.0, 99.5)))
    if hi <= lo:
        hi = lo + 1e-3
    return np.clip((strip - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def build_type_classifier(
    num_types: int, *, variant: str = "lite0", pretrained: bool = False
) -> nn.Module:
    """EfficientNet-Lite with a ``num_types`` head (ImageNet body when ``pretrained``)."""
    import timm

    model: nn.Module = timm.create_model(
        LITE_VARIANTS[variant].timm_name, pretrained=False, num_classes=num_types
    )
    if pretrained:
        weights = imagenet_state_dict(variant)
        body = {k: v for k, v in weights.items() if not k.startswith("classifier.")}
        model.load_state_dict(body, strict=False)
    return model


def strips_to_tensor(strips: Sequence[NDArray[np.float32]], device: torch.device) -> Tensor:
    """``(N, 3, width, length)`` normalised network input from [0, 1] strips."""
    x = torch.from_numpy(np.stack(strips).astype(np.float32))[:, None].to(device)
    mean, std = LITE_MEAN[0], LITE_STD[0]
    return ((x - mean) / std).expand(-1, 3, -1, -1)


@torch.inference_mode()
def type_probabilities(
    model: nn.Module,
    strips: Sequence[NDArray[np.float32]],
    *,
    device: torch.device,
    batch_size: int = 32,
) -> NDArray[np.float32]:
    """Softmax over the types, ``(N, num_types)``; each strip is also read end to end
    (mirrored) and the two readings averaged, since a screw's head may point either way."""
    if not strips:
        return np.zeros((0, 0), np.float32)
    out = []
    for start in range(0, len(strips), batch_size):
        x = strips_to_tensor(strips[start : start + batch_size], device)
        p = model(x).softmax(1) + model(x.flip(-1)).softmax(1)
        out.append((p / 2).float().cpu().numpy())
    return np.concatenate(out)
