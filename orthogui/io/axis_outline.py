"""Outline of a bright, elongated object (a screw, a wire) from the two ends of its axis.

An annotator clicks where a screw starts and ends; this finds its two long edges in the image
and returns the outline as a polygon, so a screw takes two clicks instead of a dozen vertices.
The image is resampled in a strip aligned with the axis; in every cross-section the metal is
the bright run through the axis, cut at half-way between the local background and the metal
level (sub-pixel), and the edges are smoothed along the axis. Where the object widens into
something else (a plate under a screw head) the width is capped near the object's median
width. Coordinates are continuous image coordinates: pixel (c, r) covers [c, c+1) x [r, r+1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

MIN_CONTRAST = 12.0  # metal minus background (8-bit grey levels) below which nothing is found
# (other bit depths are compared after mapping their 0.1-99.9 percentiles onto 0-255)


@dataclass(frozen=True)
class AxisOutline:
    """The polygon (image coordinates, one edge out and the other back) and how it was found."""

    polygon: list[tuple[float, float]]
    width_px: float  # median width across the axis
    found: bool  # False: no bright run along the axis, the polygon is the fallback rectangle


def outline_along_axis(
    gray: NDArray[np.generic],
    p0: tuple[float, float],
    p1: tuple[float, float],
    *,
    max_half_width: float | None = None,
    fallback_width: float | None = None,
) -> AxisOutline:
    """The outline of the bright object whose axis runs from ``p0`` to ``p1``.

    Parameters
    ----------
    gray
        The image (any numeric dtype, one channel); brighter is denser, as displayed.
    p0, p1
        The ends of the axis, in image coordinates (need not be exact: the outline stops where
        the bright run along the axis stops, searching a little beyond each end).
    max_half_width
        How far from the axis an edge is searched (default: a fifth of the axis length,
        3 to 40 px).
    fallback_width
        Width of the rectangle returned when no bright object is found (default: a tenth of
        the axis length, at least 2 px).

    Raises
    ------
    ValueError
        The two ends are closer than 2 pixels, or the image is not 2-D.
    """
    if gray.ndim != 2:
        raise ValueError(f"the image must be one channel (2-D), got shape {gray.shape}")
    (x0, y0), (x1, y1) = p0, p1
    length = math.hypot(x1 - x0, y1 - y0)
    if length < 2.0:
        raise ValueError(f"the axis is {length:.1f} px long; click two ends at least 2 px apart")
    half = float(max_half_width) if max_half_width else min(max(length / 5.0, 3.0), 40.0)
    ux, uy = (x1 - x0) / length, (y1 - y0) / length  # along the axis
    vx, vy = -uy, ux  # across it
    pad = max(2.0, min(0.1 * length, 8.0))
    src = np.asarray(gray, dtype=np.float32)
    if gray.dtype != np.uint8:  # any bit depth: grey levels as if displayed over the full range
        dark, bright = (float(v) for v in np.percentile(src[::4, ::4], [0.1, 99.9]))
        src = (src - np.float32(dark)) * np.float32(255.0 / max(bright - dark, 1e-6))
    while True:
        n_u = math.ceil(length + 2 * pad) + 1
        n_v = 2 * math.ceil(half) + 1
        c = (n_v - 1) // 2
        # Strip pixel (i, j) samples the image at p0 + (j - pad) u + (i - c) v (pixel centres).
        m = np.array(
            [
                [ux, vx, x0 - pad * ux - c * vx - 0.5],
                [uy, vy, y0 - pad * uy - c * vy - 0.5],
            ],
            dtype=np.float64,
        )
        strip = np.asarray(
            cv2.warpAffine(
                src,
                m,
                (n_u, n_v),
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_REPLICATE,
            ),
            np.float32,
        )
        span = (math.ceil(pad), math.floor(pad + length))
        edges = _edges(strip, c, span)
        # A short, wide object fills a strip a fifth as wide as it is long: look wider.
        wider = edges is None or edges[3]
        if max_half_width or half >= 40.0 or not wider:
            break
        half = min(2.0 * half, 40.0)
    if edges is None:
        w = float(fallback_width) if fallback_width else max(length / 10.0, 2.0)
        ends = np.array([0.0, length])
        side = np.full(2, w / 2)
        return AxisOutline(_polygon(p0, (ux, uy), (vx, vy), ends, -side, side), w, False)
    j, lo, hi, _ = edges
    u = j.astype(np.float64) - pad
    u[0], u[-1] = u[0] - 0.5, u[-1] + 0.5  # the run ends half-way to the next sample
    width = float(np.median(hi - lo))
    return AxisOutline(_polygon(p0, (ux, uy), (vx, vy), u, lo - c, hi - c), width, True)


def _edges(
    strip: NDArray[np.float32], c: int, span: tuple[int, int]
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64], bool] | None:
    """Per column of the strip: the bright run through row ``c`` as sub-pixel (top, bottom)
    rows, over the columns where it exists (the run of columns that covers most of ``span``,
    the clicked ends); None when there is no such run. The flag says whether the runs reach
    the strip's border in most columns (the object may be wider than the strip)."""
    n_v, n_u = strip.shape
    prof = cv2.GaussianBlur(strip, (0, 0), sigmaX=1.0, sigmaY=0.6)
    core = prof[max(c - 1, 0) : c + 2].max(axis=0)  # metal level along the axis
    rim = max(c // 3, 1)
    background = np.minimum(prof[:rim].min(axis=0), prof[-rim:].min(axis=0))
    if float(np.percentile(core, 75)) - float(np.median(background)) < MIN_CONTRAST:
        return None
    # Per column: half-way between its own background and the metal near it along the axis
    # (a plate crossed by the axis does not raise the cut for the screw's dimmer tip).
    bg_col = cv2.GaussianBlur(background.reshape(1, -1), (0, 0), sigmaX=4.0).ravel()
    metal_col = cv2.dilate(core.reshape(1, -1), np.ones((1, 13), np.uint8)).ravel()
    metal_col = cv2.GaussianBlur(metal_col.reshape(1, -1), (0, 0), sigmaX=3.0).ravel()
    # ... and no higher than the object's typical metal (a brighter plate across the axis
    # raises neither the cut for the screw beside it nor for its tip).
    sl = slice(max(span[0], 0), min(span[1] + 1, n_u))
    bright = core[sl][core[sl] - bg_col[sl] >= MIN_CONTRAST]
    if bright.size:
        typical = np.float32(np.median(bright))
        metal_col = np.minimum(metal_col, typical)
        # Where the rims are as bright as the object, something crosses it (a plate): its
        # background is the strip's usual one.
        crossed = bg_col >= typical - MIN_CONTRAST
        bg_col = np.where(crossed, np.float32(np.median(background)), bg_col)
    level = 0.5 * (np.minimum(bg_col, metal_col) + metal_col)
    inside = (core > level) & (metal_col - bg_col >= MIN_CONTRAST)
    cols = np.flatnonzero(inside)
    if cols.size < 2:
        return None
    breaks = np.flatnonzero(np.diff(cols) > 2)
    starts, ends = cols[np.r_[0, breaks + 1]], cols[np.r_[breaks, cols.size - 1]]
    cover = np.minimum(ends, span[1]) - np.maximum(starts, span[0])
    k = int(np.argmax(cover + 1e-3 * (ends - starts)))
    j = np.arange(starts[k], ends[k] + 1)
    top = np.empty(j.size)
    bot = np.empty(j.size)
    border = 0
    for n, col in enumerate(j):
        p = prof[:, col]
        t = level[col]
        a = c
        while a > 0 and p[a - 1] > t:
            a -= 1
        b = c
        while b < n_v - 1 and p[b + 1] > t:
            b += 1
        border += a == 0 or b == n_v - 1
        top[n] = a - 0.5 if a == 0 else _cross(p[a - 1], p[a], t) + a - 1
        bot[n] = b + 0.5 if b == n_v - 1 else _cross(p[b], p[b + 1], t) + b
    # Where the object widens into something else (a plate under a head), cap the half-widths
    # near the object's own (median) ones; beyond the clicked ends, follow the object only
    # while it keeps its width (a tip clicked short is reached, a plate past the head is not).
    up, down = c - top, bot - c
    clicked = (j >= span[0]) & (j <= span[1])
    ref = clicked if clicked.any() else np.ones_like(clicked)
    med_up, med_down = float(np.median(up[ref])), float(np.median(down[ref]))
    keep = ~clicked & (up + down > 1.3 * (med_up + med_down) + 1.0)
    lo_n = 0
    while lo_n < j.size and j[lo_n] < span[0] and keep[lo_n]:
        lo_n += 1
    hi_n = j.size
    while hi_n > lo_n and j[hi_n - 1] > span[1] and keep[hi_n - 1]:
        hi_n -= 1
    j, up, down = j[lo_n:hi_n], up[lo_n:hi_n], down[lo_n:hi_n]
    if j.size < 2:
        return None
    up = np.minimum(up, 1.5 * med_up + 1.0)
    down = np.minimum(down, 1.5 * med_down + 1.0)
    if j.size >= 3:
        up = np.asarray(cv2.medianBlur(up.astype(np.float32).reshape(1, -1), 3), np.float64).ravel()
        down = np.asarray(
            cv2.medianBlur(down.astype(np.float32).reshape(1, -1), 3), np.float64
        ).ravel()
    return j, c - up, c + down, border > 0.5 * n_u


def _cross(a: float, b: float, t: float) -> float:
    """Where the line from (0, a) to (1, b) crosses t (0..1)."""
    d = float(b) - float(a)
    return 0.5 if abs(d) < 1e-6 else min(max((t - float(a)) / d, 0.0), 1.0)


def _polygon(
    p0: tuple[float, float],
    u_dir: tuple[float, float],
    v_dir: tuple[float, float],
    u: NDArray[np.float64],
    lo: NDArray[np.float64],
    hi: NDArray[np.float64],
) -> list[tuple[float, float]]:
    """Top edge forward, bottom edge back, as image points; simplified to 0.4 px."""
    along = np.r_[u, u[::-1]]
    across = np.r_[lo, hi[::-1]]
    xs = p0[0] + along * u_dir[0] + across * v_dir[0]
    ys = p0[1] + along * u_dir[1] + across * v_dir[1]
    pts = np.stack([xs, ys], axis=1).astype(np.float32).reshape(-1, 1, 2)
    simple = cv2.approxPolyDP(pts, 0.4, True).reshape(-1, 2)
    if len(simple) < 3:
        simple = pts.reshape(-1, 2)
    return [(round(float(x), 2), round(float(y), 2)) for x, y in simple]
