"""Polygon rings of a whole file validated in one numpy pass: numbers, finiteness, image bounds.

Checking and converting rings one by one costs more than reading the JSON; here all rings of a
file go into one array, and only a file with bad coordinates takes the slow path that names
the bad ring.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from orthogui.core.geometry import Polygon
from orthogui.io.importers._fields import MAX_SIDE

EDGE_TOLERANCE = 1.0  # px a shape may stick out of the image (rounding in other tools)


def _numbers(values: list[Any]) -> NDArray[np.float64] | None:
    """``values`` as a 1-D float array, or None unless every item is a JSON number.

    Without a dtype, numpy keeps strings as strings (with a dtype it would parse ``"10"``),
    and huge integers or ``null`` make an object array.
    """
    try:
        arr = np.array(values)
    except (TypeError, ValueError, OverflowError):
        return None
    if arr.ndim != 1 or arr.dtype.kind not in "iuf":
        return None if len(values) else np.zeros(0)
    return arr.astype(np.float64, copy=False)


def outside_message(
    kind: str, bounds: tuple[float, float, float, float], *, width: int, height: int
) -> str:
    """The problem of a shape with ``bounds`` (x0, y0, x1, y1) sticking out of the image."""
    x0, y0, x1, y1 = bounds
    return (
        f"{kind} [{x0:.1f}, {y0:.1f}, {x1:.1f}, {y1:.1f}] (x0, y0, x1, y1) lies "
        f"outside the image {width}x{height}"
    )


def polygon_rings(seg: list[Any]) -> list[list[Any]]:
    """The rings of a COCO polygon segmentation; ``ValueError`` says what is wrong."""
    for ring in seg:
        if not isinstance(ring, list) or len(ring) % 2:
            raise ValueError("a polygon ring must be a flat list of x, y pairs")
        if len(ring) < 6:
            raise ValueError(f"polygon with {len(ring) // 2} points: at least 3 needed")
    return seg


class RingBatch:
    """Collects flat ``[x0, y0, x1, y1, ...]`` rings; ``build`` checks and converts them all."""

    def __init__(self) -> None:
        self._values: list[Any] = []
        self._rings: list[list[Any]] = []
        self._sizes: list[tuple[int, int]] = []

    def __len__(self) -> int:
        return len(self._rings)

    def add(self, ring: list[Any], *, width: int, height: int) -> int:
        """Queue one ring of an image of ``width`` x ``height`` (0: unknown); returns its index."""
        self._values.extend(ring)
        self._rings.append(ring)
        self._sizes.append((width, height))
        return len(self._rings) - 1

    def _coordinates(self) -> tuple[NDArray[np.float64], dict[int, str]]:
        values = _numbers(self._values)
        if values is not None:
            return values, {}
        # Something is not a number: find which rings, keep the others.
        problems: dict[int, str] = {}
        parts = []
        for k, ring in enumerate(self._rings):
            arr = _numbers(ring)
            if arr is None:
                problems[k] = "polygon coordinates must be numbers"
                arr = np.zeros(len(ring))
            parts.append(arr)
        return np.concatenate(parts) if parts else np.zeros(0), problems

    def build(self) -> list[Polygon | str]:
        """One ``Polygon`` per queued ring, in order, or the problem of that ring as text."""
        if not self._rings:
            return []
        values, problems = self._coordinates()
        pts = values.reshape(-1, 2)
        sizes = np.array([len(r) // 2 for r in self._rings])
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        finite = np.logical_and.reduceat(np.isfinite(pts).all(axis=1), starts)
        with np.errstate(invalid="ignore"):
            mins = np.minimum.reduceat(pts, starts, axis=0)
            maxs = np.maximum.reduceat(pts, starts, axis=0)
            wh = np.array(self._sizes, dtype=np.float64)
            known = (wh > 0).all(axis=1)
            t = EDGE_TOLERANCE
            outside = known & ((mins < -t).any(axis=1) | (maxs > wh + t).any(axis=1))
        with np.errstate(invalid="ignore"):
            huge = (np.abs(mins) > MAX_SIDE).any(axis=1) | (np.abs(maxs) > MAX_SIDE).any(axis=1)
        for k in np.flatnonzero(~finite).tolist():
            problems.setdefault(k, "polygon vertices must be finite numbers")
        for k in np.flatnonzero(huge).tolist():
            problems.setdefault(k, f"polygon coordinates beyond +-{MAX_SIDE} px")
        for k in np.flatnonzero(outside).tolist():
            w, h = self._sizes[k]
            bounds = (*mins[k].tolist(), *maxs[k].tolist())
            problems.setdefault(k, outside_message("polygon", bounds, width=w, height=h))
        ends = (starts + sizes).tolist()
        out: list[Polygon | str] = []
        for k, (s, e) in enumerate(zip(starts.tolist(), ends)):
            out.append(problems[k] if k in problems else Polygon(pts[s:e]))
        return out
