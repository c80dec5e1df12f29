"""bench/active_learning.py on a tiny configuration: one round per strategy on a pool of 8
synthetic 128 px images, real scoring, real in-process fine-tuning and COCO evaluation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.unit._bench import load_bench, tiny_card

pytest.importorskip("torch")
pytestmark = pytest.mark.slow

METRICS = {"segm_AP50", "bbox_AP50", "segm_AP", "bbox_AP"}


@pytest.fixture(scope="module")
def start_card(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny published model at 128 px (random weights made to detect screws and fractures)."""
    return tiny_card(tmp_path_factory.mktemp("models"), [1, 3, 6])


def test_tiny_run_prints_rounds_and_plots_both_curves(
    start_card: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plot, summary_file = tmp_path / "al.png", tmp_path / "al.json"
    args = ["--start-card", str(start_card), "--pool", "8", "--k", "2", "--rounds", "1"]
    args += ["--steps", "2", "--size", "128", "--test", "2", "--threads", "1"]
    args += ["--plot", str(plot), "--json", str(summary_file)]
    assert load_bench("active_learning").main(args) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    rows, summary = lines[:-1], lines[-1]
    assert [(r["strategy"], r["round"], r["labelled"]) for r in rows] == [
        ("uncertainty", 0, 0),
        ("uncertainty", 1, 2),
        ("random", 0, 0),
        ("random", 1, 2),
    ]
    for r in rows:
        assert set(r) >= METRICS and all(0.0 <= r[m] <= 1.0 for m in METRICS)
        if r["round"]:
            assert len(set(r["picked"])) == 2 and set(r["picked"]) <= set(range(1, 9))
            assert {"score_s", "train_eval_s", "round_s", "gate_promote"} <= set(r)
    start = [{m: r[m] for m in METRICS} for r in rows if r["round"] == 0]
    assert start[0] == start[1]  # the same start model on the same test set
    assert summary["benchmark"] == "active_learning"
    assert summary["pool_images"] == 8 and summary["test_images"] == 2
    assert set(summary["curves"]) == {"uncertainty", "random"}
    for points in summary["curves"].values():
        assert [p["labelled"] for p in points] == [0, 2]  # rounds + 1 points
        assert all(set(p) >= METRICS for p in points)
    assert json.loads(summary_file.read_text())["curves"] == summary["curves"]
    paired = summary["paired_vs_random"]["uncertainty"]  # same start model: round 0 differs by 0
    assert [(d["labelled"], d["n"]) for d in paired] == [(0, 1), (2, 1)] and paired[0]["mean"] == 0
    for points in summary["instances_labelled"].values():  # what the two labelled images hold
        assert [(p["labelled"], p["all"], p["screws"]) for p in points[:1]] == [(0, 0, 0)]
        last = points[1]
        assert last["labelled"] == 2 and last["all"] >= last["screws"] >= 0 and last["all"] > 0
        assert last["all_per_image"] == round(last["all"] / 2, 3)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and summary["plot"] == str(plot)


def test_bad_sizes_and_a_missing_card_are_clear_errors(
    start_card: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = load_bench("active_learning")
    with pytest.raises(SystemExit):
        module.main(["--start-card", str(start_card), "--pool", "4", "--k", "3", "--rounds", "2"])
    assert "needs more than --pool 4 images" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        module.main(["--start-card", str(tmp_path / "gone.json")])
    assert "gone.json: no such file" in capsys.readouterr().err
    bad = tmp_path / "pool.json"
    bad.write_text("{}", encoding="utf-8")
    args = ["--start-card", str(start_card), "--pool-coco", str(bad), "--test", "1"]
    assert module.main([*args, "--size", "64", "--plot", str(tmp_path / "x.png")]) == 2
    assert f"{bad}: not a COCO instances file" in capsys.readouterr().err


def test_repeats_resume_from_the_state_file_and_count_labels_needed(
    start_card: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """2 repeats: one round of two strategies, then a rerun asking for two rounds of random
    computes only random's second rounds; asking again computes nothing; a torn last line of
    the state file is dropped."""
    module = load_bench("active_learning")
    work, plot = tmp_path / "work", tmp_path / "al.png"
    args = ["--start-card", str(start_card), "--pool", "6", "--k", "2", "--repeats", "2"]
    args += ["--steps", "1", "--size", "128", "--test", "1", "--threads", "1"]
    args += ["--work", str(work), "--plot", str(plot), "--prune", "--score-subset", "4"]
    both = ["--strategies", "random,uncertainty_diverse"]

    def run(*extra: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        assert module.main([*args, *extra]) == 0
        lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
        return lines[:-1], lines[-1]

    rows, _ = run("--rounds", "1", *both)
    assert [(r["strategy"], r["repeat"], r["round"]) for r in rows] == [
        (s, rep, n) for rep in (0, 1) for s in ("random", "uncertainty_diverse") for n in (0, 1)
    ]
    state = work / "state.jsonl"
    assert len(state.read_text().splitlines()) == 1 + 8  # header + 4 x (round 0, round 1)

    rows, summary = run("--rounds", "2", "--strategies", "random")  # resumed
    assert [(r["strategy"], r["repeat"], r["round"], r["labelled"]) for r in rows] == [
        ("random", 0, 2, 4),
        ("random", 1, 2, 4),
    ]
    assert summary["repeats_done"] == {"random": 2}
    points = summary["curves"]["random"]
    assert [(p["labelled"], p["n"]) for p in points] == [(0, 2), (2, 2), (4, 2)]
    assert all(p["screw_AP50_min"] <= p["screw_AP50"] <= p["screw_AP50_max"] for p in points)
    needed = summary["labels_needed"]
    assert needed["metric"] == "screw_AP50" and needed["target"] == points[-1]["screw_AP50"]
    assert needed["random"] is not None and 0 <= needed["random"] <= 4
    per = needed["per_repeat"]["random"]  # each repeat against its own final figure
    assert set(per) == {"0", "1"} and all(v is not None and 0 <= v <= 4 for v in per.values())
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(work.glob("rep*/random/round1"))  # --prune: the newest model only

    with state.open("a", encoding="utf-8") as f:
        f.write('{"strategy": "random", "rep')  # killed while writing a line
    rows, summary = run("--rounds", "1", *both)  # everything finished: nothing computed
    assert rows == [] and summary["repeats_done"] == {"random": 2, "uncertainty_diverse": 2}
    assert state.read_text().endswith("}\n")  # the torn line is gone
    assert set(summary["labels_needed"]) >= {"random", "uncertainty_diverse", "target"}
    assert [p["labelled"] for p in summary["curves"]["uncertainty_diverse"]] == [0, 2]

    other = [a if a != "6" else "7" for a in args]  # another pool size: another run
    assert module.main([*other, "--rounds", "1"]) == 2
    assert "the state of another run (differs in ['pool'])" in capsys.readouterr().err


def test_repeats_in_parallel_processes_merge_into_one_summary(
    start_card: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One process per repeat, each with its own state file; a --summary-only run merges them
    and trains nothing; a missing merged file and a repeat out of range are clear errors."""
    module = load_bench("active_learning")
    work, plot = tmp_path / "work", tmp_path / "al.png"
    args = ["--start-card", str(start_card), "--pool", "4", "--k", "2", "--repeats", "2"]
    args += ["--steps", "1", "--size", "128", "--test", "1", "--threads", "1", "--rounds", "1"]
    args += ["--work", str(work), "--plot", str(plot), "--strategies", "random"]
    states = [work / f"state-r{r}.jsonl" for r in (0, 1)]
    for r, state in enumerate(states):
        assert module.main([*args, "--only-repeats", str(r), "--state", str(state)]) == 0
        rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()][:-1]
        assert [(x["repeat"], x["round"]) for x in rows] == [(r, 0), (r, 1)]
    assert module.main([*args, "--summary-only", "--merge", *map(str, states)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(lines) == 1  # nothing computed: only the summary
    summary = lines[0]
    assert summary["repeats_done"] == {"random": 2}
    assert [(p["labelled"], p["n"]) for p in summary["curves"]["random"]] == [(0, 2), (2, 2)]
    for state in states:  # merged files are read, never written
        assert len(state.read_text().splitlines()) == 3

    assert module.main([*args, "--summary-only", "--merge", str(work / "gone.jsonl")]) == 2
    assert "gone.jsonl: no such state file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        module.main([*args, "--only-repeats", "2"])
    assert "--only-repeats [2]: repeats are 0 to 1" in capsys.readouterr().err


def test_a_data_set_folder_is_written_whole_once(tmp_path: Path) -> None:
    module = load_bench("active_learning")
    folder = tmp_path / "test"
    calls: list[Path] = []

    def write(out: Path) -> None:
        calls.append(out)
        out.mkdir()
        (out / "annotations.json").write_text("{}", encoding="utf-8")

    # A folder a killed run left half written is replaced; the write goes elsewhere first.
    folder.mkdir()
    (folder / "stale.png").write_bytes(b"x")
    module._write_once(folder, write)
    assert calls[0] != folder and not calls[0].exists()
    assert sorted(p.name for p in folder.iterdir()) == ["annotations.json"]
    # Another process finished first: its folder stays, this process's copy is dropped.
    (folder / "annotations.json").write_text('{"first": 1}', encoding="utf-8")
    module._write_once(folder, write)
    assert json.loads((folder / "annotations.json").read_text(encoding="utf-8")) == {"first": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test"]

    def broken(out: Path) -> None:  # the writer fails: nothing half written is left in place
        out.mkdir()
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        module._write_once(tmp_path / "pool", broken)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test"]
