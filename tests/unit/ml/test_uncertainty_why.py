"""Why an image is first: a short reason from its strongest scorer and its rarest category; the
queue's default strategy on a small fixed pool; the diverse and the summed-doubt strategies
through ``order_queue`` and from stored scores."""

from __future__ import annotations

import numpy as np

from orthogui.core.project import ImageRecord
from orthogui.ml.diversity import MASS, ScoredImage, stored_score
from orthogui.ml.scoring import (
    DEFAULT_STRATEGY,
    DIVERSE,
    STRATEGIES,
    SUMMED,
    ImagePredictions,
    ImageScores,
    ScoringContext,
    combined,
    doubt_mass,
    explain,
    order_queue,
    order_records,
    score_image,
    scored_image,
)

NAMES = {1: "screw", 2: "fracture", 3: "vertebral_compression_fracture"}
TYPES = ("cortical_screw", "cancellous_screw", "locking_screw")
CTX = ScoringContext(label_names=NAMES, type_names=TYPES)
BOX = np.array([[10.0, 10.0, 40.0, 60.0]])


def preds(
    probs: list[float],
    *,
    type_probs: list[list[float]] | None = None,
    flipped: bool = False,
    features: list[float] | None = None,
) -> ImagePredictions:
    p = np.array([probs])
    label = np.array([int(np.argmax(p[0, 1:]) + 1)])
    return ImagePredictions(
        boxes=BOX,
        scores=p[0, label],
        labels=label,
        class_probs=p,
        flipped_boxes=np.zeros((0, 4)) if flipped else None,
        flipped_scores=np.zeros(0) if flipped else None,
        flipped_labels=np.zeros(0, dtype=np.int64) if flipped else None,
        type_probs=None if type_probs is None else np.array(type_probs),
        features=None if features is None else np.array(features),
    )


SURE_SCREW = [0.01, 0.97, 0.01, 0.01]
SHAKY_FRACTURE = [0.30, 0.10, 0.35, 0.25]


def test_type_doubt_names_the_two_likeliest_types() -> None:
    p = preds(SURE_SCREW, type_probs=[[0.9, 0.05, 0.05], [0.41, 0.11, 0.48]])
    s = score_image(p, CTX, scorers=("entropy", "type"))
    assert s.why == "type unsure: locking_screw vs cortical_screw (0.48/0.41)"
    unnamed = explain(p, s.scores, ScoringContext(label_names=NAMES))
    assert unnamed == "type unsure: type 3 vs type 1 (0.48/0.41)"


def test_margin_doubt_names_the_screw_labels() -> None:
    ctx = ScoringContext(screw_labels=frozenset({1, 2}), label_names={1: "locking", 2: "cortical"})
    p = preds([0.02, 0.48, 0.41, 0.09])
    assert score_image(p, ctx, scorers=("margin",)).why == (
        "type unsure: locking vs cortical (0.54/0.46)"
    )


def test_mirror_low_confidence_rare_and_quiet() -> None:
    flip = preds(SURE_SCREW, flipped=True)  # the mirror image finds nothing
    assert score_image(flip, CTX).why == "mirror disagreement (0.97)"
    assert score_image(preds(SHAKY_FRACTURE), CTX).why == "low-confidence fracture (0.35)"
    rare = ScoringContext(label_names=NAMES, label_counts={1: 1000, 2: 900, 3: 10})
    vcf = preds([0.01, 0.01, 0.01, 0.97])
    assert score_image(vcf, rare).why == "rare type: vertebral_compression_fracture"
    both = preds([0.30, 0.10, 0.25, 0.35])
    assert score_image(both, rare).why == (
        "low-confidence vertebral_compression_fracture (0.35); "
        "rare type: vertebral_compression_fracture"
    )
    assert score_image(preds(SURE_SCREW), CTX).why == "confident"  # entropy 0.12: quiet
    empty = ImagePredictions(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64), np.zeros((0, 4)))
    assert score_image(empty, CTX).why == "no findings"


POOL = {
    "a-sure-screw": preds(SURE_SCREW, features=[10.0, 0.0]),
    "b-shaky-fracture": preds(SHAKY_FRACTURE, features=[10.0, 0.1]),
    "c-shaky-twin": preds(SHAKY_FRACTURE, features=[10.0, 0.1]),
    "d-type-doubt": preds(SURE_SCREW, type_probs=[[0.5, 0.45, 0.05]], features=[0.0, 10.0]),
    "e-mirror": preds(SURE_SCREW, flipped=True, features=[0.0, 0.0]),
}


def test_default_strategy_orders_a_fixed_pool() -> None:
    scores = {k: score_image(p, CTX) for k, p in POOL.items()}
    assert DEFAULT_STRATEGY == SUMMED
    order = order_queue(scores, strategy=DEFAULT_STRATEGY, context=CTX)
    # summed doubt: type doubt 0.90 (its screw 0.12 + the type 0.78), the two shaky fractures
    # 0.33 each (ties by id), the sure screws 0.12 (the mirror's disagreement is no finding)
    assert order == ["d-type-doubt", "b-shaky-fracture", "c-shaky-twin", "a-sure-screw", "e-mirror"]
    assert order_queue(scores, context=CTX) == order  # order_queue's default is the queue's


def test_most_doubtful_finding_orders_a_fixed_pool() -> None:
    scores = {k: score_image(p, CTX) for k, p in POOL.items()}
    order = order_queue(scores, strategy="uncertainty", context=CTX)
    # combined: mirror 0.27, the two shaky fractures 0.235 (ties by id), type doubt 0.225
    assert order == ["e-mirror", "b-shaky-fracture", "c-shaky-twin", "d-type-doubt", "a-sure-screw"]


def test_diverse_strategy_skips_the_twin() -> None:
    scores = {k: score_image(p, CTX) for k, p in POOL.items()}
    assert DIVERSE in STRATEGIES
    order = order_queue(scores, strategy=DIVERSE, context=CTX)
    # The twin of b (same features) waits: d lies elsewhere, a is far from the first picks.
    assert order == ["e-mirror", "b-shaky-fracture", "d-type-doubt", "a-sure-screw", "c-shaky-twin"]
    assert order_queue(scores, strategy=DIVERSE, context=CTX) == order


def test_scored_image_is_what_a_project_stores() -> None:
    s = score_image(POOL["d-type-doubt"], CTX)
    stored = scored_image(s, CTX)
    assert isinstance(stored, ScoredImage) and stored.why == s.why
    assert stored.features == (0.0, 10.0)
    assert stored.mass == round(doubt_mass(POOL["d-type-doubt"], CTX), 4) > 0
    assert scored_image(ImageScores({"entropy": 0.5}), CTX) == ScoredImage(0.5, "", None, 0.0)


def entropy(row: list[float]) -> float:
    q = np.array(row)
    return float(-(q * np.log(q)).sum() / np.log(len(q)))


def screws(n: int, type_row: list[float]) -> ImagePredictions:
    """``n`` sure screws, each with the same type probabilities."""
    p = np.array([SURE_SCREW] * n)
    return ImagePredictions(
        boxes=np.repeat(BOX, n, axis=0),
        scores=p[:, 1],
        labels=np.ones(n, dtype=np.int64),
        class_probs=p,
        type_probs=np.array([type_row] * n),
    )


def test_doubt_mass_sums_over_the_findings() -> None:
    one = screws(1, [0.5, 0.45, 0.05])
    six = screws(6, [0.8, 0.15, 0.05])
    # Each detection's class entropy weighted by its score, plus each type entropy.
    per = 0.97 * entropy(SURE_SCREW)
    assert np.isclose(doubt_mass(one, CTX), per + entropy([0.5, 0.45, 0.05]))
    assert np.isclose(doubt_mass(six, CTX), 6 * (per + entropy([0.8, 0.15, 0.05])))
    empty = ImagePredictions(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64), np.zeros((0, 4)))
    assert doubt_mass(empty, CTX) == 0.0
    # The max-based order puts the single, more doubtful screw first; the summed order the
    # film with six doubtful screws.
    scores = {"one": score_image(one, CTX), "six": score_image(six, CTX)}
    assert combined(scores["one"], CTX) > combined(scores["six"], CTX)
    assert order_queue(scores, strategy="uncertainty", context=CTX) == ["one", "six"]
    assert order_queue(scores, strategy=SUMMED, context=CTX) == ["six", "one"]
    # Rarity weighs the sum as it weighs the mean.
    rare = ScoringContext(label_names=NAMES, label_counts={1: 10, 2: 1000})
    assert order_queue(scores, strategy=SUMMED, context=rare) == ["six", "one"]
    assert np.isclose(
        scored_image(scores["six"], rare).mass or 0, 4 * doubt_mass(six, CTX), atol=1e-3
    )


def test_summed_order_from_stored_scores() -> None:
    recs = [
        ImageRecord("old", "a.png", uncertainty=0.9),  # scored before the mass was stored
        ImageRecord("one", "b.png", uncertainty=0.6, attributes={MASS: 0.8}),
        ImageRecord("six", "c.png", uncertainty=0.3, attributes={MASS: 3.1}),
        ImageRecord("bad", "d.png", uncertainty=0.2, attributes={MASS: "3"}),
        ImageRecord("none", "e.png"),
    ]
    assert stored_score(recs[1]) == ScoredImage(0.6, "", None, 0.8)
    assert stored_score(recs[3]) == ScoredImage(0.2, "", None, None)  # not a number: ignored
    assert order_records(recs, strategy=SUMMED) == ["six", "one", "old", "bad", "none"]
    assert order_records(recs, strategy="uncertainty") == ["old", "one", "six", "bad", "none"]
