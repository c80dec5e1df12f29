"""``orthogui train-default``: build the default model's snapshot and train it (the recipe in
``orthogui.training.default_model``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orthogui.training.default_model import Recipe

COMMAND = "train-default"
HELP = (
    "train the bundled default model from scratch (synthetic radiographs + FracAtlas train + "
    "outlined real screws), or fine-tune a published one (--from-card)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--work", required=True, help="folder for the snapshot, checkpoints, log")
    parser.add_argument(
        "--fracatlas",
        default=str(Path(__file__).resolve().parents[2].parent / "shared/data/fracatlas"),
        help="the FracAtlas folder (annotations.json, dataset.csv, images/); 'none' to skip",
    )
    parser.add_argument("--models-dir", default=None, help="publish the trained model here")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps (recipe: 1200)")
    parser.add_argument("--synth-train", type=int, default=None, help="synthetic training images")
    parser.add_argument("--size", type=int, default=None, help="input size in px (recipe: 640)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument(
        "--skip-types", action="store_true", help="do not train the screw-type stage"
    )
    parser.add_argument(
        "--prepare-only", action="store_true", help="write the snapshot and job.json, do not train"
    )
    parser.add_argument(
        "--composites",
        type=int,
        default=None,
        help="with --from-card: FracAtlas films with phantom screws drawn in (recipe: 0)",
    )
    parser.add_argument(
        "--fracatlas-films",
        type=int,
        default=None,
        help="with --from-card: FracAtlas films (not outlined for screws) in the mix (recipe: 300)",
    )
    parser.add_argument(
        "--mix-phantoms",
        type=int,
        default=None,
        help="with --from-card: phantoms in the mix, the recipe snapshot's first ones (recipe: 300)",
    )
    parser.add_argument(
        "--limb-phantoms",
        type=int,
        default=None,
        help="with --from-card: plain limb phantoms (one bone, fracture, plate, screws of "
        "every type) made for the mix (recipe: 0)",
    )
    parser.add_argument(
        "--from-card",
        default=None,
        help="fine-tune this published model (its next version) on the recipe's data instead "
        "of training from scratch: phantoms, FracAtlas, and the films with outlined real "
        "screws weighted up; the type stage is carried over",
    )


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict, replace

    from orthogui.training.default_model import Recipe, RecipeError, write_default_job

    recipe = Recipe()
    if args.steps is not None:
        recipe = replace(recipe, hyper=replace(recipe.hyper, max_steps=args.steps))
    if args.synth_train is not None:
        recipe = replace(recipe, synth_train=args.synth_train)
    if args.size is not None:
        recipe = replace(recipe, size=args.size)
    if args.from_card is not None and not Path(args.from_card).is_file():
        print(f"orthogui: {args.from_card}: no such model card (--from-card)", file=sys.stderr)
        return 1
    if args.from_card is not None and args.size is not None:
        from orthogui.ml.card import ModelError, load_card

        try:
            reads = load_card(args.from_card).preprocessing.max_size
        except ModelError as exc:
            print(f"orthogui: {exc}", file=sys.stderr)
            return 1
        if args.size != reads:
            # The fine-tuned model keeps the start model's input: another --size would only
            # store the snapshot at that size and state a size the network never read.
            print(
                f"orthogui: {args.from_card}: the model reads {reads}-px images; a fine-tune "
                f"keeps that input size, so --size {args.size} cannot be honoured "
                f"(give --size {reads} or leave it out)",
                file=sys.stderr,
            )
            return 1
    fracatlas = None if args.fracatlas == "none" else Path(args.fracatlas)
    if fracatlas is not None and not (fracatlas / "annotations.json").is_file():
        print(f"orthogui: {fracatlas}: no FracAtlas annotations.json here", file=sys.stderr)
        return 1
    try:
        job_path = write_default_job(
            args.work,
            recipe=recipe,
            fracatlas_dir=fracatlas,
            models_dir=args.models_dir,
            device=args.device,
            threads=args.threads,
            log=lambda m: print(m, file=sys.stderr),
        )
    except RecipeError as exc:
        print(f"orthogui: {exc}", file=sys.stderr)
        return 1
    if args.from_card is not None:
        return _fine_tune(args, recipe)
    code, candidate = _train(args, job_path, Path(args.work) / "run")
    if candidate is None:
        return code
    import json

    from orthogui.training.default_model import publish_default

    work = Path(args.work)
    summary = json.loads((work / "snapshot" / "summary.json").read_text(encoding="utf-8"))
    # The snapshot is reused across optimiser changes: the card states this run's schedule.
    summary["recipe"] = {**summary["recipe"], "hyper": asdict(recipe.hyper)}
    card = publish_default(
        candidate,
        args.models_dir,
        summary=summary,
        command="python -m orthogui train-default --work WORK --models-dir models",
    )
    print(f"published: {card}", file=sys.stderr)
    if args.skip_types:
        return 0
    from orthogui.ml.card import load_card
    from orthogui.training.screw_types import train_type_stage

    typed = train_type_stage(load_card(card), log=lambda m: print(m, file=sys.stderr, flush=True))
    print(f"type stage attached: {typed.source}", file=sys.stderr)
    return 0


def _fine_tune(args: argparse.Namespace, recipe: Recipe) -> int:
    """``--from-card``: the fine-tuning mix beside the recipe snapshot, its job, the run, and
    the published next version (threshold and mix stated in its card)."""
    from dataclasses import replace

    from orthogui.training.default_model import RecipeError, publish_default
    from orthogui.training.fine_tune import FineTune, fine_tune_job, fine_tune_snapshot
    from orthogui.training.job import save_job

    fine = FineTune()
    if args.steps is not None:
        fine = replace(fine, steps=args.steps)
    if args.composites is not None:
        fine = replace(fine, composites=args.composites)
    if args.fracatlas_films is not None:
        fine = replace(fine, fracatlas=args.fracatlas_films)
    if args.mix_phantoms is not None:
        fine = replace(fine, synthetic=args.mix_phantoms)
    if args.limb_phantoms is not None:
        fine = replace(fine, limb=args.limb_phantoms)
    work = Path(args.work)
    try:
        summary = fine_tune_snapshot(
            work / "snapshot", work / "finetune" / "snapshot", fine_tune=fine
        )
    except RecipeError as exc:
        print(f"orthogui: {exc}", file=sys.stderr)
        return 1
    job = fine_tune_job(
        work / "finetune" / "snapshot",
        work / "finetune" / "run",
        start_card=args.from_card,
        recipe=recipe,
        fine_tune=fine,
        models_dir=args.models_dir,
        device=args.device,
        threads=args.threads,
    )
    job_path = save_job(job, work / "finetune" / "job.json")
    code, candidate = _train(args, job_path, work / "finetune" / "run")
    if candidate is None:
        return code
    summary["recipe"] = {
        **summary["recipe"],
        "display_threshold": fine.display_threshold,
        "box_display_threshold": fine.box_display_threshold,
    }
    card = publish_default(
        candidate,
        args.models_dir,
        summary=summary,
        command=(
            "python -m orthogui train-default --work WORK --models-dir models "
            f"--from-card {Path(args.from_card).name}" + _stated_options(args)
        ),
    )
    print(f"published: {card}", file=sys.stderr)
    return 0


def _stated_options(args: argparse.Namespace) -> str:
    """The data and schedule options given on the command line, as the card repeats them."""
    given = (
        ("--size", args.size),
        ("--synth-train", args.synth_train),
        ("--steps", args.steps),
        ("--composites", args.composites),
        ("--fracatlas-films", args.fracatlas_films),
        ("--mix-phantoms", args.mix_phantoms),
        ("--limb-phantoms", args.limb_phantoms),
    )
    return "".join(f" {flag} {value}" for flag, value in given if value is not None)


def _train(args: argparse.Namespace, job_path: Path, run_dir: Path) -> tuple[int, Path | None]:
    """Run the job unless ``--prepare-only``; the exit status, and the candidate card to
    publish (None: nothing to publish — not trained, failed, or no ``--models-dir``)."""
    print(f"job: {job_path}", file=sys.stderr)
    if args.prepare_only:
        return 0, None
    from orthogui.training.worker import main

    code = main([str(job_path)])
    if code != 0 or args.models_dir is None:
        return code, None
    candidates = sorted((run_dir / "candidate").glob("*.json"))
    if not candidates:
        print(f"orthogui: {run_dir / 'candidate'}: no trained candidate", file=sys.stderr)
        return 1, None
    return 0, candidates[-1]
