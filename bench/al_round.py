"""One active-learning round, end to end through the app's path: approved images to a promoted
model pre-annotating the next image. Prints JSON with the wall time of every phase.

python bench/al_round.py [--n 100] [--start-card models/orthogui-default-light-N.json]
    [--epochs 3 | --steps S] [--batch 2] [--threads T] [--device auto|cpu|cuda] [--size PX]
    [--seed 0] [--work DIR] [--json OUT]

Setup (what a reviewer leaves behind; timed, but not part of the round): a project store with
``--n`` synthetic radiographs (``orthogui.synth``, ``--size`` px, default the card's input
size) whose ground truth is imported as accepted findings and whose images are APPROVED, plus
one more synthetic image left NEW (the next one to review); the start card and its weights
copied into a temporary models folder (the repository's ``models/`` is never written); the
start model loaded as the app's current predictor.

The round, timed phase by phase with the functions the training dock uses:

1. ``snapshot_job``: ``freeze_approved`` + ``prepare_fine_tune`` (16-bit snapshot, job file);
   options that differ from the dock's defaults are then written into the job.
2. ``worker_start``: ``TrainingRun`` spawns ``python -m orthogui.training.worker`` until its
   ``started`` event (imports, model and data loading).
3. ``training``: ``started`` to the last training event (progress, checkpoints).
4. ``eval_candidate`` / ``eval_current``: the held-out split, new version then current one.
5. ``promotion``: the gate, the candidate's weights, the promotion; ends at ``finished``.
6. ``load_model``: at ``finished``, as the app's hot-swap does, ``MaskRCNNPredictor.from_card``
   on the promoted card (the candidate's when the gate kept it; ``live.loaded`` says which).
   The worker process exits meanwhile (``worker_exit_s``, not part of the sum).
7. ``first_prediction``: read the next image, predict, pre-annotate it in the store.

``total_s`` runs from the start of 1 to the end of 7 and is compared with the issue's aim for
the device the worker trained on (20 min on CPU, 2 min on a GPU); ``comparable_to_aim`` says
whether the run was the issue's round (100 images, the dock's steps, the light model).

Steps: the dock's own (3 epochs of batch 2 over the training split, at least 10, at most 600)
unless ``--epochs``/``--batch`` (then epochs x training images / batch) or ``--steps`` is given.
Bad options or inputs give one error line naming the option or file, and exit status 1.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, NoReturn

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = "orthogui-default-light"
AIM_S = {"cpu": 20 * 60.0, "cuda": 2 * 60.0}  # issue 7: 2 CPU cores / one H100, light model
AIM_IMAGES = 100
REVIEWER = "ground truth (bench/al_round.py)"


class BenchError(ValueError):
    """Bad option or input, or a failed run: the message names the option or file."""


@dataclass(frozen=True)
class Config:
    """The round to measure (None: the dock's choice)."""

    start_card: Path
    n: int = AIM_IMAGES
    epochs: float | None = None
    steps: int | None = None
    batch: int | None = None
    threads: int | None = None
    device: str = "auto"
    size: int | None = None
    seed: int = 0
    work: Path | None = None


@dataclass
class Project:
    """The reviewed project: its store, the start model loaded as the app's predictor, and the
    NEW image that is reviewed next."""

    store: Any  # orthogui.io.store.ProjectStore
    predictor: Any  # orthogui.ml.predictor.MaskRCNNPredictor
    next_image: str
    approved: int
    findings: int


def newest_card(models_dir: Path, name: str = DEFAULT_MODEL) -> Path:
    """The newest installed version of model ``name`` in ``models_dir``."""
    from orthogui.ml.card import list_cards

    cards = [c for c in list_cards(models_dir) if c.name == name] if models_dir.is_dir() else []
    if not cards or cards[-1].source is None:
        raise BenchError(f"{models_dir}: no {name}-*.json model card; give --start-card")
    return cards[-1].source


def seed_models(start_card: Path, models_dir: Path) -> Path:
    """Copy the start card and its weights into ``models_dir``; returns the copied card."""
    from orthogui.ml.card import ModelError, load_card

    try:
        card = load_card(start_card)
    except ModelError as exc:
        raise BenchError(f"--start-card {exc}") from exc
    weights = card.weights_path
    if not weights.is_file():
        raise BenchError(f"--start-card {start_card}: its weights file {weights} is missing")
    (models_dir / card.weights_file).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(weights, models_dir / card.weights_file)
    copy = models_dir / start_card.name
    shutil.copy2(start_card, copy)
    return copy


def _reviewed(coco_file: Path) -> None:
    """Mark every ground-truth finding as accepted by a reviewer (the importer keeps it)."""
    coco = json.loads(coco_file.read_text(encoding="utf-8"))
    for a in coco["annotations"]:
        a.update(review_state="accepted", reviewed_by=REVIEWER)
    coco_file.write_text(json.dumps(coco), encoding="utf-8")


def build_project(folder: Path, *, n: int, size: int, seed: int) -> tuple[Any, str, int]:
    """A project of ``n`` approved synthetic radiographs with accepted ground truth and one
    NEW image; returns the store, the NEW image's id and the number of findings."""
    from orthogui.core.project import ImageStatus
    from orthogui.io.files import records_for
    from orthogui.io.importers import LabelMap, merge_into, read_import
    from orthogui.io.store import ProjectStore
    from orthogui.synth.dataset import write_dataset

    write_dataset(folder / "reviewed", n=n, seed=seed, scene="mixed", size=size)
    write_dataset(folder / "next", n=1, seed=seed + 1, scene="mixed", size=size)
    coco_file = folder / "reviewed" / "annotations.json"
    _reviewed(coco_file)
    store = ProjectStore.create(folder / "project.orthogui", user="reviewer")
    result = read_import(
        "coco",
        coco_file,
        label_map=LabelMap(store.model.categories),
        images_root=coco_file.parent.resolve(),
    )
    merge_into(store.model, result, history=store.history, add_images=store.add_images)
    reviewed = store.model.images()
    store.update_images([r.evolve(status=ImageStatus.APPROVED) for r in reviewed])
    (added,) = store.add_images(records_for([folder / "next" / "images"]))
    return store, added.id, len(result.annotations)


def setup(cfg: Config, work: Path, size: int) -> tuple[Project, dict[str, float]]:
    """The reviewer's project and, loaded from the seeded models folder, the app's current
    predictor; returns them and the seconds each took."""
    from orthogui.ml.predictor import MaskRCNNPredictor

    times: dict[str, float] = {}
    t0 = time.perf_counter()
    card_path = seed_models(cfg.start_card, work / "models")
    store, next_image, findings = build_project(work / "project", n=cfg.n, size=size, seed=cfg.seed)
    times["project_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    try:
        predictor = MaskRCNNPredictor.from_card(card_path, device=_predictor_device(cfg.device))
    except BaseException:
        store.close()
        raise
    times["load_start_model_s"] = time.perf_counter() - t0
    return Project(store, predictor, next_image, cfg.n, findings), times


def _predictor_device(device: str) -> str | None:
    return None if device == "auto" else device  # None: CUDA when available, as the app does


def prepare(project: Project) -> Any:
    """The dock's ``fine_tune``: readiness check, frozen copy, snapshot and job file."""
    from orthogui.core.project import ImageStatus
    from orthogui.training.prepare import (
        FineTuneRequest,
        check_ready,
        choose_models_dir,
        freeze_approved,
        prepare_fine_tune,
    )

    store, card = project.store, project.predictor.card
    approved = sum(1 for r in store.model.images() if r.status is ImageStatus.APPROVED)
    check_ready(approved, card)
    copy, paths = freeze_approved(store.model, store.image_path)
    models_dir = choose_models_dir(card, store.path.parent)
    return prepare_fine_tune(FineTuneRequest(copy, paths, store.path.parent, card, models_dir))


def tune_job(job_path: Path, train_images: int, cfg: Config) -> tuple[Any, str]:
    """Write the options that differ from the dock's job into it; returns the job and where
    its step count came from."""
    from orthogui.training.job import load_job, save_job

    job = load_job(job_path)
    hp = job.hyper
    batch = cfg.batch or hp.batch_size
    if cfg.steps is not None:
        steps, source = cfg.steps, "--steps"
    elif cfg.epochs is not None or cfg.batch is not None:
        epochs = 3.0 if cfg.epochs is None else cfg.epochs
        steps, source = max(1, math.ceil(epochs * train_images / batch)), "epochs"
    else:
        steps, source = hp.max_steps, "dock"
    warmup = hp.warmup_steps if steps == hp.max_steps else min(20, steps // 10)
    job = replace(
        job,
        hyper=replace(hp, batch_size=batch, max_steps=steps, warmup_steps=warmup),
        device=cfg.device,
        threads=cfg.threads if cfg.threads is not None else job.threads,
    )
    save_job(job, job_path)
    return job, source


class Worker:
    """The dock's worker run (``TrainingRun``), its events with their arrival times, and a
    flag set at the last one (``finished`` or ``failed``)."""

    def __init__(self, job_path: Path) -> None:
        from orthogui.training.launcher import TrainingRun

        self.events: list[tuple[float, Any]] = []
        self.done = threading.Event()
        self.run = TrainingRun(job_path, on_event=self._on_event)
        self.t0 = 0.0

    def _on_event(self, event: Any) -> None:
        self.events.append((time.perf_counter(), event))
        if event.terminal:
            self.done.set()

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self.run.start()

    def last_event(self) -> Any:
        """Wait for the run's last event (the launcher always delivers one) and return it."""
        self.done.wait()
        return self.events[-1][1]

    def close(self) -> None:
        """Kill the worker if it still runs (an interrupted bench leaves none behind)."""
        if self.run.running:
            self.run.kill()
            self.run.wait(10)


def worker_phases(
    events: list[tuple[float, Any]], t0: float, job_path: Path, stderr: Sequence[str]
) -> tuple[dict[str, float], dict[str, Any], Any]:
    """Phase times from the worker's events (``t0``: its start), training figures, and its
    ``finished`` event.

    Raises
    ------
    BenchError
        The worker failed or its events are not a complete run.
    """
    from orthogui.training.protocol import Evaluated, Failed, Finished, Progress, Started

    last = events[-1][1] if events else None
    if isinstance(last, Failed):
        tail = f" (stderr: {stderr[-1]})" if stderr and last.kind == "error" else ""
        raise BenchError(
            f"{job_path}: the training worker failed ({last.kind}): {last.reason}{tail}"
        )
    if not isinstance(last, Finished):
        raise BenchError(f"{job_path}: the training worker ended without a finished event")

    def when(kind: type, **match: Any) -> tuple[float, Any]:
        for t, e in events:
            if isinstance(e, kind) and all(getattr(e, k) == v for k, v in match.items()):
                return t, e
        raise BenchError(f"{job_path}: the worker sent no {kind.__name__} event {match or ''}")

    t_started, started = when(Started)
    t_cand, _ = when(Evaluated, model="candidate")
    t_cur, _ = when(Evaluated, model="current")
    t_done = events[-1][0]
    before_eval = [t for t, e in events if t <= t_cand and not isinstance(e, Evaluated)]
    t_trained = max(before_eval)
    progress = [e for _, e in events if isinstance(e, Progress)]
    steps = progress[-1].step - started.start_step if progress else 0
    phases = {
        "worker_start": t_started - t0,
        "training": t_trained - t_started,
        "eval_candidate": t_cand - t_trained,
        "eval_current": t_cur - t_cand,
        "promotion": t_done - t_cur,
    }
    train = {
        "device": started.device,
        "train_images": started.train_images,
        "val_images": started.val_images,
        "steps": steps,
        "final_loss": round(progress[-1].loss, 4) if progress else None,
        "worker_images_per_s": _median([e.images_per_s for e in progress]),
    }
    return phases, train, last


def _median(values: Sequence[float]) -> float | None:
    v = sorted(values)
    return round(v[len(v) // 2], 3) if v else None


def go_live(project: Project, card_path: Path, device: str) -> tuple[dict[str, float], Any, int]:
    """The app's hot-swap and its next pre-annotation: load the card into a predictor, read the
    NEW image, predict, and write the proposals into the project as one undo step."""
    from orthogui.core.review import preannotation
    from orthogui.io.readers import read_radiograph
    from orthogui.ml.card import load_card
    from orthogui.ml.predictor import MaskRCNNPredictor

    t0 = time.perf_counter()
    card = load_card(card_path)
    predictor = MaskRCNNPredictor.from_card(card_path, device=_predictor_device(device))
    t1 = time.perf_counter()
    project.predictor = predictor  # the swap
    store = project.store
    record = store.model.image(project.next_image)
    preds = predictor.predict(read_radiograph(store.image_path(record)))
    step = preannotation(store.model, record.id, preds, label=f"Pre-annotate {record.path}")
    if step is not None:
        store.history.push(step)
    t2 = time.perf_counter()
    return {"load_model": t1 - t0, "first_prediction": t2 - t1}, card, len(preds)


def _summary(metrics: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), 4) for k, v in metrics.items() if "/" not in k}


def _listing(folder: Path) -> list[tuple[str, int, int]]:
    return sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir())


def run(cfg: Config, work: Path) -> dict[str, Any]:
    """Set up the reviewed project, then measure one round; returns the JSON summary."""
    from orthogui.ml.card import ModelError, load_card
    from orthogui.training.protocol import Evaluated

    try:
        start = load_card(cfg.start_card)
    except ModelError as exc:
        raise BenchError(f"--start-card {exc}") from exc
    import torch

    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise BenchError("--device cuda: CUDA is not available on this machine")
    size = cfg.size or start.preprocessing.max_size
    card_folder = cfg.start_card.resolve().parent
    before = _listing(card_folder)
    project, setup_s = setup(cfg, work, size)
    try:
        t_round = time.perf_counter()
        prepared = prepare(project)
        job, steps_from = tune_job(prepared.job, prepared.train_images, cfg)
        t_job = time.perf_counter()
        worker = Worker(prepared.job)
        try:
            worker.start()
            if worker.last_event().name == "failed":
                worker.run.wait(30)  # its traceback goes to stderr after the event
            events = worker.events
            phases, train, finished = worker_phases(
                events, worker.t0, prepared.job, worker.run.stderr_tail
            )
            # The app loads the new model at ``finished`` while the worker process exits.
            live, live_card, n_preds = go_live(project, Path(finished.card), cfg.device)
            total = time.perf_counter() - t_round
            worker.run.wait()
            worker_exit = time.perf_counter() - events[-1][0]
        finally:
            worker.close()
        status = project.store.model.image(project.next_image).status.value
    finally:
        project.store.close()
    current = next(
        e.metrics for _, e in events if isinstance(e, Evaluated) and e.model == "current"
    )
    phases = {"snapshot_job": t_job - t_round, **phases, **live}
    device = "cuda" if str(train["device"]).startswith("cuda") else "cpu"
    images = train["steps"] * job.hyper.batch_size
    comparable = cfg.n == AIM_IMAGES and steps_from == "dock" and start.name == DEFAULT_MODEL
    return {
        "benchmark": "al_round",
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()},
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "torch": torch.__version__,
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "app_torch_threads": torch.get_num_threads(),
        },
        "setup_s": {k: round(v, 2) for k, v in setup_s.items()},
        "data": {
            "approved_images": project.approved,
            "accepted_findings": project.findings,
            "size_px": size,
            "train_images": prepared.train_images,
            "val_images": prepared.val_images,
        },
        "job": {
            "start_card": f"{start.name} {start.version}",
            "steps": job.hyper.max_steps,
            "steps_from": steps_from,
            "epochs": round(images / max(prepared.train_images, 1), 2),
            "batch": job.hyper.batch_size,
            "lr": job.hyper.lr,
            "device": job.device,
            "threads": job.threads,
            "checkpoint_every": job.checkpoint_every,
        },
        "training": {
            **train,
            "images_per_s": round(images / phases["training"], 3) if phases["training"] else None,
        },
        "gate": {
            "promoted": finished.promoted,
            "reason": finished.reason,
            "version": finished.version,
            "candidate": _summary(finished.metrics),
            "current": _summary(current),
        },
        "live": {
            "loaded": "promoted" if finished.promoted else "candidate (not promoted)",
            "model": f"{live_card.name} {live_card.version}",
            "predictions": n_preds,
            "next_image_status": status,
        },
        "phases_s": {k: round(v, 2) for k, v in phases.items()},
        "phase_share": {k: round(v / total, 3) for k, v in phases.items()},
        "worker_exit_s": round(worker_exit, 2),  # overlaps load_model, as in the app
        "total_s": round(total, 2),
        "aim_s": AIM_S[device],
        "within_aim": total <= AIM_S[device],
        "comparable_to_aim": comparable,
        "start_card_folder_unchanged": _listing(card_folder) == before,
    }


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise BenchError(message)


def parse(argv: Sequence[str] | None = None) -> tuple[Config, Path | None]:
    """Options into a ``Config`` and the ``--json`` path; ``BenchError`` names a bad one."""
    p = _Parser(
        prog="al_round",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--start-card", type=Path, default=None, help="default: newest light model")
    p.add_argument("--n", type=int, default=AIM_IMAGES, help="newly approved images")
    steps = p.add_mutually_exclusive_group()
    steps.add_argument("--epochs", type=float, default=None, help="default: the dock's (3)")
    steps.add_argument("--steps", type=int, default=None, help="optimizer steps (override)")
    p.add_argument("--batch", type=int, default=None, help="default: the dock's (2)")
    p.add_argument("--threads", type=int, default=None, help="default: the dock's (cores - 1)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--size", type=int, default=None, help="image px; default: the card's input")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", type=Path, default=None, help="keep the project here (new folder)")
    p.add_argument("--json", type=Path, default=None, help="also write the result here")
    a = p.parse_args(argv)
    if a.n < 2:
        raise BenchError(f"--n {a.n}: fine-tuning needs at least 2 approved images")
    if a.epochs is not None and not (math.isfinite(a.epochs) and a.epochs > 0):
        raise BenchError(f"--epochs {a.epochs}: must be a positive number")
    for name in ("steps", "batch", "threads"):
        value = getattr(a, name)
        if value is not None and value < 1:
            raise BenchError(f"--{name} {value}: must be at least 1")
    if a.size is not None and a.size < 64:
        raise BenchError(f"--size {a.size}: must be at least 64 px")
    if a.start_card is None:
        a.start_card = newest_card(REPO / "models")
    elif not a.start_card.is_file():
        raise BenchError(f"--start-card {a.start_card}: no such file")
    if a.json is not None and not a.json.parent.is_dir():
        raise BenchError(f"--json {a.json}: the folder {a.json.parent} does not exist")
    if a.work is not None and a.work.exists() and (not a.work.is_dir() or any(a.work.iterdir())):
        raise BenchError(f"--work {a.work}: must be a new or empty folder")
    cfg = Config(
        start_card=a.start_card.resolve(),
        n=a.n,
        epochs=a.epochs,
        steps=a.steps,
        batch=a.batch,
        threads=a.threads,
        device=a.device,
        size=a.size,
        seed=a.seed,
        work=a.work,
    )
    return cfg, a.json


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench; returns the exit status (1 with one error line on bad input)."""
    from orthogui.core.radiograph import RadiographError
    from orthogui.io.importers import ImportValidationError
    from orthogui.io.store import ProjectStoreError
    from orthogui.ml.card import ModelError
    from orthogui.training.job import JobError
    from orthogui.training.prepare import NotReady

    known = (
        BenchError,
        NotReady,
        ModelError,
        ImportValidationError,
        ProjectStoreError,
        JobError,
        RadiographError,
    )

    try:
        cfg, out = parse(argv)
        if cfg.work is not None:
            cfg.work.mkdir(parents=True, exist_ok=True)
            result = run(cfg, cfg.work)
        else:
            with tempfile.TemporaryDirectory(prefix="orthogui-al-round-") as tmp:
                result = run(cfg, Path(tmp))
        text = json.dumps(result, indent=1)
        if out is not None:
            out.write_text(text + "\n", encoding="utf-8")
    except known as exc:
        print(f"al_round: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"al_round: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    print(text, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
