"""Helpers of the workbench tests: synthetic PNG radiographs, a fake predictor, a window."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from orthogui.core.annotation import Prediction
from orthogui.core.geometry import Box, Polygon
from orthogui.core.radiograph import Radiograph


def write_png16(path: Path, *, seed: int = 0, size: int = 256) -> Path:
    """A 16-bit greyscale PNG with a bright 'screw' bar."""
    rng = np.random.default_rng(seed)
    img = (rng.normal(20000, 800, (size, size))).clip(0, 65535).astype(np.uint16)
    img[size // 2 - 6 : size // 2 + 6, size // 4 : 3 * size // 4] = 60000
    assert cv2.imwrite(str(path), img)
    return path


def screw(x: float, y: float, length: float, width: float = 10) -> Polygon:
    return Polygon([(x, y), (x + length, y), (x + length, y + width), (x, y + width)])


class FakePredictor:
    """Known findings for any image: two screws and a fracture box (implements Predictor)."""

    model_name = "fake"
    model_version = "1"

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, radiograph: Radiograph) -> list[Prediction]:
        self.calls += 1
        return [
            Prediction("cortical_screw", 0.91, screw(64, 120, 128), "fake", "1"),
            Prediction("locking_screw", 0.72, screw(64, 60, 100), "fake", "1"),
            Prediction("fracture", 0.55, Box(150, 170, 220, 230), "fake", "1"),
        ]
