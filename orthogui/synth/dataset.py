"""Write a synthetic data set: images (16-bit PNG, DICOM and/or 8-bit JPEG) plus a COCO file.

Plans are balanced over screw types; everything derives from the seed, so a run is reproducible
to the byte.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from orthogui.core.categories import DEFAULT_CATEGORIES, VERTEBRA_LEVELS
from orthogui.io.dicom_writer import TRANSFER_SYNTAXES, DicomImageInfo, write_dicom
from orthogui.io.masks import mask_iou, mask_to_polygons, mask_to_rle, polygons_to_mask
from orthogui.synth.acquisition import JPEG_QUALITY, Acquisition, encode_jpeg, render_8bit
from orthogui.synth.phantom import Instance, Scene
from orthogui.synth.scenes import SceneSpec, SynthImage, synthesize
from orthogui.synth.screws import SCREW_NAMES

SceneChoice = Literal["limb", "spine", "mixed"]
OutputFormat = Literal["png16", "dicom", "both", "jpeg8", "all"]
# What each output format writes; "both" predates the JPEG and keeps its meaning.
FORMAT_PARTS: dict[str, frozenset[str]] = {
    "png16": frozenset({"png16"}),
    "dicom": frozenset({"dicom"}),
    "both": frozenset({"png16", "dicom"}),
    "jpeg8": frozenset({"jpeg8"}),
    "all": frozenset({"png16", "dicom", "jpeg8"}),
}
POLYGON_MIN_IOU = 0.9  # below this the polygon loses the shape: store RLE instead


@dataclass(frozen=True)
class DatasetSummary:
    """What a run wrote."""

    images: int
    annotations: int
    per_category: dict[str, int]
    annotations_path: Path


def plan_image(
    rng: np.random.Generator, *, scene: SceneChoice, size: int, placed: Counter[str]
) -> SceneSpec:
    """Draw the content of the next image, preferring the screw types placed least so far.

    ``mixed`` is the realistic set: body parts in FracAtlas's proportions with their implants,
    some films with two views, and a tenth lateral spines, all acquired like clinical films.
    ``limb`` and ``spine`` are the first, simpler phantoms.
    """
    kind = str(rng.choice(["body", "spine"], p=[0.9, 0.1])) if scene == "mixed" else scene
    order = sorted(SCREW_NAMES, key=lambda t: (placed[t], float(rng.random())))
    if kind == "body":
        n = int(rng.choice(7, p=[0.25, 0.1, 0.13, 0.15, 0.14, 0.12, 0.11]))
        views = 2 if rng.random() < 0.12 else 1
        return SceneSpec("body", size, tuple(order[i % len(order)] for i in range(n)), views=views)
    if kind == "limb":
        n = int(rng.choice([0, 1, 2, 3, 4, 5], p=[0.12, 0.14, 0.2, 0.24, 0.18, 0.12]))
        return SceneSpec("limb", size, tuple(order[:n]))
    headed = [t for t in order if t in ("cortical_screw", "cancellous_screw", "cannulated_screw")]
    n = int(rng.choice([0, 2, 4], p=[0.5, 0.3, 0.2]))
    screws = tuple(headed[i % len(headed)] for i in range(n))
    level = str(rng.choice(list(VERTEBRA_LEVELS))) if rng.random() < 0.65 else None
    return SceneSpec("spine", size, screws, fracture_level=level, realistic=scene == "mixed")


def mask_bbox(mask: NDArray[np.bool_]) -> list[float]:
    """COCO box ``[x, y, width, height]`` of a non-empty mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    x0, y0 = int(cols[0]), int(rows[0])
    return [float(x0), float(y0), float(cols[-1] + 1 - x0), float(rows[-1] + 1 - y0)]


def segmentation(mask: NDArray[np.bool_]) -> list[list[float]] | dict[str, Any]:
    """COCO segmentation of a mask: polygons, or RLE where polygons would lose the shape."""
    polys = mask_to_polygons(mask, tolerance=0.5, min_area=2.0)
    if polys:
        raster = polygons_to_mask(polys, mask.shape)
        if mask_iou(raster, mask) >= POLYGON_MIN_IOU:
            return [p.flat() for p in polys]
    return mask_to_rle(mask)


def annotate(scene: Scene, *, image_id: int, first_id: int) -> list[dict[str, Any]]:
    """COCO annotations of a scene's instances, with occlusion-aware visible masks.

    The visible part of an instance is where no other metal (screws, plates) overlaps it: there
    the instance's own outline cannot be seen on the radiograph.
    """
    metal_masks = [inst.mask for inst in scene.instances if inst.metal]
    all_metal = np.zeros(scene.shape, dtype=bool)
    for m in metal_masks:
        all_metal |= m
    if scene.occluders is not None:
        all_metal |= scene.occluders
    out: list[dict[str, Any]] = []
    for k, inst in enumerate(scene.instances):
        others = _others_metal(scene, inst, metal_masks) if inst.metal else all_metal
        visible = inst.mask & ~others
        cat = DEFAULT_CATEGORIES.by_name(inst.category)
        out.append(
            {
                "id": first_id + k,
                "image_id": image_id,
                "category_id": cat.id,
                "segmentation": segmentation(inst.mask),
                "bbox": mask_bbox(inst.mask),
                "area": float(np.count_nonzero(inst.mask)),
                "iscrowd": 0,
                "attributes": dict(inst.attributes),
                "visible_segmentation": mask_to_rle(visible),
                "visible_area": float(np.count_nonzero(visible)),
            }
        )
    return out


def _others_metal(
    scene: Scene, inst: Instance, metal_masks: list[NDArray[np.bool_]]
) -> NDArray[np.bool_]:
    others = np.zeros(scene.shape, dtype=bool)
    for m in metal_masks:
        if m is not inst.mask:
            others |= m
    if scene.occluders is not None:
        others |= scene.occluders
    return others


# DICOM Body Part Examined (PS3.16 CID 4031 code strings) of the body-part scenes.
_DICOM_BODY_PART = {
    "hand_wrist": "HAND",
    "forearm": "FOREARM",
    "elbow": "ELBOW",
    "shoulder": "SHOULDER",
    "hip_femur": "HIP",
    "knee": "KNEE",
    "leg_ankle": "LEG",
    "foot": "FOOT",
}


def _dicom_info(img: SynthImage) -> DicomImageInfo:
    sc = img.scene
    return DicomImageInfo(
        bits_stored=img.exposure.bits,
        pixel_spacing_mm=sc.spacing_mm,
        windows=img.windows,
        body_part=_DICOM_BODY_PART.get(sc.body_part)
        or ("LSPINE" if "vertebral_compression_fracture" in _kinds(sc) else "EXTREMITY"),
        view_position="LL" if sc.view == "lateral" else "AP",
        laterality=sc.side,
    )


def _kinds(scene: Scene) -> set[str]:
    return {i.category for i in scene.instances}


def export_8bit(img: SynthImage) -> NDArray[np.uint8]:
    """The 8-bit rendering the ``jpeg8`` format encodes.

    A realistic acquisition already carries its processing LUT, so its full stored range is
    shown; a legacy exposure is shown through its default window, as a viewer would.
    """
    bits = img.exposure.bits
    if isinstance(img.exposure, Acquisition) or not img.windows:
        return render_8bit(img.stored, bits=bits)
    return render_8bit(img.stored, bits=bits, window=img.windows[0])


def write_dataset(
    out: str | Path,
    *,
    n: int,
    seed: int,
    scene: SceneChoice = "mixed",
    size: int = 1024,
    fmt: OutputFormat = "png16",
) -> DatasetSummary:
    """Generate ``n`` images and their COCO annotations into ``out``.

    ``fmt`` is one of ``FORMAT_PARTS``: ``png16`` (stored values), ``dicom``, ``both`` (the two),
    ``jpeg8`` (8-bit greyscale JPEG at FracAtlas quality, ``bits_stored`` 8) or ``all`` (the
    three; ``file_name`` names the PNG, ``jpeg_file_name`` the JPEG). DICOM files cycle through
    the transfer syntaxes (uncompressed, RLE, JPEG 2000 lossless).
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if scene not in ("limb", "spine", "mixed"):
        raise ValueError(f"scene must be limb, spine or mixed, got {scene!r}")
    if fmt not in FORMAT_PARTS:
        raise ValueError(f"format must be one of {', '.join(FORMAT_PARTS)}, got {fmt!r}")
    parts = FORMAT_PARTS[fmt]
    root = Path(out)
    (root / "images").mkdir(parents=True, exist_ok=True)
    placed: Counter[str] = Counter()
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    syntaxes = list(TRANSFER_SYNTAXES)
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        spec = plan_image(rng, scene=scene, size=size, placed=placed)
        img = synthesize(spec, rng)
        placed.update(inst.category for inst in img.scene.instances if inst.metal)
        image_id = i + 1
        stem = f"images/synth_{seed}_{i:05d}"
        entry: dict[str, Any] = {
            "id": image_id,
            "width": size,
            "height": size,
            "scene": spec.kind,
            "body_part": img.scene.body_part or spec.kind,
            "hardware": sorted({h.kind for h in img.scene.hardware}),
            "view": img.scene.view,
            "side": img.scene.side,
            "pixel_spacing_mm": img.scene.spacing_mm,
            "bits_stored": img.exposure.bits,
            "photometric": "MONOCHROME2",
            "windows": [[w.center, w.width, w.name] for w in img.windows],
        }
        if "png16" in parts:
            cv2.imwrite(str(root / f"{stem}.png"), img.stored)
            entry["file_name"] = f"{stem}.png"
        if "dicom" in parts:
            ts = syntaxes[i % len(syntaxes)]
            write_dicom(
                root / f"{stem}.dcm",
                img.stored,
                _dicom_info(img),
                transfer_syntax=ts,  # type: ignore[arg-type]
                uid_seed=f"orthogui-synth:{seed}:{i}",
            )
            entry["dicom_file_name"] = f"{stem}.dcm"
            entry["transfer_syntax"] = TRANSFER_SYNTAXES[ts][0]
            entry.setdefault("file_name", f"{stem}.dcm")
        if "jpeg8" in parts:
            (root / f"{stem}.jpg").write_bytes(encode_jpeg(export_8bit(img), quality=JPEG_QUALITY))
            entry["jpeg_file_name"] = f"{stem}.jpg"
            entry["jpeg_quality"] = JPEG_QUALITY
            if fmt == "jpeg8":
                entry["file_name"] = f"{stem}.jpg"
                entry["bits_stored"] = 8
                entry["windows"] = [[127.5, 255.0, "default"]]
        images.append(entry)
        annotations += annotate(img.scene, image_id=image_id, first_id=len(annotations) + 1)
    coco = {
        "info": {
            "description": "OrthoGUI synthetic orthopaedic radiographs (phantoms)",
            "version": "1",
            "year": 2024,
            "seed": seed,
        },
        "licenses": [],
        "images": images,
        "categories": [
            {"id": c.id, "name": c.name, "supercategory": c.supercategory}
            for c in DEFAULT_CATEGORIES
        ],
        "annotations": annotations,
    }
    path = root / "annotations.json"
    path.write_text(json.dumps(coco, separators=(",", ":")), encoding="utf-8")
    names = {c.id: c.name for c in DEFAULT_CATEGORIES}
    per_cat = Counter(names[a["category_id"]] for a in annotations)
    return DatasetSummary(len(images), len(annotations), dict(sorted(per_cat.items())), path)
