"""The worker's JSON-lines protocol: one event object per stdout line, typed both ways.

Event types are registered by name (``EVENT_TYPES``); ``to_json``/``from_json`` round-trip
exactly. torch-free, so the GUI side can parse events.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, Literal

FailureKind = Literal["error", "nan", "stopped", "crashed"]


class ProtocolError(ValueError):
    """A line that is not a known event; the message quotes the start of the line."""


@dataclass(frozen=True)
class Event:
    """Base of all events; ``name`` is the ``"event"`` key on the wire."""

    name: ClassVar[str] = ""

    def to_json(self) -> str:
        """One line of JSON (no newline), ``"event"`` first; NaN/inf floats become strings."""
        return json.dumps(
            _finite({"event": self.name, **asdict(self)}), separators=(",", ":"), allow_nan=False
        )

    @property
    def terminal(self) -> bool:
        """True for events after which the worker says nothing more."""
        return False


@dataclass(frozen=True)
class Started(Event):
    """The worker has its data and model and begins (or resumes) training."""

    name: ClassVar[str] = "started"
    total_steps: int
    start_step: int = 0
    device: str = "cpu"
    world_size: int = 1
    train_images: int = 0
    val_images: int = 0
    output: str = ""


@dataclass(frozen=True)
class Progress(Event):
    """One or more optimizer steps done."""

    name: ClassVar[str] = "progress"
    step: int
    total_steps: int
    epoch: int
    loss: float
    lr: float
    eta_s: float
    images_per_s: float = 0.0
    losses: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Evaluated(Event):
    """Metrics on the held-out split (``segm_AP``, ``bbox_AP``, ``segm_AP/<category>`` ...)."""

    name: ClassVar[str] = "evaluated"
    step: int
    metrics: dict[str, float]
    model: str = "candidate"  # "candidate" or "current"


@dataclass(frozen=True)
class CheckpointSaved(Event):
    """A resumable checkpoint was written (atomically) at ``path``."""

    name: ClassVar[str] = "checkpoint"
    step: int
    path: str


@dataclass(frozen=True)
class Finished(Event):
    """Training is over; the candidate was promoted (``card`` in the models folder) or kept."""

    name: ClassVar[str] = "finished"
    step: int
    promoted: bool
    version: str
    card: str
    reason: str
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return True


@dataclass(frozen=True)
class Failed(Event):
    """The run ended without a result: an error, a NaN loss, a stop request or a crash."""

    name: ClassVar[str] = "failed"
    reason: str
    kind: FailureKind = "error"
    step: int = -1
    checkpoint: str = ""

    @property
    def terminal(self) -> bool:
        return True


EVENT_TYPES: dict[str, type[Event]] = {}


def register_event(cls: type[Event]) -> type[Event]:
    """Add an event type; a second one with the same name is refused (``ValueError``)."""
    if cls.name in EVENT_TYPES:
        raise ValueError(f"event {cls.name!r} is already registered")
    EVENT_TYPES[cls.name] = cls
    return cls


for _cls in (Started, Progress, Evaluated, CheckpointSaved, Finished, Failed):
    register_event(_cls)


def _finite(obj: Any) -> Any:
    # JSON has no NaN: the protocol refuses to carry one rather than emit invalid JSON.
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    return obj


def from_json(line: str | bytes) -> Event:
    """Parse one line into its event.

    Raises
    ------
    ProtocolError
        Not JSON, not an object, an unknown ``event`` or missing/unknown fields.
    """
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    head = text.strip()[:80]
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"not JSON ({exc.msg}): {head!r}") from exc
    if not isinstance(obj, dict):
        raise ProtocolError(f"an event must be a JSON object: {head!r}")
    kind = obj.pop("event", None)
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError(f"unknown event {kind!r}; known: {sorted(EVENT_TYPES)}")
    names = {f.name for f in fields(cls)}
    unknown = set(obj) - names
    if unknown:
        raise ProtocolError(f"event {kind!r} has unknown fields {sorted(unknown)}")
    try:
        return cls(**obj)
    except TypeError as exc:
        raise ProtocolError(f"event {kind!r}: {exc}") from exc
