"""``orthogui train JOB.json``: run the fine-tuning worker in the foreground (events on stdout)."""

from __future__ import annotations

import argparse

COMMAND = "train"
HELP = "fine-tune a model on a COCO snapshot as a job file says (JSON-lines events on stdout)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", help="the training job file (JSON)")


def run(args: argparse.Namespace) -> int:
    from orthogui.training.worker import main

    return main([args.job])
