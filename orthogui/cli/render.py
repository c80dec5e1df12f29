"""``orthogui render PATH --out FILE.png [--window C,W]``: write the 8-bit display image."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

COMMAND = "render"
HELP = "Write the 8-bit display image of a radiograph (window/level, MONOCHROME1 inverted)."


def parse_window(text: str) -> tuple[float, float]:
    """Parse ``"C,W"`` (centre, width in modality units) for ``--window``.

    Parameters
    ----------
    text
        Two numbers separated by a comma, e.g. ``"511,1024"``.

    Returns
    -------
    tuple of float
        ``(center, width)``; width must be positive.
    """
    parts = text.split(",")
    try:
        center, width = (float(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected C,W (two numbers), got {text!r}") from None
    if not (math.isfinite(center) and math.isfinite(width)) or width <= 0:
        raise argparse.ArgumentTypeError(f"window width must be a positive number, got {text!r}")
    return center, width


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``PATH``, ``--out`` and ``--window``."""
    parser.add_argument("path", metavar="PATH", help="DICOM, PNG, JPEG or TIFF file")
    parser.add_argument("--out", required=True, type=Path, help="output image (.png)")
    parser.add_argument(
        "--window",
        type=parse_window,
        metavar="C,W",
        help="window centre and width (default: the file's first preset, else full range)",
    )


def run(args: argparse.Namespace) -> int:
    """Read, render and write; errors propagate to the one-line handler in ``orthogui.cli``."""
    import cv2

    from orthogui.io.display import render
    from orthogui.io.readers import read_radiograph

    out: Path = args.out
    image = render(read_radiograph(args.path), args.window)
    suffix = out.suffix.lower() or ".png"
    try:
        ok, encoded = cv2.imencode(suffix, image)
    except cv2.error:
        ok = False
    if not ok:
        raise ValueError(f"{out}: cannot encode an image with suffix {suffix!r} (use .png)")
    out.write_bytes(encoded.tobytes())
    return 0
