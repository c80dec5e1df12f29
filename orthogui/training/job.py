"""The training job file: what to train on, from where, how, and where results go.

Plain JSON, validated into a frozen ``TrainingJob``; every error names the file and the field.
Relative paths are resolved against the job file's folder. torch-free.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from orthogui.core.errors import PathError
from orthogui.io.fileops import atomic_write_text

DEVICES = ("auto", "cpu", "cuda")
WINDOW_MODES = ("default", "percentile")
JOB_FORMAT = "orthogui-training-job/1"


class JobError(PathError, ValueError):
    """A job file that cannot be run. ``str()`` names the file, the field and the reason.

    ``field`` is the field at fault ("" for the file as a whole); ``reason`` is everything
    after the path (``"field 'lr': out of range: -1"``), ``problem`` the bare why.
    """

    def __init__(self, path: str | Path, field_name: str, reason: str) -> None:
        self.field = field_name
        self.problem = reason
        super().__init__(path, f"field {field_name!r}: {reason}" if field_name else reason)

    def __reduce__(self) -> tuple[type[JobError], tuple[str, str, str]]:
        return (type(self), (self.path, self.field, self.problem))


@dataclass(frozen=True)
class HyperParameters:
    """The recipe: SGD momentum + weight decay, linear warm-up then cosine decay."""

    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup_steps: int = 50
    batch_size: int = 2
    accumulation: int = 1  # optimizer step every ``accumulation`` batches
    max_steps: int = 1000  # optimizer steps
    amp: bool = True  # fp16 autocast, CUDA only
    augment: bool = True
    class_balanced: bool = True
    grad_clip: float = 0.0  # 0 = off
    # Epochs of the screw-type stage on the snapshot's reviewed, typed screws after the
    # detector's steps (``worker.teach_types``); 0: the start card's stage is carried unchanged.
    type_epochs: int = 0


@dataclass(frozen=True)
class TrainingJob:
    """One training run.

    ``snapshot`` is a snapshot folder (``annotations/{train,val}.json`` + ``images/``) or a
    single COCO file / folder with ``annotations.json``, split by ``seed`` and
    ``val_fraction``. ``start_card`` is the current model (fine-tune it, and the candidate must
    beat it to be promoted); without it a fresh ``architecture`` is trained on ``categories``.
    """

    snapshot: Path
    output: Path
    models_dir: Path | None = None
    start_card: Path | None = None
    architecture: str = "maskrcnn_mobilenet_v3_large_fpn_lite"
    model_name: str = ""
    categories: tuple[str, ...] = ()
    # Categories a new model detects as one label, e.g. {"screw": (the five screw types)}: the
    # detector finds the object, a type classifier on its crop decides among the members.
    category_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    image_size: int = 1024
    window: str = "default"  # how a new model's input is windowed: "default" or "percentile"
    window_percentile_low: float = 0.5
    window_percentile_high: float = 99.5
    hyper: HyperParameters = field(default_factory=HyperParameters)
    device: str = "auto"
    seed: int = 0
    val_fraction: float = 0.2
    tolerance: float = 0.02
    primary_metric: str = "segm_AP"
    eval_every: int = 0  # steps; 0 = only at the end
    checkpoint_every: int = 50
    log_every: int = 1
    resume: bool = True
    num_workers: int = 0
    threads: int = 0  # torch CPU threads; 0 = torch's default
    source: Path | None = field(default=None, compare=False)

    @property
    def checkpoint_path(self) -> Path:
        """The worker's own resumable checkpoint."""
        return self.output / "checkpoint.pt"

    @property
    def events_path(self) -> Path:
        """Every event is also appended here, so a GUI can re-attach after closing."""
        return self.output / "events.jsonl"

    def to_json(self) -> dict[str, Any]:
        """The JSON object of the job (paths as strings)."""
        d = asdict(self)
        d.pop("source")
        for k, v in d.items():
            if isinstance(v, Path):
                d[k] = str(v)
        d["categories"] = list(self.categories)
        d["category_groups"] = {k: list(v) for k, v in self.category_groups.items()}
        return {"format": JOB_FORMAT, **d}


_PATHS = ("snapshot", "output", "models_dir", "start_card")


def _typed(where: Path, name: str, value: Any, kind: type) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) and kind is not bool:
        raise JobError(where, name, f"must be a {kind.__name__}, got a boolean")
    if not isinstance(value, kind):
        raise JobError(where, name, f"must be a {kind.__name__}, got {type(value).__name__}")
    return value


def _hyper(where: Path, obj: Any) -> HyperParameters:
    if not isinstance(obj, dict):
        raise JobError(where, "hyper", "must be an object")
    defaults = HyperParameters()
    known = {f.name: type(getattr(defaults, f.name)) for f in fields(HyperParameters)}
    unknown = sorted(set(obj) - set(known))
    if unknown:
        raise JobError(where, f"hyper.{unknown[0]}", f"unknown field; known: {sorted(known)}")
    values = {k: _typed(where, f"hyper.{k}", v, known[k]) for k, v in obj.items()}
    hp = replace(defaults, **values)
    checks = {
        "lr": hp.lr > 0,
        "momentum": 0 <= hp.momentum < 1,
        "weight_decay": hp.weight_decay >= 0,
        "warmup_steps": hp.warmup_steps >= 0,
        "batch_size": hp.batch_size >= 1,
        "accumulation": hp.accumulation >= 1,
        "max_steps": hp.max_steps >= 1,
        "grad_clip": hp.grad_clip >= 0,
        "type_epochs": 0 <= hp.type_epochs <= 100,
    }
    for name, ok in checks.items():
        if not ok:
            raise JobError(where, f"hyper.{name}", f"out of range: {getattr(hp, name)!r}")
    return hp


def job_from_json(obj: Any, *, source: Path) -> TrainingJob:
    """Validate a parsed job object (paths relative to ``source``'s folder).

    Raises
    ------
    JobError
        Naming ``source`` and the offending field.
    """
    if not isinstance(obj, dict):
        raise JobError(source, "", "a job must be a JSON object")
    obj = dict(obj)
    fmt = obj.pop("format", JOB_FORMAT)
    if fmt != JOB_FORMAT:
        raise JobError(source, "format", f"unknown job format {fmt!r} (expected {JOB_FORMAT!r})")
    known = {f.name for f in fields(TrainingJob)} - {"source"}
    unknown = sorted(set(obj) - known)
    if unknown:
        raise JobError(source, unknown[0], f"unknown field; known: {sorted(known)}")
    for required in ("snapshot", "output"):
        if required not in obj:
            raise JobError(source, required, "missing")
    base = source.parent
    defaults = TrainingJob(snapshot=Path(), output=Path())
    values: dict[str, Any] = {}
    for name, raw in obj.items():
        if name in _PATHS:
            if raw is None and name not in ("snapshot", "output"):
                values[name] = None
                continue
            text = _typed(source, name, raw, str)
            values[name] = (base / os.path.expanduser(text)).resolve()
        elif name == "hyper":
            values[name] = _hyper(source, raw)
        elif name == "categories":
            if not isinstance(raw, list) or not all(isinstance(c, str) and c for c in raw):
                raise JobError(source, name, "must be a list of category names")
            if len(set(raw)) != len(raw):
                raise JobError(source, name, f"duplicate names in {raw}")
            values[name] = tuple(raw)
        elif name == "category_groups":
            values[name] = _groups(source, raw)
        else:
            values[name] = _typed(source, name, raw, type(getattr(defaults, name)))
    job = replace(defaults, **values, source=source)
    _check(job, source)
    return job


def _groups(source: Path, raw: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict) or not all(
        isinstance(k, str)
        and k
        and isinstance(v, list)
        and v
        and all(isinstance(m, str) for m in v)
        for k, v in raw.items()
    ):
        raise JobError(source, "category_groups", "must map a name to a list of category names")
    return {k: tuple(v) for k, v in raw.items()}


def _check(job: TrainingJob, source: Path) -> None:
    if not job.snapshot.exists():
        raise JobError(source, "snapshot", f"{job.snapshot} does not exist")
    if job.start_card is not None and not job.start_card.is_file():
        raise JobError(source, "start_card", f"{job.start_card} does not exist")
    if job.start_card is None and not job.categories:
        raise JobError(source, "categories", "needed when there is no start_card")
    grouped = [m for members in job.category_groups.values() for m in members]
    if len(set(grouped)) != len(grouped):
        raise JobError(source, "category_groups", "a category is in two groups")
    outside = sorted(set(grouped) - set(job.categories))
    if outside and job.start_card is None:
        raise JobError(source, "category_groups", f"not in categories: {outside}")
    if job.device not in DEVICES:
        raise JobError(source, "device", f"must be one of {DEVICES}, got {job.device!r}")
    if not 0.0 < job.val_fraction < 1.0:
        raise JobError(source, "val_fraction", f"must be in (0, 1), got {job.val_fraction}")
    if job.tolerance < 0:
        raise JobError(source, "tolerance", f"must be >= 0, got {job.tolerance}")
    if job.window not in WINDOW_MODES:
        raise JobError(source, "window", f"must be one of {WINDOW_MODES}, got {job.window!r}")
    if not 0.0 <= job.window_percentile_low < job.window_percentile_high <= 100.0:
        raise JobError(
            source,
            "window_percentile_high",
            "percentiles must satisfy 0 <= low < high <= 100, got "
            f"{job.window_percentile_low}, {job.window_percentile_high}",
        )
    if job.image_size < 32:
        raise JobError(source, "image_size", f"must be >= 32, got {job.image_size}")
    for name in ("eval_every", "checkpoint_every", "num_workers", "threads"):
        if getattr(job, name) < 0:
            raise JobError(source, name, "must be >= 0")
    if job.log_every < 1:
        raise JobError(source, "log_every", "must be >= 1")


def load_job(path: str | Path) -> TrainingJob:
    """Read and validate a job file.

    Raises
    ------
    JobError
        Missing file, bad JSON, or a field out of range (the message names the field).
    """
    p = Path(path).resolve()
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise JobError(p, "", f"cannot read the job file ({exc.strerror or exc})") from exc
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JobError(p, "", f"not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    return job_from_json(obj, source=p)


def save_job(job: TrainingJob, path: str | Path) -> Path:
    """Write ``job`` as JSON (absolute paths) atomically; returns the path."""
    return atomic_write_text(Path(path), json.dumps(job.to_json(), indent=2) + "\n")
