"""COCO snapshot -> torch ``Dataset`` of (image, target) for Mask R-CNN, and a class-balanced
sampler. Images go through the card's preprocessing, exactly as at inference.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from pycocotools import mask as mask_utils
from torch import Tensor
from torch.utils.data import Dataset, Sampler

from orthogui.core.errors import PathError
from orthogui.io.importers import CocoError, load_coco
from orthogui.io.readers import read_radiograph
from orthogui.ml.augment import AugmentConfig, augment, boxes_from_masks
from orthogui.ml.card import Preprocessing
from orthogui.ml.preprocess import to_unit_image

Target = dict[str, Tensor]


class DatasetError(PathError, ValueError):
    """A snapshot that cannot be trained on; ``str()`` names the file and the reason."""


@dataclass(frozen=True)
class SplitData:
    """One split of a snapshot: its COCO dict and the folder image file names are relative to."""

    name: str
    coco: dict[str, Any]
    image_root: Path
    source: Path


def _read_coco(path: Path) -> dict[str, Any]:
    try:
        return load_coco(path)
    except CocoError as exc:
        raise DatasetError(exc.path, exc.reason) from exc


def _subset(coco: dict[str, Any], image_ids: set[int]) -> dict[str, Any]:
    return {
        **coco,
        "images": [im for im in coco["images"] if im["id"] in image_ids],
        "annotations": [a for a in coco["annotations"] if a["image_id"] in image_ids],
    }


def load_split(
    snapshot: str | Path, split: str, *, seed: int = 0, val_fraction: float = 0.2
) -> SplitData:
    """The ``train`` or ``val`` split of a snapshot.

    A snapshot folder (``annotations/<split>.json``, file names relative to the folder) is
    used as written. A single COCO file, or a folder with ``annotations.json`` (e.g. a synthetic
    data set), is split here: the images are shuffled by ``seed`` and the last
    ``ceil(val_fraction * n)`` of them are ``val``.

    Raises
    ------
    DatasetError
        No such split, or a file that is not COCO.
    """
    root = Path(snapshot)
    split_file = root / "annotations" / f"{split}.json"
    if root.is_dir() and split_file.is_file():
        return SplitData(split, _read_coco(split_file), root, split_file)
    single = root if root.is_file() else root / "annotations.json"
    if not single.is_file():
        raise DatasetError(root, f"no annotations/{split}.json and no annotations.json")
    if split not in ("train", "val"):
        raise DatasetError(single, f"a single COCO file has only train and val, not {split!r}")
    coco = _read_coco(single)
    ids = sorted(int(im["id"]) for im in coco["images"])
    order = np.random.default_rng(seed).permutation(len(ids))
    n_val = min(max(1, math.ceil(val_fraction * len(ids))), max(len(ids) - 1, 1))
    val = {ids[i] for i in order[len(ids) - n_val :]}
    chosen = val if split == "val" else set(ids) - val
    return SplitData(split, _subset(coco, chosen), single.parent, single)


def decode_segmentation(seg: Any, height: int, width: int) -> NDArray[np.uint8]:
    """A COCO segmentation (polygons, RLE or uncompressed RLE) as a ``(height, width)`` mask."""
    if isinstance(seg, list):
        if not seg:
            return np.zeros((height, width), np.uint8)
        rle = mask_utils.merge(mask_utils.frPyObjects(seg, height, width))
    elif isinstance(seg, dict) and isinstance(seg.get("counts"), list):
        rle = mask_utils.frPyObjects(seg, height, width)
    else:
        rle = seg
    return np.asarray(mask_utils.decode(rle), dtype=np.uint8)


class CocoDetectionDataset(Dataset[tuple[Tensor, Target]]):
    """Images of one split with their instance targets, as torchvision's Mask R-CNN wants them.

    Parameters
    ----------
    split
        From ``load_split``.
    labels
        Category name -> model label (1..K); annotations of other categories are ignored.
    preprocessing
        The card's preprocessing (window); resizing and normalisation are the model's own.
    augment_config
        ``None``: no augmentation (evaluation).
    seed
        Augmentations are drawn from ``(seed, epoch, index)``: reproducible, different per epoch.
    cache
        Keep the preprocessed unit images in memory (worth it for small snapshots).

    Items are ``(image, target)``: a ``(3, H, W)`` float tensor in [0, 1] and a dict with
    ``boxes`` (n, 4) float32 xyxy, ``labels`` (n,) int64, ``masks`` (n, H, W) uint8 and
    ``image_id`` (the COCO id).
    """

    def __init__(
        self,
        split: SplitData,
        *,
        labels: Mapping[str, int],
        preprocessing: Preprocessing,
        augment_config: AugmentConfig | None = None,
        seed: int = 0,
        cache: bool = True,
    ) -> None:
        self.split = split
        self.preprocessing = preprocessing
        self.augment_config = augment_config
        self.seed = seed
        self.epoch = 0
        self.cache = cache
        self._units: dict[int, NDArray[np.float32]] = {}
        names = {int(c["id"]): str(c["name"]) for c in split.coco["categories"]}
        self.label_of_category_id = {cid: labels[n] for cid, n in names.items() if n in labels}
        self.images: list[dict[str, Any]] = sorted(split.coco["images"], key=lambda im: im["id"])
        by_image: dict[int, list[dict[str, Any]]] = {int(im["id"]): [] for im in self.images}
        for a in split.coco["annotations"]:
            if a.get("iscrowd", 0) or int(a["category_id"]) not in self.label_of_category_id:
                continue
            if int(a["image_id"]) in by_image:
                by_image[int(a["image_id"])].append(a)
        self.annotations = by_image

    def __len__(self) -> int:
        return len(self.images)

    def set_epoch(self, epoch: int) -> None:
        """Draw the next epoch's augmentations."""
        self.epoch = int(epoch)

    def image_labels(self, index: int) -> list[int]:
        """Model labels of the instances on image ``index`` (for the sampler)."""
        entry = self.images[index]
        return [
            self.label_of_category_id[int(a["category_id"])]
            for a in self.annotations[int(entry["id"])]
        ]

    def unit_image(self, index: int) -> NDArray[np.float32]:
        """The preprocessed ``(rows, cols)`` image in [0, 1], as the predictor makes it."""
        entry = self.images[index]
        image_id = int(entry["id"])
        if image_id in self._units:
            return self._units[image_id]
        path = self.split.image_root / str(entry["file_name"])
        if not path.is_file():
            raise DatasetError(path, f"image file of COCO image {image_id} not found")
        try:
            unit = to_unit_image(read_radiograph(path), self.preprocessing)
        except (OSError, ValueError) as exc:
            raise DatasetError(path, f"cannot read the image ({exc})") from exc
        if self.cache:
            self._units[image_id] = unit
        return unit

    def __getitem__(self, index: int) -> tuple[Tensor, Target]:
        entry = self.images[index]
        image_id = int(entry["id"])
        unit = self.unit_image(index)
        h, w = unit.shape
        anns = self.annotations[image_id]
        if anns:
            masks = np.stack([decode_segmentation(a["segmentation"], h, w) for a in anns])
        else:
            masks = np.zeros((0, h, w), np.uint8)
        labels = np.array(
            [self.label_of_category_id[int(a["category_id"])] for a in anns], dtype=np.int64
        )
        if self.augment_config is not None:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            unit, masks, boxes, keep = augment(unit, masks, rng=rng, config=self.augment_config)
            labels = labels[keep]
        else:
            keep = np.flatnonzero(masks.reshape(masks.shape[0], h * w).any(axis=1))
            masks, labels = masks[keep], labels[keep]
            boxes = boxes_from_masks(masks)
        image = torch.from_numpy(np.ascontiguousarray(unit))[None].expand(3, -1, -1).contiguous()
        target: Target = {
            "boxes": torch.from_numpy(boxes).reshape(-1, 4),
            "labels": torch.from_numpy(labels),
            "masks": torch.from_numpy(np.ascontiguousarray(masks)),
            "image_id": torch.tensor(image_id, dtype=torch.int64),
        }
        return image, target


def repeat_factors(image_labels: Sequence[Sequence[int]], *, threshold: float = 0.3) -> list[float]:
    """LVIS repeat-factor per image: ``max(1, sqrt(threshold / f_c))`` over its categories.

    ``f_c`` is the fraction of images showing category ``c``; images without findings get 1.
    """
    n = max(len(image_labels), 1)
    freq = Counter(c for labels in image_labels for c in set(labels))
    factor = {c: max(1.0, math.sqrt(threshold / (k / n))) for c, k in freq.items()}
    return [max((factor[c] for c in labels), default=1.0) for labels in image_labels]


class ClassBalancedSampler(Sampler[int]):
    """Draws images with probability proportional to their repeat factor (rare classes more).

    Deterministic per ``(seed, epoch)``; under DDP each rank takes every ``num_replicas``-th
    draw of the same sequence, so ranks see disjoint samples. ``skip`` drops the first draws
    (to resume mid-epoch without re-reading those images).
    """

    def __init__(
        self,
        weights: Sequence[float],
        *,
        num_samples: int | None = None,
        seed: int = 0,
        rank: int = 0,
        num_replicas: int = 1,
        balanced: bool = True,
    ) -> None:
        if not weights:
            raise ValueError("the sampler needs at least one image")
        self.weights = torch.tensor(
            list(weights) if balanced else [1.0] * len(weights), dtype=torch.double
        )
        self.balanced = balanced
        self.total = int(num_samples or len(weights))
        self.total += (-self.total) % num_replicas  # every rank gets the same number of draws
        self.seed, self.rank, self.num_replicas = seed, rank, num_replicas
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int, *, skip: int = 0) -> None:
        self.epoch, self.skip = int(epoch), int(skip)

    def _draws(self) -> Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        if self.balanced:
            return torch.multinomial(self.weights, self.total, replacement=True, generator=g)
        n = len(self.weights)
        perm = torch.cat([torch.randperm(n, generator=g) for _ in range(-(-self.total // n))])
        return perm[: self.total]

    def __iter__(self) -> Iterator[int]:
        mine = self._draws()[self.rank :: self.num_replicas].tolist()
        return iter(mine[self.skip :])

    def __len__(self) -> int:
        return self.total // self.num_replicas - self.skip


def collate(batch: Sequence[tuple[Tensor, Target]]) -> tuple[list[Tensor], list[Target]]:
    """Lists of images and targets (Mask R-CNN takes images of different sizes)."""
    return [b[0] for b in batch], [b[1] for b in batch]
