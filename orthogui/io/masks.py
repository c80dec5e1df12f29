"""Conversions between binary masks, polygons and COCO RLE, in image pixel coordinates.

Shared by the model output (mask -> polygons), the synthetic ground truth and COCO export.
Polygon vertices follow ``orthogui.core.geometry``: pixel (c, r) covers [c, c+1) x [r, r+1),
polygons outline pixel edges, so they rasterise back to the mask they came from.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import shapely
from numpy.typing import NDArray
from pycocotools import mask as mask_utils

from orthogui.core.geometry import Polygon


def mask_to_polygons(
    mask: NDArray[Any],
    *,
    tolerance: float = 1.0,
    min_area: float = 4.0,
    keep_holes: bool = False,
) -> list[Polygon]:
    """Outer contours of a binary mask as polygons, largest first.

    ``tolerance`` is the Douglas-Peucker distance in pixels; fragments under ``min_area``
    square pixels are dropped. Holes are ignored unless ``keep_holes`` (then they come back as
    separate rings after the outer ones; use RLE to keep a holed shape exactly).
    """
    m = np.ascontiguousarray(mask, dtype=np.uint8)
    if m.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {m.shape}")
    mode = cv2.RETR_CCOMP if keep_holes else cv2.RETR_EXTERNAL
    contours, _ = cv2.findContours(m, mode, cv2.CHAIN_APPROX_NONE)
    out: list[tuple[float, Polygon]] = []
    for c in contours:
        ring = _pixel_boundary(c.reshape(-1, 2).astype(np.float64), tolerance)
        if ring is None:
            continue
        poly = Polygon(ring)
        if poly.area < min_area:
            continue
        out.append((poly.area, poly))
    out.sort(key=lambda t: -t[0])
    return [p for _, p in out]


def _pixel_boundary(centres: NDArray[np.float64], tolerance: float) -> NDArray[np.float64] | None:
    """Ring around the pixels of a contour traced through pixel centres.

    The centres (shifted by +0.5 into corner coordinates) are grown by half a pixel with
    mitred joins, which recovers the pixel-edge outline that rasterises back to the mask.
    """
    pts = centres + 0.5
    geom = shapely.Polygon(pts) if len(pts) >= 3 else shapely.MultiPoint(pts).convex_hull
    grown = geom.buffer(0.5, join_style="mitre", mitre_limit=2.0)
    if grown.is_empty:
        return None
    if grown.geom_type == "MultiPolygon":
        grown = max(grown.geoms, key=lambda g: g.area)
    if tolerance > 0:
        grown = grown.simplify(tolerance, preserve_topology=True)
    ring = np.asarray(grown.exterior.coords, dtype=np.float64)[:-1]
    return ring if len(ring) >= 3 else None


def polygons_to_mask(polygons: list[Polygon], shape: tuple[int, int]) -> NDArray[np.uint8]:
    """Rasterise polygons (union) to a ``uint8`` 0/1 mask with pycocotools' rule (as COCOeval)."""
    h, w = shape
    if not polygons:
        return np.zeros((h, w), dtype=np.uint8)
    rles = mask_utils.frPyObjects([p.flat() for p in polygons], h, w)
    return np.asarray(mask_utils.decode(mask_utils.merge(rles)), dtype=np.uint8)


def mask_to_rle(mask: NDArray[Any]) -> dict[str, Any]:
    """COCO compressed RLE with ``counts`` as a str (JSON-ready)."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def rle_to_mask(rle: dict[str, Any]) -> NDArray[np.uint8]:
    """Decode compressed or uncompressed COCO RLE."""
    h, w = (int(v) for v in rle["size"])
    counts = rle["counts"]
    if isinstance(counts, list):
        obj = mask_utils.frPyObjects(rle, h, w)
    else:
        obj = {
            "size": [h, w],
            "counts": counts.encode("ascii") if isinstance(counts, str) else counts,
        }
    return np.asarray(mask_utils.decode(obj), dtype=np.uint8)


def mask_iou(a: NDArray[Any], b: NDArray[Any]) -> float:
    a, b = a.astype(bool), b.astype(bool)
    union = np.count_nonzero(a | b)
    return float(np.count_nonzero(a & b) / union) if union else 1.0
