"""COCO export and snapshots: content, pycocotools loadability, split rules, atomic writing."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from orthogui.core.annotation import Annotation, Provenance, Review, ReviewState
from orthogui.core.geometry import Box, Polygon
from orthogui.core.project import ImageRecord, ImageStatus, ProjectModel
from orthogui.io.coco import REJECTED_KEY, to_coco
from orthogui.io.snapshot import ImageMode, SnapshotOptions, assign_splits, export_snapshot


def make_model(tmp_path: Path | None = None, *, n_images: int = 12) -> ProjectModel:
    """A project with polygons and boxes in every review state, studies of two images each."""
    model = ProjectModel()
    rng = np.random.default_rng(1)
    screw = ["cortical_screw", "locking_screw", "cannulated_screw"]
    for i in range(n_images):
        path = f"img{i:03d}.png"
        if tmp_path is not None:
            img = (rng.random((64, 80)) * 4000).astype(np.uint16)
            cv2.imwrite(str(tmp_path / path), img)
            path = str(tmp_path / path)
        rec = ImageRecord(
            id=f"im{i}",
            path=path,
            width=80,
            height=64,
            status=ImageStatus.APPROVED if i % 4 else ImageStatus.IN_REVIEW,
            study_key=f"study{i // 2}",
            attributes={"body_region": "hip" if i % 2 else "hand"},
        )
        model.put_image(rec)
        x = 5.0 + i
        model.load(
            [],
            [
                Annotation(
                    id=f"a{i}p",
                    image_id=rec.id,
                    category=screw[i % 3],
                    shape=Polygon([(x, 5.5), (x + 20, 6), (x + 22, 30.25), (x + 1, 28)]),
                    provenance=Provenance("model", "maskrcnn", "1.2", 0.875),
                    review=Review(ReviewState.CORRECTED, "dr_a", "2024-01-02T03:04:05+00:00"),
                    attributes={"length_mm": 40 + i},
                    original_category="cortical_screw",
                    original_shape=Box(1, 2, 3, 4),
                ),
                Annotation.human(image_id=rec.id, category="fracture", shape=Box(40, 10, 70, 50)),
                Annotation(
                    id=f"a{i}r",
                    image_id=rec.id,
                    category="vertebral_compression_fracture",
                    shape=Polygon([(50, 40), (60, 40), (60, 50), (50, 50)]),
                    provenance=Provenance("model", "maskrcnn", "1.2", 0.3),
                    review=Review(ReviewState.REJECTED, "dr_b", "2024-01-03T00:00:00+00:00"),
                    attributes={"vertebra_level": "L1"},
                ),
            ],
        )
    return model


def test_to_coco_writes_geometry_areas_and_our_keys() -> None:
    model = make_model()
    coco = to_coco(model)
    assert len(coco["images"]) == 12
    assert [c["id"] for c in coco["categories"]] == [c.id for c in model.categories]
    assert coco[REJECTED_KEY] == []  # rejected findings stay out unless asked for
    poly = next(a for a in coco["annotations"] if a["orthogui_shape"] == "polygon")
    assert poly["segmentation"] == [[5.0, 5.5, 25.0, 6.0, 27.0, 30.25, 6.0, 28.0]]
    assert poly["bbox"] == [5.0, 5.5, 22.0, 24.75]
    assert poly["review_state"] == "corrected" and poly["reviewed_by"] == "dr_a"
    assert poly["provenance"] == {
        "source": "model",
        "model_name": "maskrcnn",
        "model_version": "1.2",
        "score": 0.875,
    }
    assert poly["attributes"] == {"length_mm": 40} and poly["original_category"] == "cortical_screw"
    box = next(a for a in coco["annotations"] if a["orthogui_shape"] == "box")
    assert box["area"] == 30 * 40 and box["segmentation"] == [[40, 10, 70, 10, 70, 50, 40, 50]]
    # Areas are what COCOeval computes from the segmentation, and the file loads in pycocotools.
    gt = COCO()
    gt.dataset = json.loads(json.dumps(coco))
    gt.createIndex()
    for ann in gt.dataset["annotations"]:
        if ann["orthogui_shape"] == "polygon":
            rle = gt.annToRLE(ann)
            from pycocotools import mask as mask_utils

            assert ann["area"] == pytest.approx(float(mask_utils.area(rle)))
            assert gt.annToMask(ann).sum() == ann["area"]


def test_rejected_findings_only_on_request_and_marked() -> None:
    model = make_model()
    coco = to_coco(model, include=set(ReviewState), categories=["vertebral_compression_fracture"])
    assert coco["annotations"] == []
    assert len(coco[REJECTED_KEY]) == 12
    assert {a["review_state"] for a in coco[REJECTED_KEY]} == {"rejected"}
    with pytest.raises(KeyError, match="unknown categories"):
        to_coco(model, categories=["plate"])


def test_split_is_reproducible_grouped_and_stratified() -> None:
    records = [ImageRecord(id=f"i{k}", path="", study_key=f"s{k // 3}") for k in range(300)]
    cats = {r.id: (["rare"] if k % 30 == 0 else []) + ["common"] for k, r in enumerate(records)}
    a = assign_splits(records, cats, fractions=(0.8, 0.1, 0.1), seed=7)
    assert a == assign_splits(records, cats, fractions=(0.8, 0.1, 0.1), seed=7)
    assert a != assign_splits(records, cats, fractions=(0.8, 0.1, 0.1), seed=8)
    by_study: dict[str, set[str]] = {}
    for r in records:
        by_study.setdefault(r.study_key, set()).add(a[r.id])
    assert all(len(s) == 1 for s in by_study.values())  # a study never straddles splits
    counts = {s: sum(1 for v in a.values() if v == s) for s in ("train", "val", "test")}
    assert counts == {"train": 240, "val": 30, "test": 30}
    rare = {s: sum(1 for r in records if "rare" in cats[r.id] and a[r.id] == s) for s in counts}
    assert rare == {"train": 8, "val": 1, "test": 1}


def test_snapshot_layout_manifest_and_selection(tmp_path: Path) -> None:
    model = make_model(tmp_path)
    out = tmp_path / "snap"
    res = export_snapshot(
        model,
        out,
        image_path_of=lambda r: Path(r.path),
        options=SnapshotOptions(image_mode=ImageMode.ORIGINAL, seed=3),
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest == res.manifest and "salt" not in manifest["options"]
    total = sum(c["images"] for c in manifest["counts"].values())
    assert total == 9  # approved images only
    images = [im for s in ("train", "val", "test") for im in _load(out, s)["images"]]
    assert len(images) == 9 and {im["status"] for im in images} == {"approved"}
    for im in images:
        assert (out / im["file_name"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "img" not in im["file_name"]  # names are salted hashes, not source names
    assert set(manifest["files"]) == {
        *(f"annotations/{s}.json" for s in ("train", "val", "test")),
        *(im["file_name"] for im in images),
    }
    # Same content and salt -> same hash; the hash covers the image files.
    again = export_snapshot(
        model,
        tmp_path / "snap2",
        image_path_of=lambda r: Path(r.path),
        options=SnapshotOptions(image_mode=ImageMode.ORIGINAL, seed=3, salt="s"),
    )
    third = export_snapshot(
        model,
        tmp_path / "snap3",
        image_path_of=lambda r: Path(r.path),
        options=SnapshotOptions(image_mode=ImageMode.ORIGINAL, seed=3, salt="s"),
    )
    assert again.manifest["sha256"] == third.manifest["sha256"]
    with pytest.raises(FileExistsError):
        export_snapshot(model, out, image_path_of=lambda r: Path(r.path), options=SnapshotOptions())


@pytest.mark.parametrize("mode", [ImageMode.PNG16, ImageMode.PNG8])
def test_snapshot_png_modes(tmp_path: Path, mode: ImageMode) -> None:
    model = make_model(tmp_path, n_images=4)
    out = tmp_path / "snap"
    export_snapshot(
        model,
        out,
        image_path_of=lambda r: Path(r.path),
        options=SnapshotOptions(image_mode=mode, approved_only=False),
    )
    files = sorted((out / "images").iterdir())
    assert len(files) == 4
    img = cv2.imread(str(files[0]), cv2.IMREAD_UNCHANGED)
    assert img.shape == (64, 80)
    assert img.dtype == (np.uint16 if mode is ImageMode.PNG16 else np.uint8)


def test_failure_midway_leaves_no_snapshot(tmp_path: Path) -> None:
    model = make_model(tmp_path)
    calls = []

    def path_of(rec: ImageRecord) -> Path:
        calls.append(rec.id)
        if len(calls) == 3:
            raise OSError("disk unplugged")
        return Path(rec.path)

    with pytest.raises(OSError, match="disk unplugged"):
        export_snapshot(model, tmp_path / "snap", image_path_of=path_of, options=SnapshotOptions())
    assert not (tmp_path / "snap").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".snap")]


def _load(out: Path, split: str) -> dict:
    return json.loads((out / "annotations" / f"{split}.json").read_text())
