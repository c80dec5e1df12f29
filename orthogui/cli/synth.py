"""``orthogui synth``: write synthetic orthopaedic radiographs and their COCO ground truth."""

from __future__ import annotations

import argparse

COMMAND = "synth"
HELP = "write synthetic radiographs (phantoms) with exact COCO ground truth"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--n", type=int, default=10, help="number of images (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--scene", choices=["limb", "spine", "mixed"], default="mixed")
    parser.add_argument("--size", type=int, default=1024, help="image side in pixels")
    parser.add_argument(
        "--format",
        choices=["png16", "dicom", "both", "jpeg8", "all"],
        default="png16",
        help="png16 (stored values), dicom, both (png16 + dicom), jpeg8 (8-bit JPEG as FracAtlas"
        " ships) or all (the three)",
    )


def run(args: argparse.Namespace) -> int:
    import cv2

    from orthogui.synth.dataset import write_dataset

    cv2.setNumThreads(1)
    summary = write_dataset(
        args.out, n=args.n, seed=args.seed, scene=args.scene, size=args.size, fmt=args.format
    )
    counts = ", ".join(f"{k}={v}" for k, v in summary.per_category.items()) or "no findings"
    print(f"wrote {summary.images} images, {summary.annotations} annotations ({counts})")
    print(f"annotations: {summary.annotations_path}")
    return 0
