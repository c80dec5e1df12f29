"""The promotion gate on cases, and promote / list / roll back in a models folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from orthogui.ml.card import CardCategory, ModelCard, find_card, save_card
from orthogui.training.promotion import (
    decide_promotion,
    list_versions,
    next_version,
    promote_candidate,
    rollback,
)

CUR = {"segm_AP": 0.50, "segm_AP/screw": 0.60, "segm_AP/fracture": 0.30}


@pytest.mark.parametrize(
    ("candidate", "tolerance", "promote", "why"),
    [
        (
            {"segm_AP": 0.55, "segm_AP/screw": 0.65, "segm_AP/fracture": 0.31},
            0.02,
            True,
            "no category",
        ),
        (
            {"segm_AP": 0.50, "segm_AP/screw": 0.65, "segm_AP/fracture": 0.31},
            0.02,
            False,
            "does not beat",
        ),
        (
            {"segm_AP": 0.45, "segm_AP/screw": 0.65, "segm_AP/fracture": 0.31},
            0.02,
            False,
            "does not beat",
        ),
        (
            {"segm_AP": 0.58, "segm_AP/screw": 0.80, "segm_AP/fracture": 0.25},
            0.02,
            False,
            "fracture drops",
        ),
        (
            {"segm_AP": 0.58, "segm_AP/screw": 0.80, "segm_AP/fracture": 0.29},
            0.02,
            True,
            "no category",
        ),
        (
            {"segm_AP": 0.58, "segm_AP/screw": 0.80, "segm_AP/fracture": 0.25},
            0.10,
            True,
            "no category",
        ),
        ({"segm_AP": float("nan")}, 0.02, False, "no finite"),
        ({"segm_AP": 0.58, "segm_AP/screw": 0.80, "segm_AP/new": 0.0}, 0.02, True, "no category"),
    ],
)
def test_gate_cases(candidate: dict[str, float], tolerance: float, promote: bool, why: str) -> None:
    d = decide_promotion(CUR, candidate, tolerance)
    assert d.promote is promote
    assert why in d.reason
    if "drops" in why:
        assert set(d.regressions) == {"segm_AP/fracture"}


def test_gate_promotes_when_there_is_no_current_model() -> None:
    assert decide_promotion(None, {"segm_AP": 0.0}, 0.0).promote


def _card(folder: Path, version: str) -> ModelCard:
    weights = folder / f"w{version}.safetensors"
    weights.write_bytes(b"weights " + version.encode())
    card = ModelCard(
        name="m",
        version=version,
        architecture="a",
        num_classes=2,
        categories=(CardCategory(1, "fracture", "fracture"),),
        weights_file=weights.name,
        weights_sha256="0" * 64,
        metrics={"segm_AP": 0.1},
    )
    return save_card(card, folder / f"m-{version}.json")


def test_promote_list_and_roll_back(tmp_path: Path) -> None:
    cand_dir, models = tmp_path / "cand", tmp_path / "models"
    cand_dir.mkdir()
    assert next_version(models, "m") == "1"
    first = promote_candidate(_card(cand_dir, "c1"), models)
    second = promote_candidate(_card(cand_dir, "c2"), models)
    assert (first.version, second.version) == ("1", "2")
    assert second.weights_path.read_bytes() == b"weights c2"
    assert [c.version for c in list_versions(models, "m")] == ["1", "2"]
    assert find_card("m", models_dir=models).version == "2"
    assert rollback(models, "m").version == "1"
    assert find_card("m", models_dir=models).version == "1"
    assert next_version(models, "m", after="9") == "10"
    with pytest.raises(ValueError, match="no earlier version"):
        rollback(models, "m")
