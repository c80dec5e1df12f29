"""bench/al_curves.py: labels needed (mean curves and repeat by repeat), confidence intervals,
the paired gain over random order, the instances the labelled images hold, and the plot."""

from __future__ import annotations

from pathlib import Path
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


def test_confidence_interval_of_the_mean_uses_students_t() -> None:
    curves = load_bench("al_curves")
    assert curves.ci95([0.3]) == 0.0
    # two values 0.2 and 0.4: sd 0.1414, t(1) = 12.706 -> 12.706 * 0.1414 / sqrt(2) = 1.2706
    assert abs(curves.ci95([0.2, 0.4]) - 1.2706) < 1e-3
    assert abs(curves.ci95([1.0] * 5) - 0.0) < 1e-12
    many = [0.0, 1.0] * 50  # df 99: the normal quantile
    assert abs(curves.ci95(many) - 1.96 * 0.50252 / 10) < 1e-3
    points = curves.mean_curves({"random": {0: _rows(0.1, 0.2), 1: _rows(0.1, 0.4)}})["random"]
    assert points[0]["screw_AP50_ci95"] == 0.0
    assert abs(points[1]["screw_AP50_ci95"] - 1.2706) < 1e-3


def test_paired_differences_compare_each_repeat_with_its_own_random_run() -> None:
    curves = load_bench("al_curves")
    runs = {
        "random": {0: _rows(0.1, 0.2, 0.3), 1: _rows(0.1, 0.3), 2: _rows(0.1, 0.1, 0.1)},
        "uncertainty": {0: _rows(0.1, 0.3, 0.4), 1: _rows(0.1, 0.2, 0.9), 2: _rows(0.1, 0.3, 0.3)},
    }
    diff = curves.paired_differences(runs, "screw_AP50")
    assert set(diff) == {"uncertainty"}
    at = {d["labelled"]: d for d in diff["uncertainty"]}
    assert at[0]["mean"] == 0.0 and at[0]["ahead"] == 0
    assert at[20]["n"] == 3 and abs(at[20]["mean"] - 0.2 / 3) < 1e-5 and at[20]["ahead"] == 2
    # 40 labels: repeat 1's random run stopped at 20, so only repeats 0 and 2 pair up
    assert at[40]["n"] == 2 and abs(at[40]["mean"] - 0.15) < 1e-5 and at[40]["ahead"] == 2
    assert abs(at[40]["ci95"] - curves.ci95([0.1, 0.2])) < 1e-5
    assert curves.paired_differences({"uncertainty": runs["uncertainty"]}, "screw_AP50") == {}


def test_instances_labelled_count_what_the_picked_images_hold() -> None:
    curves = load_bench("al_curves")
    counts = {
        0: {1: {"screws": 3, "all": 4}, 2: {"screws": 0, "all": 1}, 3: {"screws": 5, "all": 5}},
        1: {1: {"screws": 1, "all": 1}, 2: {"screws": 2, "all": 2}, 3: {"screws": 0, "all": 0}},
    }

    def run(*batches: list[int]) -> list[dict[str, Any]]:
        return [{"labelled": 0, "picked": []}] + [
            {"labelled": 2 * (n + 1), "picked": b} for n, b in enumerate(batches)
        ]

    runs = {
        "random": {0: run([1, 2]), 1: run([1, 2])},
        "uncertainty": {0: run([1, 3], [2]), 1: run([2, 1]), 2: run([9])},  # 2: no counts
    }
    got = curves.instances_labelled(runs, counts)
    assert got["random"] == [
        {"labelled": 0, "repeats": 2, "all": 0.0, "all_per_image": None,
         "screws": 0.0, "screws_per_image": None},
        {"labelled": 2, "repeats": 2, "all": 4.0, "all_per_image": 2.0,
         "screws": 3.0, "screws_per_image": 1.5},
    ]  # fmt: skip
    # repeat 0 labels 3 + 5 screws, repeat 1 labels 2 + 1: 5.5 on average; then 8 in repeat 0
    assert [(p["labelled"], p["repeats"], p["screws"]) for p in got["uncertainty"]] == [
        (0, 2, 0.0), (2, 2, 5.5), (4, 1, 8.0)
    ]  # fmt: skip
    assert got["uncertainty"][1]["screws_per_image"] == 2.75


def test_plot_without_a_random_run_draws_the_curves(tmp_path: Path) -> None:
    import warnings

    curves = load_bench("al_curves")
    runs = {"uncertainty": {0: _rows(0.1, 0.3)}}
    summary = {
        "curves": curves.mean_curves(runs),
        "paired_vs_random": curves.paired_differences(runs, "screw_AP50"),
        "config": {"k": 20, "rounds": 1, "steps": 10, "size": 800},
        "pool_images": 40,
        "test_images": 4,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no empty legend
        out = curves.plot(summary, tmp_path / "al.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
