"""Radiograph -> network input: full-depth stored pixels, modality values, window to [0, 1].

numpy only, shared by inference and training so both see the same input. MONOCHROME1 images
are inverted so that bone is always bright. Huge radiographs are area-downsampled in row
chunks (``network_input``), so no full-resolution float copy is ever made of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from orthogui.core.radiograph import Radiograph
from orthogui.io.display import default_window, inverted
from orthogui.ml.card import Preprocessing

_PERCENTILE_STRIDE = (
    4  # percentiles from every 4th row/column: same result within noise, 16x faster
)


DEFAULT_MAX_INPUT_PIXELS = 4096 * 4096
"""Radiographs with more pixels are area-downsampled before the network (which resizes to
~1024 px anyway): 4096 x 4096 keeps every normal film (3000 x 3000, 4300 x 3500 detectors)
untouched and bounds the unit image at 64 MiB of float32."""

_CHUNK_ROWS = 512  # rows of stored pixels converted to float32 at a time when downsampling


def _modality32(rg: Radiograph, stored: NDArray[Any] | None = None) -> NDArray[np.float32]:
    """Modality values of ``stored`` (default: the whole image) as a new float32 array."""
    stored = rg.stored if stored is None else stored
    if rg.modality_lut is not None:
        lut = rg.modality_lut
        idx = np.clip(stored.astype(np.int64) - lut.first_mapped, 0, len(lut.table) - 1)
        return np.asarray(lut.table, dtype=np.float32)[idx]
    x = stored.astype(np.float32)
    if rg.rescale_slope != 1.0:
        x *= np.float32(rg.rescale_slope)
    if rg.rescale_intercept != 0.0:
        x += np.float32(rg.rescale_intercept)
    return x


def window_bounds(
    rg: Radiograph, values: NDArray[np.float32], prep: Preprocessing
) -> tuple[float, float]:
    """The modality-value interval mapped to [0, 1] by ``prep.window``."""
    return _bounds(rg, values[::_PERCENTILE_STRIDE, ::_PERCENTILE_STRIDE], prep)


def unit_bounds(rg: Radiograph, prep: Preprocessing) -> tuple[float, float]:
    """``window_bounds`` without a full-resolution copy: the percentile sample is cut from the
    stored pixels before the modality LUT (the same pixels, so the same bounds)."""
    if prep.window != "percentile":
        return _bounds(rg, np.zeros((0,), np.float32), prep)
    sample = _modality32(rg, rg.stored[::_PERCENTILE_STRIDE, ::_PERCENTILE_STRIDE])
    return _bounds(rg, sample, prep)


def _bounds(
    rg: Radiograph, sample: NDArray[np.float32], prep: Preprocessing
) -> tuple[float, float]:
    if prep.window == "percentile":
        lo, hi = (float(v) for v in np.percentile(sample, prep.percentiles))
    else:
        w = default_window(rg)
        lo, hi = float(w.center) - float(w.width) / 2.0, float(w.center) + float(w.width) / 2.0
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi


def _window_inplace(
    values: NDArray[np.float32], bounds: tuple[float, float], invert: bool
) -> NDArray[np.float32]:
    lo, hi = bounds
    values -= np.float32(lo)
    values *= np.float32(1.0 / (hi - lo))
    np.clip(values, 0.0, 1.0, out=values)
    if invert:
        np.subtract(np.float32(1.0), values, out=values)
    return values


def to_unit_image(rg: Radiograph, prep: Preprocessing) -> NDArray[np.float32]:
    """The ``(rows, cols)`` float32 image in [0, 1] the network sees (before resizing).

    Parameters
    ----------
    rg
        A radiograph at full bit depth.
    prep
        The card's preprocessing (window mode and percentiles).
    """
    _check_2d(rg)
    values = _modality32(rg)
    return _window_inplace(values, window_bounds(rg, values, prep), inverted(rg))


def _check_2d(rg: Radiograph) -> None:
    if rg.stored.ndim != 2:
        raise ValueError(f"{rg.path}: expected a 2-D greyscale image, got shape {rg.stored.shape}")


def input_size(shape: tuple[int, int], max_pixels: int | None) -> tuple[int, int]:
    """``(rows, cols)`` of the unit image for a radiograph of ``shape``: ``shape`` itself when
    it has at most ``max_pixels`` pixels (or ``max_pixels`` is ``None``), else both sides
    scaled by one factor and rounded down, so that ``rows * cols <= max_pixels``."""
    rows, cols = shape
    if max_pixels is None or rows * cols <= max_pixels:
        return rows, cols
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")
    s = math.sqrt(max_pixels / (rows * cols))
    out_rows, out_cols = max(1, math.floor(rows * s)), max(1, math.floor(cols * s))
    if out_rows * out_cols > max_pixels:  # rounding of s, or a side clamped to 1
        out_cols = max(1, max_pixels // out_rows)
    return out_rows, out_cols


def _add_rows(
    out: NDArray[np.float32], index: NDArray[np.int64], weight: NDArray[np.float64], rows: Any
) -> None:
    """``out[index[k]] += weight[k] * rows[k]`` for a non-decreasing ``index``."""
    contrib = rows * weight.astype(np.float32)[:, None]
    starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
    out[index[starts]] += np.add.reduceat(contrib, starts, axis=0)


def _area_downsampled(
    rg: Radiograph, bounds: tuple[float, float], size: tuple[int, int]
) -> NDArray[np.float32]:
    """The unit image area-interpolated to ``size``, ``_CHUNK_ROWS`` stored rows at a time:
    each chunk is windowed (as ``to_unit_image``), shrunk along the rows by OpenCV's
    INTER_AREA, then added into the output rows it overlaps with its overlap as weight."""
    rows, cols = rg.shape
    out_rows, out_cols = size
    out = np.zeros(size, np.float32)
    scale = out_rows / rows  # output rows per stored row (< 1)
    invert = inverted(rg)
    for r0 in range(0, rows, _CHUNK_ROWS):
        r1 = min(r0 + _CHUNK_ROWS, rows)
        chunk: NDArray[Any] = _window_inplace(_modality32(rg, rg.stored[r0:r1]), bounds, invert)
        if out_cols != cols:
            chunk = cv2.resize(chunk, (out_cols, r1 - r0), interpolation=cv2.INTER_AREA)
        # Stored row r spans [r, r + 1) * scale in output rows: at most two of them.
        a = np.arange(r0, r1, dtype=np.float64) * scale
        b = a + scale
        first = np.minimum(np.floor(a).astype(np.int64), out_rows - 1)
        w_first = np.minimum(b, first + 1.0) - a
        _add_rows(out, first, w_first, chunk)
        spill = b - (first + 1.0)
        has = (spill > 0) & (first + 1 < out_rows)
        if has.any():
            _add_rows(out, first[has] + 1, spill[has], chunk[has])
    return out


@dataclass(frozen=True, eq=False)
class NetworkInput:
    """One radiograph as the network receives it: the unit image (``to_unit_image``),
    area-downsampled when the radiograph has more than the predictor's ``max_input_pixels``.

    ``scale`` maps unit-image pixels to radiograph pixels: ``(x_rg, y_rg) = (x * sx, y * sy)``
    in continuous pixel coordinates (corners at integers), exact per axis.
    """

    radiograph: Radiograph
    unit: NDArray[np.float32]
    bounds: tuple[float, float]  # the window (modality values mapped to 0 and 1)

    @property
    def image_size(self) -> tuple[int, int]:
        """``(rows, cols)`` of the radiograph (the predictions' coordinate frame)."""
        return self.radiograph.shape

    @property
    def downsampled(self) -> bool:
        return self.unit.shape != self.radiograph.shape

    @property
    def scale(self) -> tuple[float, float]:
        """``(sx, sy)``: radiograph pixels per unit-image pixel along x and y (1 when not
        downsampled)."""
        (rows, cols), (u_rows, u_cols) = self.radiograph.shape, self.unit.shape
        return cols / u_cols, rows / u_rows

    def region(self, x0: int, y0: int, x1: int, y1: int) -> NDArray[np.float32]:
        """The full-resolution unit image of ``[x0, x1) x [y0, y1)`` (clipped to the image):
        the same values as ``to_unit_image`` there, computed for this region only."""
        rows, cols = self.radiograph.shape
        x0, x1 = max(0, min(x0, cols)), max(0, min(x1, cols))
        y0, y1 = max(0, min(y0, rows)), max(0, min(y1, rows))
        if not self.downsampled:
            return self.unit[y0:y1, x0:x1]
        stored = self.radiograph.stored[y0:y1, x0:x1]
        return _window_inplace(
            _modality32(self.radiograph, stored), self.bounds, inverted(self.radiograph)
        )


def network_input(
    rg: Radiograph, prep: Preprocessing, *, max_pixels: int | None = DEFAULT_MAX_INPUT_PIXELS
) -> NetworkInput:
    """The unit image of ``rg`` for inference, at most ``max_pixels`` pixels.

    Parameters
    ----------
    rg
        A radiograph at full bit depth.
    prep
        The card's preprocessing.
    max_pixels
        Above this many pixels the image is area-downsampled (one factor for both axes) in
        row chunks, without a full-resolution float copy; ``None``: never. At or below it the
        unit image is exactly ``to_unit_image(rg, prep)``.
    """
    _check_2d(rg)
    size = input_size(rg.shape, max_pixels)
    if size == rg.shape:
        values = _modality32(rg)
        bounds = window_bounds(rg, values, prep)
        return NetworkInput(rg, _window_inplace(values, bounds, inverted(rg)), bounds)
    bounds = unit_bounds(rg, prep)
    return NetworkInput(rg, _area_downsampled(rg, bounds, size), bounds)
