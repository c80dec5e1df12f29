"""Synthetic data sets: reproducible bytes, loadable COCO, sane masks, physics order, DICOM."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
from pycocotools.coco import COCO

from orthogui.cli import main as cli_main
from orthogui.core.categories import DEFAULT_CATEGORIES, VERTEBRA_LEVELS
from orthogui.io.dicom_writer import TRANSFER_SYNTAXES, DicomImageInfo, write_dicom
from orthogui.io.masks import rle_to_mask
from orthogui.synth.dataset import write_dataset
from orthogui.synth.scenes import SceneSpec, synthesize

N = 6
SIZE = 320


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "a"
    write_dataset(out, n=N, seed=7, scene="mixed", size=SIZE, fmt="both")
    return out


def test_same_seed_gives_identical_bytes(dataset: Path, tmp_path: Path) -> None:
    again = tmp_path / "b"
    rc = cli_main(
        [
            "synth",
            "--out",
            str(again),
            "--n",
            str(N),
            "--seed",
            "7",
            "--size",
            str(SIZE),
            "--format",
            "both",
        ]
    )
    assert rc == 0
    first, second = _digest(dataset), _digest(again)
    assert any(k.endswith(".dcm") for k in first) and any(k.endswith(".png") for k in first)
    assert first == second
    other = tmp_path / "c"
    write_dataset(other, n=2, seed=8, scene="mixed", size=SIZE, fmt="png16")
    assert _digest(other)["annotations.json"] != first["annotations.json"]


def test_pycocotools_loads_and_categories_are_the_defaults(dataset: Path) -> None:
    coco = COCO(str(dataset / "annotations.json"))
    assert len(coco.imgs) == N
    cats = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    assert cats == {c.id: c.name for c in DEFAULT_CATEGORIES}
    for ann in coco.anns.values():
        assert ann["iscrowd"] == 0
        mask = coco.annToMask(ann)
        assert mask.shape == (SIZE, SIZE) and mask.sum() > 0
        assert ann["area"] == pytest.approx(mask.sum(), rel=0.1)
        x, y, w, h = ann["bbox"]
        assert x >= 0 and y >= 0 and x + w <= SIZE and y + h <= SIZE and w > 0 and h > 0
        visible = rle_to_mask(ann["visible_segmentation"])
        assert not (visible & ~coco.annToMask(ann).astype(bool)).sum() > 0.02 * mask.sum()


def test_annotations_carry_their_attributes(dataset: Path) -> None:
    data = json.loads((dataset / "annotations.json").read_text())
    for img in data["images"]:
        # Spines from 240 mm across, hand films ~280-360 mm, shoulder films up to ~500 mm.
        assert 0.2 <= img["pixel_spacing_mm"] * SIZE / 1024 <= 0.5
        assert (dataset / img["file_name"]).is_file()
    for ann in data["annotations"]:
        name = DEFAULT_CATEGORIES.by_id(ann["category_id"]).name
        attrs = ann["attributes"]
        assert attrs["view"] in ("ap", "lateral", "oblique")
        if name.endswith("_screw"):
            assert attrs["length_mm"] > 0 and attrs["diameter_mm"] > 0
        if name == "vertebral_compression_fracture":
            assert attrs["vertebra_level"] in VERTEBRA_LEVELS


def test_larger_run_has_empty_images_fractures_and_balanced_screws(tmp_path: Path) -> None:
    # About one film in ten shows no finding: count the empty ones over two small runs.
    empty = 0
    for seed in (2, 1):
        summary = write_dataset(tmp_path / str(seed), n=24, seed=seed, scene="mixed", size=192)
        data = json.loads(summary.annotations_path.read_text())
        empty += len(data["images"]) - len({a["image_id"] for a in data["annotations"]})
    assert empty > 0  # some images without findings
    screws = [v for k, v in summary.per_category.items() if k.endswith("_screw")]
    assert len(screws) == 5 and max(screws) <= 2 * min(screws)
    fractures = [a for a in data["annotations"] if a["category_id"] == 6]
    assert fractures and all(isinstance(a["segmentation"], list) for a in fractures)
    assert "vertebral_compression_fracture" in summary.per_category


@pytest.mark.parametrize("kind", ["limb", "spine"])
def test_metal_brighter_than_bone_brighter_than_soft_tissue(kind: str) -> None:
    types = ("cortical_screw", "cancellous_screw", "cannulated_screw")
    img = synthesize(SceneSpec(kind, 512, types, "L1"), np.random.default_rng(3))
    t = img.scene.thickness
    metal = t["metal"] > 1.0
    bone = (t["cortical"] + t["cancellous"] > 8.0) & ~cv2.dilate(
        metal.astype(np.uint8), None, iterations=4
    ).astype(bool)
    soft = (t["soft_tissue"] > 40.0) & (t["cortical"] + t["cancellous"] == 0) & ~metal
    # Judge the open field only: the collimator leaves a bright unexposed border.
    margins = img.exposure.collimation
    field = np.zeros_like(metal)
    field[
        int((margins[1] + 0.02) * 512) : int((0.98 - margins[3]) * 512),
        int((margins[0] + 0.02) * 512) : int((0.98 - margins[2]) * 512),
    ] = True
    metal, bone, soft = metal & field, bone & field, soft & field
    assert metal.sum() and bone.sum() and soft.sum()
    v = img.stored.astype(np.float64)
    assert v[metal].mean() > v[bone].mean() > v[soft].mean()
    assert img.stored.max() < 1 << img.exposure.bits


@pytest.mark.parametrize("syntax", list(TRANSFER_SYNTAXES))
def test_dicom_rereads_to_the_same_pixels(syntax: str, tmp_path: Path) -> None:
    img = synthesize(SceneSpec("limb", 256, ("locking_screw",)), np.random.default_rng(0))
    info = DicomImageInfo(img.exposure.bits, img.scene.spacing_mm, img.windows)
    path = write_dicom(tmp_path / "x.dcm", img.stored, info, transfer_syntax=syntax, uid_seed="t")  # type: ignore[arg-type]
    ds = pydicom.dcmread(path)
    assert ds.file_meta.TransferSyntaxUID == TRANSFER_SYNTAXES[syntax][0]
    assert ds.Modality == "DX" and ds.PhotometricInterpretation == "MONOCHROME2"
    assert ds.BitsStored == img.exposure.bits
    assert "SYNTHETIC" in str(ds.PatientName)
    assert float(ds.ImagerPixelSpacing[0]) == pytest.approx(img.scene.spacing_mm, rel=1e-5)
    assert len(ds.WindowCenter) == 3
    np.testing.assert_array_equal(ds.pixel_array, img.stored)


def test_dicom_in_dataset_matches_png(dataset: Path) -> None:
    data = json.loads((dataset / "annotations.json").read_text())
    seen = set()
    for img in data["images"]:
        png = cv2.imread(str(dataset / img["file_name"]), cv2.IMREAD_UNCHANGED)
        ds = pydicom.dcmread(dataset / img["dicom_file_name"])
        seen.add(str(ds.file_meta.TransferSyntaxUID))
        np.testing.assert_array_equal(ds.pixel_array, png)
    assert len(seen) == 3


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n must be"):
        write_dataset(tmp_path, n=0, seed=0)
    with pytest.raises(ValueError, match="scene kind"):
        synthesize(SceneSpec("skull", 256), np.random.default_rng(0))
    with pytest.raises(ValueError, match="bits_stored"):
        write_dicom(
            tmp_path / "x.dcm",
            np.full((4, 4), 5000, np.uint16),
            DicomImageInfo(12, 0.2),
            uid_seed="x",
        )
