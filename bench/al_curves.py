"""Learning curves of bench/active_learning.py: mean and spread over repeats, the labels a
strategy needs to reach a target, and the plot with min-max bands."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

METRICS = ("segm_AP50", "bbox_AP50", "segm_AP", "bbox_AP")
SCREW = "screw_AP50"
CURVE_METRICS = (SCREW, *METRICS)


def mean_curves(
    runs: dict[str, dict[int, list[dict[str, Any]]]],
) -> dict[str, list[dict[str, Any]]]:
    """Per strategy and labelled count: each metric's mean over the repeats that reached it,
    with ``<metric>_std``, ``<metric>_min``, ``<metric>_max`` and ``n`` (repeats)."""
    import numpy as np

    curves: dict[str, list[dict[str, Any]]] = {}
    for strategy, reps in runs.items():
        by_n: dict[int, list[dict[str, Any]]] = {}
        for rows in reps.values():
            for row in rows:
                by_n.setdefault(int(row["labelled"]), []).append(row)
        points = []
        for n in sorted(by_n):
            point: dict[str, Any] = {"labelled": n, "n": len(by_n[n])}
            for m in CURVE_METRICS:
                v = np.array([float(r.get(m, 0.0)) for r in by_n[n]])
                point[m] = round(float(v.mean()), 5)
                point[f"{m}_std"] = round(float(v.std()), 5)
                point[f"{m}_min"] = round(float(v.min()), 5)
                point[f"{m}_max"] = round(float(v.max()), 5)
            points.append(point)
        curves[strategy] = points
    return curves


def labels_to_reach(points: Sequence[dict[str, Any]], target: float, metric: str) -> float | None:
    """Labelled images at which the curve first reaches ``target`` (linear between points);
    ``None`` if it never does."""
    prev: dict[str, Any] | None = None
    for p in points:
        if float(p[metric]) >= target:
            if prev is None:
                return float(p["labelled"])
            v0, v1 = float(prev[metric]), float(p[metric])
            x0, x1 = float(prev["labelled"]), float(p["labelled"])
            return round(x0 + (x1 - x0) * (target - v0) / (v1 - v0), 1)
        prev = p
    return None


def labels_per_repeat(
    runs: dict[str, dict[int, list[dict[str, Any]]]], metric: str, baseline: str = "random"
) -> dict[str, dict[str, float | None]]:
    """Per strategy and repeat: the labels its curve needs to reach the final figure of the same
    repeat's ``baseline`` run (the repeats share a pool and a test set, so this pairs them);
    ``None`` where it never does. Repeats whose baseline run is missing are left out."""
    finals = {rep: rows[-1] for rep, rows in runs.get(baseline, {}).items() if rows}
    out: dict[str, dict[str, float | None]] = {}
    for strategy, reps in runs.items():
        per: dict[str, float | None] = {}
        for rep, rows in sorted(reps.items()):
            final = finals.get(rep)
            if final is None or not rows:
                continue
            per[str(rep)] = labels_to_reach(rows, float(final[metric]), metric)
        out[strategy] = per
    return out


def plot(summary: dict[str, Any], path: Path) -> Path:
    """Screw, segm and bbox AP50 against labelled images: per strategy the mean over repeats
    and a band from the lowest to the highest repeat."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), sharex=True)
    for ax, metric in zip(axes, (SCREW, "segm_AP50", "bbox_AP50")):
        for strategy, points in summary["curves"].items():
            xs = [p["labelled"] for p in points]
            (line,) = ax.plot(xs, [p[metric] for p in points], marker="o", label=strategy)
            lo = [p.get(f"{metric}_min", p[metric]) for p in points]
            hi = [p.get(f"{metric}_max", p[metric]) for p in points]
            ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.15, linewidth=0)
        top = max(
            p.get(f"{metric}_max", p[metric])
            for points in summary["curves"].values()
            for p in points
        )
        target = summary.get("labels_needed", {}).get("target")
        if metric == SCREW and target is not None:
            ax.axhline(target, color="grey", linestyle=":", linewidth=1)
        ax.set_ylim(0.0, max(0.05, min(1.0, top * 1.15)))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("labelled images")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    c = summary["config"]
    reps = max(summary.get("repeats_done", {}).values(), default=1)
    fig.suptitle(
        f"Active learning: pool {summary['pool_images']}, k {c['k']}, {c['rounds']} rounds, "
        f"{c['steps']} steps/round, test {summary['test_images']} images ({c['size']} px); "
        f"mean and min-max of {reps} repeat(s)"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
