"""Which findings a score threshold hides: only model proposals still proposed, below it."""

from __future__ import annotations

import pytest

from orthogui.core.annotation import Annotation, Prediction, ReviewState
from orthogui.core.geometry import Box
from orthogui.core.review import set_state
from orthogui.core.visibility import clamp_threshold, hidden_by_threshold, hidden_ids, hidden_note


def proposal(score: float) -> Annotation:
    return Annotation.from_prediction(
        Prediction("fracture", score, Box(0, 0, 10, 10), "fake", "1"), image_id="i"
    )


def test_only_proposals_below_the_threshold_are_hidden() -> None:
    low, high = proposal(0.3), proposal(0.8)
    accepted = set_state([proposal(0.2)], ReviewState.ACCEPTED, user="u").after[0]
    rejected = set_state([proposal(0.2)], ReviewState.REJECTED, user="u").after[0]
    human = Annotation.human(image_id="i", category="fracture", shape=Box(0, 0, 5, 5))
    anns = [low, high, accepted, rejected, human]
    assert hidden_ids(anns, 0.5) == {low.id}
    assert hidden_ids(anns, 0.0) == frozenset()
    assert not hidden_by_threshold(high, 0.8)  # at the threshold: shown
    assert hidden_by_threshold(high, 0.81)


@pytest.mark.parametrize(
    ("stored", "value"),
    [("0.5", 0.5), (0.504, 0.5), (2, 1.0), (-1, 0.0), ("junk", 0.0), (None, 0.0), ("nan", 0.0)],
)
def test_stored_thresholds_are_read_safely(stored: object, value: float) -> None:
    assert clamp_threshold(stored) == value


def test_the_note_counts_what_is_hidden() -> None:
    assert hidden_note(0, 0.5) == ""
    assert hidden_note(1, 0.5) == "1 finding below 0.50 hidden"
    assert hidden_note(3, 0.45) == "3 findings below 0.45 hidden"
