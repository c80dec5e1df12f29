"""``orthogui evaluate --gt GT.json --pred RESULTS.json --out report.json``: COCO AP and more."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

COMMAND = "evaluate"
HELP = "Evaluate detections against COCO ground truth (AP equal to pycocotools, P/R/F1, Dice...)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ground truth, results, IoU type, threshold, output and plot folder."""
    parser.add_argument("--gt", required=True, type=Path, help="COCO instances JSON")
    parser.add_argument("--pred", required=True, type=Path, help="COCO results JSON")
    parser.add_argument("--iou-type", choices=("bbox", "segm"), default="bbox")
    parser.add_argument("--score-threshold", type=float, default=0.5)
    parser.add_argument("--iou-threshold", type=float, default=0.5)
    parser.add_argument(
        "--confusion",
        nargs="+",
        metavar="CATEGORY",
        help="confusion matrix rows (e.g. screw types)",
    )
    parser.add_argument("--out", required=True, type=Path, help="report JSON to write")
    parser.add_argument("--plots", type=Path, help="folder for PR curves (PNG)")


def run(args: argparse.Namespace) -> int:
    """Write the report and print its headline numbers."""
    from orthogui.evaluation import evaluate

    report = evaluate(
        args.gt,
        args.pred,
        iou_type=args.iou_type,
        score_threshold=args.score_threshold,
        iou_threshold=args.iou_threshold,
        confusion_categories=args.confusion,
        plots_dir=args.plots,
    )
    args.out.write_text(json.dumps(report, indent=2))
    coco, det = report["coco"], report["detection"]["overall"]

    def fmt(v: float | None) -> str:
        return "n/a" if v is None or v < 0 else f"{v:.3f}"

    print(
        f"AP {fmt(coco['AP'])}  AP50 {fmt(coco['AP50'])}  AP75 {fmt(coco['AP75'])}  "
        f"P {fmt(det['precision'])}  R {fmt(det['recall'])}  F1 {fmt(det['f1'])} "
        f"@ score {args.score_threshold}: {args.out}"
    )
    for w in report["warnings"]:
        print(f"warning: {w}")
    return 0
