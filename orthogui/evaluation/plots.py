"""Precision-recall curves as PNG files (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from orthogui.evaluation.cocoeval import CocoApResult


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "category"


def write_pr_curves(result: CocoApResult, names: dict[int, str], out_dir: str | Path) -> list[str]:
    """One PNG per category plus ``pr_all.png``: precision over recall at IoU 0.50 and 0.75.

    Returns the written file names (relative to ``out_dir``).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rec = result.recall_thresholds
    levels = [
        (float(t), i)
        for i, t in enumerate(result.iou_thresholds)
        if round(float(t), 2) in (0.5, 0.75)
    ]
    written = []
    curves = {"all": None, **{names.get(c, str(c)): k for k, c in enumerate(result.category_ids)}}
    for label, k in curves.items():
        fig = Figure(figsize=(5, 4), dpi=100)
        ax = fig.add_subplot()
        for t, i in levels:
            p = (
                result.precision[i, :, :, 0, -1]
                if k is None
                else result.precision[i, :, k : k + 1, 0, -1]
            )
            p = np.where(p > -1, p, np.nan)
            if np.all(np.isnan(p)):
                continue
            ax.plot(rec, np.nanmean(p, axis=1), label=f"IoU {t:.2f}")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_title(f"PR curve: {label}")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(loc="lower left")
        name = f"pr_{_slug(label)}.png"
        fig.savefig(out / name)
        written.append(name)
    return written
