"""On a 200 % screen the film keeps every pixel: a 1-px checkerboard shown at one image pixel per
device pixel keeps its full contrast at device pixel ratio 2, as at ratio 1; and the findings'
outlines are drawn at device pixels too, not logical pixels blown up (a separate process per
ratio: Qt reads ``QT_SCALE_FACTOR`` only when the application starts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).with_name("_hidpi_probe.py")
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("factor", ["1", "2"])
def test_one_pixel_detail_keeps_full_contrast(factor: str) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, str(PROBE), factor],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["ratio"] == float(factor)
    assert result["shot"] == [300 * int(factor)] * 2  # the grab is in device pixels
    # Black and white pixels alternate: standard deviation 127.5 (0.0 when they blur to grey).
    assert result["std"] > 120.0
    # The overlay is rendered at the screen's pixels; its outline keeps its on-screen width
    # (about one logical pixel: as many device pixels as the ratio, plus antialiasing) and is
    # not a logical rendering scaled up, which lights device pixels in equal pairs.
    assert result["overlay_ratio"] == float(factor)
    lit = result["outline_lit"]
    assert int(factor) <= len(lit) <= int(factor) + 2, lit
    assert len(set(lit)) == len(lit), lit
