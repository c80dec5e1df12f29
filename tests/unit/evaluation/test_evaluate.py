"""``evaluate`` against pycocotools' COCOeval run directly, and the threshold metrics by hand."""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from orthogui.evaluation import EvaluationInputError, evaluate
from orthogui.io.importers import CocoError


def _square(x: float, y: float, s: float) -> list[float]:
    return [x, y, x + s, y, x + s, y + s, x, y + s]


def synthetic() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """3 categories on 6 images: hits, near misses, misses, false positives, a wrong type."""
    rng = np.random.default_rng(5)
    images, anns, preds = [], [], []
    for i in range(1, 7):
        images.append(
            {
                "id": i,
                "file_name": f"{i}.png",
                "width": 200,
                "height": 150,
                "attributes": {"body_region": "hip" if i % 2 else "hand"},
            }
        )
    aid = 1
    for i in range(1, 6):  # image 6 stays empty: a true negative (or a false alarm)
        for k in range(3):
            cat = 1 + (i + k) % 3
            x, y, s = 10 + 60 * k, 20 + 5 * i, 15 + 10 * k + i
            anns.append(
                {
                    "id": aid,
                    "image_id": i,
                    "category_id": cat,
                    "segmentation": [_square(x, y, s)],
                    "bbox": [x, y, s, s],
                    "area": s * s,
                    "iscrowd": 0,
                    "attributes": {"vertebra_level": ["L1", "L2"][k % 2]},
                }
            )
            aid += 1
            if (i + k) % 5 == 0:
                continue  # a miss
            jitter = rng.uniform(-3, 3, 2)
            pcat = cat if (i, k) != (2, 1) else 1 + cat % 3  # one wrong screw type
            px, py = x + jitter[0], y + jitter[1]
            preds.append(
                {
                    "image_id": i,
                    "category_id": pcat,
                    "bbox": [px, py, s, s],
                    "segmentation": [_square(px, py, s)],
                    "score": float(rng.uniform(0.3, 1.0)),
                }
            )
        preds.append(
            {
                "image_id": i,
                "category_id": 2,
                "bbox": [150, 100, 20, 20],
                "segmentation": [_square(150, 100, 20)],
                "score": 0.9 - 0.1 * i,
            }
        )
    preds.append(
        {
            "image_id": 6,
            "category_id": 3,
            "bbox": [5, 5, 30, 30],
            "segmentation": [_square(5, 5, 30)],
            "score": 0.95,
        }
    )
    gt = {
        "images": images,
        "annotations": anns,
        "categories": [
            {"id": 1, "name": "cortical_screw"},
            {"id": 2, "name": "locking_screw"},
            {"id": 3, "name": "fracture"},
        ],
    }
    return gt, preds


def reference(
    gt: dict[str, Any], preds: list[Any], iou_type: str, cat_ids: list[int] | None = None
) -> np.ndarray:
    g = COCO()
    g.dataset = copy.deepcopy(gt)
    with contextlib.redirect_stdout(io.StringIO()):
        g.createIndex()
        d = g.loadRes(copy.deepcopy(preds))
        ev = COCOeval(g, d, iou_type)
        if cat_ids is not None:
            ev.params.catIds = cat_ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_ap_equals_cocoeval_overall_and_per_category(iou_type: str, tmp_path: Path) -> None:
    gt, preds = synthetic()
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "pred.json").write_text(json.dumps(preds))
    report = evaluate(tmp_path / "gt.json", tmp_path / "pred.json", iou_type=iou_type)
    ref = reference(gt, preds, iou_type)
    names = ["AP", "AP50", "AP75", "APs", "APm", "APl"]
    assert [report["coco"][n] for n in names] == [float(v) for v in ref[:6]]
    assert 0.2 < report["coco"]["AP50"] < 1.0  # the pair is not trivial
    for cat in gt["categories"]:
        one = reference(gt, preds, iou_type, [cat["id"]])
        mine = report["coco"]["per_category"][cat["name"]]
        assert mine["AP"] == pytest.approx(one[0], abs=1e-12)
        assert mine["AP50"] == pytest.approx(one[1], abs=1e-12)
        assert mine["AP75"] == pytest.approx(one[2], abs=1e-12)


def test_threshold_metrics_by_hand() -> None:
    gt, preds = synthetic()
    report = evaluate(gt, preds, iou_type="bbox", score_threshold=0.0)
    json.dumps(report, allow_nan=False)  # plain JSON, no numpy scalars
    det = report["detection"]["overall"]
    # 15 gt; 3 misses ((i+k)%5==0); 1 wrong type (a miss and a false positive); 6 stray boxes.
    assert (det["tp"], det["fn"], det["fp"]) == (11, 4, 7)
    assert det["precision"] == pytest.approx(11 / 18) and det["recall"] == pytest.approx(11 / 15)
    assert det["fp_per_image"] == pytest.approx(7 / 6)
    conf = report["confusion"]
    labels = conf["labels"]
    assert labels[-1] == "(none)"
    mat = np.array(conf["matrix"])
    assert mat[:3, :3].sum() == 12 and mat[:3, :3].trace() == 11  # one screw-type confusion
    assert report["image_level"] == {
        "tp": 5,
        "fp": 1,
        "tn": 0,
        "fn": 0,
        "sensitivity": 1.0,
        "specificity": 0.0,
    }
    hip = report["attributes"]["image"]["body_region"]["hip"]
    assert hip["images"] == 3
    levels = report["attributes"]["annotation"]["vertebra_level"]
    assert levels["L1"]["gt"] + levels["L2"]["gt"] == 15
    assert levels["L1"]["tp"] + levels["L2"]["tp"] == 11
    # A high threshold leaves the stray detections of low score out.
    strict = evaluate(gt, preds, score_threshold=0.99)
    assert strict["detection"]["overall"]["tp"] + strict["detection"]["overall"]["fp"] == 0
    assert strict["image_level"]["specificity"] == 1.0


def test_segm_mask_quality_and_plots(tmp_path: Path) -> None:
    gt, preds = synthetic()
    report = evaluate(gt, preds, iou_type="segm", score_threshold=0.0, plots_dir=tmp_path)
    q = report["mask_quality"]["overall"]
    assert q["n"] == 11
    assert 0.5 < q["mask_iou"] < 1.0 and q["dice"] > q["mask_iou"]
    assert 0.0 < q["boundary_f1"] <= 1.0
    perfect = [dict(a, score=1.0) for a in gt["annotations"]]
    exact = evaluate(gt, perfect, iou_type="segm")
    assert exact["coco"]["AP"] == 1.0
    assert exact["mask_quality"]["overall"]["mask_iou"] == 1.0
    assert exact["mask_quality"]["overall"]["boundary_f1"] == 1.0
    assert set(report["plots"]) == {
        "pr_all.png",
        "pr_cortical_screw.png",
        "pr_locking_screw.png",
        "pr_fracture.png",
    }
    assert (tmp_path / "pr_all.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_inputs_are_named(tmp_path: Path) -> None:
    gt, preds = synthetic()
    with pytest.raises(EvaluationInputError, match=r"image ids \[99\] are not in the ground truth"):
        evaluate(gt, [dict(preds[0], image_id=99)])
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(EvaluationInputError, match=r"bad\.json: line 1 column 2: bad JSON"):
        evaluate(tmp_path / "bad.json", preds)


def test_ground_truth_goes_through_the_one_coco_loader(tmp_path: Path) -> None:
    gt, preds = synthetic()
    gt["annotations"][0]["image_id"] = 99
    with pytest.raises(EvaluationInputError) as err:
        evaluate(gt, preds)
    assert isinstance(err.value.__cause__, CocoError)
    assert err.value.path == "<ground truth>"
    assert err.value.reason.startswith("annotations[0].image_id: image id 99 is not in images")
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(gt))
    with pytest.raises(EvaluationInputError, match=r"gt\.json: annotations\[0\]\.image_id"):
        evaluate(path, preds)


def _perturbed(gt: dict[str, Any], seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    out = []
    for a in gt["annotations"]:
        if rng.random() < 0.15:
            continue
        x, y, w, h = a["bbox"]
        d = rng.normal(0, 0.08, 4) * [w, h, w, h]
        out.append(
            {
                "image_id": a["image_id"],
                "category_id": a["category_id"],
                "bbox": [x + d[0], y + d[1], w + d[2], h + d[3]],
                "score": float(rng.random()),
            }
        )
    for im in gt["images"][::7]:
        out.append(
            {
                "image_id": im["id"],
                "category_id": 0,
                "bbox": [10, 10, 50, 40],
                "score": float(rng.random()),
            }
        )
    return out


def test_fracatlas_fixture_perturbed_boxes(test_data: Path) -> None:
    gt = json.loads((test_data / "fracatlas" / "annotations.json").read_text())
    preds = _perturbed(gt, 1)
    report = evaluate(gt, preds)
    assert [report["coco"][n] for n in ("AP", "AP50", "AP75")] == [
        float(v) for v in reference(gt, preds, "bbox")[:3]
    ]


@pytest.mark.realdata
@pytest.mark.slow
def test_real_fracatlas_perturbed_boxes_equal_cocoeval(shared_data: Path) -> None:
    path = shared_data / "fracatlas" / "annotations.json"
    gt = json.loads(path.read_text())
    preds = _perturbed(gt, 2)
    report = evaluate(path, preds, iou_type="bbox")
    ref = reference(gt, preds, "bbox")
    assert [report["coco"][n] for n in ("AP", "AP50", "AP75", "APs", "APm", "APl")] == [
        float(v) for v in ref[:6]
    ]
    assert report["coco"]["per_category"]["fractured"]["AP"] == pytest.approx(ref[0], abs=1e-12)
    assert report["warnings"]  # FracAtlas numbers its first annotation 0: flagged
    assert 0.3 < report["coco"]["AP50"] <= 1.0
