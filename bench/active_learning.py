"""Active learning on synthetic radiographs: the learning curve of a strategy against random order.

python bench/active_learning.py --start-card models/NAME/CARD.json \\
    [--pool 100 --k 20 --rounds 5 --steps 200 --size 512 --test 40] [--device cuda]

Ground truth plays the reviewer. Every strategy starts from the same model card, the same
labelled pool (synthetic, seed + 1000, or --pool-coco) and the same fixed test set (seed + 2000,
or --test-coco). Each round: score the unlabelled pool with the current model (strategies other
than ``random``), take the top ``k`` as reviewed, fine-tune the current model in-process with the
training worker (``run_job``, start card = the previous round's model, on every image labelled so
far, ``--steps`` optimizer steps, training seed = seed + round for every strategy), and evaluate
segm/bbox AP50 on the test set. The next round continues from the fine-tuned model whether or not
the promotion gate would have promoted it (its verdict is recorded as ``gate_promote``).

Prints one JSON object per round (round 0 = the start model, shared by all strategies), then a
summary with both curves, and draws AP50 against labelled images into ``--plot`` (default
docs/active-learning.png).
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PLOT = REPO / "docs" / "active-learning.png"
METRICS = ("segm_AP50", "bbox_AP50", "segm_AP", "bbox_AP")


class BenchError(ValueError):
    """Bad input: the message names the file or option and the reason."""


@dataclass(frozen=True)
class Config:
    """The run: sizes, budget and seeds (the same for every strategy)."""

    start_card: Path
    pool: int = 100
    k: int = 20
    rounds: int = 5
    steps: int = 200
    size: int = 512
    test: int = 40
    batch: int = 2
    lr: float = 0.005
    warmup: int = -1  # -1: a fifth of the steps, at most 50
    scene: str = "mixed"
    seed: int = 0
    device: str = "cpu"
    threads: int = 0
    strategies: tuple[str, ...] = ("uncertainty", "random")
    pool_coco: Path | None = None
    test_coco: Path | None = None


@dataclass(frozen=True)
class Dataset:
    """A COCO instances dict with absolute file names."""

    coco: dict[str, Any]
    source: Path

    def ids(self) -> list[int]:
        return sorted(int(im["id"]) for im in self.coco["images"])

    def image(self, image_id: int) -> dict[str, Any]:
        return next(im for im in self.coco["images"] if int(im["id"]) == image_id)

    def subset(self, ids: set[int]) -> dict[str, Any]:
        return {
            **self.coco,
            "images": [im for im in self.coco["images"] if int(im["id"]) in ids],
            "annotations": [a for a in self.coco["annotations"] if int(a["image_id"]) in ids],
        }


def read_dataset(path: Path) -> Dataset:
    """A COCO file, or a folder with ``annotations.json`` (file names relative to it)."""
    file = path / "annotations.json" if path.is_dir() else path
    try:
        coco = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BenchError(f"{file}: cannot read ({exc.strerror or exc})") from exc
    except json.JSONDecodeError as exc:
        raise BenchError(f"{file}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    if not isinstance(coco, dict) or not all(
        isinstance(coco.get(k), list) for k in ("images", "annotations", "categories")
    ):
        raise BenchError(f"{file}: not a COCO instances file (images, annotations, categories)")
    if not coco["images"]:
        raise BenchError(f"{file}: has no images")
    root = file.parent
    images = [
        {**im, "file_name": str((root / str(im["file_name"])).resolve())} for im in coco["images"]
    ]
    return Dataset({**coco, "images": images}, file)


def make_data(cfg: Config, work: Path) -> tuple[Dataset, Dataset]:
    """The labelled pool and the test set: COCO folders, or synthetic with their own seeds."""
    from orthogui.synth.dataset import write_dataset

    out = []
    for name, given, n, offset in (
        ("pool", cfg.pool_coco, cfg.pool, 1000),
        ("test", cfg.test_coco, cfg.test, 2000),
    ):
        if given is None:
            folder = work / name
            scene: Any = cfg.scene  # checked by the parser
            write_dataset(folder, n=n, seed=cfg.seed + offset, scene=scene, size=cfg.size)
            given = folder
        out.append(read_dataset(given))
    pool, test = out
    if cfg.pool_coco is not None and len(pool.ids()) > cfg.pool:
        keep = set(pool.ids()[: cfg.pool])
        pool = Dataset(pool.subset(keep), pool.source)
    return pool, test


def write_snapshot(folder: Path, pool: Dataset, labelled: Sequence[int], test: Dataset) -> Path:
    """A training snapshot: ``train`` = the labelled pool images, ``val`` = the test set."""
    ann = folder / "annotations"
    ann.mkdir(parents=True, exist_ok=True)
    (ann / "train.json").write_text(json.dumps(pool.subset(set(labelled))), encoding="utf-8")
    (ann / "val.json").write_text(json.dumps(test.coco), encoding="utf-8")
    return folder


def label_counts(card: Any, pool: Dataset, labelled: Sequence[int]) -> dict[int, int]:
    """Instances per model label: the card's training counts plus the images labelled so far."""
    from orthogui.ml.uncertainty import context_from_card

    counts = Counter(context_from_card(card).label_counts)
    names = {int(c["id"]): str(c["name"]) for c in pool.coco["categories"]}
    label_of = {c.project_category: c.label for c in card.categories}
    chosen = set(labelled)
    for a in pool.coco["annotations"]:
        label = label_of.get(names.get(int(a["category_id"]), ""))
        if int(a["image_id"]) in chosen and label is not None:
            counts[label] += 1
    return dict(counts)


def pick(
    strategy: str,
    card_path: Path,
    pool: Dataset,
    labelled: Sequence[int],
    cfg: Config,
    round_no: int,
) -> tuple[list[int], float]:
    """The next ``k`` images to review by ``strategy``, and the seconds spent scoring."""
    from orthogui.io.readers import read_radiograph
    from orthogui.ml.card import load_card
    from orthogui.ml.uncertainty import ImageScores, context_from_card, order_queue

    unlabelled = [i for i in pool.ids() if i not in set(labelled)]
    t0 = time.perf_counter()
    scores: dict[str, ImageScores] = {str(i): ImageScores({}) for i in unlabelled}
    card = load_card(card_path)
    ctx = context_from_card(card, label_counts=label_counts(card, pool, labelled))
    if strategy != "random":
        from orthogui.ml.predictor import MaskRCNNPredictor

        predictor = MaskRCNNPredictor.from_card(card, device=cfg.device)
        for i in unlabelled:
            rg = read_radiograph(pool.image(i)["file_name"])
            scores[str(i)] = predictor.image_scores(rg, context=ctx)
        del predictor
        gc.collect()
    order = order_queue(scores, strategy=strategy, context=ctx, seed=cfg.seed * 1000 + round_no)
    return [int(i) for i in order[: cfg.k]], time.perf_counter() - t0


def fine_tune(
    card_path: Path, snapshot: Path, output: Path, cfg: Config, round_no: int
) -> tuple[Path, dict[str, float], dict[str, float], bool]:
    """Fine-tune ``card_path`` on ``snapshot`` in-process: the candidate's card, its test
    metrics, the start model's test metrics, and whether the promotion gate would promote."""
    from orthogui.training.job import HyperParameters, TrainingJob
    from orthogui.training.protocol import Evaluated, Event
    from orthogui.training.worker import run_job

    warmup = cfg.warmup if cfg.warmup >= 0 else min(50, cfg.steps // 5)
    job = TrainingJob(
        snapshot=snapshot,
        output=output,
        start_card=card_path,
        image_size=cfg.size,
        hyper=HyperParameters(
            lr=cfg.lr, warmup_steps=warmup, batch_size=cfg.batch, max_steps=cfg.steps
        ),
        device=cfg.device,
        seed=cfg.seed + round_no,  # the same for every strategy
        checkpoint_every=0,
        resume=False,
        threads=cfg.threads,
    )
    current: dict[str, float] = {}

    def emit(event: Event) -> None:
        if isinstance(event, Evaluated) and event.model == "current":
            current.update(event.metrics)

    outcome = run_job(job, emit=emit)
    if outcome.card is None or outcome.card.source is None or outcome.decision is None:
        raise RuntimeError(f"{output}: the training run published no candidate")
    return outcome.card.source, dict(outcome.metrics), current, outcome.decision.promote


def _metrics(m: dict[str, float]) -> dict[str, float]:
    return {k: round(float(m.get(k, 0.0)), 5) for k in METRICS}


def run(
    cfg: Config, work: Path, out: Callable[[dict[str, Any]], None], *, keep: bool = False
) -> dict[str, Any]:
    """Every strategy for ``cfg.rounds`` rounds; ``out`` receives one row per round.

    Without ``keep`` only the newest round's model of a strategy stays in ``work``.
    """
    from orthogui.ml.card import load_card

    start = load_card(cfg.start_card)
    pool, test = make_data(cfg, work)
    missing = {c.project_category for c in start.categories} - {
        str(c["name"]) for c in pool.coco["categories"]
    }
    if missing:
        raise BenchError(
            f"{pool.source}: lacks the start card's categories {sorted(missing)} ({cfg.start_card})"
        )
    if cfg.k * cfg.rounds > len(pool.ids()):
        raise BenchError(
            f"--k {cfg.k} x --rounds {cfg.rounds} needs {cfg.k * cfg.rounds} pool images; "
            f"the pool has {len(pool.ids())}"
        )
    curves: dict[str, list[dict[str, Any]]] = {}
    start_metrics: dict[str, float] = {}
    for strategy in cfg.strategies:
        card_path = cfg.start_card.resolve()
        labelled: list[int] = []
        rows: list[dict[str, Any]] = []
        previous: Path | None = None
        for r in range(1, cfg.rounds + 1):
            t0 = time.perf_counter()
            chosen, score_s = pick(strategy, card_path, pool, labelled, cfg, r)
            labelled = [*labelled, *chosen]
            folder = work / strategy / f"round{r}"
            snapshot = write_snapshot(folder / "snapshot", pool, labelled, test)
            t1 = time.perf_counter()
            card_path, metrics, current, promote = fine_tune(
                card_path, snapshot, folder / "run", cfg, r
            )
            if r == 1:
                start_metrics = start_metrics or current
                rows.append(_row(strategy, 0, 0, [], start_metrics, {}))
                out(rows[-1])
            timing = {
                "score_s": round(score_s, 2),
                "train_eval_s": round(time.perf_counter() - t1, 2),
                "round_s": round(time.perf_counter() - t0, 2),
            }
            rows.append(_row(strategy, r, len(labelled), chosen, metrics, timing, promote))
            out(rows[-1])
            if previous is not None and not keep:  # the newest model only: disk stays small
                shutil.rmtree(previous, ignore_errors=True)
            previous = folder
        curves[strategy] = rows
    return {
        "benchmark": "active_learning",
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()},
        "pool_images": len(pool.ids()),
        "test_images": len(test.ids()),
        "curves": {
            s: [{"labelled": r["labelled"], **_metrics(r)} for r in rows]
            for s, rows in curves.items()
        },
    }


def _row(
    strategy: str,
    round_no: int,
    labelled: int,
    chosen: list[int],
    metrics: dict[str, float],
    timing: dict[str, float],
    promote: bool | None = None,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "strategy": strategy,
        "round": round_no,
        "labelled": labelled,
        "picked": chosen,
        **_metrics(metrics),
        **timing,
    }
    if promote is not None:
        row["gate_promote"] = promote
    return row


def plot(summary: dict[str, Any], path: Path) -> Path:
    """AP50 (segm and bbox) against labelled images, one line per strategy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
    for ax, metric in zip(axes, ("segm_AP50", "bbox_AP50")):
        for strategy, points in summary["curves"].items():
            ax.plot(
                [p["labelled"] for p in points],
                [p[metric] for p in points],
                marker="o",
                label=strategy,
            )
        top = max(p[metric] for points in summary["curves"].values() for p in points)
        ax.set_ylim(0.0, max(0.05, min(1.0, top * 1.15)))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("labelled images")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    c = summary["config"]
    fig.suptitle(
        f"Active learning: pool {summary['pool_images']}, k {c['k']}, {c['rounds']} rounds, "
        f"{c['steps']} steps/round, test {summary['test_images']} images ({c['size']} px)"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def parse(argv: Sequence[str] | None = None) -> tuple[Config, argparse.Namespace]:
    from orthogui.ml.uncertainty import STRATEGIES

    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--start-card", type=Path, required=True, help="the model to start from")
    p.add_argument("--pool", type=int, default=100, help="images in the labelled pool")
    p.add_argument("--k", type=int, default=20, help="images reviewed per round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=200, help="optimizer steps per fine-tuning")
    p.add_argument("--size", type=int, default=512, help="synthetic image size in px")
    p.add_argument("--test", type=int, default=40, help="images in the test set")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--lr", type=float, default=0.005)
    p.add_argument("--warmup", type=int, default=-1, help="-1: steps/5, at most 50")
    p.add_argument("--scene", choices=("limb", "spine", "mixed"), default="mixed")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    p.add_argument(
        "--strategies", nargs="+", default=["uncertainty", "random"], choices=sorted(STRATEGIES)
    )
    p.add_argument("--pool-coco", type=Path, default=None, help="COCO file/folder instead")
    p.add_argument("--test-coco", type=Path, default=None, help="COCO file/folder instead")
    p.add_argument("--work", type=Path, default=None, help="keep the runs here (default: temp)")
    p.add_argument("--plot", type=Path, default=DEFAULT_PLOT)
    p.add_argument("--json", type=Path, default=None, help="also write the summary here")
    a = p.parse_args(argv)
    for name in ("pool", "k", "rounds", "steps", "test", "batch"):
        if getattr(a, name) < 1:
            p.error(f"--{name} must be at least 1")
    if a.pool_coco is None and a.k * a.rounds > a.pool:
        p.error(f"--k {a.k} x --rounds {a.rounds} needs more than --pool {a.pool} images")
    if a.size < 32:
        p.error("--size must be at least 32")
    if not a.start_card.is_file():
        p.error(f"--start-card {a.start_card}: no such file")
    cfg = Config(
        start_card=a.start_card,
        pool=a.pool,
        k=a.k,
        rounds=a.rounds,
        steps=a.steps,
        size=a.size,
        test=a.test,
        batch=a.batch,
        lr=a.lr,
        warmup=a.warmup,
        scene=a.scene,
        seed=a.seed,
        device=a.device,
        threads=a.threads,
        strategies=tuple(dict.fromkeys(a.strategies)),
        pool_coco=a.pool_coco,
        test_coco=a.test_coco,
    )
    return cfg, a


def main(argv: Sequence[str] | None = None) -> int:
    cfg, a = parse(argv)
    t0 = time.perf_counter()

    def out(row: dict[str, Any]) -> None:
        print(json.dumps(row), flush=True)

    try:
        if a.work is not None:
            a.work.mkdir(parents=True, exist_ok=True)
            summary = run(cfg, a.work, out, keep=True)
        else:
            with tempfile.TemporaryDirectory(prefix="orthogui-al-") as tmp:
                summary = run(cfg, Path(tmp), out)
    except (BenchError, ValueError, OSError) as exc:
        print(f"active_learning: {exc}", file=sys.stderr)
        return 2
    summary["wall_s"] = round(time.perf_counter() - t0, 1)
    summary["plot"] = str(plot(summary, a.plot))
    if a.json is not None:
        a.json.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
