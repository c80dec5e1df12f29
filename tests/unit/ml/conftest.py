"""Fixtures for model tests: one thread, small real Mask R-CNNs with random weights."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from orthogui.core.categories import DEFAULT_CATEGORIES
from orthogui.core.radiograph import Radiograph
from orthogui.ml.card import CardCategory, ModelCard, Postprocessing, Preprocessing

LITE = "maskrcnn_mobilenet_v3_large_fpn_lite"
SMALL = 256


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> None:
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)


def card_for(
    *,
    architecture: str = LITE,
    num_classes: int = 8,
    size: int = SMALL,
    score_threshold: float = 0.5,
    source: Path | None = None,
) -> ModelCard:
    """A card over the default categories (first ``num_classes - 1`` of them)."""
    cats = tuple(
        CardCategory(c.id, c.name, c.name, c.shape)
        for c in list(DEFAULT_CATEGORIES)[: num_classes - 1]
    )
    return ModelCard(
        name="test-model",
        version="0.1",
        architecture=architecture,
        num_classes=num_classes,
        categories=cats,
        weights_file="none.safetensors",
        weights_sha256="0" * 64,
        preprocessing=Preprocessing(min_size=size, max_size=size),
        postprocessing=Postprocessing(score_threshold=score_threshold, min_area=4.0),
        source=source,
    )


def synthetic_radiograph(seed: int, shape: tuple[int, int] = (200, 240)) -> Radiograph:
    """Noise with three bright screw-like bars, 12-bit."""
    rng = np.random.default_rng(seed)
    img = rng.normal(900, 60, shape)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    for _ in range(3):
        cx, cy = rng.uniform(30, [shape[1] - 30, shape[0] - 30])
        img[(np.abs(xx - cx) < 6) & (np.abs(yy - cy) < 25)] += 2500
    return Radiograph(
        path=f"synthetic-{seed}.png",
        format="png",
        stored=np.clip(img, 0, 4095).astype(np.uint16),
        bits_stored=12,
    )


def wake_up(model: Any, card: ModelCard, labels: list[int], *, bias: float = 3.0) -> None:
    """Make a random-weight network detect ``labels`` with varied scores and masks.

    BatchNorm statistics are re-estimated on synthetic images (else activations collapse and
    every box gets the same score), then the class logits are biased towards ``labels``.
    """
    import torch

    from orthogui.ml.architectures import recalibrate_batch_norm
    from orthogui.ml.preprocess import to_unit_image

    units = [to_unit_image(synthetic_radiograph(s), card.preprocessing) for s in (100, 101)]
    recalibrate_batch_norm(model, [torch.from_numpy(u)[None].expand(3, -1, -1) for u in units])
    with torch.no_grad():
        cls = model.roi_heads.box_predictor.cls_score
        cls.weight.mul_(3.0)
        cls.bias.zero_()
        for label in labels:
            cls.bias[label] = bias
        model.roi_heads.mask_predictor.mask_fcn_logits.bias.fill_(0.5)


@pytest.fixture
def make_card() -> Callable[..., ModelCard]:
    return card_for
