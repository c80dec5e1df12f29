"""Radiograph augmentations applied to the image and its instance masks alike (numpy + cv2).

Geometric steps (flip, rotation within ±15°, mild elastic) move masks with the image, boxes
are recomputed from the moved masks; photometric steps (brightness/contrast, gamma, noise)
touch the image only. Deterministic for a given ``numpy.random.Generator``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

Image = NDArray[np.float32]  # (rows, cols) in [0, 1]
Masks = NDArray[np.uint8]  # (n, rows, cols) in {0, 1}


@dataclass(frozen=True)
class AugmentConfig:
    """Strengths and probabilities; flips only where the anatomy allows (``hflip``/``vflip``)."""

    hflip: float = 0.5
    vflip: float = 0.0
    rotation_deg: float = 15.0
    rotation_p: float = 0.7
    elastic_alpha: float = 0.02  # displacement amplitude as a fraction of the image side
    elastic_sigma: float = 0.08  # smoothness of the displacement field, fraction of the side
    elastic_p: float = 0.3
    brightness: float = 0.1
    contrast: float = 0.2
    intensity_p: float = 0.8
    gamma: tuple[float, float] = (0.75, 1.33)
    gamma_p: float = 0.5
    noise_std: float = 0.02
    noise_p: float = 0.5


Step = Callable[[Image, Masks, np.random.Generator, AugmentConfig], tuple[Image, Masks]]


def _hflip(
    img: Image, masks: Masks, rng: np.random.Generator, cfg: AugmentConfig
) -> tuple[Image, Masks]:
    if rng.random() >= cfg.hflip:
        return img, masks
    return np.ascontiguousarray(img[:, ::-1]), np.ascontiguousarray(masks[:, :, ::-1])


def _vflip(
    img: Image, masks: Masks, rng: np.random.Generator, cfg: AugmentConfig
) -> tuple[Image, Masks]:
    if rng.random() >= cfg.vflip:
        return img, masks
    return np.ascontiguousarray(img[::-1]), np.ascontiguousarray(masks[:, ::-1])


def _warp_masks(masks: Masks, fn: Callable[[NDArray[np.uint8]], NDArray[Any]]) -> Masks:
    if masks.shape[0] == 0:
        return masks
    return np.stack([fn(m) for m in masks]).astype(np.uint8)


def _rotate(
    img: Image, masks: Masks, rng: np.random.Generator, cfg: AugmentConfig
) -> tuple[Image, Masks]:
    if rng.random() >= cfg.rotation_p or cfg.rotation_deg <= 0:
        return img, masks
    angle = float(rng.uniform(-cfg.rotation_deg, cfg.rotation_deg))
    h, w = img.shape
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle, 1.0)
    # Edges are replicated: a black wedge would be a strong artificial edge on a radiograph.
    out = cv2.warpAffine(
        img, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    moved = _warp_masks(
        masks,
        lambda m: cv2.warpAffine(m, matrix, (w, h), flags=cv2.INTER_NEAREST, borderValue=0),
    )
    return out.astype(np.float32), moved


def _elastic(
    img: Image, masks: Masks, rng: np.random.Generator, cfg: AugmentConfig
) -> tuple[Image, Masks]:
    if rng.random() >= cfg.elastic_p or cfg.elastic_alpha <= 0:
        return img, masks
    h, w = img.shape
    side = float(max(h, w))
    sigma = max(cfg.elastic_sigma * side, 1.0)
    fields = []
    for _ in range(2):
        noise = rng.uniform(-1.0, 1.0, (h, w)).astype(np.float32)
        d = np.asarray(cv2.GaussianBlur(noise, (0, 0), sigma), dtype=np.float32)
        peak = float(np.abs(d).max()) or 1.0
        fields.append(d * np.float32(cfg.elastic_alpha * side / peak))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    map_x, map_y = xx + fields[0], yy + fields[1]
    out = cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    moved = _warp_masks(
        masks, lambda m: cv2.remap(m, map_x, map_y, cv2.INTER_NEAREST, borderValue=0)
    )
    return out.astype(np.float32), moved


def _intensity(
    img: Image, masks: Masks, rng: np.random.Generator, cfg: AugmentConfig
) -> tuple[Image, Masks]:
    if rng.random() >= cfg.intensity_p:
        return img, masks
    c = 1.0 + float(rng.uniform(-cfg.contrast, cfg.contrast))
    b = float(rng.uniform(-cfg.brightness, cfg.brightness))
    mean = float(img.mean())
    return np.clip((img - mean) * c + mean + b, 0.0, 1.0).astype(np.float32), masks


def _gamma(
    img: Image, masks: Masks, rng: np.random.Generator, cfg: AugmentConfig
) -> tuple[Image, Masks]:
    if rng.random() >= cfg.gamma_p:
        return img, masks
    lo, hi = cfg.gamma
    g = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    return np.power(np.clip(img, 0.0, 1.0), g).astype(np.float32), masks


def _noise(
    img: Image, masks: Masks, rng: np.random.Generator, cfg: AugmentConfig
) -> tuple[Image, Masks]:
    if rng.random() >= cfg.noise_p or cfg.noise_std <= 0:
        return img, masks
    std = float(rng.uniform(0.0, cfg.noise_std))
    noisy = img + rng.normal(0.0, std, img.shape).astype(np.float32)
    return np.clip(noisy, 0.0, 1.0).astype(np.float32), masks


STEPS: dict[str, Step] = {
    "hflip": _hflip,
    "vflip": _vflip,
    "rotate": _rotate,
    "elastic": _elastic,
    "intensity": _intensity,
    "gamma": _gamma,
    "noise": _noise,
}
"""The steps by name, in the order ``augment`` applies them (geometry first)."""


def boxes_from_masks(masks: Masks) -> NDArray[np.float32]:
    """``(n, 4)`` x0, y0, x1, y1 boxes in pixel-edge coordinates (x1 = last column + 1)."""
    out = np.zeros((masks.shape[0], 4), dtype=np.float32)
    for i, m in enumerate(masks):
        rows = np.flatnonzero(m.any(axis=1))
        cols = np.flatnonzero(m.any(axis=0))
        if rows.size:
            out[i] = (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)
    return out


def augment(
    image: Image,
    masks: Masks,
    *,
    rng: np.random.Generator,
    config: AugmentConfig | None = None,
    steps: tuple[str, ...] = tuple(STEPS),
    min_pixels: int = 4,
) -> tuple[Image, Masks, NDArray[np.float32], NDArray[np.intp]]:
    """Augment one image and its instance masks.

    Parameters
    ----------
    image
        ``(rows, cols)`` float32 in [0, 1] (the network's unit image).
    masks
        ``(n, rows, cols)`` uint8 instance masks.
    rng
        Source of randomness: the same generator state gives the same result.
    config
        Strengths and probabilities (default ``AugmentConfig()``).
    steps
        Names from ``STEPS`` to apply, in that order.
    min_pixels
        Instances left with fewer mask pixels (moved out of the image) are dropped.

    Returns
    -------
    (image, masks, boxes, keep)
        The augmented image and masks of the kept instances, their boxes, and the indices of
        the kept instances in the input (to select their labels).
    """
    cfg = config or AugmentConfig()
    if image.ndim != 2 or masks.ndim != 3 or masks.shape[1:] != image.shape:
        raise ValueError(f"image {image.shape} and masks {masks.shape} do not fit together")
    img = np.asarray(image, dtype=np.float32)
    m = np.asarray(masks, dtype=np.uint8)
    for name in steps:
        img, m = STEPS[name](img, m, rng, cfg)
    counts = m.reshape(m.shape[0], -1).sum(axis=1) if m.shape[0] else np.zeros(0, np.int64)
    keep = np.flatnonzero(counts >= min_pixels)
    m = np.ascontiguousarray(m[keep])
    return img, m, boxes_from_masks(m), keep
