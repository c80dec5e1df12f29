"""Model cards: JSON round trip and validation errors naming the file and the field."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from orthogui.core.categories import DEFAULT_CATEGORIES, CategorySet, ShapeKind
from orthogui.ml.card import ModelCardError, find_card, list_cards, load_card, save_card
from tests.unit.ml.conftest import card_for


def test_round_trip(tmp_path: Path) -> None:
    card = card_for()
    post = replace(
        card.postprocessing, box_from_mask=0.25, mask_score_power=1.0, box_score_threshold=0.6
    )
    card = replace(card, postprocessing=post)
    saved = save_card(card, tmp_path / "m.json")
    loaded = load_card(tmp_path / "m.json")
    assert loaded == card == saved
    assert loaded.source == (tmp_path / "m.json").resolve()
    assert loaded.weights_path == tmp_path.resolve() / "none.safetensors"
    assert loaded.category_for_label()[6].shape is ShapeKind.BOX
    loaded.check_categories(DEFAULT_CATEGORIES)


def _write(tmp_path: Path, obj: object) -> Path:
    p = tmp_path / "card.json"
    p.write_text(json.dumps(obj) if not isinstance(obj, str) else obj, encoding="utf-8")
    return p


def _valid(tmp_path: Path) -> dict:
    return card_for().to_json()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("architecture"), "missing field architecture"),
        (lambda d: d["weights"].pop("sha256"), "missing field weights.sha256"),
        (lambda d: d.update(num_classes="8"), "num_classes has the wrong type"),
        (lambda d: d.update(num_classes=5), "labels"),
        (lambda d: d["weights"].update(sha256="abc"), "sha256 must be 64"),
        (lambda d: d["preprocessing"].update(window="magic"), "preprocessing.window"),
        (lambda d: d["preprocessing"].update(mean=[0.5]), "preprocessing.mean"),
        (lambda d: d["postprocessing"].update(score_threshold=1.5), "score_threshold"),
        (lambda d: d["postprocessing"].update(box_from_mask=-0.1), "box_from_mask"),
        (lambda d: d["postprocessing"].update(mask_score_power=9), "mask_score_power"),
        (lambda d: d["postprocessing"].update(box_score_threshold=2), "box_score_threshold"),
        (lambda d: d["postprocessing"].update(bogus=1), "unknown postprocessing fields"),
        (lambda d: d["categories"][0].update(shape="circle"), "categories[0].shape"),
        (lambda d: d.update(format="other/9"), "unknown card format"),
    ],
)
def test_invalid_cards_name_file_and_field(tmp_path: Path, edit, message: str) -> None:
    obj = _valid(tmp_path)
    edit(obj)
    path = _write(tmp_path, obj)
    with pytest.raises(ModelCardError, match=re.escape(message)) as info:
        load_card(path)
    assert str(path.resolve()) in str(info.value) or str(path) in str(info.value)


def test_malformed_json_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"name": "x",\n "version": }')
    with pytest.raises(ModelCardError, match=r"card.json: not valid JSON \(line 2"):
        load_card(path)


def test_missing_card_file(tmp_path: Path) -> None:
    with pytest.raises(ModelCardError, match="cannot read"):
        load_card(tmp_path / "absent.json")


def test_unknown_project_category_is_refused() -> None:
    only_screws = CategorySet(tuple(DEFAULT_CATEGORIES)[:5])
    with pytest.raises(ModelCardError, match="fracture"):
        card_for().check_categories(only_screws)


def test_find_by_name_picks_the_newest_version(tmp_path: Path) -> None:
    for v in ("0.9", "0.10", "0.2"):
        save_card(replace(card_for(), version=v), tmp_path / f"m-{v}.json")
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    assert [c.version for c in list_cards(tmp_path)] == ["0.2", "0.9", "0.10"]
    assert find_card("test-model", models_dir=tmp_path).version == "0.10"
    with pytest.raises(ModelCardError, match="no model card named 'nope'"):
        find_card("nope", models_dir=tmp_path)
