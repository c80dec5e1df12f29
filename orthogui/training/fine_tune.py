"""Fine-tuning a published default model into its next version on the recipe's data: the mix
(phantoms, FracAtlas films, the films outlined for real screws weighted up, optional plain limb
phantoms and composites) and its job. ``orthogui train-default --from-card`` runs it."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from orthogui.core.categories import DEFAULT_CATEGORIES
from orthogui.io.importers import CocoError, load_coco
from orthogui.training.default_model import (
    Recipe,
    RecipeError,
    default_job,
    labels_path,
    load_real_screws,
    synth_part,
    write_split,
)
from orthogui.training.job import TrainingJob


@dataclass(frozen=True)
class FineTune:
    """How a published default model is fine-tuned into the next version on the recipe's
    data: a mix that gives the films outlined for real screws more weight than their share."""

    steps: int = 500
    lr: float = 0.005
    warmup_steps: int = 50
    synthetic: int = 300  # the recipe snapshot's first phantoms
    # Plain "limb" phantoms (one long bone, its fracture, a plate and screws of every type),
    # made for the fine-tune at the recipe's sizes: the recipe's phantoms are all "mixed".
    limb: int = 0
    limb_seed: int = 8111
    fracatlas: int = 300  # its first other FracAtlas films
    real_screw_repeats: int = 4  # each film outlined for real screws, this many times per epoch
    # Phantom screws drawn into other FracAtlas films (synth.composite): real anatomy, exact
    # masks; backgrounds taken in turn from the films the plain mix does not use first. Off in
    # the recipe: 366-600 of them left the real check films where they were
    # (docs/benchmarks.md, "Phantom screws drawn into real films").
    composites: int = 0
    composite_seed: int = 9101
    # With screw scores weighted by their outline's confidence (``Recipe.mask_score_power``),
    # 0.4 finds as many real screws as 0.5 did unweighted with fewer false ones (version 13 on
    # the 46 tune films: 142 found and 2.8 false per film, against 141 and 2.9).
    display_threshold: float = 0.4
    # Fracture boxes keep the detector's score: below 0.5 they add false boxes on real films
    # (FracAtlas valid, version 13: at 0.4 164 boxes shown and 50 of 91 fractures found,
    # at 0.5 130 and 49).
    box_display_threshold: float = 0.5


def fine_tune_snapshot(
    recipe_snapshot: str | Path, out: str | Path, *, fine_tune: FineTune
) -> dict[str, Any]:
    """Write the fine-tuning snapshot into ``out`` from a built recipe snapshot: train is the
    mix of ``fine_tune``, val is the recipe's; images are hard links (copies where the file
    system has none). Returns the summary for the card."""
    src, dst = Path(recipe_snapshot), Path(out)
    summary_path = src / "summary.json"
    if not summary_path.is_file():
        raise RecipeError(summary_path, "the recipe snapshot is not complete")
    summary: dict[str, Any] = json.loads(summary_path.read_text(encoding="utf-8"))
    try:
        train = load_coco(src / "annotations" / "train.json")
        val = load_coco(src / "annotations" / "val.json")
    except CocoError as exc:
        raise RecipeError(exc.path, exc.reason) from exc
    # The films outlined for training ("tune"), with or without screws: those without teach
    # what is not a screw (wires, staples, a nail without locking screws).
    labels = summary.get("recipe", {}).get("real_screws")
    tune = (
        {n for n, f in load_real_screws(labels_path(labels)).items() if f.split == "tune"}
        if labels
        else set()
    )
    fracatlas = [im for im in train["images"] if "source" in im]
    parts = (
        ([im for im in train["images"] if "source" not in im][: fine_tune.synthetic], 1),
        ([im for im in fracatlas if im["source"] not in tune][: fine_tune.fracatlas], 1),
        ([im for im in fracatlas if im["source"] in tune], fine_tune.real_screw_repeats),
    )
    by_image: dict[int, list[dict[str, Any]]] = {}
    for a in train["annotations"]:
        by_image.setdefault(int(a["image_id"]), []).append(a)
    if dst.exists():
        shutil.rmtree(dst)
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for group, times in parts:
        for _ in range(times):
            for im in group:
                _append(images, annotations, im, by_image.get(int(im["id"]), []))
    plain = {str(im["file_name"]) for im in images + val["images"]}
    extra = [im for im in fracatlas if im["source"] not in tune]
    extra = extra[fine_tune.fracatlas :] + extra[: fine_tune.fracatlas]
    n_comp = _add_composites(src, dst, extra, by_image, images, annotations, fine_tune)
    n_limb = _add_limb_phantoms(dst, summary_path, summary, images, annotations, fine_tune)
    for name in plain:
        target = dst / name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            target.hardlink_to(src / name)
        except OSError:
            shutil.copy2(src / name, target)
    write_split(dst, "train", {**train, "images": images, "annotations": annotations})
    (dst / "annotations" / "val.json").write_bytes((src / "annotations" / "val.json").read_bytes())
    names = {c.id: c.name for c in DEFAULT_CATEGORIES}
    per: dict[str, int] = {}
    for a in annotations:
        per[names[int(a["category_id"])]] = per.get(names[int(a["category_id"])], 0) + 1
    return {
        **summary,
        "train_images": len(images),
        "train_synthetic_images": len(parts[0][0]) + n_limb,
        "train_fracatlas_images": len(parts[1][0]) + len(parts[2][0]),
        "train_composite_images": n_comp,
        "train_instances": dict(sorted(per.items())),
        "fine_tune": {
            **asdict(fine_tune),
            "real_screw_films": len(parts[2][0]),
            "mix": (
                f"the recipe snapshot's first {len(parts[0][0])} phantoms, {n_limb} plain limb "
                f"phantoms (seed {fine_tune.limb_seed}), the recipe snapshot's first "
                f"{len(parts[1][0])} other FracAtlas films, its {len(parts[2][0])} films "
                f"outlined for real screws {fine_tune.real_screw_repeats} times each, and "
                f"{n_comp} other FracAtlas films with phantom screws drawn in"
            ),
        },
    }


def _append(
    images: list[dict[str, Any]],
    annotations: list[dict[str, Any]],
    image: dict[str, Any],
    anns: list[dict[str, Any]],
) -> None:
    """Append ``image`` and its ``anns`` to the mix, numbered after what is already in it."""
    images.append({**image, "id": len(images) + 1})
    for a in anns:
        annotations.append({**a, "id": len(annotations) + 1, "image_id": len(images)})


def _add_limb_phantoms(
    dst: Path,
    summary_path: Path,
    summary: dict[str, Any],
    images: list[dict[str, Any]],
    annotations: list[dict[str, Any]],
    fine_tune: FineTune,
) -> int:
    """Append ``fine_tune.limb`` plain limb phantoms, made at the recipe's phantom size and
    stored at its input size, to ``images`` and ``annotations``; returns how many."""
    if fine_tune.limb <= 0:
        return 0
    recipe_json = summary.get("recipe") or {}
    try:
        sizes = (int(recipe_json["synth_size"]), int(recipe_json["size"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise RecipeError(
            summary_path, "the recipe snapshot states no phantom and input sizes"
        ) from exc
    coco = synth_part(
        dst, "limb", n=fine_tune.limb, seed=fine_tune.limb_seed, sizes=sizes, scene="limb"
    )
    by_image: dict[int, list[dict[str, Any]]] = {}
    for a in coco["annotations"]:
        by_image.setdefault(int(a["image_id"]), []).append(a)
    for im in coco["images"]:
        _append(images, annotations, im, by_image.get(int(im["id"]), []))
    return len(coco["images"])


def _add_composites(
    src: Path,
    dst: Path,
    backgrounds: list[dict[str, Any]],
    by_image: dict[int, list[dict[str, Any]]],
    images: list[dict[str, Any]],
    annotations: list[dict[str, Any]],
    fine_tune: FineTune,
) -> int:
    """Append ``fine_tune.composites`` films with phantom screws drawn in (their own fracture
    annotations kept) to ``images`` and ``annotations``; returns how many were written."""
    from orthogui.synth.composite import composite_screws
    from orthogui.synth.dataset import mask_bbox, segmentation

    written = 0
    for i in range(fine_tune.composites if backgrounds else 0):
        im = backgrounds[i % len(backgrounds)]
        pixels = cv2.imread(str(src / im["file_name"]), cv2.IMREAD_UNCHANGED)
        if pixels is None:
            raise RecipeError(src / im["file_name"], "cannot read the snapshot image")
        gray = np.asarray(
            pixels
            if pixels.dtype == np.uint8
            else cv2.normalize(pixels, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8),
            dtype=np.uint8,
        )
        rng = np.random.default_rng([fine_tune.composite_seed, i])
        film, screws = composite_screws(gray, rng)
        if not screws:
            continue
        name = f"composite/{i:05d}.png"
        (dst / "composite").mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(dst / name), film):
            raise RecipeError(dst / name, "cannot write the composite image")
        drawn = [
            {
                "category_id": DEFAULT_CATEGORIES.by_name(sc.type_name).id,
                "segmentation": segmentation(sc.mask),
                "bbox": mask_bbox(sc.mask),
                "area": float(np.count_nonzero(sc.mask)),
                "iscrowd": 0,
            }
            for sc in screws
        ]
        own = by_image.get(int(im["id"]), [])
        _append(images, annotations, {**im, "file_name": name, "composite": True}, own + drawn)
        written += 1
    return written


def fine_tune_job(
    snapshot: str | Path,
    output: str | Path,
    *,
    start_card: str | Path,
    recipe: Recipe,
    fine_tune: FineTune,
    models_dir: str | Path | None,
    device: str = "auto",
    threads: int = 0,
) -> TrainingJob:
    """The job that fine-tunes ``start_card`` (a published default model) on ``snapshot``."""
    base = default_job(
        snapshot,
        output,
        recipe=recipe,
        models_dir=models_dir,
        device=device,
        threads=threads,
    )
    hyper = replace(
        recipe.hyper,
        max_steps=fine_tune.steps,
        lr=fine_tune.lr,
        warmup_steps=fine_tune.warmup_steps,
    )
    # The start card decides the categories (the worker checks the snapshot against them).
    return replace(
        base, start_card=Path(start_card).resolve(), categories=(), category_groups={}, hyper=hyper
    )
