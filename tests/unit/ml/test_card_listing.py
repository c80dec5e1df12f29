"""Listing model cards survives bad files: a non-UTF-8 or truncated card is named, not fatal."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from orthogui.ml.card import (
    ModelCardError,
    find_card,
    list_cards,
    load_card,
    save_card,
    scan_cards,
)
from orthogui.ml.defaults import choose_card
from tests.unit.ml.conftest import card_for


def test_a_non_utf8_card_is_a_card_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes('{"name": "modèle"}'.encode("latin-1"))
    with pytest.raises(ModelCardError, match=r"latin1\.json: not UTF-8 text") as err:
        load_card(path)
    assert err.value.path == str(path)


def test_bad_cards_are_reported_by_name_and_the_others_load(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for v in ("0.1", "0.2"):
        save_card(replace(card_for(), version=v), tmp_path / f"m-{v}.json")
    newest = save_card(replace(card_for(), version="0.3"), tmp_path / "m-0.3.json")
    text = Path(str(newest.source)).read_text(encoding="utf-8")
    (tmp_path / "m-0.3.json").write_text(text[: len(text) // 2], encoding="utf-8")  # truncated
    (tmp_path / "other.json").write_bytes(b'{"name": "caf\xe9"}')
    with caplog.at_level(logging.WARNING, logger="orthogui.ml.card"):
        problems: list[ModelCardError] = []
        cards = list_cards(tmp_path, problems=problems)
    assert [c.version for c in cards] == ["0.1", "0.2"]
    assert [Path(e.path).name for e in problems] == ["m-0.3.json", "other.json"]
    assert "not valid JSON" in problems[0].reason and "not UTF-8" in problems[1].reason
    warned = [r.getMessage() for r in caplog.records if r.name == "orthogui.ml.card"]
    assert len(warned) == 2 and "m-0.3.json" in warned[0] and "other.json" in warned[1]
    again, bad = scan_cards(tmp_path)
    assert again == cards and [str(e) for e in bad] == [str(e) for e in problems]
    assert find_card("test-model", models_dir=tmp_path).version == "0.2"
    assert choose_card(cards, "cpu") is None  # no weights on disk: nothing chosen, no crash


def test_the_command_line_names_each_bad_card(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    from orthogui.cli import main

    (tmp_path / "broken.json").write_bytes(b"\xff\xfe{")
    with caplog.at_level(logging.WARNING):
        rc = main(
            ["predict", "--model", "nope", "--models-dir", str(tmp_path), "--out", "x.json", "a"]
        )
    assert rc == 1 and "no model card named 'nope'" in capsys.readouterr().err
    assert any("broken.json: not UTF-8" in r.getMessage() for r in caplog.records)
