"""``orthogui train-screw-types``: train the screw-type stage on synthetic strips (and on the
screws an expert reviewed) and attach it to a detector card (``orthogui.training.screw_types``)."""

from __future__ import annotations

import argparse
import json
import sys

COMMAND = "train-screw-types"
HELP = "train the screw-type classifier on synthetic and reviewed screws and add it to a card"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from orthogui.training.screw_types import TypeRecipe

    d = TypeRecipe()
    parser.add_argument("--card", required=True, help="the detector card to attach it to")
    parser.add_argument("--images", type=int, default=d.images, help="training phantoms")
    parser.add_argument("--copies", type=int, default=d.copies, help="jittered strips per screw")
    parser.add_argument("--seed", type=int, default=d.seed, help="training phantoms' seed")
    parser.add_argument("--test-images", type=int, default=d.test_images, help="held-out phantoms")
    parser.add_argument("--test-seed", type=int, default=d.test_seed, help="held-out seed")
    parser.add_argument("--epochs", type=int, default=d.epochs)
    parser.add_argument(
        "--detector-images",
        type=int,
        default=d.detector_images,
        help="of the training phantoms, this many also give strips where the card's detector "
        "outlines their screws (default: none)",
    )
    parser.add_argument(
        "--from-stage",
        action="store_true",
        help="continue from the card's type stage instead of ImageNet weights",
    )
    parser.add_argument(
        "--limb-images",
        type=int,
        default=d.limb_images,
        help="strips of this many limb phantoms too (default: none)",
    )
    parser.add_argument(
        "--crop-context",
        type=float,
        default=d.crop_context,
        help="screw lengths along a strip (default: %(default)s)",
    )
    parser.add_argument(
        "--crop-diameters",
        type=float,
        default=d.crop_diameters,
        help="least screw diameters across a strip; 0: the length alone sets the scale "
        "(default: %(default)s; the first bundled stages: context 1.2, diameters 2)",
    )
    parser.add_argument(
        "--reviewed",
        default=d.reviewed,
        metavar="COCO",
        help="screws an expert reviewed: a snapshot folder made by `orthogui export` (its "
        "train split trains, its other splits check the result) or a COCO file (every fifth "
        "image checks it)",
    )
    parser.add_argument(
        "--reviewed-copies",
        type=int,
        default=d.reviewed_copies,
        help="strips per reviewed screw: as drawn, then jittered (default: %(default)s)",
    )
    parser.add_argument(
        "--keep-worse",
        action="store_true",
        help="write the new stage even when it types fewer reviewed check screws right than "
        "the card's present one (default: keep the present one and exit with 1)",
    )
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")


def run(args: argparse.Namespace) -> int:
    import torch

    from orthogui.core.radiograph import RadiographError
    from orthogui.ml.card import ModelCardError, load_card
    from orthogui.training.screw_types import TypeRecipe, train_type_stage

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        card = load_card(args.card)
    except ModelCardError as exc:
        print(f"orthogui: {exc}", file=sys.stderr)
        return 1
    recipe = TypeRecipe(
        images=args.images,
        copies=args.copies,
        seed=args.seed,
        test_images=args.test_images,
        test_seed=args.test_seed,
        epochs=args.epochs,
        detector_images=args.detector_images,
        from_stage=args.from_stage,
        crop_context=args.crop_context,
        limb_images=args.limb_images,
        crop_diameters=args.crop_diameters,
        reviewed=args.reviewed,
        reviewed_copies=args.reviewed_copies,
        keep_worse=args.keep_worse,
    )
    try:
        out = train_type_stage(card, recipe, log=lambda m: print(m, file=sys.stderr, flush=True))
    except (ValueError, RadiographError) as exc:
        # --from-stage on a card without one, a bad reviewed file or an image it names
        print(f"orthogui: {exc}", file=sys.stderr)
        return 1
    assert out.type_stage is not None
    print(json.dumps({"card": str(out.source), **out.type_stage.metrics}), flush=True)
    return 0
