"""The display path: Modality LUT -> VOI (window or VOI LUT) -> MONOCHROME1 inversion -> 8 bit.

Pure functions over a ``Radiograph``; analysis and the model never see these 8-bit values.
For 8/16-bit integer pixels the whole chain is folded into one table over every code the dtype
can hold, so a window change costs one 64 Ki-entry table build and one gather (``bench/io_open.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from orthogui.core.radiograph import Radiograph, WindowPreset

_LUT_MAX_RANGE = 1 << 20  # integer ranges up to this size go through a lookup table
FALLBACK_PERCENTILES = (0.5, 99.5)
"""The window shown when the file's own window misses its pixels: these percentiles of the
modality values (a robust full range: a few hot or dead pixels do not flatten the image)."""
MIN_INSIDE_FRACTION = 0.01  # a window holding fewer of the pixels than this misses them
_SAMPLE_STRIDE = 4  # statistics from every 4th row/column: same result within noise


def modality_values(rg: Radiograph, stored: NDArray[Any]) -> NDArray[np.float64]:
    """Apply the Modality LUT (table, else rescale slope/intercept) to stored values."""
    if rg.modality_lut is not None:
        lut = rg.modality_lut
        idx = np.clip(stored.astype(np.int64) - lut.first_mapped, 0, len(lut.table) - 1)
        return np.asarray(lut.table, dtype=np.float64)[idx]
    return stored.astype(np.float64) * rg.rescale_slope + rg.rescale_intercept


def value_range(rg: Radiograph) -> tuple[float, float]:
    """Min and max of the modality-LUT output over the image."""
    lo, hi = float(rg.stored.min()), float(rg.stored.max())
    vals = modality_values(rg, np.array([lo, hi]))
    return float(vals.min()), float(vals.max())


def default_window(rg: Radiograph) -> WindowPreset:
    """The first stored window preset, else the full value range."""
    if rg.windows:
        return rg.windows[0]
    lo, hi = value_range(rg)
    return WindowPreset(center=(lo + hi) / 2.0, width=max(hi - lo, 1.0), name="Full range")


@dataclass(frozen=True)
class WindowChoice:
    """The window to open an image with; ``note`` says why it is not the file's, else ""."""

    window: WindowPreset
    note: str = ""


def percentile_window(
    rg: Radiograph, percentiles: tuple[float, float] = FALLBACK_PERCENTILES
) -> WindowPreset:
    """A window spanning the given percentiles of the image's modality values.

    Parameters
    ----------
    rg
        The radiograph.
    percentiles
        Low and high percentile (0-100).

    Returns
    -------
    WindowPreset
        Width at least 1, named after the percentiles.
    """
    sample = modality_values(rg, rg.stored[::_SAMPLE_STRIDE, ::_SAMPLE_STRIDE])
    lo, hi = (float(v) for v in np.percentile(sample, percentiles))
    name = f"Percentile {percentiles[0]:g}-{percentiles[1]:g} %"
    return WindowPreset(center=(lo + hi) / 2.0, width=max(hi - lo, 1.0), name=name)


def choose_window(rg: Radiograph) -> WindowChoice:
    """The file's first window, unless it misses the pixels: then a percentile window.

    A stored window misses when fewer than ``MIN_INSIDE_FRACTION`` of the (sampled) pixels
    lie inside it, e.g. a window of 70-5380 on pixels of 32744-65535: the image would show as
    a white (or black) page.

    Parameters
    ----------
    rg
        The radiograph.

    Returns
    -------
    WindowChoice
        ``note`` is empty when the file's window (or the full range) is used; otherwise it
        names the file's window, the pixel range and the window shown instead.
    """
    window = default_window(rg)
    if not rg.windows:
        return WindowChoice(window)
    sample = modality_values(rg, rg.stored[::_SAMPLE_STRIDE, ::_SAMPLE_STRIDE])
    lo, hi = window.center - window.width / 2.0, window.center + window.width / 2.0
    if sample.size == 0 or float(np.mean((sample > lo) & (sample < hi))) >= MIN_INSIDE_FRACTION:
        return WindowChoice(window)
    fallback = percentile_window(rg)
    note = (
        f"the file's window (C {window.center:g} W {window.width:g}) misses the pixel values "
        f"({float(sample.min()):g} to {float(sample.max()):g}): showing the "
        f"{FALLBACK_PERCENTILES[0]:g}-{FALLBACK_PERCENTILES[1]:g} percentile window "
        f"(C {fallback.center:g} W {fallback.width:g}) instead"
    )
    return WindowChoice(fallback, note)


def inverted(rg: Radiograph) -> bool:
    """Whether high values display dark: MONOCHROME1, or a Presentation LUT Shape of INVERSE.

    DX/CR objects encode MONOCHROME1 *with* INVERSE (PS3.3 C.8.11.7): the two describe one
    inversion, so they must not cancel out (the double inversion some viewers show).
    """
    return rg.photometric == "MONOCHROME1" or rg.presentation_lut_shape == "INVERSE"


def _voi(
    rg: Radiograph, x: NDArray[np.float64], window: WindowPreset | None
) -> NDArray[np.float64]:
    """Map modality values to [0, 1] by a window (DICOM C.11.2.1.2) or the VOI LUT table."""
    if window is None and rg.voi_lut is not None:
        lut = rg.voi_lut
        idx = np.clip(np.rint(x).astype(np.int64) - lut.first_mapped, 0, len(lut.table) - 1)
        table = np.asarray(lut.table, dtype=np.float64)
        span = float((1 << lut.bits) - 1) if lut.bits else float(table.max() or 1)
        return np.clip(table[idx] / span, 0.0, 1.0)
    w = window or default_window(rg)
    c, width = float(w.center), max(float(w.width), 1e-6)
    func = rg.voi_lut_function.upper()
    if func == "SIGMOID":
        return 1.0 / (1.0 + np.exp(-4.0 * (x - c) / width))
    if func == "LINEAR_EXACT":
        return np.clip((x - (c - width / 2.0)) / width, 0.0, 1.0)
    if width <= 1:
        return (x > c - 0.5).astype(np.float64)
    return np.clip((x - (c - 0.5)) / (width - 1.0) + 0.5, 0.0, 1.0)


def _to_8bit(unit: NDArray[np.float64], invert: bool) -> NDArray[np.uint8]:
    if invert:
        unit = 1.0 - unit
    return np.rint(unit * 255.0).astype(np.uint8)


def display_lut(rg: Radiograph, window: WindowPreset | None) -> NDArray[np.uint8]:
    """The whole display chain as a table over every code of an 8- or 16-bit stored dtype.

    Parameters
    ----------
    rg
        A radiograph whose ``stored`` dtype is (u)int8 or (u)int16.
    window
        The VOI window; ``None`` uses the VOI LUT table if the file has one, else the default.

    Returns
    -------
    numpy.ndarray
        uint8 table of 256 or 65536 entries, indexed by the stored value viewed as unsigned
        (so signed codes -1, -2... sit at the top of the table).
    """
    if window is None and rg.voi_lut is None:
        window = default_window(rg)
    dtype = rg.stored.dtype
    unsigned = np.dtype(f"u{dtype.itemsize}")
    codes = np.arange(1 << (8 * dtype.itemsize), dtype=np.int64)
    if dtype.kind == "i":
        codes = codes.astype(unsigned).view(dtype).astype(np.int64)
    return _to_8bit(_voi(rg, modality_values(rg, codes), window), inverted(rg))


_GATHER_BLOCK = 1 << 16  # pixels per np.take call: keeps the index conversion in cache


def _gather(lut: NDArray[np.uint8], codes: NDArray[Any]) -> NDArray[np.uint8]:
    """``lut[codes]`` for uint8/uint16 codes, without a full-size intp index array."""
    if codes.dtype == np.uint8:
        import cv2

        mapped: NDArray[np.uint8] = np.asarray(cv2.LUT(np.ascontiguousarray(codes), lut))
        return mapped.reshape(codes.shape)
    flat = np.ascontiguousarray(codes).reshape(-1)
    out = np.empty(flat.shape, dtype=np.uint8)
    for start in range(0, flat.size, _GATHER_BLOCK):
        stop = start + _GATHER_BLOCK
        np.take(lut, flat[start:stop], out=out[start:stop])
    return out.reshape(codes.shape)


def render(
    rg: Radiograph, window: WindowPreset | tuple[float, float] | None = None
) -> NDArray[np.uint8]:
    """8-bit display image ``(rows, cols)`` for a window (default: the file's first preset).

    ``window=None`` on a file with a VOI LUT table and no window uses the table.

    Parameters
    ----------
    rg
        The radiograph.
    window
        A preset, a ``(center, width)`` pair in modality units, or ``None``.

    Returns
    -------
    numpy.ndarray
        uint8 ``(rows, cols)``; bone is bright whatever the photometric interpretation.
    """
    if isinstance(window, tuple):
        window = WindowPreset(center=window[0], width=window[1])
    if window is None and rg.voi_lut is None:
        window = default_window(rg)
    return _render_stored(rg, rg.stored, window)


def render_region(
    rg: Radiograph,
    window: WindowPreset | tuple[float, float] | None,
    rows: tuple[int, int],
    cols: tuple[int, int],
    step: int = 1,
) -> NDArray[np.uint8]:
    """8-bit display of part of the image, every ``step``-th pixel: the canvas's fast preview.

    Equal to ``render(rg, window)[r0:r1:step, c0:c1:step]`` but costs only the pixels it
    returns (a window/level drag re-renders what the screen shows, not 9 Mpx per step).

    Parameters
    ----------
    rg
        The radiograph.
    window
        As for ``render``.
    rows, cols
        Half-open ``(start, stop)`` pixel ranges, clipped to the image.
    step
        Decimation (nearest sample), 1 or more.

    Returns
    -------
    numpy.ndarray
        uint8 ``(ceil((r1 - r0) / step), ceil((c1 - c0) / step))``.

    Raises
    ------
    ValueError
        If ``step`` is below 1 or the clipped region is empty.
    """
    if step < 1:
        raise ValueError(f"{rg.path}: render step must be 1 or more, got {step}")
    r0, r1 = max(0, int(rows[0])), min(rg.rows, int(rows[1]))
    c0, c1 = max(0, int(cols[0])), min(rg.columns, int(cols[1]))
    if r0 >= r1 or c0 >= c1:
        raise ValueError(
            f"{rg.path}: empty render region rows {rows} cols {cols} (image {rg.rows}x{rg.columns})"
        )
    if isinstance(window, tuple):
        window = WindowPreset(center=window[0], width=window[1])
    if window is None and rg.voi_lut is None:
        window = default_window(rg)
    return _render_stored(rg, rg.stored[r0:r1:step, c0:c1:step], window)


def _render_stored(
    rg: Radiograph, stored: NDArray[Any], window: WindowPreset | None
) -> NDArray[np.uint8]:
    """The display chain over ``stored`` (all or part of ``rg.stored``)."""
    if stored.dtype.kind in "iu" and stored.dtype.itemsize <= 2:
        lut = display_lut(rg, window)
        return _gather(lut, stored.view(np.dtype(f"u{stored.dtype.itemsize}")))
    invert = inverted(rg)
    if np.issubdtype(stored.dtype, np.integer):
        lo, hi = int(stored.min()), int(stored.max())
        if hi - lo < _LUT_MAX_RANGE:
            codes = np.arange(lo, hi + 1, dtype=np.int64)
            lut = _to_8bit(_voi(rg, modality_values(rg, codes), window), invert)
            return np.take(lut, (stored.astype(np.int64) - lo))
    return _to_8bit(_voi(rg, modality_values(rg, stored), window), invert)
