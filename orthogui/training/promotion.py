"""The promotion gate and the model-version folder: promote a candidate, list versions, roll back.

torch-free: a promotion copies a candidate's safetensors and writes its card with a new
version, so the GUI can promote or roll back without loading a network.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from orthogui.io.fileops import atomic_copy, fsync_dir
from orthogui.ml.card import ModelCard, list_cards, save_card

ROLLED_BACK_SUFFIX = ".rolled-back"


@dataclass(frozen=True)
class Decision:
    """Whether a candidate replaces the current model, and why."""

    promote: bool
    reason: str
    gain: float = 0.0  # candidate minus current on the primary metric
    regressions: dict[str, float] = field(default_factory=dict)  # metric -> drop


def decide_promotion(
    current: Mapping[str, float] | None,
    candidate: Mapping[str, float],
    tolerance: float,
    *,
    primary: str = "segm_AP",
    per_category_prefix: str = "segm_AP/",
) -> Decision:
    """Promote only a candidate that beats the current model on ``primary`` with no
    per-category metric dropping by more than ``tolerance``.

    Parameters
    ----------
    current
        The current model's metrics on the held-out split; ``None``: there is no current model.
    candidate
        The candidate's metrics on the same split.
    tolerance
        Largest allowed drop of any ``per_category_prefix`` metric (absolute, e.g. 0.02 AP).
    primary
        The metric the candidate must improve (strictly).

    Returns
    -------
    Decision
    """
    cand = candidate.get(primary)
    if cand is None or not math.isfinite(cand):
        return Decision(False, f"candidate has no finite {primary}")
    if current is None:
        return Decision(True, "no current model to beat", gain=cand)
    cur = current.get(primary)
    if cur is None or not math.isfinite(cur):
        return Decision(True, f"current model has no {primary}", gain=cand)
    gain = cand - cur
    if gain <= 0:
        return Decision(
            False, f"{primary} {cand:.4f} does not beat the current {cur:.4f}", gain=gain
        )
    drops = {
        k: current[k] - v
        for k, v in candidate.items()
        if k.startswith(per_category_prefix)
        and k in current
        and math.isfinite(v)
        and math.isfinite(current[k])
        and current[k] - v > tolerance
    }
    if drops:
        worst = max(drops, key=lambda k: drops[k])
        return Decision(
            False,
            f"{worst} drops by {drops[worst]:.4f} (> tolerance {tolerance:.4f})",
            gain=gain,
            regressions=drops,
        )
    return Decision(True, f"{primary} {cur:.4f} -> {cand:.4f}, no category regresses", gain=gain)


def _key(version: str) -> tuple[tuple[int, str], ...]:
    return tuple((int(p), "") if p.isdigit() else (-1, p) for p in version.split("."))


def list_versions(models_dir: str | Path, name: str) -> list[ModelCard]:
    """Cards of model ``name`` in ``models_dir``, oldest first (the last is the current one)."""
    return [c for c in list_cards(models_dir) if c.name == name]


def next_version(models_dir: str | Path | None, name: str, *, after: str = "0") -> str:
    """One more than the newest version of ``name`` (last numeric part incremented)."""
    versions = [c.version for c in list_versions(models_dir, name)] if models_dir else []
    newest = max([*versions, after], key=_key)
    parts = newest.split(".")
    m = re.match(r"(\d+)", parts[-1])
    parts[-1] = str(int(m.group(1)) + 1) if m else parts[-1] + ".1"
    return ".".join(parts)


def promote_candidate(
    candidate: ModelCard, models_dir: str | Path, *, version: str | None = None
) -> ModelCard:
    """Copy a candidate (card + weights) into ``models_dir`` as a new version.

    The weights are copied first, the card last: a card in ``models_dir`` always has its file.
    Returns the published card (``source`` set).
    """
    out = Path(models_dir)
    out.mkdir(parents=True, exist_ok=True)
    new_version = version or next_version(out, candidate.name)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{candidate.name}-{new_version}")
    weights = out / f"{stem}.safetensors"
    atomic_copy(candidate.weights_path, weights)
    card = replace(candidate, version=new_version, weights_file=weights.name, source=None)
    if candidate.type_stage is not None and candidate.type_weights_path is not None:
        # The type classifier travels with its detector (weights first, card last).
        types = out / f"{stem}.types.safetensors"
        atomic_copy(candidate.type_weights_path, types)
        card = replace(card, type_stage=replace(candidate.type_stage, weights_file=types.name))
    return save_card(card, out / f"{stem}.json")


def rollback(models_dir: str | Path, name: str) -> ModelCard:
    """Retire the newest version of ``name`` (its card is renamed ``*.json.rolled-back``, the
    weights stay), so the previous version becomes current. Returns the new current card.

    Raises
    ------
    ValueError
        Fewer than two versions: there is nothing to roll back to.
    """
    cards = list_versions(models_dir, name)
    if len(cards) < 2:
        raise ValueError(f"{models_dir}: model {name!r} has no earlier version to roll back to")
    newest = cards[-1]
    assert newest.source is not None
    os.replace(newest.source, newest.source.with_name(newest.source.name + ROLLED_BACK_SUFFIX))
    fsync_dir(newest.source.parent)  # the rename survives a power cut
    return cards[-2]
