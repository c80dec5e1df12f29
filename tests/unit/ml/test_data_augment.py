"""Snapshot dataset targets match the COCO ground truth; augmentations move masks and boxes
with the image and are deterministic; the class-balanced sampler favours rare categories."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from orthogui.core.categories import DEFAULT_CATEGORIES
from orthogui.ml.augment import AugmentConfig, augment, boxes_from_masks
from orthogui.ml.card import Preprocessing
from orthogui.ml.data import (
    ClassBalancedSampler,
    CocoDetectionDataset,
    DatasetError,
    load_split,
    repeat_factors,
)

LABELS = {n: i + 1 for i, n in enumerate(DEFAULT_CATEGORIES.names())}


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from orthogui.synth.dataset import write_dataset

    root = tmp_path_factory.mktemp("synth")
    write_dataset(root, n=5, seed=2, scene="limb", size=128)
    return root


def test_splits_are_disjoint_and_cover_the_set(synth: Path) -> None:
    train = load_split(synth, "train", seed=1, val_fraction=0.2)
    val = load_split(synth, "val", seed=1, val_fraction=0.2)
    ids_t = {im["id"] for im in train.coco["images"]}
    ids_v = {im["id"] for im in val.coco["images"]}
    assert not ids_t & ids_v and len(ids_t | ids_v) == 5 and len(ids_v) == 1
    with pytest.raises(DatasetError, match="test"):
        load_split(synth, "test")


def test_targets_match_ground_truth(synth: Path) -> None:
    split = load_split(synth, "train", seed=1)
    ds = CocoDetectionDataset(split, labels=LABELS, preprocessing=Preprocessing())
    image, target = ds[0]
    assert image.shape == (3, 128, 128) and float(image.min()) >= 0 and float(image.max()) <= 1
    entry = ds.images[0]
    anns = [a for a in split.coco["annotations"] if a["image_id"] == entry["id"]]
    assert target["labels"].tolist() == [a["category_id"] for a in anns]  # ids = label order
    assert target["masks"].shape == (len(anns), 128, 128)
    for box, a, m in zip(target["boxes"].numpy(), anns, target["masks"].numpy()):
        x, y, w, h = a["bbox"]
        np.testing.assert_allclose(box, [x, y, x + w, y + h], atol=1.0)
        assert abs(int(m.sum()) - a["area"]) <= 0.05 * a["area"] + 4


def test_an_image_without_findings_gives_empty_targets(synth: Path) -> None:
    split = load_split(synth, "train", seed=1)
    first = split.coco["images"][0]["id"]
    coco = {
        **split.coco,
        "annotations": [a for a in split.coco["annotations"] if a["image_id"] != first],
    }
    empty = split.__class__(split.name, coco, split.image_root, split.source)
    ds = CocoDetectionDataset(empty, labels=LABELS, preprocessing=Preprocessing())
    index = [im["id"] for im in ds.images].index(first)
    _image, target = ds[index]  # evaluation path (no augmentation): used to fail to reshape
    assert target["masks"].shape == (0, 128, 128) and target["boxes"].shape == (0, 4)


def test_missing_image_names_the_file(synth: Path, tmp_path: Path) -> None:
    split = load_split(synth, "train")
    moved = split.__class__(split.name, split.coco, tmp_path, split.source)
    ds = CocoDetectionDataset(moved, labels=LABELS, preprocessing=Preprocessing())
    with pytest.raises(DatasetError, match="synth_2_"):
        ds[0]


def _square_case() -> tuple[np.ndarray, np.ndarray]:
    img = np.zeros((96, 128), np.float32)
    img[30:50, 60:90] = 1.0
    masks = np.zeros((2, 96, 128), np.uint8)
    masks[0, 30:50, 60:90] = 1
    masks[1, 0:3, 0:3] = 1  # a corner speck that rotation pushes out
    return img, masks


def test_geometry_moves_masks_with_the_image() -> None:
    img, masks = _square_case()
    cfg = AugmentConfig(hflip=1.0, rotation_p=1.0, elastic_p=1.0)
    out, m, boxes, keep = augment(
        img, masks, rng=np.random.default_rng(4), config=cfg, steps=("hflip", "rotate", "elastic")
    )
    assert 0 in keep
    k = int(np.flatnonzero(keep == 0)[0])
    bright = out > 0.5
    overlap = (bright & (m[k] > 0)).sum() / max((bright | (m[k] > 0)).sum(), 1)
    assert overlap > 0.8  # the mask still covers the bright square after warping
    np.testing.assert_array_equal(boxes, boxes_from_masks(m))
    cx = (boxes[k, 0] + boxes[k, 2]) / 2
    assert cx < 64  # flipped to the left half


def test_augment_is_deterministic_and_photometric_only_touches_the_image() -> None:
    img, masks = _square_case()
    a = augment(img, masks, rng=np.random.default_rng(7))
    b = augment(img, masks, rng=np.random.default_rng(7))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    cfg = AugmentConfig(intensity_p=1.0, gamma_p=1.0, noise_p=1.0)
    out, m, _, keep = augment(
        img, masks, rng=np.random.default_rng(1), config=cfg, steps=("intensity", "gamma", "noise")
    )
    np.testing.assert_array_equal(m, masks[keep])
    assert not np.array_equal(out, img) and out.min() >= 0 and out.max() <= 1


def test_rotation_stays_within_limit() -> None:
    img = np.zeros((101, 101), np.float32)
    masks = np.zeros((1, 101, 101), np.uint8)
    masks[0, 50, 10:91] = 1  # a horizontal bar through the centre
    cfg = AugmentConfig(rotation_deg=15.0, rotation_p=1.0)
    for seed in range(20):
        _, m, _, _ = augment(
            img, masks, rng=np.random.default_rng(seed), config=cfg, steps=("rotate",)
        )
        ys, xs = np.nonzero(m[0])
        slope = np.polyfit(xs, ys, 1)[0]
        assert abs(np.degrees(np.arctan(slope))) <= 15.5


def test_sampler_favours_rare_categories_and_shards_ranks() -> None:
    labels = [[1]] * 18 + [[2]] + [[]]
    weights = repeat_factors(labels)
    assert weights[18] > weights[0] == 1.0 and weights[19] == 1.0
    draws = list(ClassBalancedSampler(weights, num_samples=4000, seed=0))
    rare_share = draws.count(18) / len(draws)
    assert rare_share > 2.0 / len(labels)  # above its uniform share of 1/20
    s = ClassBalancedSampler(weights, num_samples=20, seed=3)
    assert list(s) == list(ClassBalancedSampler(weights, num_samples=20, seed=3))
    r0 = list(ClassBalancedSampler(weights, num_samples=20, seed=3, rank=0, num_replicas=2))
    r1 = list(ClassBalancedSampler(weights, num_samples=20, seed=3, rank=1, num_replicas=2))
    merged = [x for pair in zip(r0, r1) for x in pair]
    assert merged == list(s)
    s.set_epoch(0, skip=5)
    assert list(s) == list(ClassBalancedSampler(weights, num_samples=20, seed=3))[5:]
