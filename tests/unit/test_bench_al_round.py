"""bench/al_round.py: one active-learning round on 2 approved synthetic 128 px images with a
tiny model — a real worker process trains one step, the gate decides, the new version is
loaded and pre-annotates the next image; and bad options give one line and exit status 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit._bench import load_bench

PHASES = [
    "snapshot_job",
    "worker_start",
    "training",
    "eval_candidate",
    "eval_current",
    "promotion",
    "load_model",
    "first_prediction",
]


@pytest.fixture(scope="module")
def start_card(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny published model at 128 px with random weights (the round's cost, not its
    accuracy, is under test)."""
    torch = pytest.importorskip("torch")

    from orthogui.ml.architectures import build_model
    from orthogui.ml.weights import build_options, save_weights
    from tests.unit.ml.conftest import card_for

    torch.set_num_threads(1)
    card = card_for(size=128, score_threshold=0.3)
    torch.manual_seed(0)
    model = build_model(card.architecture, build_options(card))
    published = save_weights(model, card, tmp_path_factory.mktemp("models"))
    assert published.source is not None
    return published.source


@pytest.mark.slow
def test_tiny_round_reports_every_phase_and_the_gate(
    start_card: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = sorted(p.name for p in start_card.parent.iterdir())
    out = tmp_path / "round.json"
    args = ["--start-card", str(start_card), "--n", "2", "--steps", "1", "--threads", "1"]
    args += ["--device", "cpu", "--work", str(tmp_path / "work"), "--json", str(out)]
    assert load_bench("al_round").main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert json.loads(out.read_text()) == result
    assert list(result["phases_s"]) == PHASES
    assert all(v >= 0 for v in result["phases_s"].values())
    assert result["phases_s"]["worker_start"] > 0 and result["phases_s"]["training"] > 0
    assert sum(result["phases_s"].values()) <= result["total_s"] + 0.05
    assert result["data"] == {
        "approved_images": 2,
        "accepted_findings": result["data"]["accepted_findings"],
        "size_px": 128,  # the card's input size
        "train_images": 1,
        "val_images": 1,
    }
    assert result["job"]["steps"] == 1 and result["job"]["steps_from"] == "--steps"
    assert result["job"]["device"] == "cpu" and result["job"]["threads"] == 1
    assert result["training"]["steps"] == 1 and result["training"]["device"] == "cpu"
    gate, live = result["gate"], result["live"]
    assert isinstance(gate["promoted"], bool) and gate["reason"]
    assert set(gate["candidate"]) >= {"segm_AP", "bbox_AP"} and "segm_AP" in gate["current"]
    assert live["loaded"] == ("promoted" if gate["promoted"] else "candidate (not promoted)")
    assert live["model"] == f"test-model {gate['version']}"
    assert live["next_image_status"] == "pre_annotated"
    assert result["aim_s"] == 1200.0 and result["comparable_to_aim"] is False
    assert result["within_aim"] == (result["total_s"] <= 1200.0)
    # The start model's folder is untouched: new versions went to the bench's own copy.
    assert result["start_card_folder_unchanged"] is True
    assert sorted(p.name for p in start_card.parent.iterdir()) == folder
    versions = sorted(p.name for p in (tmp_path / "work" / "models").glob("*.json"))
    assert len(versions) == (2 if gate["promoted"] else 1)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--n", "1"], "--n 1: fine-tuning needs at least 2 approved images"),
        (["--steps", "0"], "--steps 0: must be at least 1"),
        (["--epochs", "0"], "--epochs 0.0: must be a positive number"),
        (["--size", "16"], "--size 16: must be at least 64 px"),
        (["--start-card", "nowhere/card.json"], "--start-card nowhere/card.json: no such file"),
        (["--json", "no/such/folder/out.json"], "--json no/such/folder/out.json"),
        (["--device", "tpu"], "--device"),
        (["--bogus"], "--bogus"),
    ],
)
def test_bad_options_give_one_line_and_status_1(
    args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert load_bench("al_round").main(args) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("al_round: error: ") and says in lines[0]


def test_a_broken_start_card_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    card = tmp_path / "broken.json"
    card.write_text("{not json", encoding="utf-8")
    assert load_bench("al_round").main(["--start-card", str(card), "--n", "2", "--steps", "1"]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and str(card) in lines[0]
