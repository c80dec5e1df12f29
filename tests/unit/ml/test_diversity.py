"""Diverse batches (core-set): uncertainty-weighted k-center spreads a batch over a small fixed
pool of hand-made feature vectors, deterministically, ties in input order; stored scores (value,
reason, compact features) order the review queue without torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from orthogui.core.project import ImageRecord
from orthogui.ml.diversity import (
    COMPACT_DIMS,
    FEATURES,
    WHY,
    ScoredImage,
    compact,
    k_center_order,
    stored_score,
)
from orthogui.ml.scoring import (
    DEFAULT_STRATEGY,
    DIVERSE,
    QUEUE_STRATEGIES,
    order_records,
    order_stored,
)

# Three "plates": a, b, c; the a-views are the most uncertain and nearly identical.
VALUES = [0.90, 0.89, 0.88, 0.87, 0.60, 0.59, 0.50, 0.10]
FEATS = [
    [10.0, 0.0, 0.0],  # a0
    [10.0, 0.1, 0.0],  # a1
    [10.1, 0.0, 0.0],  # a2
    [10.0, 0.0, 0.1],  # a3
    [0.0, 10.0, 0.0],  # b0
    [0.0, 10.1, 0.0],  # b1
    [0.0, 0.0, 10.0],  # c0
    [0.0, 0.0, 10.1],  # c1 (nearly certain)
]


def test_k_center_spreads_the_batch_over_the_plates() -> None:
    order = k_center_order(VALUES, FEATS)
    assert order[0] == 0  # the most uncertain image comes first
    assert set(order[:3]) == {0, 4, 6}  # then one view of each other plate
    assert sorted(order) == list(range(8))
    assert k_center_order(VALUES, None) == list(range(8))  # no features: uncertainty order


def test_uncertainty_weighs_the_distance() -> None:
    # c1 is as far as c0 but nearly certain: c0 is picked for plate c.
    order = k_center_order(VALUES, FEATS)
    assert order.index(6) < order.index(7)
    # Only the candidates are spread out; the rest follow by uncertainty.
    order = k_center_order(VALUES, FEATS, candidates=4)
    assert order[4:] == [4, 5, 6, 7]


def test_deterministic_and_ties_in_input_order() -> None:
    same = [0.5] * 4
    twins = [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]
    first = k_center_order(same, twins)
    assert first == [0, 2, 1, 3]  # equal values and gains: the earlier item
    assert all(k_center_order(same, twins) == first for _ in range(3))
    assert k_center_order([0.0, 0.0, 0.0], [[0, 0], [0, 0], [0, 0]]) == [0, 1, 2]


def test_items_without_features_and_bad_input() -> None:
    feats = [FEATS[0], FEATS[1], None, FEATS[4]]
    order = k_center_order([0.9, 0.8, 0.7, 0.6], feats)
    assert order[:2] == [0, 2] and sorted(order) == [0, 1, 2, 3]  # "far": uncertainty decides
    with pytest.raises(ValueError, match="2 feature vectors for 3 values"):
        k_center_order([1.0, 0.5, 0.2], [FEATS[0], FEATS[1]])


def test_order_stored_and_records() -> None:
    scored = {
        f"im{i}": ScoredImage(v, "why", compact(f)) for i, (v, f) in enumerate(zip(VALUES, FEATS))
    }
    assert order_stored(scored) == [f"im{i}" for i in range(8)]  # DEFAULT_STRATEGY
    assert DEFAULT_STRATEGY in QUEUE_STRATEGIES
    diverse = order_stored(scored, strategy=DIVERSE)
    assert set(diverse[:3]) == {"im0", "im4", "im6"}
    with pytest.raises(KeyError, match="needs more than stored scores"):
        order_stored(scored, strategy="type-only")
    rec = ImageRecord(
        "a", "a.png", uncertainty=0.4, attributes={WHY: "mirror disagreement", FEATURES: [1] * 32}
    )
    s = stored_score(rec)
    assert s == ScoredImage(0.4, "mirror disagreement", (1.0,) * COMPACT_DIMS)
    assert float(s) == 0.4
    assert stored_score(rec.evolve(uncertainty=None)) is None
    broken = rec.evolve(attributes={FEATURES: [1, "x"], WHY: 3})
    assert stored_score(broken) == ScoredImage(0.4, "", None)


def test_order_records_puts_the_unscored_last() -> None:
    recs = [
        ImageRecord("u2", "u2.png"),
        ImageRecord("lo", "lo.png", uncertainty=0.2),
        ImageRecord("u1", "u1.png"),
        ImageRecord("hi", "hi.png", uncertainty=0.7),
        ImageRecord("tie", "tie.png", uncertainty=0.2),
    ]
    # Scored by value (ties in the given order), then the unscored in the given order.
    assert order_records(recs) == ["hi", "lo", "tie", "u2", "u1"]
    assert order_records(recs, strategy=DIVERSE) == ["hi", "lo", "tie", "u2", "u1"]
    with pytest.raises(KeyError, match="needs more than stored scores"):
        order_records(recs, strategy="random")


def test_compact_is_fixed_and_keeps_neighbours() -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(size=256)
    near, far = base + 0.01 * rng.normal(size=256), rng.normal(size=256)
    c = [np.array(compact(v)) for v in (base, near, far)]
    assert len(c[0]) == COMPACT_DIMS and compact(base) == compact(base)
    assert np.linalg.norm(c[0] - c[1]) < 0.2 * np.linalg.norm(c[0] - c[2])
    assert compact([1.23456, 2.0]) == (1.2346, 2.0)


def test_diversity_and_scoring_import_no_torch() -> None:
    code = (
        "import sys, orthogui.ml.diversity, orthogui.ml.scoring; "
        "assert 'torch' not in sys.modules and 'torchvision' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
