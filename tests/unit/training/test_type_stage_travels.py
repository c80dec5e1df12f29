"""A fine-tuned or promoted version keeps the type classifier of the card it started from: the
type-stage weights are copied beside the new card, checked against their sha256."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")


def _typed_card(folder: Path):
    from safetensors.torch import save_file

    from orthogui.core.categories import DEFAULT_CATEGORIES, SCREW_GROUP
    from orthogui.io.fileops import file_sha256
    from orthogui.ml.architectures import BuildOptions, build_model
    from orthogui.ml.card import CardCategory, TypeStage
    from orthogui.ml.weights import save_weights
    from tests.unit.ml.conftest import card_for

    screws = tuple(c.name for c in DEFAULT_CATEGORIES if c.group == SCREW_GROUP)
    types = folder / "start.types.safetensors"
    folder.mkdir(parents=True, exist_ok=True)
    save_file({"w": torch.arange(6, dtype=torch.float32)}, str(types))
    card = replace(
        card_for(num_classes=2),
        categories=(CardCategory(1, "screw", screws[0], covers=screws),),
        type_stage=TypeStage(screws, types.name, file_sha256(types)),
    )
    model = build_model(card.architecture, BuildOptions(num_classes=2, min_size=64, max_size=64))
    start = save_weights(model, replace(card, source=folder / "start.json"), folder)
    return model, start


def test_candidate_and_promoted_versions_carry_the_type_stage(tmp_path: Path) -> None:
    from orthogui.io.fileops import file_sha256
    from orthogui.ml.card import load_card
    from orthogui.ml.weights import save_weights
    from orthogui.training.promotion import promote_candidate

    model, start = _typed_card(tmp_path / "installed")
    candidate = save_weights(model, replace(start, version="9"), tmp_path / "run" / "candidate")
    reread = load_card(candidate.source)
    assert reread.type_weights_path is not None and reread.type_weights_path.is_file()
    assert reread.type_weights_path.parent == candidate.source.parent
    assert file_sha256(reread.type_weights_path) == start.type_stage.weights_sha256
    published = promote_candidate(reread, tmp_path / "user-models", version="9")
    final = load_card(published.source)
    assert final.type_weights_path.parent == tmp_path / "user-models"
    assert file_sha256(final.type_weights_path) == start.type_stage.weights_sha256


def test_a_damaged_type_stage_is_refused_naming_the_file(tmp_path: Path) -> None:
    from orthogui.ml.card import ModelLoadError
    from orthogui.ml.weights import save_weights

    model, start = _typed_card(tmp_path / "installed")
    start.type_weights_path.write_bytes(b"not the classifier")
    with pytest.raises(ModelLoadError, match=r"installed/.*\.types\.safetensors: .*sha256"):
        save_weights(model, replace(start, version="9"), tmp_path / "candidate")
    start.type_weights_path.unlink()
    with pytest.raises(ModelLoadError, match="missing"):
        save_weights(model, replace(start, version="9"), tmp_path / "candidate")
