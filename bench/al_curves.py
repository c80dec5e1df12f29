"""Learning curves of bench/active_learning.py: mean, confidence interval and spread over
repeats, each strategy's paired difference to random order, the labels a strategy needs to
reach a target, and the plot with its bands."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

METRICS = ("segm_AP50", "bbox_AP50", "segm_AP", "bbox_AP")
SCREW = "screw_AP50"
CURVE_METRICS = (SCREW, *METRICS)


# Student's t, two-sided 95 %, by degrees of freedom (1-30); beyond, the normal 1.96.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def ci95(values: Sequence[float]) -> float:
    """Half-width of the 95 % confidence interval of the mean of ``values`` (Student's t on the
    sample standard deviation); 0 for fewer than two values."""
    import numpy as np

    n = len(values)
    if n < 2:
        return 0.0
    t = _T975[n - 2] if n - 1 <= len(_T975) else 1.96
    return float(t * np.std(np.asarray(values, dtype=float), ddof=1) / np.sqrt(n))


def mean_curves(
    runs: dict[str, dict[int, list[dict[str, Any]]]],
) -> dict[str, list[dict[str, Any]]]:
    """Per strategy and labelled count: each metric's mean over the repeats that reached it,
    with ``<metric>_std``, ``<metric>_min``, ``<metric>_max``, ``<metric>_ci95`` (half-width of
    the mean's 95 % confidence interval) and ``n`` (repeats)."""
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
                point[f"{m}_ci95"] = round(ci95(v.tolist()), 5)
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


def instances_labelled(
    runs: dict[str, dict[int, list[dict[str, Any]]]],
    counts: dict[int, dict[int, dict[str, int]]],
) -> dict[str, list[dict[str, Any]]]:
    """What the labels cost: per strategy and labelled count, the instances in the images
    labelled so far (``counts``: repeat -> image id -> kind -> instances, e.g. ``screws`` and
    ``all``), mean over the repeats, and per image. A strategy that saves images by picking
    crowded ones saves less reviewing work than the image count says."""
    out: dict[str, list[dict[str, Any]]] = {}
    for strategy, reps in runs.items():
        by_n: dict[int, list[dict[str, int]]] = {}
        for rep, rows in reps.items():
            table = counts.get(rep)
            if table is None:
                continue
            seen: list[int] = []
            for r in rows:
                seen = [*seen, *(int(i) for i in r.get("picked", []))]
                total = dict.fromkeys(next(iter(table.values()), {}), 0)
                for i in seen:
                    for kind, n in table.get(i, {}).items():
                        total[kind] = total.get(kind, 0) + int(n)
                by_n.setdefault(int(r["labelled"]), []).append(total)
        points: list[dict[str, Any]] = []
        for n, totals in sorted(by_n.items()):
            kinds = sorted({k for t in totals for k in t})
            point: dict[str, Any] = {"labelled": n, "repeats": len(totals)}
            for kind in kinds:
                mean = sum(t.get(kind, 0) for t in totals) / len(totals)
                point[kind] = round(mean, 2)
                point[f"{kind}_per_image"] = round(mean / n, 3) if n else None
            points.append(point)
        out[strategy] = points
    return out


def paired_differences(
    runs: dict[str, dict[int, list[dict[str, Any]]]], metric: str, baseline: str = "random"
) -> dict[str, list[dict[str, Any]]]:
    """Per strategy other than ``baseline`` and labelled count: the strategy's figure minus the
    same repeat's ``baseline`` figure (same pool, test set and training seeds), averaged over
    the repeats that have both, with the 95 % confidence interval's half-width and how many
    repeats the strategy is ahead in. An interval that excludes 0 is an effect, not noise."""
    if baseline not in runs:
        return {}
    base = {
        rep: {int(r["labelled"]): float(r[metric]) for r in rows}
        for rep, rows in runs[baseline].items()
    }
    out: dict[str, list[dict[str, Any]]] = {}
    for strategy, reps in runs.items():
        if strategy == baseline:
            continue
        by_n: dict[int, list[float]] = {}
        for rep, rows in reps.items():
            for r in rows:
                n = int(r["labelled"])
                if n in base.get(rep, {}):
                    by_n.setdefault(n, []).append(float(r[metric]) - base[rep][n])
        out[strategy] = [
            {
                "labelled": n,
                "n": len(d),
                "mean": round(sum(d) / len(d), 5),
                "ci95": round(ci95(d), 5),
                "ahead": sum(x > 0 for x in d),
            }
            for n, d in sorted(by_n.items())
        ]
    return out


def plot(summary: dict[str, Any], path: Path) -> Path:
    """Three panels against labelled images: screw AP50 and the all-category mask AP50 per
    strategy (mean over repeats, band from the lowest to the highest repeat), and each
    strategy's screw AP50 minus random order's, paired by repeat, with its 95 % confidence
    band (a band clear of zero is an effect, not fine-tuning noise)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), sharex=True)
    colours: dict[str, Any] = {}
    for ax, metric in ((axes[0], SCREW), (axes[2], "segm_AP50")):
        for strategy, points in summary["curves"].items():
            xs = [p["labelled"] for p in points]
            (line,) = ax.plot(xs, [p[metric] for p in points], marker="o", label=strategy)
            colours[strategy] = line.get_color()
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
        ax.set_ylabel(metric + (" (all categories)" if metric != SCREW else ""))
        ax.set_title("mean and min-max of the repeats", fontsize=10)
    ax = axes[1]
    ax.axhline(0.0, color="grey", linewidth=1)
    for strategy, diffs in summary.get("paired_vs_random", {}).items():
        xs = [d["labelled"] for d in diffs]
        mean = [d["mean"] for d in diffs]
        colour = colours.get(strategy)
        ax.plot(xs, mean, marker="o", color=colour, label=f"{strategy} - random")
        ax.fill_between(
            xs,
            [m - d["ci95"] for m, d in zip(mean, diffs)],
            [m + d["ci95"] for m, d in zip(mean, diffs)],
            color=colour,
            alpha=0.2,
            linewidth=0,
        )
    if not summary.get("paired_vs_random"):
        ax.text(0.5, 0.5, "no random order to pair with", ha="center", transform=ax.transAxes)
    ax.set_ylabel(f"{SCREW} difference")
    ax.set_title("paired by repeat: mean and 95 % confidence interval", fontsize=10)
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("labelled images")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left")
    c = summary["config"]
    reps = max(summary.get("repeats_done", {}).values(), default=1)
    fig.suptitle(
        f"Active learning: pool {summary['pool_images']}, k {c['k']}, {c['rounds']} rounds, "
        f"{c['steps']} steps/round, test {summary['test_images']} images ({c['size']} px), "
        f"{reps} repeat(s)"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
