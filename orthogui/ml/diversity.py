"""Diverse batches for active learning (core-set): greedy k-center on per-image feature vectors,
weighted by uncertainty, and an image's score as a project stores it. numpy only; the strategies
that order the review queue with it are in ``orthogui.ml.scoring``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from orthogui.core.project import ImageRecord

FloatArray = NDArray[np.float64]

CANDIDATES = 100
"""How many of the most uncertain images the diverse order spreads out (the rest follow by
uncertainty): a batch is chosen among them, so it never reaches for confident images."""

WHY = "uncertainty_why"
"""``ImageRecord.attributes`` key: the short reason an image is high in the queue."""

FEATURES = "uncertainty_features"
"""``ImageRecord.attributes`` key: the image's compact feature vector (``compact``)."""

MASS = "uncertainty_mass"
"""``ImageRecord.attributes`` key: the summed doubt over the image's findings times its rarity
(``orthogui.ml.scoring.doubt_mass``), what the ``uncertainty_sum`` order sorts on."""

COMPACT_DIMS = 32


@dataclass(frozen=True)
class ScoredImage:
    """An image's score as stored in a project: the number sorted on, the reason it is high
    in the queue, a compact feature vector for diverse batches and the summed doubt over its
    findings (``None``: not computed)."""

    value: float
    why: str = ""
    features: tuple[float, ...] | None = None
    mass: float | None = None

    def __float__(self) -> float:
        return float(self.value)


def compact(features: Sequence[float] | FloatArray, dims: int = COMPACT_DIMS) -> tuple[float, ...]:
    """A short, storable copy of a feature vector: a fixed random projection (seed 0, so
    every image of every run lands in the same space) to ``dims`` numbers, 4 decimals.

    Distances are kept up to a common factor (Johnson-Lindenstrauss), which is all k-center
    needs. Vectors of ``dims`` numbers or fewer are only rounded.
    """
    x = np.asarray(features, dtype=np.float64).ravel()
    if x.size > dims:
        proj = np.random.default_rng(0).standard_normal((x.size, dims)) / np.sqrt(dims)
        x = x @ proj
    return tuple(round(float(v), 4) for v in x)


def _distances(features: FloatArray) -> FloatArray:
    """Pairwise Euclidean distances after centring and unit length, scaled to [0, 1]."""
    x = features - features.mean(axis=0, keepdims=True)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = np.divide(x, norms, out=np.zeros_like(x), where=norms > 1e-12)
    sq = (x * x).sum(axis=1)
    d = np.sqrt(np.clip(sq[:, None] + sq[None, :] - 2.0 * (x @ x.T), 0.0, None))
    top = float(d.max()) if d.size else 0.0
    return d / top if top > 1e-12 else np.zeros_like(d)


def k_center_order(
    values: Sequence[float] | FloatArray,
    features: Sequence[Sequence[float] | FloatArray | None] | None,
    *,
    candidates: int = CANDIDATES,
) -> list[int]:
    """Indices of the items, most worth reviewing first: greedy uncertainty-weighted k-center
    among the ``candidates`` most uncertain, then the rest by uncertainty.

    The first pick is the most uncertain item; each next one maximises ``u * d``, where ``u``
    is its value over the largest value and ``d`` its distance (centred, unit-length
    features, scaled to [0, 1]) to the nearest item already picked. Near-duplicates of a
    picked item thus wait until the candidates' spread is used up.

    Parameters
    ----------
    values
        The items' uncertainties (higher = more worth reviewing).
    features
        One vector per item (same length), or ``None`` for an item without one (it counts as
        far from every other: its uncertainty alone decides); ``None`` for all: uncertainty
        order.
    candidates
        How many of the most uncertain items are spread out.

    Notes
    -----
    Deterministic: ties (equal values, equal gains) go to the item that comes first in the
    input, so callers pass items in their tie-break order (e.g. sorted by id).
    """
    v = np.asarray(values, dtype=np.float64)
    order = [int(i) for i in np.argsort(-v, kind="stable")]
    if features is None or len(order) < 3:
        return order
    if len(features) != len(v):
        raise ValueError(f"{len(features)} feature vectors for {len(v)} values")
    cand = order[: max(1, min(len(order), candidates))]
    have = [i for i in cand if features[i] is not None]
    if len(have) < 2:
        return order
    vecs = np.stack([np.asarray(features[i], dtype=np.float64).ravel() for i in have])
    known = np.ones((len(cand), len(cand)))  # an item without features is far from all
    pos = {i: n for n, i in enumerate(cand)}
    rows = [pos[i] for i in have]
    known[np.ix_(rows, rows)] = _distances(vecs)
    np.fill_diagonal(known, 0.0)
    u = v[cand]
    top = float(u.max())
    weight = u / top if top > 0 else np.ones_like(u)
    picked = [0]
    nearest = known[0].copy()
    free = np.ones(len(cand), dtype=bool)
    free[0] = False
    while free.any():
        gain = np.where(free, weight * nearest, -1.0)
        best = int(np.argmax(gain))  # the first of equal gains: the input's order
        picked.append(best)
        free[best] = False
        nearest = np.minimum(nearest, known[best])
    return [cand[n] for n in picked] + order[len(cand) :]


def stored_score(record: ImageRecord) -> ScoredImage | None:
    """A record's stored score (``uncertainty``, ``WHY``, ``FEATURES``, ``MASS``); ``None`` when
    it has none. Features that are not ``COMPACT_DIMS`` numbers, and a mass that is not a
    finite number of at least 0, are ignored."""
    if record.uncertainty is None:
        return None
    why = record.attributes.get(WHY)
    feats = _vector(record.attributes.get(FEATURES))
    raw = record.attributes.get(MASS)
    mass = (
        float(raw)
        if isinstance(raw, int | float) and not isinstance(raw, bool) and 0 <= raw < float("inf")
        else None
    )
    return ScoredImage(float(record.uncertainty), why if isinstance(why, str) else "", feats, mass)


def _vector(raw: object) -> tuple[float, ...] | None:
    if not isinstance(raw, list) or len(raw) != COMPACT_DIMS:
        return None
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in raw):
        return None
    return tuple(float(v) for v in raw)
