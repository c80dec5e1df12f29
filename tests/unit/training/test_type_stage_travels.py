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


def test_a_fine_tune_from_a_typed_card_elsewhere_publishes_with_its_type_stage(
    write_job, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's own path: the start card lies in another folder than the working one (as
    the installed model does), and the candidate still finds and carries its type stage."""
    from safetensors.torch import save_file

    from orthogui.core.categories import DEFAULT_CATEGORIES, SCREW_GROUP
    from orthogui.io.fileops import file_sha256
    from orthogui.ml.card import TypeStage, load_card, save_card
    from orthogui.training.job import load_job
    from orthogui.training.worker import run_job

    screws = tuple(c.name for c in DEFAULT_CATEGORIES if c.group == SCREW_GROUP)
    others = [n for n in DEFAULT_CATEGORIES.names() if n not in screws]
    groups = {"screw": list(screws)}
    first = run_job(
        load_job(
            write_job(
                hyper={"max_steps": 1},
                output=str(tmp_path / "run0"),
                category_groups=groups,
                categories=[*screws, *others],
            )
        ),
        emit=lambda _event: None,
    )
    assert first.card is not None and first.card.source is not None
    installed = tmp_path / "installed"
    installed.mkdir()
    for f in first.card.source.parent.glob(first.card.source.stem + ".*"):
        (installed / f.name).write_bytes(f.read_bytes())
    types = installed / "start.types.safetensors"
    save_file({"w": torch.arange(6, dtype=torch.float32)}, str(types))
    base = load_card(installed / first.card.source.name)
    assert any(c.covers for c in base.categories)
    start = save_card(
        replace(base, type_stage=TypeStage(screws, types.name, file_sha256(types))),
        installed / "start.json",
    )
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the app's working folder is not the models folder
    tuned = run_job(
        load_job(
            write_job(
                hyper={"max_steps": 1},
                output=str(tmp_path / "run1"),
                start_card=str(start.source),
                category_groups=groups,
                categories=[c.project_category for c in start.categories],
            )
        ),
        emit=lambda _event: None,
    )
    assert tuned.card is not None and tuned.card.source is not None
    again = load_card(tuned.card.source)
    assert again.type_weights_path is not None
    assert again.type_weights_path.parent == tuned.card.source.parent
    assert file_sha256(again.type_weights_path) == file_sha256(types)


def test_publishing_a_typed_candidate_into_the_models_folder_keeps_its_type_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``publish_default`` (the bundled model's last step) copies the type stage beside the
    published card, from wherever the process runs."""
    from orthogui.io.fileops import file_sha256
    from orthogui.ml.card import load_card
    from orthogui.training.default_model import publish_default

    _, start = _typed_card(tmp_path / "run" / "candidate")
    assert start.source is not None and start.type_stage is not None
    monkeypatch.chdir(tmp_path)  # not the candidate's folder
    path = publish_default(start.source, tmp_path / "models", summary={"recipe": {}}, command="c")
    card = load_card(path)
    assert card.type_weights_path is not None
    assert card.type_weights_path.parent == tmp_path / "models"
    assert file_sha256(card.type_weights_path) == start.type_stage.weights_sha256


@pytest.mark.slow
@pytest.mark.parametrize("present_stage_right_for", [0.0, 1.0])
def test_a_fine_tune_teaches_the_type_stage_the_reviewed_types_unless_it_gets_worse(
    write_job, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, present_stage_right_for
) -> None:
    """With ``hyper.type_epochs`` (the app's fine-tunes), the candidate's type stage continues
    on the snapshot's typed screws and is written beside it, measured on the held-out images;
    when the stage it carried typed those better, the carried one stays and stderr says so."""
    from orthogui.core.categories import DEFAULT_CATEGORIES, SCREW_GROUP
    from orthogui.io.fileops import file_sha256
    from orthogui.ml.card import load_card
    from orthogui.ml.screw_type import LENGTH_CROP, build_type_classifier
    from orthogui.synth.dataset import write_dataset
    from orthogui.training import screw_types
    from orthogui.training.job import load_job
    from orthogui.training.worker import run_job

    snap = tmp_path / "snap"
    write_dataset(snap, n=9, seed=5, scene="limb", size=256)
    screws = tuple(c.name for c in DEFAULT_CATEGORIES if c.group == SCREW_GROUP)
    others = [n for n in DEFAULT_CATEGORIES.names() if n not in screws]
    groups = {"screw": list(screws)}
    common = {"snapshot": str(snap), "category_groups": groups}
    first = run_job(
        load_job(
            write_job(
                hyper={"max_steps": 1},
                output=str(tmp_path / "run0"),
                categories=[*screws, *others],
                **common,
            )
        ),
        emit=lambda _event: None,
    )
    assert first.card is not None and first.card.source is not None
    start = screw_types.attach_type_stage(
        load_card(first.card.source),
        build_type_classifier(len(screws)),
        metrics={},
        training_data={},
        spec=LENGTH_CROP,
    )
    assert start.type_stage is not None
    monkeypatch.setattr(screw_types, "_check_before", lambda *a: present_stage_right_for)
    tuned = run_job(
        load_job(
            write_job(
                hyper={"max_steps": 1, "type_epochs": 1},
                output=str(tmp_path / "run1"),
                start_card=str(start.source),
                categories=[c.project_category for c in start.categories],
                **common,
            )
        ),
        emit=lambda _event: None,
    )
    assert tuned.card is not None and tuned.card.source is not None
    stage = load_card(tuned.card.source).type_stage
    assert stage is not None
    weights = tuned.card.source.parent / stage.weights_file
    assert file_sha256(weights) == stage.weights_sha256
    err = capsys.readouterr().err
    if present_stage_right_for == 0.0:  # anything is as good: the new stage is written
        assert stage.weights_sha256 != start.type_stage.weights_sha256
        assert stage.metrics["reviewed_train_strips"] > 0
        assert stage.metrics["reviewed_check_images"] >= 1
        assert f"--reviewed {snap}" in stage.training_data["command"]
        assert "type_stage" not in load_card(tuned.card.source).training_data
    else:  # the carried stage typed every check screw right: it stays
        assert stage.weights_sha256 == start.type_stage.weights_sha256
        assert "type stage: kept:" in err and "kept its present type stage" in err
        why = load_card(tuned.card.source).training_data["type_stage"]
        assert why.startswith("kept: ") and "kept its present type stage" in why
