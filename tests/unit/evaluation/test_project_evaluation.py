"""Evaluating a model on a project's approved images: the reference set, COCOeval-equal AP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orthogui.core.annotation import Prediction
from orthogui.core.project import ImageStatus, ProjectModel
from orthogui.evaluation.project import (
    detections_coco,
    evaluate_project,
    ground_truth_coco,
    reference_images,
    save_report,
)
from tests.unit.evaluation import _scenario as sc


def test_reference_is_the_reviewed_findings_of_approved_images() -> None:
    model = sc.project()
    records = reference_images(model)
    assert [r.id for r in records] == ["A", "B", "C"]
    segm = ground_truth_coco(model, records, kind="segm")
    bbox = ground_truth_coco(model, records, kind="bbox")
    # 3 cortical + 1 locking screw; the proposal on B, the rejected one on C and D's are out.
    assert sorted(a["category_id"] for a in segm["annotations"]) == [1, 1, 1, 3]
    assert [a["bbox"] for a in bbox["annotations"]] == [[10.0, 150.0, 70.0, 40.0]]
    assert {c["name"] for c in bbox["categories"]} == {"fracture"}
    assert "fracture" not in {c["name"] for c in segm["categories"]}
    dt = detections_coco(records, sc.predictions(), model.categories, kind="segm")
    assert len(dt) == 4 and {d["image_id"] for d in dt} == {1, 2}  # D's prediction is out
    assert all(set(d["segmentation"]) == {"size", "counts"} for d in dt)


def test_ap_matches_cocoeval_and_the_hand_computation() -> None:
    result = evaluate_project(sc.project(), sc.predictions(), model_name="fake", model_version="2")
    rows = {r.category: r for r in result.rows}
    for category, kind in ((sc.CORTICAL, "segm"), (sc.LOCKING, "segm"), (sc.FRACTURE, "bbox")):
        expected = sc.cocoeval_ap(kind, category)
        row = rows[category]
        assert row.kind == kind
        assert row.ap == pytest.approx(expected["AP"], abs=1e-12)
        assert row.ap50 == pytest.approx(expected["AP50"], abs=1e-12)
        assert row.ap75 == pytest.approx(expected["AP75"], abs=1e-12)
    for category, ap50 in sc.EXPECTED_AP50.items():
        assert rows[category].ap50 == pytest.approx(ap50, abs=1e-12)
    assert rows[sc.CORTICAL].ap75 == pytest.approx(34 / 101)  # the 0.74-IoU hit misses at 0.75
    assert rows[sc.LOCKING].ap50 == 0.0 and rows[sc.LOCKING].reference == 1
    assert rows[sc.CORTICAL].reference == 3 and rows[sc.CORTICAL].detections == 4
    # Categories with neither references nor detections have no AP (COCOeval's -1).
    assert rows["cannulated_screw"].ap is None and rows["cannulated_screw"].reference == 0
    # Matched masks: S1 exact (IoU 1), S3 at 68/92 (threshold 0.5 keeps both cortical hits).
    assert rows[sc.CORTICAL].mask_iou == pytest.approx((1 + 68 / 92) / 2, abs=0.02)
    assert rows[sc.CORTICAL].precision == pytest.approx(2 / 4)
    assert rows[sc.CORTICAL].recall == pytest.approx(2 / 3)
    # Screw confusion: the locking screw was called cortical.
    conf = result.confusion
    assert conf is not None
    labels = conf["labels"]
    at = {(r, c): conf["matrix"][i][j] for i, r in enumerate(labels) for j, c in enumerate(labels)}
    assert at[(sc.LOCKING, sc.CORTICAL)] == 1 and at[(sc.CORTICAL, sc.CORTICAL)] == 2
    assert at[(sc.CORTICAL, "(none)")] == 1 and at[("(none)", sc.CORTICAL)] == 1
    assert any("still proposed" in w for w in result.warnings)


def test_sizes_from_the_images_read_and_errors() -> None:
    model = sc.project()
    for rec in model.images():
        model.put_image(rec.evolve(width=0, height=0))
    with pytest.raises(ValueError, match="size unknown"):
        evaluate_project(model, sc.predictions())
    sizes = {i: (sc.SIZE, sc.SIZE) for i in ("A", "B", "C")}
    preds = sc.predictions()
    preds["A"].append(Prediction("plate", 0.9, sc.rect(1, 1, 9, 9)))  # not a project category
    result = evaluate_project(model, preds, sizes=sizes)
    rows = {r.category: r for r in result.rows}
    assert rows[sc.CORTICAL].ap50 == pytest.approx(0.5)
    assert "categories the project lacks, not scored: ['plate']" in result.warnings[-1]
    empty = ProjectModel()
    with pytest.raises(ValueError, match="no approved images"):
        evaluate_project(empty, {})
    model.put_image(model.image("A").evolve(status=ImageStatus.NEW))
    assert [r.id for r in reference_images(model)] == ["B", "C"]


def test_save_report_writes_json_inputs_and_curves(tmp_path: Path) -> None:
    result = evaluate_project(sc.project(), sc.predictions(), model_name="fake", model_version="2")
    files = save_report(result, tmp_path / "out")
    names = {f.relative_to(tmp_path / "out").as_posix() for f in files}
    assert {"report.json", "gt_segm.json", "detections_segm.json", "gt_bbox.json"} <= names
    assert "pr_segm/pr_cortical_screw.png" in names and "pr_bbox/pr_all.png" in names
    for f in files:
        assert f.stat().st_size > 0
        if f.suffix == ".png":
            assert f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["model"] == {"name": "fake", "version": "2"}
    row = next(r for r in report["rows"] if r["category"] == sc.FRACTURE)
    assert row["ap50"] == pytest.approx(1.0)
    # The saved inputs reproduce the numbers through the plain evaluate() (the CLI's path).
    from orthogui.evaluation import evaluate

    again = evaluate(
        tmp_path / "out" / "gt_segm.json",
        tmp_path / "out" / "detections_segm.json",
        iou_type="segm",
    )
    assert again["coco"]["per_category"][sc.CORTICAL]["AP50"] == pytest.approx(0.5)
