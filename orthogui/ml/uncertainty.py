"""Active learning: per-image uncertainty scorers over a model's predictions, and strategies that
order the review queue from them (rare categories up-weighted). Scorers and strategies are
registries by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from numpy.typing import NDArray
from torchvision.models.detection import MaskRCNN

from orthogui.core.categories import DEFAULT_CATEGORIES, SCREW_GROUP, CategorySet
from orthogui.ml.card import ModelCard

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class ImagePredictions:
    """One image's detections with their full class distributions, and (optionally) the
    detections of its horizontally flipped copy mapped back to the original frame.

    ``class_probs`` is ``(n, num_classes)`` from the box head's softmax, column 0 background.
    """

    boxes: FloatArray
    scores: FloatArray
    labels: NDArray[np.int64]
    class_probs: FloatArray
    flipped_boxes: FloatArray | None = None
    flipped_scores: FloatArray | None = None
    flipped_labels: NDArray[np.int64] | None = None
    # ``(m, k)`` type probabilities of the typed findings (a card's type stage), if any.
    type_probs: FloatArray | None = None


@dataclass(frozen=True)
class ScoringContext:
    """What scorers know beyond the predictions: which labels are screw types, how many
    training instances each label has (rarity), the IoU that matches two detections."""

    screw_labels: frozenset[int] = frozenset()
    label_counts: Mapping[int, int] = field(default_factory=dict)
    match_iou: float = 0.5
    rare_cap: float = 4.0


Scorer = Callable[[ImagePredictions, ScoringContext], float]

TRAIN_INSTANCES = "train_instances"
"""Key of ``ModelCard.training_data`` holding instance counts per category (name or label)."""


def context_from_card(
    card: ModelCard,
    *,
    categories: CategorySet = DEFAULT_CATEGORIES,
    label_counts: Mapping[int, int] | None = None,
) -> ScoringContext:
    """The scoring context of a model: its screw-type labels and how rare each label is.

    Parameters
    ----------
    card
        The model's card. A label is a screw type when its project category belongs to the
        screw group of ``categories``. Without ``label_counts``, counts come from
        ``card.training_data["train_instances"]`` (keys: project category names or labels)
        when the card has them; otherwise no category is treated as rare.
    categories
        The category set that says which categories are screws.
    label_counts
        Training instances per model label, overriding the card's.

    Raises
    ------
    ValueError
        ``train_instances`` is not a mapping of category (or label) to a count (the message
        names the card).
    """
    screws = {c.name for c in categories.group(SCREW_GROUP)}
    screw_labels = frozenset(c.label for c in card.categories if c.project_category in screws)
    if label_counts is None:
        label_counts = _card_counts(card)
    return ScoringContext(screw_labels=screw_labels, label_counts=dict(label_counts))


def _card_counts(card: ModelCard) -> dict[int, int]:
    raw = card.training_data.get(TRAIN_INSTANCES)
    if raw is None:
        return {}
    where = f"{card.source or card.name}: training_data.{TRAIN_INSTANCES}"
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where} must map categories to counts, got {type(raw).__name__}")
    by_name = {c.project_category: c.label for c in card.categories}
    by_name.update({c.name: c.label for c in card.categories})
    labels = {c.label for c in card.categories}
    counts: dict[int, int] = {}
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{where}: the count of {key!r} must be a number >= 0")
        label = by_name.get(str(key))
        if label is None and str(key).isdigit() and int(key) in labels:
            label = int(key)
        if label is not None:  # categories the model does not predict are irrelevant
            counts[label] = counts.get(label, 0) + int(value)
    return counts


def box_iou(a: FloatArray, b: FloatArray) -> FloatArray:
    """``(len(a), len(b))`` IoU of xyxy boxes."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return np.asarray(inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9))


def entropy_score(p: ImagePredictions, ctx: ScoringContext) -> float:
    """Highest normalised entropy of a detection's class distribution (0 sure, 1 uniform)."""
    if len(p.class_probs) == 0:
        return 0.0
    probs = np.clip(p.class_probs, 1e-12, 1.0)
    h = -(probs * np.log(probs)).sum(axis=1) / np.log(probs.shape[1])
    return float(h.max())


def margin_score(p: ImagePredictions, ctx: ScoringContext) -> float:
    """1 minus the smallest margin between the two likeliest screw types of a screw detection."""
    cols = sorted(c for c in ctx.screw_labels if c < p.class_probs.shape[1])
    if len(cols) < 2 or len(p.labels) == 0:
        return 0.0
    screws = np.isin(p.labels, cols)
    if not screws.any():
        return 0.0
    q = p.class_probs[screws][:, cols]
    q = q / np.maximum(q.sum(axis=1, keepdims=True), 1e-12)
    top = -np.sort(-q, axis=1)
    return float((1.0 - (top[:, 0] - top[:, 1])).max())


def flip_score(p: ImagePredictions, ctx: ScoringContext) -> float:
    """Disagreement between the image and its flipped copy (IoU-matched detections).

    Matched pairs contribute ``1 - IoU`` (1 when their labels differ), unmatched detections
    their score; the sum is divided by the number of pairs and unmatched detections.
    """
    if p.flipped_boxes is None or p.flipped_scores is None or p.flipped_labels is None:
        return 0.0
    n, m = len(p.boxes), len(p.flipped_boxes)
    if n == 0 and m == 0:
        return 0.0
    iou = box_iou(p.boxes, p.flipped_boxes)
    used_a: set[int] = set()
    used_b: set[int] = set()
    total = 0.0
    pairs = 0
    for flat in np.argsort(-iou, axis=None):
        i, j = divmod(int(flat), m)
        if iou[i, j] < ctx.match_iou:
            break
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        pairs += 1
        total += 1.0 if p.labels[i] != p.flipped_labels[j] else 1.0 - float(iou[i, j])
    lonely = [float(p.scores[i]) for i in range(n) if i not in used_a]
    lonely += [float(p.flipped_scores[j]) for j in range(m) if j not in used_b]
    return (total + sum(lonely)) / max(pairs + len(lonely), 1)


def type_score(p: ImagePredictions, ctx: ScoringContext) -> float:
    """Type ambiguity: the highest normalised entropy of a typed finding's type probabilities
    (0 sure of the type, 1 all types equally likely); 0 without a type stage."""
    if p.type_probs is None or len(p.type_probs) == 0 or p.type_probs.shape[1] < 2:
        return 0.0
    q = np.clip(p.type_probs, 1e-12, 1.0)
    h = -(q * np.log(q)).sum(axis=1) / np.log(q.shape[1])
    return float(np.clip(h.max(), 0.0, 1.0))


SCORERS: dict[str, Scorer] = {}


def register_scorer(name: str, scorer: Scorer) -> Scorer:
    """Add a scorer; a second one of the same name is refused (``ValueError``)."""
    if name in SCORERS:
        raise ValueError(f"scorer {name!r} is already registered")
    SCORERS[name] = scorer
    return scorer


register_scorer("entropy", entropy_score)
register_scorer("margin", margin_score)
register_scorer("flip", flip_score)
register_scorer("type", type_score)


def rarity(labels: Sequence[int], ctx: ScoringContext) -> float:
    """Up-weighting of an image by its rarest predicted category: ``sqrt(max_count / count)``,
    between 1 and ``ctx.rare_cap``; 1 without counts or detections."""
    if not ctx.label_counts or len(labels) == 0:
        return 1.0
    most = max(ctx.label_counts.values())
    weights = [
        min(ctx.rare_cap, max(1.0, (most / max(ctx.label_counts.get(int(c), 0), 1)) ** 0.5))
        for c in labels
    ]
    return max(weights)


@dataclass(frozen=True)
class ImageScores:
    """Per-scorer uncertainties of one image and the labels it was predicted to show."""

    scores: dict[str, float]
    labels: tuple[int, ...] = ()


def score_image(
    p: ImagePredictions, ctx: ScoringContext, *, scorers: Sequence[str] = tuple(SCORERS)
) -> ImageScores:
    """Run the named scorers on one image's predictions."""
    return ImageScores(
        {name: SCORERS[name](p, ctx) for name in scorers}, tuple(int(c) for c in p.labels)
    )


def combined(
    s: ImageScores, ctx: ScoringContext, weights: Mapping[str, float] | None = None
) -> float:
    """Weighted mean of the scorers' values times the image's rarity: the number stored as
    ``ImageRecord.uncertainty`` and sorted on."""
    w = weights or dict.fromkeys(s.scores, 1.0)
    total = sum(w.get(k, 0.0) for k in s.scores) or 1.0
    mean = sum(w.get(k, 0.0) * v for k, v in s.scores.items()) / total
    return mean * rarity(s.labels, ctx)


Strategy = Callable[[Mapping[str, ImageScores], ScoringContext, int], list[str]]


def _by_combined(scores: Mapping[str, ImageScores], ctx: ScoringContext, seed: int) -> list[str]:
    return sorted(scores, key=lambda k: (-combined(scores[k], ctx), k))


def _random(scores: Mapping[str, ImageScores], ctx: ScoringContext, seed: int) -> list[str]:
    keys = sorted(scores)
    return [keys[i] for i in np.random.default_rng(seed).permutation(len(keys))]


def _single(name: str) -> Strategy:
    def order(scores: Mapping[str, ImageScores], ctx: ScoringContext, seed: int) -> list[str]:
        return sorted(scores, key=lambda k: (-scores[k].scores.get(name, 0.0), k))

    return order


STRATEGIES: dict[str, Strategy] = {
    "uncertainty": _by_combined,
    "random": _random,
    **{f"{name}-only": _single(name) for name in SCORERS},
}
"""Queue orders by name: ``uncertainty`` (combined and rarity-weighted), ``random``, and one
per scorer (``entropy-only`` ...)."""


def order_queue(
    scores: Mapping[str, ImageScores],
    *,
    strategy: str = "uncertainty",
    context: ScoringContext | None = None,
    seed: int = 0,
) -> list[str]:
    """Image ids, most worth reviewing first, by the named strategy.

    Raises
    ------
    KeyError
        Unknown strategy (the message lists the known ones).
    """
    if strategy not in STRATEGIES:
        raise KeyError(f"unknown strategy {strategy!r}; known: {sorted(STRATEGIES)}")
    return STRATEGIES[strategy](scores, context or ScoringContext(), seed)


@torch.inference_mode()
def _detect_with_probs(
    model: MaskRCNN, image: torch.Tensor
) -> tuple[FloatArray, FloatArray, NDArray[np.int64], FloatArray]:
    """torchvision's box post-processing for one image, keeping for every detection the
    softmax over all classes of the proposal it came from."""
    from torchvision.ops import boxes as box_ops

    original = (int(image.shape[-2]), int(image.shape[-1]))
    images, _ = model.transform([image])
    features = model.backbone(images.tensors)
    proposals, _ = model.rpn(images, features)
    heads = model.roi_heads
    pooled = heads.box_roi_pool(features, proposals, images.image_sizes)
    logits, regression = heads.box_predictor(heads.box_head(pooled))
    probs = torch.softmax(logits.float(), dim=-1)  # (n_proposals, num_classes)
    n, c = probs.shape
    boxes = heads.box_coder.decode(regression, proposals).reshape(n, c, 4)
    boxes = box_ops.clip_boxes_to_image(boxes, images.image_sizes[0])
    labels = torch.arange(c, device=probs.device).view(1, -1).expand(n, c)
    origin = torch.arange(n, device=probs.device).view(-1, 1).expand(n, c)
    boxes, scores = boxes[:, 1:].reshape(-1, 4), probs[:, 1:].reshape(-1)
    labels, origin = labels[:, 1:].reshape(-1), origin[:, 1:].reshape(-1)
    keep = torch.where(scores > heads.score_thresh)[0]
    keep = keep[box_ops.remove_small_boxes(boxes[keep], min_size=1e-2)]
    keep = keep[box_ops.batched_nms(boxes[keep], scores[keep], labels[keep], heads.nms_thresh)]
    keep = keep[: heads.detections_per_img]
    dets = [{"boxes": boxes[keep]}]
    final = model.transform.postprocess(dets, images.image_sizes, [original])[0]["boxes"]
    return (
        final.float().cpu().numpy().astype(np.float64),
        scores[keep].cpu().numpy().astype(np.float64),
        labels[keep].cpu().numpy().astype(np.int64),
        probs[origin[keep]].cpu().numpy().astype(np.float64),
    )


def predict_for_scoring(
    model: MaskRCNN,
    unit: NDArray[np.float32],
    *,
    device: torch.device | str = "cpu",
    flip: bool = True,
    score_threshold: float = 0.05,
) -> ImagePredictions:
    """Detections of a ``(rows, cols)`` unit image (see ``to_unit_image``) with class
    distributions, plus those of its horizontal flip when ``flip``.

    ``score_threshold`` replaces the card's threshold while scoring: uncertain detections are
    the ones a high threshold would hide.
    """
    model.eval()
    x = torch.from_numpy(np.ascontiguousarray(unit, dtype=np.float32))[None].expand(3, -1, -1)
    x = x.to(device)
    saved = model.roi_heads.score_thresh
    model.roi_heads.score_thresh = score_threshold
    try:
        boxes, scores, labels, probs = _detect_with_probs(model, x)
        fb = fs = fl = None
        if flip:
            fb, fs, fl, _ = _detect_with_probs(model, x.flip(-1))
            w = float(unit.shape[1])
            fb = np.stack([w - fb[:, 2], fb[:, 1], w - fb[:, 0], fb[:, 3]], axis=1)
    finally:
        model.roi_heads.score_thresh = saved
    return ImagePredictions(boxes, scores, labels, probs, fb, fs, fl)
