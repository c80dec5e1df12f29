"""Active learning on synthetic radiographs: learning curves of strategies against random order.

python bench/active_learning.py --start-card models/NAME/CARD.json \\
    [--pool 100 --k 20 --rounds 5 --steps 200 --size 512 --test 40] [--device cuda] \\
    [--strategies random,uncertainty,uncertainty_diverse,type] [--repeats 3] \\
    [--work DIR [--state DIR/state.jsonl] [--prune]]

Ground truth plays the reviewer. Every strategy starts from the same model card, the same
labelled pool (synthetic, seed + 1000, or --pool-coco) and the same fixed test set (seed + 2000,
or --test-coco). Each round: score the unlabelled pool with the current model (strategies other
than ``random``), take the top ``k`` as reviewed, fine-tune the current model in-process with the
training worker (``run_job``, start card = the previous round's model, on every image labelled so
far, ``--steps`` optimizer steps, training seed = seed + round for every strategy), and evaluate
segm/bbox AP50 on the test set, and screw AP50 (the screw types as one class, segm). The next
round continues from the fine-tuned model whether or not the promotion gate would have promoted it
(its verdict is recorded as ``gate_promote``).

``--score-subset N`` scores only N random unlabelled images per round (scoring the whole pool
with the flip pass and the type stage is the slowest part on a CPU). ``--repeats R`` runs
everything R times; repeat r > 0 has its own synthetic pool (seed + 1000 +
10000 r), training seeds and random order (seed + 1000 r + round); the test set stays the same.
With ``--work`` the run is resumable: every finished (strategy, repeat, round) is appended to a
JSON-lines state file (``--state``, default WORK/state.jsonl) and skipped when the same command
runs again, so it may be killed at any time (the round under way is redone).

Prints one JSON object per round computed (round 0 = the start model, shared by all strategies),
then a summary: mean curves with 95 % confidence intervals and spread over repeats; per strategy
the labels needed to reach random's final screw AP50 (interpolated on the mean curves, and repeat
by repeat against the same repeat's random run) and its screw AP50 minus random's, paired by
repeat, with a 95 % confidence interval; draws the curves with their bands into ``--plot``
(default docs/active-learning.png).
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
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
sys.path.insert(0, str(Path(__file__).resolve().parent))
from al_curves import (  # noqa: E402
    CURVE_METRICS,
    SCREW,
    instances_labelled,
    labels_per_repeat,
    labels_to_reach,
    mean_curves,
    paired_differences,
    plot,
)

SAME_RUN = (
    "start_card", "pool", "k", "steps", "size", "test", "batch", "lr", "warmup", "scene",
    "seed", "pool_coco", "test_coco", "score_subset",
)  # fmt: skip
"""Config fields a resumed run must share with the state file it continues."""


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
    repeats: int = 1
    score_subset: int = 0  # score this many unlabelled images per round (0: all)

    def repeat_seed(self, repeat: int) -> int:
        """The seed of one repeat: training seeds and random order derive from it."""
        return self.seed + 1000 * repeat


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


def make_data(cfg: Config, work: Path, repeat: int = 0) -> tuple[Dataset, Dataset]:
    """The labelled pool of one repeat and the test set: COCO folders, or synthetic with their
    own seeds (written once into ``work`` and read back on a resumed run)."""
    from orthogui.synth.dataset import write_dataset

    scene: Any = cfg.scene  # checked by the parser
    out = []
    for name, given, n, seed in (
        (
            "pool" if repeat == 0 else f"pool-r{repeat}",
            cfg.pool_coco,
            cfg.pool,
            cfg.seed + 1000 + 10_000 * repeat,
        ),
        ("test", cfg.test_coco, cfg.test, cfg.seed + 2000),
    ):
        if given is None:
            folder = work / name
            if not (folder / "annotations.json").is_file():
                _write_once(
                    folder,
                    functools.partial(write_dataset, n=n, seed=seed, scene=scene, size=cfg.size),
                )
            given = folder
        out.append(read_dataset(given))
    pool, test = out
    if cfg.pool_coco is not None and len(pool.ids()) > cfg.pool:
        keep = set(pool.ids()[: cfg.pool])
        pool = Dataset(pool.subset(keep), pool.source)
    return pool, test


def _write_once(folder: Path, write: Callable[[Path], object]) -> None:
    """Write a data set folder whole or not at all: into a folder of this process's own, then
    renamed into place, so that processes of one run (``--only-repeats``) that need the same
    test set do not write into one folder at once; the first to finish wins, the others' copies
    (the same seed, the same bytes) are dropped. A folder a killed run left without its
    ``annotations.json`` is replaced."""
    if folder.is_dir() and not (folder / "annotations.json").is_file():
        shutil.rmtree(folder, ignore_errors=True)
    part = folder.with_name(f"{folder.name}.part-{os.getpid()}")
    shutil.rmtree(part, ignore_errors=True)
    try:
        write(part)
    except BaseException:
        shutil.rmtree(part, ignore_errors=True)
        raise
    try:
        part.rename(folder)
    except OSError:  # another process got there first
        if not (folder / "annotations.json").is_file():
            raise
        shutil.rmtree(part, ignore_errors=True)


def write_snapshot(folder: Path, pool: Dataset, labelled: Sequence[int], test: Dataset) -> Path:
    """A training snapshot: ``train`` = the labelled pool images, ``val`` = the test set."""
    ann = folder / "annotations"
    ann.mkdir(parents=True, exist_ok=True)
    (ann / "train.json").write_text(json.dumps(pool.subset(set(labelled))), encoding="utf-8")
    (ann / "val.json").write_text(json.dumps(test.coco), encoding="utf-8")
    return folder


def label_counts(card: Any, pool: Dataset, labelled: Sequence[int]) -> dict[int, int]:
    """Instances per model label: the card's training counts plus the images labelled so far."""
    from orthogui.ml.scoring import context_from_card

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
    repeat: int = 0,
) -> tuple[list[int], float]:
    """The next ``k`` images to review by ``strategy``, and the seconds spent scoring."""
    import numpy as np

    from orthogui.io.readers import read_radiograph
    from orthogui.ml.card import load_card
    from orthogui.ml.scoring import ImageScores, context_from_card, order_queue

    unlabelled = [i for i in pool.ids() if i not in set(labelled)]
    seed = cfg.repeat_seed(repeat) * 1000 + round_no
    if strategy != "random" and 0 < cfg.score_subset < len(unlabelled):
        # A seeded random subset is scored (the usual remedy for slow scoring); the batch is
        # the top k of that subset.
        rng = np.random.default_rng(seed)
        unlabelled = sorted(int(i) for i in rng.choice(unlabelled, cfg.score_subset, False))
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
    order = order_queue(scores, strategy=strategy, context=ctx, seed=seed)
    return [int(i) for i in order[: cfg.k]], time.perf_counter() - t0


def fine_tune(
    card_path: Path, snapshot: Path, output: Path, cfg: Config, round_no: int, repeat: int = 0
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
        seed=cfg.repeat_seed(repeat) + round_no,  # the same for every strategy
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


def screw_ap50(card_path: Path, test: Dataset, cfg: Config) -> float:
    """Segm AP50 of the screws on the test set, every screw type as one class (what the
    reviewer corrects most): the model predicts the test images as the app would (type stage
    included), at a low score threshold as COCO evaluation expects. 0 without screws."""
    import numpy as np
    from pycocotools import mask as mask_utils

    from orthogui.core.categories import DEFAULT_CATEGORIES, SCREW_GROUP
    from orthogui.core.geometry import Polygon
    from orthogui.evaluation.cocoeval import coco_ap, load_gt, load_results
    from orthogui.io.readers import read_radiograph
    from orthogui.ml.card import load_card
    from orthogui.ml.predictor import MaskRCNNPredictor

    screws = {c.name for c in DEFAULT_CATEGORIES.group(SCREW_GROUP)}
    ids = {int(c["id"]) for c in test.coco["categories"] if str(c["name"]) in screws}
    gt = {
        **test.coco,
        "categories": [{"id": 1, "name": "screw"}],
        "annotations": [
            {**a, "category_id": 1}
            for a in test.coco["annotations"]
            if int(a["category_id"]) in ids and not a.get("iscrowd")
        ],
    }
    if not gt["annotations"]:
        return 0.0
    predictor = MaskRCNNPredictor.from_card(
        load_card(card_path), device=cfg.device, score_threshold=0.05
    )
    results: list[dict[str, Any]] = []
    for im in test.coco["images"]:
        h, w = int(im["height"]), int(im["width"])
        for p in predictor.predict(read_radiograph(im["file_name"])):
            if p.category not in screws or not isinstance(p.shape, Polygon):
                continue
            rle = mask_utils.merge(mask_utils.frPyObjects([p.shape.flat()], h, w))
            rle["counts"] = rle["counts"].decode("ascii")
            results.append(
                {"image_id": im["id"], "category_id": 1, "segmentation": rle, "score": p.score}
            )
    del predictor
    gc.collect()
    if not results:
        return 0.0
    coco_gt = load_gt(gt)
    r = coco_ap(coco_gt, load_results(coco_gt, results), iou_type="segm")
    value = float(r.per_category["screw"]["AP50"])
    return max(value, 0.0) if np.isfinite(value) else 0.0


def _metrics(m: dict[str, float]) -> dict[str, float]:
    return {k: round(float(m.get(k, 0.0)), 5) for k in CURVE_METRICS}


# -- resumable state ---------------------------------------------------------------------------
Key = tuple[str, int, int]  # strategy, repeat, round


class State:
    """Finished rounds, one JSON object per line after a header with the run's config.

    A line is appended (and flushed to disk) as soon as its round is finished, so a killed run
    loses only the round under way; a torn last line is ignored.
    """

    def __init__(self, path: Path | None, cfg: Config, merge: Sequence[Path] = ()) -> None:
        self.path = path
        self.rows: dict[Key, dict[str, Any]] = {}
        config = _config_json(cfg)
        for other in merge:  # read-only: rounds another process of the same run finished
            self._read(other, config, repair=False)
        if path is None:
            return
        self._read(path, config, repair=True)
        if not path.is_file() or not path.stat().st_size:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"state": "active_learning", **config}) + "\n", "utf-8")

    def _read(self, path: Path, config: dict[str, Any], *, repair: bool) -> None:
        if not path.is_file():
            if not repair:
                raise BenchError(f"{path}: no such state file")
            return
        lines = path.read_text(encoding="utf-8").splitlines()
        for n, line in enumerate(lines):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                if n == len(lines) - 1 and n > 0:  # killed while writing it: redone
                    if repair:
                        path.write_text("".join(x + "\n" for x in lines[:-1]), "utf-8")
                    break
                raise BenchError(f"{path}: line {n + 1} is not JSON") from None
            if n == 0:
                self._check(path, obj, config)
            else:
                self.rows[(obj["strategy"], int(obj["repeat"]), int(obj["round"]))] = obj

    def _check(self, path: Path, header: dict[str, Any], config: dict[str, Any]) -> None:
        old = header.get("config", {})
        differ = [k for k in SAME_RUN if old.get(k) != config["config"].get(k)]
        if header.get("state") != "active_learning" or differ:
            raise BenchError(
                f"{path}: the state of another run (differs in {differ or 'format'}); "
                "use another --work or --state"
            )

    def get(self, key: Key) -> dict[str, Any] | None:
        return self.rows.get(key)

    def add(self, row: dict[str, Any]) -> None:
        self.rows[(row["strategy"], int(row["repeat"]), int(row["round"]))] = row
        if self.path is None:
            return
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())


def _config_json(cfg: Config) -> dict[str, Any]:
    return {"config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}}


def _rel(path: Path, work: Path) -> str:
    try:
        return str(path.resolve().relative_to(work.resolve()))
    except ValueError:
        return str(path.resolve())


def run(
    cfg: Config,
    work: Path,
    out: Callable[[dict[str, Any]], None],
    *,
    keep: bool = False,
    state_path: Path | None = None,
    merge: Sequence[Path] = (),
    only: Sequence[int] | None = None,
    compute: bool = True,
) -> dict[str, Any]:
    """Every strategy for ``cfg.rounds`` rounds, ``cfg.repeats`` times; ``out`` receives one
    row per round computed (rounds found in ``state_path`` are skipped, not computed again).

    Without ``keep`` only the newest round's model of a (strategy, repeat) stays in ``work``.
    ``merge``: state files of other processes of the same run (read, never written), e.g. one
    process per repeat (``only``: the repeats this process computes); ``compute=False``
    summarises what is finished and trains nothing.
    """
    from orthogui.ml.card import load_card

    start = load_card(cfg.start_card)
    state = State(state_path, cfg, merge)
    test: Dataset | None = None
    pools: dict[int, Dataset] = {}
    for repeat in range(cfg.repeats):
        pool, test = make_data(cfg, work, repeat)
        pools[repeat] = pool
        missing = {c.project_category for c in start.categories} - {
            str(c["name"]) for c in pool.coco["categories"]
        }
        if missing:
            raise BenchError(
                f"{pool.source}: lacks the start card's categories {sorted(missing)} "
                f"({cfg.start_card})"
            )
        if cfg.k * cfg.rounds > len(pool.ids()):
            raise BenchError(
                f"--k {cfg.k} x --rounds {cfg.rounds} needs {cfg.k * cfg.rounds} pool images; "
                f"the pool has {len(pool.ids())}"
            )
    assert test is not None
    start_metrics: dict[str, float] = next(
        (dict(r) for (_, _, n), r in state.rows.items() if n == 0), {}
    )
    for repeat in range(cfg.repeats) if compute else ():
        if only is not None and repeat not in only:
            continue
        pool = pools[repeat]
        for strategy in cfg.strategies:
            card_path = cfg.start_card.resolve()
            labelled: list[int] = []
            previous: Path | None = None
            for r in range(1, cfg.rounds + 1):
                done = state.get((strategy, repeat, r))
                if done is not None:  # finished before: continue from its model
                    labelled = [*labelled, *(int(i) for i in done["picked"])]
                    card_path = (work / done["card"]).resolve()
                    previous = work / f"rep{repeat}" / strategy / f"round{r}"
                    continue
                if not card_path.is_file():
                    raise BenchError(
                        f"{card_path}: the model of the last finished round is gone; "
                        f"cannot resume ({state.path})"
                    )
                t0 = time.perf_counter()
                chosen, score_s = pick(strategy, card_path, pool, labelled, cfg, r, repeat)
                labelled = [*labelled, *chosen]
                folder = work / f"rep{repeat}" / strategy / f"round{r}"
                shutil.rmtree(folder, ignore_errors=True)  # a round a kill left half done
                snapshot = write_snapshot(folder / "snapshot", pool, labelled, test)
                t1 = time.perf_counter()
                card_path, metrics, current, promote = fine_tune(
                    card_path, snapshot, folder / "run", cfg, r, repeat
                )
                t2 = time.perf_counter()
                metrics = {**metrics, SCREW: screw_ap50(card_path, test, cfg)}
                if state.get((strategy, repeat, 0)) is None:
                    if not start_metrics:
                        screw = screw_ap50(cfg.start_card.resolve(), test, cfg)
                        start_metrics = {**current, SCREW: screw}
                    state.add(_row(strategy, repeat, 0, 0, [], start_metrics, {}))
                    out(state.rows[(strategy, repeat, 0)])
                timing = {
                    "score_s": round(score_s, 2),
                    "train_eval_s": round(t2 - t1, 2),
                    "screw_eval_s": round(time.perf_counter() - t2, 2),
                    "round_s": round(time.perf_counter() - t0, 2),
                }
                row = _row(strategy, repeat, r, len(labelled), chosen, metrics, timing, promote)
                row["card"] = _rel(card_path, work)
                state.add(row)
                out(row)
                if previous is not None and not keep:  # the newest model only: disk stays small
                    shutil.rmtree(previous, ignore_errors=True)
                previous = folder
    return summarise(
        cfg,
        state,
        pool_images=len(pools[0].ids()),
        test_images=len(test.ids()),
        counts={rep: instance_counts(pool) for rep, pool in pools.items()},
    )


def _row(
    strategy: str,
    repeat: int,
    round_no: int,
    labelled: int,
    chosen: list[int],
    metrics: dict[str, float],
    timing: dict[str, float],
    promote: bool | None = None,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "strategy": strategy,
        "repeat": repeat,
        "round": round_no,
        "labelled": labelled,
        "picked": chosen,
        **_metrics(metrics),
        **timing,
    }
    if promote is not None:
        row["gate_promote"] = promote
    return row


# -- summary -----------------------------------------------------------------------------------
def instance_counts(pool: Dataset) -> dict[int, dict[str, int]]:
    """Image id -> ``{"screws": n, "all": n}``: the annotations a reviewer checks on each image
    of ``pool`` (screws of every type, and every finding)."""
    from orthogui.core.categories import DEFAULT_CATEGORIES, SCREW_GROUP

    screws = {c.name for c in DEFAULT_CATEGORIES.group(SCREW_GROUP)}
    screw_ids = {int(c["id"]) for c in pool.coco["categories"] if c["name"] in screws}
    counts: dict[int, dict[str, int]] = {i: {"screws": 0, "all": 0} for i in pool.ids()}
    for a in pool.coco["annotations"]:
        row = counts.setdefault(int(a["image_id"]), {"screws": 0, "all": 0})
        row["all"] += 1
        row["screws"] += int(int(a["category_id"]) in screw_ids)
    return counts


def summarise(
    cfg: Config,
    state: State,
    *,
    pool_images: int,
    test_images: int,
    counts: dict[int, dict[int, dict[str, int]]] | None = None,
) -> dict[str, Any]:
    """The summary of every finished round in ``state`` for the strategies of ``cfg``;
    ``counts`` (repeat -> ``instance_counts`` of its pool) adds what the labels cost."""
    runs: dict[str, dict[int, list[dict[str, Any]]]] = {}
    for (strategy, repeat, round_no), row in sorted(state.rows.items()):
        if strategy in cfg.strategies and repeat < cfg.repeats and round_no <= cfg.rounds:
            runs.setdefault(strategy, {}).setdefault(repeat, []).append(row)
    runs = {s: runs[s] for s in cfg.strategies if s in runs}
    curves = mean_curves(runs)
    needed: dict[str, Any] = {"metric": SCREW, "target": None}
    if curves.get("random"):
        target = float(curves["random"][-1][SCREW])
        needed["target"] = target
        needed["random_final_labelled"] = curves["random"][-1]["labelled"]
        for s, points in curves.items():
            needed[s] = labels_to_reach(points, target, SCREW)
        needed["per_repeat"] = labels_per_repeat(runs, SCREW)
    return {
        "benchmark": "active_learning",
        **_config_json(cfg),
        "pool_images": pool_images,
        "test_images": test_images,
        "repeats_done": {s: len(reps) for s, reps in runs.items()},
        "curves": curves,
        "labels_needed": needed,
        "paired_vs_random": paired_differences(runs, SCREW),
        "instances_labelled": instances_labelled(runs, counts or {}),
        "runs": {
            s: {
                str(rep): [{"labelled": r["labelled"], **_metrics(r)} for r in rows]
                for rep, rows in reps.items()
            }
            for s, reps in runs.items()
        },
    }


def strategy_names(values: Sequence[str], known: Sequence[str]) -> tuple[str, ...]:
    """``--strategies`` as given (space- or comma-separated), a scorer's name standing for its
    ``-only`` strategy (``type`` = ``type-only``); unknown names raise ``BenchError``."""
    names: list[str] = []
    for value in values:
        for name in (n.strip() for n in value.split(",")):
            if not name:
                continue
            if name not in known and f"{name}-only" in known:
                name = f"{name}-only"
            if name not in known:
                raise BenchError(f"--strategies: unknown {name!r}; known: {sorted(known)}")
            names.append(name)
    return tuple(dict.fromkeys(names))


def parse(argv: Sequence[str] | None = None) -> tuple[Config, argparse.Namespace]:
    from orthogui.ml.scoring import STRATEGIES

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
    p.add_argument("--repeats", type=int, default=1, help="runs with their own seeds and pool")
    p.add_argument(
        "--score-subset",
        type=int,
        default=0,
        help="score only this many random unlabelled images per round (0: all)",
    )
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    p.add_argument(
        "--strategies",
        nargs="+",
        default=["uncertainty", "random"],
        help=f"space- or comma-separated, of {sorted(STRATEGIES)} (a scorer: its -only)",
    )
    p.add_argument("--pool-coco", type=Path, default=None, help="COCO file/folder instead")
    p.add_argument("--test-coco", type=Path, default=None, help="COCO file/folder instead")
    p.add_argument("--work", type=Path, default=None, help="keep the runs here (default: temp)")
    p.add_argument(
        "--state", type=Path, default=None, help="finished rounds (default: WORK/state.jsonl)"
    )
    p.add_argument(
        "--prune", action="store_true", help="with --work: keep only each run's newest model"
    )
    p.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        default=[],
        help="state files of other processes of the same run (read only)",
    )
    p.add_argument(
        "--only-repeats",
        type=int,
        nargs="+",
        default=None,
        help="compute only these repeats (run the others in parallel processes)",
    )
    p.add_argument(
        "--summary-only", action="store_true", help="train nothing: summarise finished rounds"
    )
    p.add_argument("--plot", type=Path, default=DEFAULT_PLOT)
    p.add_argument("--json", type=Path, default=None, help="also write the summary here")
    a = p.parse_args(argv)
    for name in ("pool", "k", "rounds", "steps", "test", "batch", "repeats"):
        if getattr(a, name) < 1:
            p.error(f"--{name} must be at least 1")
    if a.score_subset and a.score_subset < a.k:
        p.error(f"--score-subset {a.score_subset} must be 0 or at least --k {a.k}")
    if a.pool_coco is None and a.k * a.rounds > a.pool:
        p.error(f"--k {a.k} x --rounds {a.rounds} needs more than --pool {a.pool} images")
    if a.size < 32:
        p.error("--size must be at least 32")
    if not a.start_card.is_file():
        p.error(f"--start-card {a.start_card}: no such file")
    if a.state is not None and a.work is None:
        p.error("--state needs --work (a resumed run continues from the models kept there)")
    if (a.merge or a.summary_only or a.only_repeats is not None) and a.work is None:
        p.error("--merge, --only-repeats and --summary-only need --work")
    bad = [r for r in a.only_repeats or () if not 0 <= r < a.repeats]
    if bad:
        p.error(f"--only-repeats {bad}: repeats are 0 to {a.repeats - 1}")
    try:
        strategies = strategy_names(a.strategies, list(STRATEGIES))
    except BenchError as exc:
        p.error(str(exc))
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
        strategies=strategies,
        pool_coco=a.pool_coco,
        test_coco=a.test_coco,
        repeats=a.repeats,
        score_subset=a.score_subset,
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
            state = a.state if a.state is not None else a.work / "state.jsonl"
            summary = run(
                cfg,
                a.work,
                out,
                keep=not a.prune,
                state_path=state,
                merge=a.merge,
                only=a.only_repeats,
                compute=not a.summary_only,
            )
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
