"""Active learning without torch: per-image uncertainty scorers over a model's predictions,
the reason an image is worth reviewing (``explain``), and the strategies that order the review
queue (rare categories up-weighted, diverse batches), from fresh scores (``order_queue``) or from
what a project stores (``order_stored``, ``order_records``). Scorers and strategies are
registries by name. The forward pass that produces ``ImagePredictions`` is in
``orthogui.ml.uncertainty``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from orthogui.core.categories import DEFAULT_CATEGORIES, SCREW_GROUP, CategorySet
from orthogui.core.project import ImageRecord
from orthogui.ml.card import ModelCard
from orthogui.ml.diversity import CANDIDATES, ScoredImage, compact, k_center_order, stored_score

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
    # The image's backbone (FPN) output, global-average-pooled: where it lies among the pool's
    # images, for diverse batches. Computed in the same forward pass as ``boxes``.
    features: FloatArray | None = None


@dataclass(frozen=True)
class ScoringContext:
    """What scorers know beyond the predictions: which labels are screw types, how many
    training instances each label has (rarity), the IoU that matches two detections."""

    screw_labels: frozenset[int] = frozenset()
    label_counts: Mapping[int, int] = field(default_factory=dict)
    match_iou: float = 0.5
    rare_cap: float = 4.0
    # Names for the reason text (``explain``): model label -> category, type column -> type.
    label_names: Mapping[int, str] = field(default_factory=dict, compare=False)
    type_names: tuple[str, ...] = field(default=(), compare=False)


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
    return ScoringContext(
        screw_labels=screw_labels,
        label_counts=dict(label_counts),
        label_names={c.label: c.project_category for c in card.categories},
        type_names=() if card.type_stage is None else tuple(card.type_stage.categories),
    )


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


def _entropies(probs: FloatArray) -> FloatArray:
    """Normalised entropy of each row (0 sure, 1 uniform)."""
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] < 2:
        return np.zeros(probs.shape[0] if probs.ndim == 2 else 0)
    q = np.clip(probs, 1e-12, 1.0)
    return np.asarray(np.clip(-(q * np.log(q)).sum(axis=1) / np.log(q.shape[1]), 0.0, 1.0))


def entropy_score(p: ImagePredictions, ctx: ScoringContext) -> float:
    """Highest normalised entropy of a detection's class distribution (0 sure, 1 uniform)."""
    h = _entropies(p.class_probs)
    return float(h.max()) if len(h) else 0.0


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
    h = np.zeros(0) if p.type_probs is None else _entropies(p.type_probs)
    return float(h.max()) if len(h) else 0.0


def doubt_mass(p: ImagePredictions, ctx: ScoringContext) -> float:
    """The image's summed doubt (sum aggregation over findings instead of the scorers' max):
    each detection's normalised class entropy weighted by its score, plus each typed
    finding's type entropy. Grows with the number of uncertain findings, so an image with six
    doubtful screws outranks one with a single doubtful screw."""
    detections = float((_entropies(p.class_probs) * np.asarray(p.scores)).sum())
    types = 0.0 if p.type_probs is None else float(_entropies(p.type_probs).sum())
    return detections + types


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
    return float(max(weights))


@dataclass(frozen=True)
class ImageScores:
    """Per-scorer uncertainties of one image, the labels it was predicted to show, why it is
    worth reviewing (``explain``) and its pooled features (``ImagePredictions.features``)."""

    scores: dict[str, float]
    labels: tuple[int, ...] = ()
    why: str = ""
    features: FloatArray | None = field(default=None, compare=False)
    # ``doubt_mass``: the summed doubt over all findings (for ``uncertainty_sum``).
    mass: float = 0.0


def score_image(
    p: ImagePredictions, ctx: ScoringContext, *, scorers: Sequence[str] = tuple(SCORERS)
) -> ImageScores:
    """Run the named scorers on one image's predictions; the reason and features ride along."""
    values = {name: SCORERS[name](p, ctx) for name in scorers}
    labels = tuple(int(c) for c in p.labels)
    why = explain(p, values, ctx)
    return ImageScores(values, labels, why, p.features, doubt_mass(p, ctx))


def combined(
    s: ImageScores, ctx: ScoringContext, weights: Mapping[str, float] | None = None
) -> float:
    """Weighted mean of the scorers' values times the image's rarity: the number stored as
    ``ImageRecord.uncertainty`` and sorted on."""
    w = weights or dict.fromkeys(s.scores, 1.0)
    total = sum(w.get(k, 0.0) for k in s.scores) or 1.0
    mean = sum(w.get(k, 0.0) * v for k, v in s.scores.items()) / total
    return mean * rarity(s.labels, ctx)


def summed(s: ImageScores, ctx: ScoringContext) -> float:
    """The summed doubt over the image's findings times its rarity: what ``uncertainty_sum``
    sorts on (stored as ``ScoredImage.mass``)."""
    return float(s.mass) * rarity(s.labels, ctx)


def scored_image(s: ImageScores, ctx: ScoringContext) -> ScoredImage:
    """What a project stores of an image's scores: ``combined``, the reason, compact features
    and the summed doubt (``summed``, 4 decimals)."""
    feats = None if s.features is None else compact(s.features)
    return ScoredImage(float(combined(s, ctx)), s.why, feats, round(summed(s, ctx), 4))


# -- why an image is worth reviewing ------------------------------------------------------------
QUIET = 0.2
"""Scorer values below this say nothing worth a reason."""

RARE_AT = 1.5
"""The rarity weight from which the reason names the rarest predicted category."""


def _name(ctx: ScoringContext, label: int) -> str:
    return ctx.label_names.get(int(label), f"class {int(label)}")


def _pair(row: FloatArray, names: Sequence[str]) -> str:
    """ "a vs b (pa/pb)" of the two likeliest entries of ``row``."""
    top = np.argsort(-row, kind="stable")[:2]
    a, b = (names[i] if i < len(names) else f"type {i + 1}" for i in top)
    return f"{a} vs {b} ({row[top[0]]:.2f}/{row[top[1]]:.2f})"


def _type_reason(p: ImagePredictions, ctx: ScoringContext) -> str:
    q = p.type_probs
    if q is None or len(q) == 0 or q.shape[1] < 2:
        return ""
    c = np.clip(q, 1e-12, 1.0)
    worst = int(np.argmax(-(c * np.log(c)).sum(axis=1)))
    names = ctx.type_names if len(ctx.type_names) == q.shape[1] else ()
    return f"type unsure: {_pair(q[worst], names)}"


def _margin_reason(p: ImagePredictions, ctx: ScoringContext) -> str:
    cols = sorted(c for c in ctx.screw_labels if c < p.class_probs.shape[1])
    if len(cols) < 2:
        return ""
    screws = np.flatnonzero(np.isin(p.labels, cols))
    if len(screws) == 0:
        return ""
    q = p.class_probs[screws][:, cols]
    q = q / np.maximum(q.sum(axis=1, keepdims=True), 1e-12)
    top = -np.sort(-q, axis=1)
    worst = int(np.argmax(1.0 - (top[:, 0] - top[:, 1])))
    return f"type unsure: {_pair(q[worst], [_name(ctx, c) for c in cols])}"


def _entropy_reason(p: ImagePredictions, ctx: ScoringContext) -> str:
    if len(p.class_probs) == 0:
        return ""
    probs = np.clip(p.class_probs, 1e-12, 1.0)
    worst = int(np.argmax(-(probs * np.log(probs)).sum(axis=1)))
    return f"low-confidence {_name(ctx, p.labels[worst])} ({p.scores[worst]:.2f})"


def _flip_reason(p: ImagePredictions, ctx: ScoringContext) -> str:
    return "mirror disagreement"


_REASONS: dict[str, Callable[[ImagePredictions, ScoringContext], str]] = {
    "type": _type_reason,
    "margin": _margin_reason,
    "flip": _flip_reason,
    "entropy": _entropy_reason,
}
"""Reason text per scorer; on equal values the earlier one is named (the most specific)."""


def explain(p: ImagePredictions, scores: Mapping[str, float], ctx: ScoringContext) -> str:
    """A short reason why the image is high in the queue, from its strongest scorer and the
    rarest category predicted, e.g. ``"type unsure: locking vs cortical (0.48/0.41)"``,
    ``"mirror disagreement (0.62); rare type: compression"``, ``"low-confidence fracture
    (0.31)"``; ``"no findings"`` or ``"confident"`` when nothing stands out.

    Torch-free; names come from ``ctx.label_names`` and ``ctx.type_names``.
    """
    parts: list[str] = []
    ranked = sorted(
        (name for name in _REASONS if scores.get(name, 0.0) >= QUIET),
        key=lambda n: -scores[n],  # stable: the dict's order breaks ties
    )
    for name in ranked:
        text = _REASONS[name](p, ctx)
        if text:
            parts.append(text if name != "flip" else f"{text} ({scores[name]:.2f})")
            break
    if rarity([int(c) for c in p.labels], ctx) >= RARE_AT:
        most = max(ctx.label_counts.values())
        rarest = min(
            (int(c) for c in p.labels),
            key=lambda c: (min(ctx.label_counts.get(c, 0), most), c),
        )
        parts.append(f"rare type: {_name(ctx, rarest)}")
    if parts:
        return "; ".join(parts)
    return "no findings" if len(p.labels) == 0 else "confident"


DIVERSE = "uncertainty_diverse"
"""The strategy name of uncertainty-weighted k-center among the most uncertain images."""

SUMMED = "uncertainty_sum"
"""The strategy name of the summed doubt over an image's findings (``doubt_mass``) times its
rarity."""

DEFAULT_STRATEGY = SUMMED
"""The review queue's order when sorted by uncertainty (a name of ``STRATEGIES`` the queue can
compute from stored scores, see ``QUEUE_STRATEGIES``). Switch it only on a measurement
(``bench/active_learning.py``): the summed doubt needed fewest labels for random order's
screw figure in the simulation of ``docs/benchmarks.md``."""

QUEUE_STRATEGIES = ("uncertainty", DIVERSE, SUMMED)
"""Strategies the review queue can run on what a project stores (value, reason, features)."""

Strategy = Callable[[Mapping[str, ImageScores], ScoringContext, int], list[str]]
Features = Sequence[float] | FloatArray | None


def _ranked(
    keys: Sequence[str],
    values: Sequence[float],
    features: Sequence[Features] | None,
    *,
    candidates: int = CANDIDATES,
) -> list[str]:
    """``keys`` by ``values``, highest first, ties in the given order; spread out over
    ``features`` when given (``k_center_order``). The one ordering every uncertainty strategy,
    fresh or stored, goes through."""
    return [keys[i] for i in k_center_order(values, features, candidates=candidates)]


def _by_combined(scores: Mapping[str, ImageScores], ctx: ScoringContext, seed: int) -> list[str]:
    keys = sorted(scores)  # ties: by id
    return _ranked(keys, [combined(scores[k], ctx) for k in keys], None)


def _by_mass(scores: Mapping[str, ImageScores], ctx: ScoringContext, seed: int) -> list[str]:
    keys = sorted(scores)  # ties: by id
    return _ranked(keys, [summed(scores[k], ctx) for k in keys], None)


def _random(scores: Mapping[str, ImageScores], ctx: ScoringContext, seed: int) -> list[str]:
    keys = sorted(scores)
    return [keys[i] for i in np.random.default_rng(seed).permutation(len(keys))]


def _single(name: str) -> Strategy:
    def order(scores: Mapping[str, ImageScores], ctx: ScoringContext, seed: int) -> list[str]:
        return sorted(scores, key=lambda k: (-scores[k].scores.get(name, 0.0), k))

    return order


def _diverse(scores: Mapping[str, ImageScores], ctx: ScoringContext, seed: int) -> list[str]:
    keys = sorted(scores)  # ties: by id, like the other strategies
    values = [combined(scores[k], ctx) for k in keys]
    return _ranked(keys, values, [scores[k].features for k in keys])


STRATEGIES: dict[str, Strategy] = {
    "uncertainty": _by_combined,
    DIVERSE: _diverse,
    SUMMED: _by_mass,
    "random": _random,
    **{f"{name}-only": _single(name) for name in SCORERS},
}
"""Queue orders by name: ``uncertainty`` (combined and rarity-weighted),
``uncertainty_diverse`` (uncertainty-weighted k-center on pooled backbone features among the
``CANDIDATES`` most uncertain, ``orthogui.ml.diversity``), ``uncertainty_sum`` (the summed
doubt over all findings, ``doubt_mass``, times rarity), ``random``, and one per scorer
(``entropy-only`` ...)."""


def order_queue(
    scores: Mapping[str, ImageScores],
    *,
    strategy: str = DEFAULT_STRATEGY,
    context: ScoringContext | None = None,
    seed: int = 0,
) -> list[str]:
    """Image ids, most worth reviewing first, by the named strategy (default: the review
    queue's, ``DEFAULT_STRATEGY``).

    Raises
    ------
    KeyError
        Unknown strategy (the message lists the known ones).
    """
    if strategy not in STRATEGIES:
        raise KeyError(f"unknown strategy {strategy!r}; known: {sorted(STRATEGIES)}")
    return STRATEGIES[strategy](scores, context or ScoringContext(), seed)


def sort_value(score: ScoredImage, strategy: str = DEFAULT_STRATEGY) -> float:
    """The number ``strategy`` sorts a stored score on, as the queue shows it: the summed
    doubt for ``uncertainty_sum`` (where stored), otherwise the stored value."""
    if strategy == SUMMED and score.mass is not None:
        return float(score.mass)
    return float(score.value)


def order_stored(
    scored: Mapping[str, ScoredImage],
    *,
    strategy: str = DEFAULT_STRATEGY,
    candidates: int = CANDIDATES,
) -> list[str]:
    """Keys of ``scored``, most worth reviewing first, by a strategy of ``QUEUE_STRATEGIES``
    computed from stored values (and features); ties in the mapping's order.

    Raises
    ------
    KeyError
        ``strategy`` cannot run on stored scores (the message lists those that can).
    """
    if strategy not in QUEUE_STRATEGIES:
        raise KeyError(
            f"strategy {strategy!r} needs more than stored scores; use {QUEUE_STRATEGIES}"
        )
    keys = list(scored)
    if strategy == SUMMED:
        # Scores stored before the mass was: after those with one, by their value.
        have = [k for k in keys if scored[k].mass is not None]
        rest = [k for k in keys if scored[k].mass is None]
        return _ranked(have, [sort_value(scored[k], strategy) for k in have], None) + _ranked(
            rest, [sort_value(scored[k], strategy) for k in rest], None
        )
    values = [float(scored[k].value) for k in keys]
    feats = [scored[k].features for k in keys] if strategy == DIVERSE else None
    return _ranked(keys, values, feats, candidates=candidates)


def order_records(records: Iterable[ImageRecord], *, strategy: str = DEFAULT_STRATEGY) -> list[str]:
    """The review queue sorted by uncertainty: ids of the scored ``records`` by ``strategy``
    from their stored scores (``order_stored``), then the unscored ones; ties, and the
    unscored, in the given order.

    Raises
    ------
    KeyError
        ``strategy`` cannot run on stored scores.
    """
    recs = list(records)
    scored = {r.id: s for r in recs if (s := stored_score(r)) is not None}
    return order_stored(scored, strategy=strategy) + [r.id for r in recs if r.id not in scored]
