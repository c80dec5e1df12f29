"""The training worker process: ``python -m orthogui.training.worker JOB.json``.

Emits one JSON event per stdout line (and appends it to ``<output>/events.jsonl``), writes
checkpoints atomically, resumes from its own last checkpoint, stops cleanly on SIGTERM, and
promotes the candidate only through the gate. Runs unchanged under ``torchrun`` (DDP).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision.models.detection import MaskRCNN

from orthogui.core.categories import DEFAULT_CATEGORIES, ShapeKind
from orthogui.ml.architectures import BuildOptions, build_model, get_architecture
from orthogui.ml.augment import AugmentConfig
from orthogui.ml.card import CardCategory, ModelCard, Preprocessing, load_card
from orthogui.ml.data import (
    ClassBalancedSampler,
    CocoDetectionDataset,
    SplitData,
    collate,
    load_split,
    repeat_factors,
)
from orthogui.ml.engine import (
    NonFiniteLossError,
    StepInfo,
    evaluate,
    make_optimizer,
    make_scaler,
    train_one_epoch,
    warmup_cosine,
)
from orthogui.ml.uncertainty import TRAIN_INSTANCES
from orthogui.ml.weights import configure, load_model, save_weights
from orthogui.training.ddp import DistContext, setup_distributed, teardown_distributed
from orthogui.training.job import JobError, TrainingJob, load_job
from orthogui.training.promotion import Decision, decide_promotion, next_version, promote_candidate
from orthogui.training.protocol import (
    CheckpointSaved,
    Evaluated,
    Event,
    Failed,
    Finished,
    Progress,
    Started,
)

EXIT_OK, EXIT_ERROR, EXIT_BAD_JOB, EXIT_STOPPED, EXIT_NAN = 0, 1, 2, 3, 4
Emit = Callable[[Event], None]


class StopRequested(Exception):
    """SIGTERM (or the GUI's stop) arrived; a checkpoint has been written."""


class Emitter:
    """Writes events to stdout (one line each, flushed) and appends them to a file.

    A closed stdout (the GUI went away) is not an error: the events file goes on.
    """

    def __init__(self, stream: IO[str] | None, events_file: Path | None) -> None:
        self.stream = stream
        self.events_file = events_file

    def __call__(self, event: Event) -> None:
        line = event.to_json()
        if self.events_file is not None:
            self.events_file.parent.mkdir(parents=True, exist_ok=True)
            with open(self.events_file, "a", encoding="utf-8") as f:
                f.write(line + "\n")
        if self.stream is not None:
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except (BrokenPipeError, ValueError, OSError):
                self.stream = None


@dataclass
class StopFlag:
    """Set by the SIGTERM handler; checked between optimizer steps."""

    requested: bool = False

    def install(self) -> None:
        def handler(signum: int, frame: Any) -> None:
            self.requested = True

        signal.signal(signal.SIGTERM, handler)


@dataclass
class TrainOutcome:
    """What a finished run produced (returned on every rank; only rank 0 publishes)."""

    model: nn.Module
    step: int
    card: ModelCard | None = None
    decision: Decision | None = None
    metrics: dict[str, float] = field(default_factory=dict)


def atomic_save(obj: Any, path: Path) -> Path:
    """``torch.save`` to a temporary file, fsync, then rename over ``path``: all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        fd = os.open(path.parent, os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return path


def _base_card(job: TrainingJob) -> tuple[ModelCard, ModelCard | None]:
    """The card the candidate will carry, and the current model's card (if fine-tuning)."""
    if job.start_card is not None:
        current = load_card(job.start_card)
        if job.categories and tuple(c.project_category for c in current.categories) != tuple(
            job.categories
        ):
            raise JobError(
                job.source or "<job>", "categories", "differ from the start card's categories"
            )
        return replace(current, metrics={}, source=None), current
    shapes = {c.name: c.shape for c in DEFAULT_CATEGORIES}
    group_of = {m: g for g, members in job.category_groups.items() for m in members}
    cats: list[CardCategory] = []
    for n in job.categories:
        group = group_of.get(n)
        if group is None:
            cats.append(CardCategory(len(cats) + 1, n, n, shapes.get(n, ShapeKind.POLYGON)))
        elif all(c.name != group for c in cats):
            members = job.category_groups[group]
            shape = shapes.get(members[0], ShapeKind.POLYGON)
            cats.append(CardCategory(len(cats) + 1, group, members[0], shape, covers=members))
    arch = get_architecture(job.architecture)
    card = ModelCard(
        name=job.model_name or "orthogui-finetuned",
        version="0",
        architecture=job.architecture,
        num_classes=len(cats) + 1,
        categories=tuple(cats),
        norm_layer=arch.norm_layer,
        weights_file="none.safetensors",
        weights_sha256="0" * 64,
        preprocessing=Preprocessing(
            window=job.window,  # type: ignore[arg-type]  # checked against WINDOW_MODES
            percentiles=(job.window_percentile_low, job.window_percentile_high),
            min_size=job.image_size,
            max_size=job.image_size,
            mean=arch.image_mean,
            std=arch.image_std,
        ),
    )
    return card, None


def _device(job: TrainingJob, dist: DistContext) -> torch.device:
    if job.device == "cuda" and not torch.cuda.is_available():
        raise JobError(job.source or "<job>", "device", "CUDA was asked for but is not available")
    if job.device == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", dist.local_rank)


def _loader(
    dataset: CocoDetectionDataset, job: TrainingJob, sampler: Any, batch_size: int
) -> DataLoader[Any]:
    extra: dict[str, Any] = {}
    if job.num_workers > 0:  # never fork: CUDA or Qt may already be up in this process
        extra = {"multiprocessing_context": "spawn", "persistent_workers": False}
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        collate_fn=collate,
        num_workers=job.num_workers,
        **extra,
    )


def _checkpoint(
    job: TrainingJob,
    model: nn.Module,
    optimizer: Any,
    scheduler: Any,
    scaler: Any,
    step: int,
    epoch: int,
    card: ModelCard,
) -> Path:
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "lr_scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "epoch": epoch,
        "step": step,
        "args": job.to_json(),
        "card": card.to_json(),
    }
    return atomic_save(state, job.checkpoint_path)


def _category_ids(split: SplitData, card: ModelCard) -> dict[int, int]:
    ids = {str(c["name"]): int(c["id"]) for c in split.coco["categories"]}
    return {c.label: ids[c.project_category] for c in card.categories if c.project_category in ids}


def train_instances(dataset: CocoDetectionDataset, card: ModelCard) -> dict[str, int]:
    """Instances per project category of ``card`` in the training split (0 where it has none):
    what ``orthogui.ml.uncertainty`` weighs rare categories by.

    Counts the instances the model is trained on: crowd regions and categories the card does
    not predict are left out, as the dataset leaves them out.
    """
    category_of_label = {c.label: c.project_category for c in card.categories}
    counts = dict.fromkeys(category_of_label.values(), 0)
    for index in range(len(dataset)):
        for label in dataset.image_labels(index):
            counts[category_of_label[label]] += 1
    return counts


def _eval_gt(
    split: SplitData, card: ModelCard, category_of_label: dict[int, int]
) -> dict[str, Any]:
    """The split's ground truth as the model sees it: categories it does not predict dropped,
    and the members of a grouped label (e.g. the screw types) under that label's category."""
    ids = {str(c["name"]): int(c["id"]) for c in split.coco["categories"]}
    remap = {
        ids[m]: ids[c.project_category]
        for c in card.categories
        for m in c.covers
        if m in ids and c.project_category in ids
    }
    keep = set(category_of_label.values())
    coco = split.coco
    annotations = []
    for a in coco["annotations"]:
        cid = remap.get(int(a["category_id"]), int(a["category_id"]))
        if cid in keep and not a.get("iscrowd"):
            annotations.append({**a, "category_id": cid})
    return {
        **coco,
        "categories": [c for c in coco["categories"] if int(c["id"]) in keep],
        "annotations": annotations,
    }


def _started_from(card: ModelCard, current: ModelCard | None) -> str:
    if current is not None:
        return f"{current.name} {current.version}"
    pretrained = get_architecture(card.architecture).pretrained_backbone
    return f"ImageNet backbone ({pretrained})" if pretrained else "scratch"


def run_job(
    job: TrainingJob,
    *,
    emit: Emit,
    stop: Callable[[], bool] = lambda: False,
    dist: DistContext | None = None,
) -> TrainOutcome:
    """Train, evaluate and (rank 0) publish as ``job`` says.

    Raises
    ------
    NonFiniteLossError
        The loss went NaN/inf (nothing is checkpointed from such weights).
    StopRequested
        ``stop()`` turned true; the last checkpoint was written first.
    """
    dist = dist or DistContext()
    hp = job.hyper
    if job.threads:
        torch.set_num_threads(job.threads)
    torch.manual_seed(job.seed)
    np.random.seed(job.seed % (2**32))
    device = _device(job, dist)
    card, current_card = _base_card(job)
    if current_card is not None:
        model: MaskRCNN = load_model(current_card, device="cpu")[0]
    else:
        model = build_model(
            card.architecture,
            BuildOptions(
                num_classes=card.num_classes,
                min_size=job.image_size,
                max_size=job.image_size,
                image_mean=card.preprocessing.mean,
                image_std=card.preprocessing.std,
                pretrained_backbone=True,
            ),
        )
    model.to(device)
    labels = {name: c.label for c in card.categories for name in c.project_categories}
    train_split = load_split(job.snapshot, "train", seed=job.seed, val_fraction=job.val_fraction)
    val_split = load_split(job.snapshot, "val", seed=job.seed, val_fraction=job.val_fraction)
    train_ds = CocoDetectionDataset(
        train_split,
        labels=labels,
        preprocessing=card.preprocessing,
        augment_config=AugmentConfig() if hp.augment else None,
        seed=job.seed + dist.rank,
    )
    if len(train_ds) == 0:
        raise JobError(job.source or "<job>", "snapshot", "the train split has no images")
    # Every card this run writes (checkpoint, candidate, promoted) carries its own split's
    # counts, never those of the model it started from.
    card = replace(
        card,
        training_data={**card.training_data, TRAIN_INSTANCES: train_instances(train_ds, card)},
    )
    val_ds = CocoDetectionDataset(val_split, labels=labels, preprocessing=card.preprocessing)
    per_step = hp.batch_size * hp.accumulation
    sampler = ClassBalancedSampler(
        repeat_factors([train_ds.image_labels(i) for i in range(len(train_ds))]),
        num_samples=max(len(train_ds), per_step * dist.world_size),
        seed=job.seed,
        rank=dist.rank,
        num_replicas=dist.world_size,
        balanced=hp.class_balanced,
    )
    steps_per_epoch = max(len(sampler) // per_step, 1)
    optimizer = make_optimizer(model, lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay)
    scheduler = warmup_cosine(optimizer, warmup_steps=hp.warmup_steps, total_steps=hp.max_steps)
    scaler = make_scaler(device, hp.amp)
    step = 0
    if job.resume and job.checkpoint_path.is_file():
        try:
            ckpt = torch.load(job.checkpoint_path, map_location="cpu", weights_only=False)
            model.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
            scheduler.load_state_dict(ckpt["lr_scheduler"])
            scaler.load_state_dict(ckpt["scaler"])
            step = int(ckpt["step"])
        except Exception as exc:
            raise JobError(
                job.checkpoint_path, "", f"cannot resume from this checkpoint ({exc})"
            ) from exc
    net: nn.Module = model
    if dist.world_size > 1:
        net = nn.parallel.DistributedDataParallel(
            model,
            device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=True,
        )
    rank0 = dist.rank == 0
    say: Emit = emit if rank0 else (lambda event: None)
    say(
        Started(
            total_steps=hp.max_steps,
            start_step=step,
            device=str(device),
            world_size=dist.world_size,
            train_images=len(train_ds),
            val_images=len(val_ds),
            output=str(job.output),
        )
    )
    category_of_label = _category_ids(val_split, card)
    gt = _eval_gt(val_split, card, category_of_label)
    val_loader = _loader(val_ds, job, None, 1)

    def evaluate_model(m: nn.Module) -> dict[str, float]:
        return evaluate(
            m,
            val_loader,
            device,
            gt=gt,
            category_of_label=category_of_label,
            mask_threshold=card.postprocessing.mask_threshold,
            amp=hp.amp,
        )

    timing: dict[str, float] = {"ema": 0.0, "stopped": False, "saved": -1}
    epoch = step // steps_per_epoch

    def on_step(info: StepInfo) -> bool:
        ema = timing["ema"]
        timing["ema"] = info.seconds if ema == 0.0 else 0.8 * ema + 0.2 * info.seconds
        if info.step % job.log_every == 0 or info.step == hp.max_steps:
            say(
                Progress(
                    step=info.step,
                    total_steps=hp.max_steps,
                    epoch=info.epoch,
                    loss=info.loss,
                    lr=info.lr,
                    eta_s=round(timing["ema"] * (hp.max_steps - info.step), 2),
                    images_per_s=round(info.images * dist.world_size / max(info.seconds, 1e-9), 3),
                    losses={k: round(v, 6) for k, v in info.losses.items()},
                )
            )
        if job.checkpoint_every and info.step % job.checkpoint_every == 0 and rank0:
            path = _checkpoint(
                job, model, optimizer, scheduler, scaler, info.step, info.epoch, card
            )
            timing["saved"] = info.step
            say(CheckpointSaved(step=info.step, path=str(path)))
        if job.eval_every and info.step % job.eval_every == 0 and info.step < hp.max_steps:
            if rank0:
                say(Evaluated(step=info.step, metrics=evaluate_model(model)))
            net.train()
        timing["stopped"] = dist.any(stop())
        return bool(timing["stopped"])

    while step < hp.max_steps and not timing["stopped"]:
        epoch = step // steps_per_epoch
        train_ds.set_epoch(epoch)
        sampler.set_epoch(epoch, skip=(step % steps_per_epoch) * per_step)
        loader = _loader(train_ds, job, sampler, hp.batch_size)
        before = step
        step = train_one_epoch(
            net,
            optimizer,
            loader,
            device,
            epoch,
            lr_scheduler=scheduler,
            scaler=scaler,
            accumulation=hp.accumulation,
            start_step=step,
            max_steps=hp.max_steps,
            grad_clip=hp.grad_clip,
            reduce_loss=dist.mean if dist.world_size > 1 else None,
            on_step=on_step,
        )
        if step == before:
            raise RuntimeError(f"epoch {epoch} made no optimizer step (empty loader)")
    dist.sync_buffers(model)
    path = job.checkpoint_path if rank0 else None
    if rank0 and timing["saved"] != step:
        _checkpoint(job, model, optimizer, scheduler, scaler, step, epoch, card)
        say(CheckpointSaved(step=step, path=str(path)))
    if timing["stopped"]:
        say(
            Failed(
                reason="stopped on request", kind="stopped", step=step, checkpoint=str(path or "")
            )
        )
        raise StopRequested(f"stopped at step {step}")
    outcome = TrainOutcome(model=model, step=step)
    if not rank0:
        dist.barrier()
        return outcome
    metrics = evaluate_model(model)
    say(Evaluated(step=step, metrics=metrics))
    current_metrics = None
    if current_card is not None:
        current_metrics = evaluate_model(
            configure(load_model(current_card, device=device)[0], current_card)
        )
        say(Evaluated(step=step, metrics=current_metrics, model="current"))
    decision = decide_promotion(current_metrics, metrics, job.tolerance, primary=job.primary_metric)
    version = next_version(job.models_dir, card.name, after=card.version)
    summary = {k: v for k, v in metrics.items() if "/" not in k}
    candidate = replace(
        card,
        version=version,
        metrics=summary,
        training_data={
            **card.training_data,
            "snapshot": str(job.snapshot),
            "steps": step,
            "seed": job.seed,
            "started_from": _started_from(card, current_card),
            "train_images": len(train_ds),
            "val_images": len(val_ds),
            "per_category": {k: v for k, v in metrics.items() if "/" in k},
        },
    )
    model.eval()
    candidate = save_weights(model, candidate, job.output / "candidate")
    published = candidate
    if decision.promote and job.models_dir is not None:
        published = promote_candidate(candidate, job.models_dir, version=version)
    say(
        Finished(
            step=step,
            promoted=decision.promote and job.models_dir is not None,
            version=version,
            card=str(published.source),
            reason=decision.reason,
            metrics=metrics,
        )
    )
    dist.barrier()
    outcome.card, outcome.decision, outcome.metrics = published, decision, metrics
    return outcome


def main(argv: Sequence[str] | None = None, *, stream: IO[str] | None = None) -> int:
    """Run the job file named in ``argv``; returns the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    out = stream if stream is not None else sys.stdout
    if len(args) != 1:
        print("usage: python -m orthogui.training.worker JOB.json", file=sys.stderr)
        return EXIT_BAD_JOB
    stop = StopFlag()
    stop.install()
    try:
        job = load_job(args[0])
    except JobError as exc:
        Emitter(out, None)(Failed(reason=str(exc), kind="error"))
        return EXIT_BAD_JOB
    dist = setup_distributed(job.device)
    emit: Emit = Emitter(out, job.events_path) if dist.rank == 0 else (lambda e: None)
    started = time.perf_counter()
    try:
        run_job(job, emit=emit, stop=lambda: stop.requested, dist=dist)
        return EXIT_OK
    except StopRequested:
        return EXIT_STOPPED
    except NonFiniteLossError as exc:
        emit(Failed(reason=str(exc), kind="nan", step=exc.step))
        return EXIT_NAN
    except Exception as exc:  # the GUI gets a reason, never a traceback it must parse
        emit(Failed(reason=f"{type(exc).__name__}: {exc}", kind="error"))
        print(f"worker failed after {time.perf_counter() - started:.1f} s", file=sys.stderr)
        import traceback

        traceback.print_exc(file=sys.stderr)
        return EXIT_ERROR
    finally:
        teardown_distributed()


if __name__ == "__main__":
    sys.exit(main())
