"""Phantom screws drawn into a real-looking film: on the bone, exact masks, distractors never
labelled, the same seed giving the same bytes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from orthogui.synth.composite import bone_mask, composite_screws
from orthogui.synth.screws import SCREW_NAMES


def _film(seed: int = 0) -> np.ndarray:
    """A forearm across the film: black air, a soft-tissue band, two bright shafts with cortices."""
    rng = np.random.default_rng(seed)
    img = np.full((480, 360), 12.0)
    img[:, 80:290] = 85.0  # soft tissue
    for x0, x1 in ((120, 170), (200, 255)):
        img[:, x0:x1] = 150.0
        img[:, x0 : x0 + 8] = 200.0  # cortices
        img[:, x1 - 8 : x1] = 200.0
    img = cv2.GaussianBlur(img, (0, 0), 1.5) + rng.normal(0, 3, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def test_bone_mask_finds_the_shafts_not_the_soft_tissue_or_air() -> None:
    bone = bone_mask(_film())
    assert bone[240, 145] and bone[240, 228]  # inside both shafts
    assert not bone[240, 95] and not bone[240, 280]  # soft tissue
    assert not bone[240, 30] and not bone[2, 145]  # air; the film's border


def test_screws_lie_across_the_bone_with_exact_separate_masks() -> None:
    film = _film()
    bone = bone_mask(film)
    found = 0
    for seed in range(12):
        out, screws = composite_screws(film, np.random.default_rng(seed))
        assert out.shape == film.shape and out.dtype == np.uint8
        union = np.zeros(film.shape, bool)
        for s in screws:
            assert s.type_name in SCREW_NAMES
            assert not (union & s.mask).any()  # no two screws share a pixel
            union |= s.mask
            # the screw crosses bone, and the film is brighter wherever its mask says metal
            assert np.count_nonzero(s.mask & bone) >= 0.3 * np.count_nonzero(s.mask)
            lift = out[s.mask].astype(int) - film[s.mask].astype(int)
            assert np.median(lift) > 25
        found += len(screws)
        # far from any metal the film is the source (noise and JPEG only)
        lifted = np.abs(out.astype(int) - film.astype(int)) > 30
        near = cv2.dilate(lifted.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
        assert np.abs(out[~near].astype(int) - film[~near].astype(int)).mean() < 4
    assert found >= 12


def test_plates_nails_and_wires_are_drawn_but_never_labelled() -> None:
    """Across seeds some metal is bright where no screw mask is: the distractors."""
    film = _film(1)
    unlabelled = 0
    for seed in range(16):
        out, screws = composite_screws(film, np.random.default_rng(seed))
        union = np.zeros(film.shape, bool)
        for s in screws:
            union |= s.mask
        grown = cv2.dilate(union.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        metal = (out.astype(int) - film.astype(int)) > 40
        unlabelled += int(np.count_nonzero(metal & ~grown) > 200)
    assert unlabelled >= 8


def test_same_seed_same_bytes_and_no_bone_no_screws() -> None:
    film = _film(2)
    a, sa = composite_screws(film, np.random.default_rng(7))
    b, sb = composite_screws(film, np.random.default_rng(7))
    assert a.tobytes() == b.tobytes() and len(sa) == len(sb) > 0
    assert all((x.mask == y.mask).all() for x, y in zip(sa, sb, strict=True))
    air = np.full((200, 200), 10, np.uint8)
    out, none = composite_screws(air, np.random.default_rng(0))
    assert none == [] and (out == air).all()


def test_only_8_bit_grey_films() -> None:
    with pytest.raises(ValueError, match="8-bit grey"):
        composite_screws(np.zeros((50, 50), np.uint16), np.random.default_rng(0))
    with pytest.raises(ValueError, match="8-bit grey"):
        composite_screws(np.zeros((50, 50, 3), np.uint8), np.random.default_rng(0))
