"""Drawing primitives for implants: crops in a bone's frame, wire tubes, and the screw helper.

Every implant is rendered on the crop of the image it covers (float32 mm of steel), then handed
to ``Scene.add_hardware`` (never labelled) or, for the requested screws, ``Scene.add_screw``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from orthogui.synth.phantom import FloatMap, Scene, frame_coords
from orthogui.synth.screws import random_screw
from orthogui.synth.sites import BoneSite

Crop = tuple[slice, slice]


@dataclass(frozen=True)
class Patch:
    """A crop of the image with per-pixel frame coordinates (mm), optionally supersampled."""

    crop: Crop
    s: FloatMap
    d: FloatMap
    k: int  # supersampling factor: ``s`` and ``d`` are ``k`` times the crop's size

    def reduce(self, fine: NDArray[np.floating]) -> FloatMap:
        """Average a supersampled map back to the crop's pixels."""
        if self.k == 1:
            return np.asarray(fine, dtype=np.float32)
        h, w = fine.shape[0] // self.k, fine.shape[1] // self.k
        return np.asarray(fine.reshape(h, self.k, w, self.k).mean(axis=(1, 3)), dtype=np.float32)


def bbox(
    shape: tuple[int, int], points: Sequence[tuple[float, float]], pad_px: float
) -> tuple[int, int, int, int] | None:
    """Integer box ``(x0, y0, x1, y1)`` around image points, clipped; None if empty."""
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    h, w = shape
    x0 = max(int(np.floor(min(xs) - pad_px)), 0)
    x1 = min(int(np.ceil(max(xs) + pad_px)), w)
    y0 = max(int(np.floor(min(ys) - pad_px)), 0)
    y1 = min(int(np.ceil(max(ys) + pad_px)), h)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def site_patch(
    scene: Scene,
    site: BoneSite,
    corners: Sequence[tuple[float, float]],
    *,
    pad_mm: float,
    k: int = 1,
) -> Patch | None:
    """Crop covering the frame-aligned box around ``corners`` (s, d in mm), with coordinates."""
    s_lo, s_hi = min(c[0] for c in corners), max(c[0] for c in corners)
    d_lo, d_hi = min(c[1] for c in corners), max(c[1] for c in corners)
    box4 = [(s_lo, d_lo), (s_lo, d_hi), (s_hi, d_lo), (s_hi, d_hi)]
    pts = [site.to_image(s, d) for s, d in box4]
    box = bbox(scene.shape, pts, pad_mm / scene.spacing_mm + 1)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    origin = ((site.origin[0] - x0) * k, (site.origin[1] - y0) * k)
    s, d = frame_coords(
        ((y1 - y0) * k, (x1 - x0) * k),
        origin=origin,
        angle=site.angle,
        spacing_mm=scene.spacing_mm / k,
    )
    return Patch((slice(y0, y1), slice(x0, x1)), s, d, k)


def tube(
    scene: Scene,
    points_px: NDArray[np.float64],
    radius_mm: NDArray[np.float64] | float,
    *,
    path_gain: NDArray[np.float64] | float = 1.0,
) -> tuple[Crop, FloatMap] | None:
    """A round rod along an image polyline: chord of the local radius, max-combined per segment.

    ``radius_mm`` may vary per vertex (tapered tips, thread crests); ``path_gain`` per segment
    stretches the path for segments that leave the image plane (1 / cos of their elevation).
    """
    pts = np.asarray(points_px, dtype=np.float64)
    n = len(pts)
    radii = np.broadcast_to(np.asarray(radius_mm, dtype=np.float64), (n,))
    gains = np.broadcast_to(np.asarray(path_gain, dtype=np.float64), (max(n - 1, 1),))
    sp = scene.spacing_mm
    pad = float(radii.max()) / sp + 2
    box = bbox(scene.shape, [(float(p[0]), float(p[1])) for p in pts], pad)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    out = np.zeros((y1 - y0, x1 - x0), dtype=np.float32)
    for i in range(n - 1):
        a, b = pts[i], pts[i + 1]
        r_seg = float(max(radii[i], radii[i + 1]))
        sb = bbox(scene.shape, [(a[0], a[1]), (b[0], b[1])], r_seg / sp + 2)
        if sb is None:
            continue
        sx0, sy0, sx1, sy1 = max(sb[0], x0), max(sb[1], y0), min(sb[2], x1), min(sb[3], y1)
        if sx1 <= sx0 or sy1 <= sy0:
            continue
        xs = np.arange(sx0, sx1, dtype=np.float32) + 0.5
        ys = np.arange(sy0, sy1, dtype=np.float32) + 0.5
        ab = b - a
        ll = float(ab @ ab)
        px = xs[None, :] - np.float32(a[0])
        py = ys[:, None] - np.float32(a[1])
        t = (px * np.float32(ab[0]) + py * np.float32(ab[1])) / np.float32(max(ll, 1e-9))
        t = np.clip(t, 0.0, 1.0)
        dx = px - t * np.float32(ab[0])
        dy = py - t * np.float32(ab[1])
        dist = np.sqrt(dx * dx + dy * dy) * np.float32(sp)
        r = np.float32(radii[i]) + t * np.float32(radii[i + 1] - radii[i])
        ch = 2.0 * np.sqrt(np.clip(r * r - dist * dist, 0.0, None)) * np.float32(gains[i])
        view = out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0]
        np.maximum(view, ch, out=view)
    return (slice(y0, y1), slice(x0, x1)), out


def add_tube(
    scene: Scene,
    kind: str,
    points_px: NDArray[np.float64],
    radius_mm: NDArray[np.float64] | float,
    *,
    path_gain: NDArray[np.float64] | float = 1.0,
) -> bool:
    """Draw ``tube`` as unlabelled hardware of ``kind``."""
    out = tube(scene, points_px, radius_mm, path_gain=path_gain)
    if out is None:
        return False
    return scene.add_hardware(kind, out[0], out[1])


def site_points(site: BoneSite, sd: NDArray[np.float64]) -> NDArray[np.float64]:
    """Image pixels of an ``(n, 2)`` array of frame points (s, d)."""
    c, k = float(np.cos(site.angle)), float(np.sin(site.angle))
    sp = site.spacing_mm
    x = site.origin[0] + (sd[:, 0] * c - sd[:, 1] * k) / sp
    y = site.origin[1] + (sd[:, 0] * k + sd[:, 1] * c) / sp
    return np.stack([x, y], axis=1)


def overlap(
    c: NDArray[np.float32],
    a: NDArray[np.float32] | float,
    lo: NDArray[np.float32] | float,
    hi: NDArray[np.float32] | float,
) -> NDArray[np.float32]:
    """Length of ``[c - a, c + a]`` inside ``[lo, hi]``."""
    return np.asarray(np.clip(np.minimum(c + a, hi) - np.maximum(c - a, lo), 0.0, None))


def place_screw(
    scene: Scene,
    rng: np.random.Generator,
    site: BoneSite,
    type_name: str,
    *,
    head: tuple[float, float],
    direction: tuple[float, float, float],
    length_mm: float,
) -> bool:
    """One labelled screw from a frame point along a 3-D frame direction (s, d, z towards source).

    The in-plane part of ``direction`` gives the image angle, its ``z`` part the elevation.
    """
    ds, dd, dz = direction
    norm = float(np.sqrt(ds * ds + dd * dd + dz * dz))
    inplane = float(np.hypot(ds, dd)) / norm
    elevation = float(np.arccos(np.clip(inplane, 0.0, 1.0)))
    x, y = site.to_image(*head)
    angle = site.direction(ds, dd) if inplane > 1e-6 else float(rng.uniform(-np.pi, np.pi))
    screw = random_screw(
        rng, type_name, x=x, y=y, angle=angle, length_mm=length_mm, elevation=elevation
    )
    return scene.add_screw(screw)


class Pieces:
    """Parts of one implant, drawn separately and added to the scene as one hardware item."""

    def __init__(self) -> None:
        self.parts: list[tuple[Crop, FloatMap]] = []

    def add(self, part: tuple[Crop, FloatMap] | None) -> None:
        if part is not None:
            self.parts.append(part)

    def tube(
        self,
        scene: Scene,
        points_px: NDArray[np.float64],
        radius_mm: NDArray[np.float64] | float,
        *,
        path_gain: NDArray[np.float64] | float = 1.0,
    ) -> None:
        self.add(tube(scene, points_px, radius_mm, path_gain=path_gain))

    def flush(self, scene: Scene, kind: str) -> bool:
        """Sum the parts on their common crop and add them as one ``kind``; False if unseen."""
        if not self.parts:
            return False
        y0 = min(c[0].start or 0 for c, _ in self.parts)
        y1 = max(c[0].stop or 0 for c, _ in self.parts)
        x0 = min(c[1].start or 0 for c, _ in self.parts)
        x1 = max(c[1].stop or 0 for c, _ in self.parts)
        out = np.zeros((y1 - y0, x1 - x0), dtype=np.float32)
        for (ys, xs), t in self.parts:
            out[
                (ys.start or 0) - y0 : (ys.stop or 0) - y0,
                (xs.start or 0) - x0 : (xs.stop or 0) - x0,
            ] += t
        self.parts = []
        return scene.add_hardware(kind, (slice(y0, y1), slice(x0, x1)), out)
