"""The training worker process: ``python -m orthogui.training.worker JOB.json``.

Emits one JSON event per stdout line (and appends it to ``<output>/events.jsonl``), writes
checkpoints atomically, resumes from its own last checkpoint, stops cleanly on SIGTERM, and
promotes the candidate only through the gate. Runs unchanged under ``torchrun`` (DDP).
"""

from __future__ import annotations

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
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.data import DataLoader
from torchvision.models.detection import MaskRCNN

from orthogui.core.categories import DEFAULT_CATEGORIES, ShapeKind
from orthogui.io.fileops import atomic_write, file_sha256
from orthogui.ml.architectures import BuildOptions, build_model, get_architecture
from orthogui.ml.augment import AugmentConfig
from orthogui.ml.card import CardCategory, ModelCard, Preprocessing, load_card, save_card
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
from orthogui.ml.scoring import TRAIN_INSTANCES
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


@dataclass
class LoopState:
    """Where the step loop stands, carried from one optimizer step to the next."""

    step: int = 0  # optimizer steps done, over the whole run
    epoch: int = 0
    step_seconds: float = 0.0  # smoothed wall time of one optimizer step, for the ETA
    saved_step: int = -1  # the step of the last checkpoint written; -1: none in this process
    stopped: bool = False  # a stop was requested on some rank


def atomic_save(obj: object, path: Path) -> Path:
    """``torch.save`` all or nothing (``orthogui.io.fileops.atomic_write``)."""
    return atomic_write(path, lambda f: torch.save(obj, f))


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
        # The source stays until the candidate is saved: its type stage's weights are found
        # beside the start card and copied beside the candidate (ml.weights.carry_type_stage).
        return replace(current, metrics={}), current
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
    dataset: CocoDetectionDataset,
    job: TrainingJob,
    sampler: ClassBalancedSampler | None,
    batch_size: int,
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


def _category_ids(split: SplitData, card: ModelCard) -> dict[int, int]:
    ids = {str(c["name"]): int(c["id"]) for c in split.coco["categories"]}
    return {c.label: ids[c.project_category] for c in card.categories if c.project_category in ids}


def train_instances(dataset: CocoDetectionDataset, card: ModelCard) -> dict[str, int]:
    """Instances per project category of ``card`` in the training split (0 where it has none):
    what ``orthogui.ml.scoring`` weighs rare categories by.

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


def _silent(event: Event) -> None:
    """The emitter of ranks other than 0: only rank 0 speaks."""


def _seed(job: TrainingJob) -> None:
    if job.threads:
        torch.set_num_threads(job.threads)
    torch.manual_seed(job.seed)
    np.random.seed(job.seed % (2**32))


def start_model(job: TrainingJob, card: ModelCard, current: ModelCard | None) -> MaskRCNN:
    """The current model when fine-tuning, else a fresh ``card.architecture`` (on the CPU)."""
    if current is not None:
        return load_model(current, device="cpu")[0]
    return build_model(
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


@dataclass(frozen=True)
class Datasets:
    """The snapshot's splits as the model sees them, and the card that carries their counts."""

    train: CocoDetectionDataset
    val: CocoDetectionDataset
    val_split: SplitData
    card: ModelCard
    fingerprint: str  # sha256 of the COCO file the train split was read from


def load_datasets(job: TrainingJob, card: ModelCard, dist: DistContext) -> Datasets:
    """Train and validation datasets of ``job.snapshot``; the returned card holds the train
    split's instance counts (``TRAIN_INSTANCES``), never those of the model it started from."""
    labels = {name: c.label for c in card.categories for name in c.project_categories}
    train_split = load_split(job.snapshot, "train", seed=job.seed, val_fraction=job.val_fraction)
    val_split = load_split(job.snapshot, "val", seed=job.seed, val_fraction=job.val_fraction)
    train_ds = CocoDetectionDataset(
        train_split,
        labels=labels,
        preprocessing=card.preprocessing,
        augment_config=AugmentConfig() if job.hyper.augment else None,
        seed=job.seed + dist.rank,
    )
    if len(train_ds) == 0:
        raise JobError(job.source or "<job>", "snapshot", "the train split has no images")
    card = replace(
        card,
        training_data={**card.training_data, TRAIN_INSTANCES: train_instances(train_ds, card)},
    )
    val_ds = CocoDetectionDataset(val_split, labels=labels, preprocessing=card.preprocessing)
    return Datasets(train_ds, val_ds, val_split, card, file_sha256(train_split.source))


def _sampler(
    job: TrainingJob, train_ds: CocoDetectionDataset, dist: DistContext
) -> ClassBalancedSampler:
    hp = job.hyper
    return ClassBalancedSampler(
        repeat_factors([train_ds.image_labels(i) for i in range(len(train_ds))]),
        num_samples=max(len(train_ds), hp.batch_size * hp.accumulation * dist.world_size),
        seed=job.seed,
        rank=dist.rank,
        num_replicas=dist.world_size,
        balanced=hp.class_balanced,
    )


def resume(
    job: TrainingJob,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: LambdaLR,
    scaler: torch.amp.GradScaler,
    fingerprint: str,
) -> int:
    """Load this job's own last checkpoint (when ``job.resume`` and it exists) into the model
    and the optimizer, scheduler and scaler; returns the step it was written at (0: none).
    ``fingerprint``: the training data's (``Datasets.fingerprint``)."""
    if not (job.resume and job.checkpoint_path.is_file()):
        return 0
    try:
        ckpt = torch.load(job.checkpoint_path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise JobError(
            job.checkpoint_path, "", f"cannot resume from this checkpoint ({exc})"
        ) from exc
    changed = run_changes(ckpt, job, fingerprint)
    if changed:
        raise JobError(
            job.checkpoint_path,
            "",
            f"this checkpoint belongs to another run ({', '.join(changed)} changed since it was "
            "written); give the job another output folder, or delete the checkpoint to start over",
        )
    try:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["lr_scheduler"])
        scaler.load_state_dict(ckpt["scaler"])
        return int(ckpt["step"])
    except Exception as exc:
        raise JobError(
            job.checkpoint_path, "", f"cannot resume from this checkpoint ({exc})"
        ) from exc


# What makes a run: a checkpoint written under other values is not this run's to continue.
# (max_steps may grow, so a finished run can be taken further; where and how fast it runs
# — device, threads, output, models folder, logging — may change between resumes.)
RUN_FIELDS = (
    "snapshot",
    "start_card",
    "architecture",
    "categories",
    "category_groups",
    "image_size",
    "window",
    "window_percentile_low",
    "window_percentile_high",
    "seed",
    "val_fraction",
)


def run_changes(ckpt: dict[str, Any], job: TrainingJob, fingerprint: str) -> list[str]:
    """The run-defining values of ``job`` that differ from those ``ckpt`` was written under
    (empty: the checkpoint is this run's); ``fingerprint`` is the training data's now (the
    same snapshot folder rebuilt with other data is another run's data). Checkpoints of older
    versions, without the job or the fingerprint, are taken as this run's, as before."""
    then = ckpt.get("args")
    if not isinstance(then, dict):
        return []
    now = job.to_json()
    changed = [k for k in RUN_FIELDS if k in then and then[k] != now.get(k)]
    hyper_then = {k: v for k, v in (then.get("hyper") or {}).items() if k != "max_steps"}
    hyper_now = {k: v for k, v in now["hyper"].items() if k != "max_steps"}
    changed += [f"hyper.{k}" for k in sorted(hyper_then) if hyper_then[k] != hyper_now.get(k)]
    then_data = ckpt.get("snapshot_sha256")
    if then_data and "snapshot" not in changed and then_data != fingerprint:
        changed.append("the snapshot's training data")
    return changed


def _distributed(model: nn.Module, device: torch.device, dist: DistContext) -> nn.Module:
    if dist.world_size == 1:
        return model
    return nn.parallel.DistributedDataParallel(
        model,
        device_ids=[device.index] if device.type == "cuda" else None,
        find_unused_parameters=True,
    )


@dataclass
class Trainer:
    """One job's model, data and optimizer, set up by ``build_trainer``: ``fit`` runs the step
    loop (progress, checkpoints, evaluations, stop requests), ``publish`` judges the result and
    writes the candidate (and promotes it when the gate allows)."""

    job: TrainingJob
    dist: DistContext
    device: torch.device
    card: ModelCard
    current_card: ModelCard | None
    model: MaskRCNN
    net: nn.Module  # ``model``, wrapped for DDP when there are several ranks
    data: Datasets
    sampler: ClassBalancedSampler
    optimizer: torch.optim.Optimizer
    scheduler: LambdaLR
    scaler: torch.amp.GradScaler
    say: Emit
    stop: Callable[[], bool]
    state: LoopState
    val_loader: DataLoader[Any]
    gt: dict[str, Any]
    category_of_label: dict[int, int]

    @property
    def rank0(self) -> bool:
        return self.dist.rank == 0

    @property
    def per_step(self) -> int:
        """Images per optimizer step on one rank."""
        return self.job.hyper.batch_size * self.job.hyper.accumulation

    @property
    def steps_per_epoch(self) -> int:
        return max(len(self.sampler) // self.per_step, 1)

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """COCO metrics of ``model`` on the validation split."""
        return evaluate(
            model,
            self.val_loader,
            self.device,
            gt=self.gt,
            category_of_label=self.category_of_label,
            mask_threshold=self.card.postprocessing.mask_threshold,
            amp=self.job.hyper.amp,
        )

    def save_checkpoint(self, step: int, epoch: int) -> None:
        """Write everything a resume needs, atomically, and say so."""
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "lr_scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": epoch,
            "step": step,
            "args": self.job.to_json(),
            "card": self.card.to_json(),
            "snapshot_sha256": self.data.fingerprint,
        }
        path = atomic_save(state, self.job.checkpoint_path)
        self.state.saved_step = step
        self.say(CheckpointSaved(step=step, path=str(path)))

    def progress(self, info: StepInfo) -> Progress:
        total = self.job.hyper.max_steps
        return Progress(
            step=info.step,
            total_steps=total,
            epoch=info.epoch,
            loss=info.loss,
            lr=info.lr,
            eta_s=round(self.state.step_seconds * (total - info.step), 2),
            images_per_s=round(info.images * self.dist.world_size / max(info.seconds, 1e-9), 3),
            losses={k: round(v, 6) for k, v in info.losses.items()},
        )

    def on_step(self, info: StepInfo) -> bool:
        """After each optimizer step: progress, checkpoint and evaluation when due; true when
        a stop was requested on any rank."""
        job, s = self.job, self.state
        s.step_seconds = (
            info.seconds if s.step_seconds == 0.0 else 0.8 * s.step_seconds + 0.2 * info.seconds
        )
        if info.step % job.log_every == 0 or info.step == job.hyper.max_steps:
            self.say(self.progress(info))
        if job.checkpoint_every and info.step % job.checkpoint_every == 0 and self.rank0:
            self.save_checkpoint(info.step, info.epoch)
        if job.eval_every and info.step % job.eval_every == 0 and info.step < job.hyper.max_steps:
            if self.rank0:
                self.say(Evaluated(step=info.step, metrics=self.evaluate(self.model)))
            self.net.train()
        s.stopped = self.dist.any(self.stop())
        return s.stopped

    def train_epoch(self) -> None:
        """One pass over the sampler from ``state.step`` (the rest of it when resuming)."""
        hp, s = self.job.hyper, self.state
        s.epoch = s.step // self.steps_per_epoch
        self.data.train.set_epoch(s.epoch)
        self.sampler.set_epoch(s.epoch, skip=(s.step % self.steps_per_epoch) * self.per_step)
        before = s.step
        s.step = train_one_epoch(
            self.net,
            self.optimizer,
            _loader(self.data.train, self.job, self.sampler, hp.batch_size),
            self.device,
            s.epoch,
            lr_scheduler=self.scheduler,
            scaler=self.scaler,
            accumulation=hp.accumulation,
            start_step=s.step,
            max_steps=hp.max_steps,
            grad_clip=hp.grad_clip,
            reduce_loss=self.dist.mean if self.dist.world_size > 1 else None,
            on_step=self.on_step,
        )
        if s.step == before:
            raise RuntimeError(f"epoch {s.epoch} made no optimizer step (empty loader)")

    def fit(self) -> None:
        """Train to ``max_steps`` (or a stop request), then checkpoint the last step.

        Raises ``StopRequested`` after that checkpoint when a stop was requested.
        """
        s = self.state
        while s.step < self.job.hyper.max_steps and not s.stopped:
            self.train_epoch()
        self.dist.sync_buffers(self.model)
        path = self.job.checkpoint_path if self.rank0 else None
        if self.rank0 and s.saved_step != s.step:
            self.save_checkpoint(s.step, s.epoch)
        if s.stopped:
            self.say(
                Failed(
                    reason="stopped on request",
                    kind="stopped",
                    step=s.step,
                    checkpoint=str(path or ""),
                )
            )
            raise StopRequested(f"stopped at step {s.step}")

    def candidate_card(self, version: str, metrics: dict[str, float]) -> ModelCard:
        """The card of the trained model: its metrics and where it came from."""
        return replace(
            self.card,
            version=version,
            metrics={k: v for k, v in metrics.items() if "/" not in k},
            training_data={
                **self.card.training_data,
                "snapshot": str(self.job.snapshot),
                "steps": self.state.step,
                "seed": self.job.seed,
                "started_from": _started_from(self.card, self.current_card),
                "train_images": len(self.data.train),
                "val_images": len(self.data.val),
                "per_category": {k: v for k, v in metrics.items() if "/" in k},
            },
        )

    def publish(self) -> TrainOutcome:
        """Rank 0: evaluate the trained (and the current) model, write the candidate and
        promote it when the gate allows; every rank waits for that and gets the outcome."""
        job, step = self.job, self.state.step
        outcome = TrainOutcome(model=self.model, step=step)
        if not self.rank0:
            self.dist.barrier()
            return outcome
        metrics = self.evaluate(self.model)
        self.say(Evaluated(step=step, metrics=metrics))
        current_metrics = None
        if self.current_card is not None:
            current = configure(
                load_model(self.current_card, device=self.device)[0], self.current_card
            )
            current_metrics = self.evaluate(current)
            self.say(Evaluated(step=step, metrics=current_metrics, model="current"))
        decision = decide_promotion(
            current_metrics, metrics, job.tolerance, primary=job.primary_metric
        )
        version = next_version(job.models_dir, self.card.name, after=self.card.version)
        self.model.eval()
        published = save_weights(
            self.model, self.candidate_card(version, metrics), job.output / "candidate"
        )
        if job.hyper.type_epochs:
            published = teach_types(published, job)
        promote_to = job.models_dir if decision.promote else None
        if promote_to is not None:
            published = promote_candidate(published, promote_to, version=version)
        self.say(
            Finished(
                step=step,
                promoted=promote_to is not None,
                version=version,
                card=str(published.source),
                reason=decision.reason,
                metrics=metrics,
            )
        )
        self.dist.barrier()
        outcome.card, outcome.decision, outcome.metrics = published, decision, metrics
        return outcome


def teach_types(card: ModelCard, job: TrainingJob) -> ModelCard:
    """``card`` (a saved candidate) with its type stage continued for ``hyper.type_epochs`` on
    the strips of the snapshot's reviewed, typed screws (``screw_types.reviewed_strips``: the
    snapshot's train split trains, its held-out split checks). The stage it carried stays when
    the new one types fewer check screws right, when the snapshot has no reviewed screw of a
    known type, or when the strips cannot be cut; the reason goes to stderr and into the
    card's ``training_data["type_stage"]``. The detector's run is never failed by its type
    stage."""
    from orthogui.core.radiograph import RadiographError
    from orthogui.training.screw_types import (
        SCREW_TYPES,
        NotBetterError,
        TypeRecipe,
        train_type_stage,
    )

    stage = card.type_stage
    if stage is None or tuple(stage.categories) != SCREW_TYPES:
        return card
    recipe = TypeRecipe(
        images=0,
        test_images=0,
        epochs=job.hyper.type_epochs,
        from_stage=True,
        reviewed=str(job.snapshot),
        crop_context=stage.crop_context,
        crop_diameters=stage.crop_diameters,
        seed=job.seed,
    )

    def say(message: str) -> None:
        print(f"type stage: {message}", file=sys.stderr, flush=True)

    try:
        return train_type_stage(card, recipe, log=say)
    except (ValueError, RadiographError, OSError) as exc:  # NotBetterError is a ValueError
        why = f"{'kept' if isinstance(exc, NotBetterError) else 'carried unchanged'}: {exc}"
    say(why)
    assert card.source is not None  # a saved candidate
    data = {**card.training_data, "type_stage": why}  # the card says why too
    return save_card(replace(card, training_data=data), card.source)


def build_trainer(
    job: TrainingJob, *, emit: Emit, stop: Callable[[], bool], dist: DistContext
) -> Trainer:
    """Seed, build (or load) the model, read the snapshot, make the optimizer, resume from
    this job's own checkpoint, and say ``Started``."""
    hp = job.hyper
    _seed(job)
    device = _device(job, dist)
    card, current_card = _base_card(job)
    model = start_model(job, card, current_card)
    model.to(device)
    data = load_datasets(job, card, dist)
    sampler = _sampler(job, data.train, dist)
    optimizer = make_optimizer(model, lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay)
    scheduler = warmup_cosine(optimizer, warmup_steps=hp.warmup_steps, total_steps=hp.max_steps)
    scaler = make_scaler(device, hp.amp)
    step = resume(job, model, optimizer, scheduler, scaler, data.fingerprint)
    net = _distributed(model, device, dist)
    say: Emit = emit if dist.rank == 0 else _silent
    say(
        Started(
            total_steps=hp.max_steps,
            start_step=step,
            device=str(device),
            world_size=dist.world_size,
            train_images=len(data.train),
            val_images=len(data.val),
            output=str(job.output),
        )
    )
    category_of_label = _category_ids(data.val_split, data.card)
    trainer = Trainer(
        job=job,
        dist=dist,
        device=device,
        card=data.card,
        current_card=current_card,
        model=model,
        net=net,
        data=data,
        sampler=sampler,
        optimizer=optimizer,
        scheduler=scheduler,
        scaler=scaler,
        say=say,
        stop=stop,
        state=LoopState(step=step),
        val_loader=_loader(data.val, job, None, 1),
        gt=_eval_gt(data.val_split, data.card, category_of_label),
        category_of_label=category_of_label,
    )
    trainer.state.epoch = step // trainer.steps_per_epoch
    return trainer


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
    trainer = build_trainer(job, emit=emit, stop=stop, dist=dist or DistContext())
    trainer.fit()
    return trainer.publish()


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
