"""bench/real_screws.py on two tiny films: AP, what a reviewer sees per threshold, the sheet,
and clear errors for a film of another size or an empty split."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.unit._bench import load_bench, tiny_card

pytest.importorskip("torch")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def card(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny published model at 128 px made to propose screws (random weights)."""
    return tiny_card(tmp_path_factory.mktemp("models"), [1, 3])


def _films(root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    images, anns = [], []
    for i, split in enumerate(("check", "tune"), start=1):
        img = np.full((120, 100), 40, np.uint8)
        cv2.rectangle(img, (20, 50), (80, 56), 220, -1)  # one bright screw
        cv2.imwrite(str(root / "images" / f"F{i}.png"), img)
        images.append(
            {"id": i, "file_name": f"F{i}.png", "width": 100, "height": 120, "split": split}
        )
        anns.append(
            {
                "id": i,
                "image_id": i,
                "category_id": 1,
                "segmentation": [[20.0, 50.0, 81.0, 50.0, 81.0, 57.0, 20.0, 57.0]],
                "bbox": [20.0, 50.0, 61.0, 7.0],
                "area": 427.0,
                "iscrowd": 0,
            }
        )
    coco = {
        "images": images,
        "annotations": anns,
        "categories": [{"id": 1, "name": "screw", "supercategory": "screw"}],
    }
    (root / "labels.json").write_text(json.dumps(coco))
    return root


def test_real_screw_bench_reports_ap_the_reviewers_view_and_a_sheet(
    card: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = load_bench("real_screws")
    root = _films(tmp_path / "films")
    args = ["--card", str(card), "--labels", str(root / "labels.json")]
    args += ["--images", str(root / "images"), "--threads", "1"]
    sheet = tmp_path / "sheet.png"
    assert module.main([*args, "--split", "all", "--sheet", str(sheet), "--cols", "2"]) == 0
    out = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert out["films"] == 2 and out["screws"] == 2 and out["split"] == "all"
    for key in ("screw_box_AP50", "screw_box_AP", "screw_mask_AP50", "screw_mask_AP"):
        assert 0.0 <= out[key] <= 1.0
    seen = out["at_display_threshold"]
    assert seen["display_threshold"] == 0.3
    sweep = seen["sweep"]
    assert [r["threshold"] for r in sweep] == [0.3, 0.5, 0.7, 0.9]
    assert seen["screws_found"] == sweep[0]["screws_found"] <= 2
    found = [r["screws_found"] for r in sweep]
    assert found == sorted(found, reverse=True)  # a higher threshold never finds more
    assert cv2.imread(str(sheet)).shape == (360, 720, 3)

    assert module.main([*args, "--split", "check", "--write-card"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["films"] == 1
    from orthogui.ml.card import load_card

    metrics = load_card(card).metrics
    assert 0.0 <= metrics["real_screws_check/screw_box_AP50"] <= 1.0
    assert metrics["real_screws_check/false_screws_per_film"] >= 0.0

    cv2.imwrite(str(root / "images" / "F1.png"), np.zeros((50, 50), np.uint8))
    with pytest.raises(SystemExit, match=r"F1\.png: is 50x50 px, the labels say 100x120"):
        module.main([*args, "--split", "check"])
    labels = json.loads((root / "labels.json").read_text())
    for im in labels["images"]:
        im["split"] = "tune"
    (root / "labels.json").write_text(json.dumps(labels))
    with pytest.raises(SystemExit, match="no image in split 'check'"):
        module.main([*args, "--split", "check"])
