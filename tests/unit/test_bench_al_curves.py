"""bench/al_curves.py: the labels a strategy needs, on the mean curves and repeat by repeat."""

from __future__ import annotations

from typing import Any

from tests.unit._bench import load_bench


def _rows(*values: float, k: int = 20) -> list[dict[str, Any]]:
    return [{"labelled": i * k, "screw_AP50": v} for i, v in enumerate(values)]


def test_labels_to_reach_interpolates_between_rounds_and_says_never() -> None:
    curves = load_bench("al_curves")
    rows = _rows(0.1, 0.2, 0.4)
    assert curves.labels_to_reach(rows, 0.3, "screw_AP50") == 30.0
    assert curves.labels_to_reach(rows, 0.05, "screw_AP50") == 0.0
    assert curves.labels_to_reach(rows, 0.41, "screw_AP50") is None


def test_labels_per_repeat_pairs_each_repeat_with_its_own_random_run() -> None:
    curves = load_bench("al_curves")
    runs = {
        "random": {0: _rows(0.1, 0.2, 0.3), 1: _rows(0.1, 0.3, 0.5), 2: _rows(0.1, 0.2)},
        "uncertainty": {0: _rows(0.1, 0.3, 0.4), 1: _rows(0.1, 0.2, 0.4), 3: _rows(0.1, 0.9)},
    }
    per = curves.labels_per_repeat(runs, "screw_AP50")
    # repeat 0: 0.3 reached at 20; repeat 1: 0.5 never; repeat 3 has no random run
    assert per["uncertainty"] == {"0": 20.0, "1": None}
    # random reaches its own final where it ends (or earlier on a plateau)
    assert per["random"] == {"0": 40.0, "1": 40.0, "2": 20.0}
    assert curves.labels_per_repeat({"uncertainty": runs["uncertainty"]}, "screw_AP50") == {
        "uncertainty": {}
    }
