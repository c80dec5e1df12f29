"""``python -m orthogui evaluate``: report file, PR curve PNGs, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orthogui.cli import main
from tests.unit.evaluation.test_evaluate import synthetic


def test_evaluate_command_writes_report_and_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gt, preds = synthetic()
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "pred.json").write_text(json.dumps(preds))
    argv = ["evaluate", "--gt", str(tmp_path / "gt.json"), "--pred", str(tmp_path / "pred.json")]
    argv += ["--iou-type", "segm", "--score-threshold", "0.4", "--out", str(tmp_path / "r.json")]
    argv += ["--plots", str(tmp_path / "plots"), "--confusion", "cortical_screw", "locking_screw"]
    assert main(argv) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["iou_type"] == "segm" and report["score_threshold"] == 0.4
    assert report["confusion"]["labels"] == ["cortical_screw", "locking_screw", "(none)"]
    assert (tmp_path / "plots" / "pr_all.png").is_file()
    assert "AP50" in capsys.readouterr().out
    assert main([*argv[:2], str(tmp_path / "missing.json"), *argv[3:]]) == 1
    assert "missing.json" in capsys.readouterr().err
