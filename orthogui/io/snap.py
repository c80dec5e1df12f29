"""Snap-to-edge: move a point onto the strongest image edge near it.

Works on the displayed 8-bit image (what the expert sees, in the current window), with an
OpenCV Sobel gradient over a small window around the point. Scene coordinates are continuous
pixel coordinates: pixel (c, r) covers [c, c+1) x [r, r+1).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import NDArray

MIN_GRADIENT = 40.0  # Sobel magnitude (3x3, 8-bit) below which there is no edge to snap to


def snap_to_edge(
    gray: NDArray[np.uint8], x: float, y: float, radius: float
) -> tuple[float, float] | None:
    """The point on the strongest edge within ``radius`` pixels of ``(x, y)``.

    The strongest gradient is searched in a disc, favouring pixels near the point (so on a
    straight edge the nearest part wins); its position across the edge is refined to a
    fraction of a pixel from the 3x3 gradient magnitudes; the point moves only across the
    edge (along the gradient), keeping its place along the edge.

    Parameters
    ----------
    gray
        The displayed image, uint8 ``(rows, cols)``.
    x, y
        The point, in image (scene) coordinates.
    radius
        Search radius in image pixels.

    Returns
    -------
    tuple of float or None
        The snapped point, or None when no edge stronger than ``MIN_GRADIENT`` lies within
        ``radius`` (or the point is off the image).
    """
    rows, cols = gray.shape
    r = max(1, math.ceil(radius))
    cx, cy = math.floor(x), math.floor(y)
    if not (0 <= cx < cols and 0 <= cy < rows):
        return None
    # One pixel more on each side so the Sobel of the disc's rim sees real neighbours.
    x0, x1 = max(cx - r - 1, 0), min(cx + r + 2, cols)
    y0, y1 = max(cy - r - 1, 0), min(cy + r + 2, rows)
    win = np.ascontiguousarray(gray[y0:y1, x0:x1]).astype(np.float32)
    gx = cv2.Sobel(win, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.Sobel(win, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REPLICATE)
    mag = np.hypot(gx, gy)
    # Pixel centres relative to the point.
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    dist = np.hypot(xx + 0.5 - x, yy + 0.5 - y)
    inside = dist <= radius
    # The one-pixel padding is no search ground: its Sobel sees a replicated border.
    if y0 > 0:
        inside[0, :] = False
    if y1 < rows:
        inside[-1, :] = False
    if x0 > 0:
        inside[:, 0] = False
    if x1 < cols:
        inside[:, -1] = False
    score = np.where(inside, mag * (1.0 - 0.5 * dist / max(radius, 1e-9)), -1.0)
    i, j = np.unravel_index(int(np.argmax(score)), score.shape)
    if not inside[i, j] or mag[i, j] < MIN_GRADIENT:
        return None
    # Sub-pixel: the magnitude-weighted centre of the 3x3 block around the best pixel.
    a, b = max(i - 1, 0), min(i + 2, mag.shape[0])
    c, d = max(j - 1, 0), min(j + 2, mag.shape[1])
    w = mag[a:b, c:d].astype(np.float64)
    ex = float((w * (xx[a:b, c:d] + 0.5)).sum() / w.sum())
    ey = float((w * (yy[a:b, c:d] + 0.5)).sum() / w.sum())
    # Move across the edge only: project the point onto the edge line through (ex, ey).
    n = np.array([gx[i, j], gy[i, j]], dtype=np.float64)
    n /= float(np.hypot(*n))
    t = (ex - x) * n[0] + (ey - y) * n[1]
    return float(x + t * n[0]), float(y + t * n[1])
