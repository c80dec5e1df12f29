"""Uncertainty scorers rank ambiguous predictions above confident ones; strategies order a
queue and up-weight rare categories; class distributions come from a real box head."""

from __future__ import annotations

import numpy as np
import pytest

from orthogui.ml.scoring import (
    SCORERS,
    STRATEGIES,
    ImagePredictions,
    ScoringContext,
    order_queue,
    rarity,
    register_scorer,
    score_image,
)
from orthogui.ml.uncertainty import predict_for_scoring

C = 8  # background + 7 categories; labels 1-5 are screw types
CTX = ScoringContext(screw_labels=frozenset(range(1, 6)))
BOX = np.array([[10.0, 10.0, 40.0, 60.0]])


def _preds(
    probs: list[float],
    *,
    flipped: np.ndarray | None = None,
    flipped_label: int = 1,
    flipped_score: float = 0.9,
) -> ImagePredictions:
    p = np.array([probs], dtype=np.float64)
    label = np.array([int(np.argmax(p[0, 1:]) + 1)])
    score = p[0, label]
    return ImagePredictions(
        boxes=BOX,
        scores=score,
        labels=label,
        class_probs=p,
        flipped_boxes=flipped,
        flipped_scores=None if flipped is None else np.array([flipped_score]),
        flipped_labels=None if flipped is None else np.array([flipped_label]),
    )


SURE = [0.01, 0.95, 0.01, 0.01, 0.005, 0.005, 0.005, 0.005]
TORN = [0.02, 0.45, 0.44, 0.02, 0.02, 0.02, 0.02, 0.01]  # cortical vs cancellous


def test_entropy_and_margin_prefer_the_ambiguous_detection() -> None:
    for name in ("entropy", "margin"):
        assert SCORERS[name](_preds(TORN), CTX) > SCORERS[name](_preds(SURE), CTX) + 0.3
    assert SCORERS["margin"](_preds(TORN), CTX) == pytest.approx(
        1 - 0.01 / 0.95
    )  # renormalised over screws


def test_margin_ignores_non_screw_detections() -> None:
    fracture = [0.02, 0.01, 0.01, 0.01, 0.01, 0.01, 0.5, 0.43]
    assert SCORERS["margin"](_preds(fracture), CTX) == 0.0


def test_flip_disagreement() -> None:
    same = _preds(SURE, flipped=BOX.copy())
    shifted = _preds(SURE, flipped=BOX + np.array([12.0, 0.0, 12.0, 0.0]))
    relabelled = _preds(SURE, flipped=BOX.copy(), flipped_label=3)
    vanished = _preds(SURE, flipped=np.zeros((0, 4)))
    s = [SCORERS["flip"](p, CTX) for p in (same, shifted, relabelled, vanished)]
    assert s[0] == 0.0
    assert 0.0 < s[1] <= 1.0 and s[2] == 1.0 and s[3] == pytest.approx(0.95)
    assert SCORERS["flip"](_preds(SURE), CTX) == 0.0  # no flipped pass: no evidence


def test_strategy_orders_a_queue_and_up_weights_rare_categories() -> None:
    scores = {
        "sure": score_image(_preds(SURE, flipped=BOX.copy()), CTX),
        "torn": score_image(_preds(TORN, flipped=BOX + np.array([5.0, 0, 5.0, 0])), CTX),
        "empty": score_image(
            ImagePredictions(
                np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64), np.zeros((0, C))
            ),
            CTX,
        ),
    }
    assert order_queue(scores, context=CTX) == ["torn", "sure", "empty"]
    # A rare category (label 1 seen 4 times vs 400 for the others) lifts the sure image up.
    rare = ScoringContext(screw_labels=CTX.screw_labels, label_counts={1: 4, 2: 400, 3: 400})
    assert rarity([1], rare) == pytest.approx(4.0)  # capped at rare_cap
    assert rarity([2], rare) == 1.0
    mid = [0.01, 0.03, 0.85, 0.05, 0.02, 0.02, 0.01, 0.01]  # 0.17 vs 0.06 unweighted
    pair = {
        "common": score_image(_preds(mid), rare),
        "rare-but-sure": score_image(_preds(SURE), rare),
    }
    assert order_queue(pair, context=CTX)[0] == "common"
    assert order_queue(pair, context=rare)[0] == "rare-but-sure"
    assert sorted(order_queue(scores, strategy="random", seed=1)) == sorted(scores)
    assert order_queue(scores, strategy="random", seed=1) == order_queue(
        scores, strategy="random", seed=1
    )
    assert {"uncertainty", "random", "entropy-only"} <= set(STRATEGIES)
    with pytest.raises(KeyError, match="known"):
        order_queue(scores, strategy="oracle")
    with pytest.raises(ValueError, match="already registered"):
        register_scorer("entropy", SCORERS["entropy"])


def test_real_model_gives_class_distributions_and_flip_pass() -> None:
    import torch

    from orthogui.ml.architectures import BuildOptions, build_model
    from orthogui.ml.preprocess import to_unit_image
    from tests.unit.ml.conftest import card_for, synthetic_radiograph, wake_up

    card = card_for(size=160)
    torch.manual_seed(0)
    model = build_model(card.architecture, BuildOptions(num_classes=C, min_size=160, max_size=160))
    wake_up(model, card, [1, 2])
    unit = to_unit_image(synthetic_radiograph(5, (160, 160)), card.preprocessing)
    before = model.roi_heads.score_thresh
    p = predict_for_scoring(model, unit, score_threshold=0.01)
    assert len(p.labels) > 0 and p.class_probs.shape == (len(p.labels), C)
    np.testing.assert_allclose(p.class_probs.sum(axis=1), 1.0, atol=1e-5)
    # Each detection's score is its own entry of the class distribution it came with.
    np.testing.assert_allclose(
        p.class_probs[np.arange(len(p.labels)), p.labels], p.scores, rtol=1e-6
    )
    assert p.flipped_boxes is not None and p.flipped_boxes.shape[1] == 4
    assert (p.flipped_boxes[:, 2] >= p.flipped_boxes[:, 0]).all()
    assert model.roi_heads.score_thresh == before  # the scoring threshold was restored
    s = score_image(p, CTX)
    assert set(s.scores) == set(SCORERS) and all(0.0 <= v <= 1.0 for v in s.scores.values())
