"""Radiograph -> network input: full-depth stored pixels, modality values, window to [0, 1].

numpy only, shared by inference and training so both see the same input. MONOCHROME1 images
are inverted so that bone is always bright.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from orthogui.core.radiograph import Radiograph
from orthogui.io.display import default_window, inverted
from orthogui.ml.card import Preprocessing

_PERCENTILE_STRIDE = (
    4  # percentiles from every 4th row/column: same result within noise, 16x faster
)


def _modality32(rg: Radiograph) -> NDArray[np.float32]:
    if rg.modality_lut is not None:
        lut = rg.modality_lut
        idx = np.clip(rg.stored.astype(np.int64) - lut.first_mapped, 0, len(lut.table) - 1)
        return np.asarray(lut.table, dtype=np.float32)[idx]
    x = rg.stored.astype(np.float32)
    if rg.rescale_slope != 1.0:
        x *= np.float32(rg.rescale_slope)
    if rg.rescale_intercept != 0.0:
        x += np.float32(rg.rescale_intercept)
    return x


def window_bounds(
    rg: Radiograph, values: NDArray[np.float32], prep: Preprocessing
) -> tuple[float, float]:
    """The modality-value interval mapped to [0, 1] by ``prep.window``."""
    if prep.window == "percentile":
        sample = values[::_PERCENTILE_STRIDE, ::_PERCENTILE_STRIDE]
        lo, hi = (float(v) for v in np.percentile(sample, prep.percentiles))
    else:
        w = default_window(rg)
        lo, hi = float(w.center) - float(w.width) / 2.0, float(w.center) + float(w.width) / 2.0
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi


def to_unit_image(rg: Radiograph, prep: Preprocessing) -> NDArray[np.float32]:
    """The ``(rows, cols)`` float32 image in [0, 1] the network sees (before resizing).

    Parameters
    ----------
    rg
        A radiograph at full bit depth.
    prep
        The card's preprocessing (window mode and percentiles).
    """
    if rg.stored.ndim != 2:
        raise ValueError(f"{rg.path}: expected a 2-D greyscale image, got shape {rg.stored.shape}")
    values = _modality32(rg)
    lo, hi = window_bounds(rg, values, prep)
    values -= np.float32(lo)
    values *= np.float32(1.0 / (hi - lo))
    np.clip(values, 0.0, 1.0, out=values)
    if inverted(rg):
        np.subtract(np.float32(1.0), values, out=values)
    return values
