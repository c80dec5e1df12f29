"""Turn the open project into a fine-tuning job: a frozen copy of the approved images (GUI
thread, fast), then a 16-bit PNG snapshot and a job file (worker thread). Qt-free.

Layout under the project folder: ``training/<UTC timestamp>/{snapshot/, job.json, run/}``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from orthogui.core.annotation import ReviewState
from orthogui.core.project import ImageRecord, ImageStatus, ProjectModel
from orthogui.io.export_images import ImageMode
from orthogui.io.snapshot import (
    SnapshotOptions,
    SnapshotRefused,
    check_reviewed,
    export_snapshot,
)
from orthogui.ml.card import ModelCard, default_models_dir
from orthogui.training.job import HyperParameters, TrainingJob, save_job

MIN_APPROVED = 2  # one image to learn from, one held out to judge the new version
MIN_IMAGES_PER_CATEGORY = 5
"""A category the model knows may appear in a fine-tune only with at least this many approved
images holding it (rejected findings do not count): with fewer, about one image reaches the
held-out check, so the gate would judge the category on a single picture, and the training
split teaches it little but noise. Categories with no approved image are simply not taught."""
EPOCHS = 3
TYPE_EPOCHS = 3  # the screw-type stage on the reviewed screws' strips, after the detector
BATCH_SIZE = 2
MAX_STEPS = (10, 600)  # a fine-tune on a laptop CPU stays within minutes to about an hour


class NotReady(ValueError):
    """Fine-tuning cannot start; ``str()`` says why in words for the reviewer."""


@dataclass(frozen=True)
class FineTuneRequest:
    """Everything the worker thread needs, copied on the GUI thread (no live model)."""

    model: ProjectModel  # a private copy holding only the approved images
    image_paths: dict[str, Path]
    project_dir: Path
    start_card: ModelCard
    models_dir: Path


@dataclass(frozen=True)
class PreparedJob:
    """A job written to disk, ready for the launcher."""

    job: Path
    events: Path
    train_images: int
    val_images: int


def writable(folder: Path) -> bool:
    """Whether files can be created in ``folder`` (or, if it does not exist, created there)."""
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            return False
        probe = probe.parent
    return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)


def choose_models_dir(
    card: ModelCard | None, project_dir: Path, *, user_dir: Path | None = None
) -> Path:
    """Where new versions go.

    Parameters
    ----------
    card
        The current model.
    project_dir
        The project's folder: ``<project folder>/models`` when nothing else is writable.
    user_dir
        The user's own models folder (the app passes ``<data folder>/models``): new versions
        go there, never into the installation's models folder. Without it, the folder the
        current model was loaded from (or the app's models folder).

    Returns
    -------
    Path
        A folder that is writable or can be created.
    """
    if user_dir is not None:
        folder = user_dir
    else:
        folder = card.source.parent if card is not None and card.source else default_models_dir()
    return folder if writable(folder) else project_dir / "models"


def freeze_approved(
    model: ProjectModel, image_path_of: Callable[[ImageRecord], Path]
) -> tuple[ProjectModel, dict[str, Path]]:
    """A copy of the approved images and their findings, and each image's absolute path.

    Runs on the GUI thread (records and annotations are immutable, so this is a shallow copy):
    the export then reads the copy while review goes on.
    """
    approved = [r for r in model.images() if r.status is ImageStatus.APPROVED]
    copy = ProjectModel(model.categories)
    copy.load(approved, [a for r in approved for a in model.annotations(r.id)])
    return copy, {r.id: Path(image_path_of(r)) for r in approved}


def check_ready(approved: int, card: ModelCard | None) -> None:
    """Raise ``NotReady`` with the reason when a fine-tune cannot start."""
    if card is None:
        raise NotReady(
            "No model is loaded: fine-tuning starts from the current model. Choose one in "
            "the Model menu (or Load model card…) first."
        )
    if card.source is None:
        raise NotReady(
            f"The loaded model {card.name} {card.version} has no card file to start from."
        )
    if approved < MIN_APPROVED:
        raise NotReady(
            f"Fine-tuning needs at least {MIN_APPROVED} approved images (one to learn from, "
            f"one to check the new version on); this project has {approved}. Approve reviewed "
            "images with Enter."
        )


def category_shortfalls(model: ProjectModel, card: ModelCard) -> dict[str, int]:
    """Categories the model knows that the approved images hold too rarely to fine-tune on.

    Parameters
    ----------
    model
        The project.
    card
        The model to fine-tune (its categories count).

    Returns
    -------
    dict
        Category -> number of approved images holding it (non-rejected findings), for each
        category with 1 to ``MIN_IMAGES_PER_CATEGORY - 1`` images, in the card's order.
    """
    counts = dict.fromkeys((c.project_category for c in card.categories), 0)
    for rec in model.images():
        if rec.status is not ImageStatus.APPROVED:
            continue
        held = {
            a.category
            for a in model.annotations(rec.id)
            if a.review.state is not ReviewState.REJECTED
        }
        for name in held & counts.keys():
            counts[name] += 1
    return {k: n for k, n in counts.items() if 0 < n < MIN_IMAGES_PER_CATEGORY}


def check_categories(model: ProjectModel, card: ModelCard) -> None:
    """Raise ``NotReady`` naming each category with too few approved images.

    The message reads e.g. "needs at least 5 approved images with cortical_screw; has 2".
    """
    short = category_shortfalls(model, card)
    if short:
        lacks = "; ".join(
            f"needs at least {MIN_IMAGES_PER_CATEGORY} approved images with {name}; has {n}"
            for name, n in short.items()
        )
        raise NotReady(
            f"Fine-tuning {lacks}. Approve more images holding "
            f"{'it' if len(short) == 1 else 'them'}, or reject those findings."
        )


def check_approved_reviewed(model: ProjectModel) -> None:
    """Raise ``NotReady`` naming the approved images that still hold proposed findings: a
    fine-tune learns from reviewed findings only, never from the model's own guesses."""
    try:
        check_reviewed(model, model.images())
    except SnapshotRefused as exc:
        raise NotReady(f"Fine-tuning learns from reviewed findings only: {exc}") from exc


def fine_tune_hyper(train_images: int) -> HyperParameters:
    """Small-CPU defaults: about three epochs of batch 2 at a fine-tuning learning rate."""
    steps = math.ceil(EPOCHS * max(train_images, 1) / BATCH_SIZE)
    steps = min(max(steps, MAX_STEPS[0]), MAX_STEPS[1])
    return HyperParameters(
        lr=0.005,
        batch_size=BATCH_SIZE,
        max_steps=steps,
        warmup_steps=min(20, steps // 10),
        type_epochs=TYPE_EPOCHS,
    )


def _fractions(n: int) -> tuple[float, float, float]:
    # At least one image held out even in a tiny project; no test split (the app never reads it).
    val = max(0.2, 1.0 / n) if n else 0.2
    return (1.0 - val, val, 0.0)


def prepare_fine_tune(request: FineTuneRequest, *, now: datetime | None = None) -> PreparedJob:
    """Write the snapshot and the job file (slow: call it off the GUI thread).

    Raises
    ------
    NotReady
        The held-out or the training split came out empty.
    OSError, ValueError
        An image file cannot be read or the training folder cannot be written; the message
        names the file. ``SnapshotRefused`` (a ``ValueError``): an approved image still holds
        proposed findings, or an image file lies outside the project folder where it must not.
    """
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S.%fZ")
    root = request.project_dir / "training" / stamp
    card = request.start_card
    wanted = {c.project_category for c in card.categories}
    categories = tuple(n for n in request.model.categories.names() if n in wanted)
    if not categories:
        raise NotReady(
            f"The model {card.name} {card.version} knows none of this project's categories."
        )
    images = request.model.images()
    snap = export_snapshot(
        request.model,
        root / "snapshot",
        image_path_of=lambda r: request.image_paths[r.id],
        images_root=request.project_dir,
        options=SnapshotOptions(
            approved_only=True,
            categories=categories,
            fractions=_fractions(len(images)),
            image_mode=ImageMode.PNG16,
            info={"purpose": "fine-tune", "start_model": f"{card.name} {card.version}"},
        ),
    )
    counts = snap.manifest["counts"]
    n_train, n_val = int(counts["train"]["images"]), int(counts["val"]["images"])
    if n_train == 0 or n_val == 0:
        raise NotReady(
            f"The approved images went {n_train} to training and {n_val} to the held-out "
            f"check (snapshot {snap.path}): approve more images, from more studies."
        )
    if card.source is None:
        raise NotReady(f"The model {card.name} {card.version} has no card file to start from.")
    job = TrainingJob(
        snapshot=snap.path,
        output=root / "run",
        models_dir=request.models_dir,
        start_card=card.source,
        model_name=card.name,
        hyper=fine_tune_hyper(n_train),
        device="auto",
        checkpoint_every=25,
        threads=max((os.cpu_count() or 2) - 1, 1),  # leave a core to the reviewer
    )
    path = save_job(job, root / "job.json")
    return PreparedJob(job=path, events=job.events_path, train_images=n_train, val_images=n_val)
