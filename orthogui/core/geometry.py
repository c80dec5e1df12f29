"""Plane geometry of annotation shapes: polygons and axis-aligned boxes in image pixels.

Coordinates are continuous pixel coordinates: (0, 0) is the top-left corner of the top-left
pixel, so pixel (col, row) covers [col, col+1) x [row, row+1). Shapes are immutable values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Point = tuple[float, float]


@dataclass(frozen=True)
class Box:
    """Axis-aligned box, ``x0 <= x1`` and ``y0 <= y1`` (normalised on construction)."""

    x0: float
    y0: float
    x1: float
    y1: float

    def __post_init__(self) -> None:
        x0, x1 = sorted((float(self.x0), float(self.x1)))
        y0, y1 = sorted((float(self.y0), float(self.y1)))
        object.__setattr__(self, "x0", x0)
        object.__setattr__(self, "x1", x1)
        object.__setattr__(self, "y0", y0)
        object.__setattr__(self, "y1", y1)

    @classmethod
    def from_xywh(cls, x: float, y: float, w: float, h: float) -> Box:
        """Build from COCO ``[x, y, width, height]``."""
        return cls(x, y, x + w, y + h)

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def area(self) -> float:
        return self.width * self.height

    def xywh(self) -> tuple[float, float, float, float]:
        """COCO ``[x, y, width, height]``."""
        return (self.x0, self.y0, self.width, self.height)

    def bbox(self) -> Box:
        return self

    def contains(self, x: float, y: float) -> bool:
        return self.x0 <= x <= self.x1 and self.y0 <= y <= self.y1

    def translated(self, dx: float, dy: float) -> Box:
        return Box(self.x0 + dx, self.y0 + dy, self.x1 + dx, self.y1 + dy)

    def corners(self) -> NDArray[np.float64]:
        """The four corners, clockwise from top-left, as a ``(4, 2)`` array."""
        return np.array(
            [[self.x0, self.y0], [self.x1, self.y0], [self.x1, self.y1], [self.x0, self.y1]],
            dtype=np.float64,
        )

    def to_polygon(self) -> Polygon:
        return Polygon(self.corners())

    def intersection(self, other: Box) -> float:
        w = min(self.x1, other.x1) - max(self.x0, other.x0)
        h = min(self.y1, other.y1) - max(self.y0, other.y0)
        return max(w, 0.0) * max(h, 0.0)

    def iou(self, other: Box) -> float:
        inter = self.intersection(other)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0


class Polygon:
    """Simple closed polygon, vertices as an ``(N, 2)`` float64 array of (x, y), N >= 3.

    Holes are not part of a polygon: a shape with holes is stored as RLE on export, and as
    several annotations or an outer ring in the editor.
    """

    __slots__ = ("_points",)

    def __init__(self, points: NDArray[np.floating] | list[Point] | tuple[Point, ...]) -> None:
        arr = np.array(points, dtype=np.float64).reshape(-1, 2)
        if arr.shape[0] < 3:
            raise ValueError(f"a polygon needs at least 3 vertices, got {arr.shape[0]}")
        if not np.all(np.isfinite(arr)):
            raise ValueError("polygon vertices must be finite numbers")
        arr.setflags(write=False)
        self._points = arr

    @property
    def points(self) -> NDArray[np.float64]:
        """Read-only ``(N, 2)`` array of vertices."""
        return self._points

    def __len__(self) -> int:
        return int(self._points.shape[0])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Polygon):
            return NotImplemented
        return self._points.shape == other._points.shape and bool(
            np.array_equal(self._points, other._points)
        )

    def __hash__(self) -> int:
        return hash(self._points.tobytes())

    def __repr__(self) -> str:
        return f"Polygon({len(self)} vertices, bbox={self.bbox().xywh()})"

    @property
    def area(self) -> float:
        """Unsigned area by the shoelace formula."""
        x = self._points[:, 0]
        y = self._points[:, 1]
        return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)

    def bbox(self) -> Box:
        mn = self._points.min(axis=0)
        mx = self._points.max(axis=0)
        return Box(float(mn[0]), float(mn[1]), float(mx[0]), float(mx[1]))

    def contains(self, x: float, y: float) -> bool:
        """Even-odd point-in-polygon test."""
        pts = self._points
        xs, ys = pts[:, 0], pts[:, 1]
        xj, yj = np.roll(xs, 1), np.roll(ys, 1)
        crosses = (ys > y) != (yj > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = (xj - xs) * (y - ys) / (yj - ys) + xs
        return bool(np.count_nonzero(crosses & (x < x_at)) % 2 == 1)

    def flat(self) -> list[float]:
        """COCO segmentation ring ``[x0, y0, x1, y1, ...]``."""
        return [float(v) for v in self._points.reshape(-1)]

    @classmethod
    def from_flat(cls, values: list[float] | tuple[float, ...]) -> Polygon:
        if len(values) % 2:
            raise ValueError("a flat polygon needs an even number of coordinates")
        return cls(np.asarray(values, dtype=np.float64).reshape(-1, 2))

    # Editing operations return new polygons: the value stays immutable.
    def with_vertex_moved(self, index: int, x: float, y: float) -> Polygon:
        pts = self._points.copy()
        pts[index] = (x, y)
        return Polygon(pts)

    def with_vertex_inserted(self, index: int, x: float, y: float) -> Polygon:
        """Insert a vertex so that it gets position ``index``."""
        return Polygon(np.insert(self._points, index, (x, y), axis=0))

    def without_vertices(self, indices: set[int] | list[int]) -> Polygon:
        """Remove vertices; raises ``ValueError`` if fewer than 3 would remain."""
        keep = np.ones(len(self), dtype=bool)
        keep[list(indices)] = False
        return Polygon(self._points[keep])

    def translated(self, dx: float, dy: float) -> Polygon:
        return Polygon(self._points + np.array([dx, dy]))

    def nearest_edge(self, x: float, y: float) -> tuple[int, float, Point]:
        """Closest edge to a point: (index of its first vertex, distance, closest point)."""
        a = self._points
        b = np.roll(a, -1, axis=0)
        ab = b - a
        p = np.array([x, y])
        denom = np.einsum("ij,ij->i", ab, ab)
        t = np.clip(np.einsum("ij,ij->i", p - a, ab) / np.where(denom == 0, 1, denom), 0, 1)
        proj = a + ab * t[:, None]
        d = np.hypot(*(proj - p).T)
        i = int(np.argmin(d))
        return i, float(d[i]), (float(proj[i, 0]), float(proj[i, 1]))

    def simplified(self, tolerance: float) -> Polygon:
        """Douglas-Peucker simplification of the closed ring, keeping at least 3 vertices."""
        if tolerance <= 0 or len(self) <= 3:
            return self
        pts = self._points
        # Split the ring at the vertex farthest from vertex 0 so both halves are open chains.
        far = int(np.argmax(np.hypot(*(pts - pts[0]).T)))
        first = _douglas_peucker(pts[: far + 1], tolerance)
        second = _douglas_peucker(np.vstack([pts[far:], pts[:1]]), tolerance)
        out = np.vstack([first[:-1], second[:-1]])
        if out.shape[0] < 3:
            return self
        return Polygon(out)

    def principal_axis_length(self) -> float:
        """Extent of the shape along its principal axis (a screw's length), in pixels."""
        pts = self._points
        centred = pts - pts.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        proj = centred @ vt[0]
        return float(proj.max() - proj.min())


def _douglas_peucker(chain: NDArray[np.float64], tol: float) -> NDArray[np.float64]:
    keep = np.zeros(chain.shape[0], dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, chain.shape[0] - 1)]
    while stack:
        s, e = stack.pop()
        if e - s < 2:
            continue
        a, b = chain[s], chain[e]
        seg = chain[s + 1 : e]
        ab = b - a
        n = float(np.hypot(*ab))
        if n == 0:
            d = np.hypot(*(seg - a).T)
        else:
            d = np.abs(ab[0] * (seg[:, 1] - a[1]) - ab[1] * (seg[:, 0] - a[0])) / n
        i = int(np.argmax(d))
        if d[i] > tol:
            keep[s + 1 + i] = True
            stack.append((s, s + 1 + i))
            stack.append((s + 1 + i, e))
    return chain[keep]


Shape = Polygon | Box


def length_mm(shape: Shape, spacing: tuple[float, float] | None) -> float | None:
    """Length of ``shape`` along its principal axis in mm, exact for anisotropic ``spacing``
    ((row, column) mm per pixel); None without spacing. A screw's length in the inventory,
    the Properties panel and the DICOM SR."""
    if spacing is None:
        return None
    poly = shape.to_polygon() if isinstance(shape, Box) else shape
    scaled = Polygon(poly.points * np.array([spacing[1], spacing[0]]))
    return scaled.principal_axis_length()
