"""Solid primitives of anatomy (tubes, ellipsoids, arcs, holes) and how they fill the maps.

A ``Body`` is a union of primitives in its own frame (``s`` along, ``d`` across, mm). Bones use
the shell of each primitive as cortex and its core as cancellous bone; soft tissue uses the same
shell as the subcutaneous fat layer and the core as muscle, cut by intermuscular fat planes.
Everything is computed on bounding-box crops: outside a body every map stays exactly zero.
A ``Warp`` displaces the frame coordinates smoothly, so outlines drawn from these solids come
out irregular (skin lines, epiphyses, carpals) instead of perfect ellipses and straight lines.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from orthogui.synth.phantom import FloatMap, Scene, smooth_noise

Slices = tuple[slice, slice]

# The skin line's wobble: displacement as a fraction of a part's girth, and its ceiling (mm).
SKIN_WOBBLE_REL = 0.14
SKIN_WOBBLE_CAP_MM = 7.0


def _sqrt_pos(x: NDArray[Any]) -> NDArray[np.float32]:
    root: NDArray[np.float32] = np.sqrt(np.maximum(x, np.float32(0.0))).astype(
        np.float32, copy=False
    )
    return root


def _ramp(x: NDArray[np.float32], length: float) -> NDArray[np.float32]:
    """From 1 at ``x <= 0`` to 0 at ``x >= length``: flat near the end, then a smooth waist.

    The squared argument keeps the sides of an epiphysis nearly parallel before the metaphysis
    narrows into the shaft, as condyles and plateaus do.
    """
    t = np.clip(x / np.float32(max(length, 1e-3)), 0.0, 1.0)
    t = t * np.sqrt(t)
    return np.asarray(1.0 - t * t * (3.0 - 2.0 * t), dtype=np.float32)


@dataclass(frozen=True)
class Tube:
    """A solid of revolution from ``a`` to ``b`` with flared, rounded ends.

    The radius is ``radius`` along the shaft, grows by ``flare_*`` over ``flare_len_*`` towards
    each end (metaphysis) and closes over the last ``cap_*`` mm (epiphysis, rounded). The shell
    (``cortex``) thins where the tube flares; the core is ``marrow`` filled along the shaft and
    fully filled in the flares. ``planes`` are offsets (fractions of the radius) of fat planes
    running along the tube (soft tissue only).
    """

    a: tuple[float, float]
    b: tuple[float, float]
    radius: float
    cortex: float
    flare_a: float = 0.0
    flare_b: float = 0.0
    flare_len_a: float = 1.0
    flare_len_b: float = 1.0
    cap_a: float = 0.0
    cap_b: float = 0.0
    depth: float = 1.0
    marrow: float = 0.12
    planes: tuple[float, ...] = ()

    def extent(self) -> tuple[NDArray[np.float64], float]:
        """Points of the axis and the padding that bound the tube."""
        pad = self.radius + max(self.flare_a, self.flare_b) + 1.0
        return np.array([self.a, self.b], dtype=np.float64), pad

    def shape(self, s: FloatMap, d: FloatMap) -> tuple[FloatMap, FloatMap, FloatMap]:
        """Outer chord, inner chord and core fill at frame coordinates (mm)."""
        ds, dd = self.b[0] - self.a[0], self.b[1] - self.a[1]
        length = float(np.hypot(ds, dd)) or 1e-3
        c, k = np.float32(ds / length), np.float32(dd / length)
        rs, rd = s - np.float32(self.a[0]), d - np.float32(self.a[1])
        u = rs * c + rd * k
        v = rd * c - rs * k
        to_end = np.float32(length) - u
        meta_a = _ramp(u, self.flare_len_a) if self.flare_a > 0 else None
        meta_b = _ramp(to_end, self.flare_len_b) if self.flare_b > 0 else None
        r = np.full(u.shape, self.radius, dtype=np.float32)
        meta = np.zeros(u.shape, dtype=np.float32)
        if meta_a is not None:
            r += np.float32(self.flare_a) * meta_a
            meta = np.maximum(meta, meta_a)
        if meta_b is not None:
            r += np.float32(self.flare_b) * meta_b
            meta = np.maximum(meta, meta_b)
        for cap, dist in ((self.cap_a, u), (self.cap_b, to_end)):
            if cap > 0:
                q = np.clip(dist / np.float32(cap), 0.0, 1.0)
                r *= _sqrt_pos(1.0 - (1.0 - q) ** 2)
        r = np.where((u >= 0) & (to_end >= 0), r, np.float32(0.0))
        cortex = np.float32(self.cortex) * (1.0 - 0.7 * meta)
        r_in = np.maximum(r - cortex, 0.0)
        v2 = v * v
        depth = np.float32(2.0 * self.depth)
        outer = depth * _sqrt_pos(r * r - v2)
        inner = depth * _sqrt_pos(r_in * r_in - v2)
        fill = np.float32(self.marrow) + np.float32(1.0 - self.marrow) * meta
        if self.planes:
            width = np.float32(0.045 * self.radius + 0.6)
            wave = np.sin(u / np.float32(0.9 * self.radius + 20.0)) * np.float32(0.06)
            for off in self.planes:
                rel = v / np.float32(self.radius) - np.float32(off) - wave
                fill = fill - np.float32(0.55) * np.exp(-((rel * self.radius / width) ** 2))
            fill = np.clip(fill, 0.0, 1.0)
        return outer.astype(np.float32), inner.astype(np.float32), fill.astype(np.float32)


@dataclass(frozen=True)
class Blob:
    """An ellipsoid: in-plane semi-axes ``a`` (along ``angle``) and ``b``, half-depth ``depth``."""

    c: tuple[float, float]
    a: float
    b: float
    depth: float
    angle: float = 0.0
    cortex: float = 1.0
    fill: float = 0.85

    def extent(self) -> tuple[NDArray[np.float64], float]:
        """Centre and the padding that bound the ellipsoid."""
        return np.array([self.c], dtype=np.float64), max(self.a, self.b) + 1.0

    def shape(self, s: FloatMap, d: FloatMap) -> tuple[FloatMap, FloatMap, FloatMap]:
        """Outer chord, inner chord and core fill at frame coordinates (mm)."""
        c, k = np.float32(np.cos(self.angle)), np.float32(np.sin(self.angle))
        rs, rd = s - np.float32(self.c[0]), d - np.float32(self.c[1])
        u = rs * c + rd * k
        v = rd * c - rs * k
        rho = (u / np.float32(self.a)) ** 2 + (v / np.float32(self.b)) ** 2
        outer = np.float32(2.0 * self.depth) * _sqrt_pos(1.0 - rho)
        ai, bi = max(self.a - self.cortex, 0.3), max(self.b - self.cortex, 0.3)
        rho_in = (u / np.float32(ai)) ** 2 + (v / np.float32(bi)) ** 2
        inner = np.float32(2.0 * max(self.depth - self.cortex, 0.3)) * _sqrt_pos(1.0 - rho_in)
        fill = np.full(u.shape, self.fill, dtype=np.float32)
        return outer.astype(np.float32), inner.astype(np.float32), fill


@dataclass(frozen=True)
class Arc:
    """A tube of radius ``r`` bent along a circle (rim, brim, rib) from angle ``a0`` to ``a1``."""

    c: tuple[float, float]
    bend: float
    a0: float
    a1: float
    r: float
    cortex: float = 1.2
    fill: float = 0.5
    depth: float = 1.0

    def extent(self) -> tuple[NDArray[np.float64], float]:
        """Points along the arc and the padding that bound it."""
        t = np.linspace(self.a0, self.a1, 24)
        pts = np.stack([self.c[0] + self.bend * np.cos(t), self.c[1] + self.bend * np.sin(t)], 1)
        return pts, self.r + 1.0

    def shape(self, s: FloatMap, d: FloatMap) -> tuple[FloatMap, FloatMap, FloatMap]:
        """Outer chord, inner chord and core fill at frame coordinates (mm)."""
        rs, rd = s - np.float32(self.c[0]), d - np.float32(self.c[1])
        rho = np.sqrt(rs * rs + rd * rd)
        mid = np.float32((self.a0 + self.a1) / 2)
        half = np.float32(abs(self.a1 - self.a0) / 2)
        phi = np.arctan2(rd, rs) - mid
        phi = (phi + np.float32(np.pi)) % np.float32(2 * np.pi) - np.float32(np.pi)
        # Rounded ends: the tube closes over its last radius of arc length.
        to_end = (half - np.abs(phi)) * np.float32(self.bend)
        q = np.clip(to_end / np.float32(self.r), 0.0, 1.0)
        r = np.float32(self.r) * _sqrt_pos(1.0 - (1.0 - q) ** 2)
        v2 = (rho - np.float32(self.bend)) ** 2
        r_in = np.maximum(r - np.float32(self.cortex), 0.0)
        depth = np.float32(2.0 * self.depth)
        outer = depth * _sqrt_pos(r * r - v2)
        inner = depth * _sqrt_pos(r_in * r_in - v2)
        fill = np.full(s.shape, self.fill, dtype=np.float32)
        return outer.astype(np.float32), inner.astype(np.float32), fill


@dataclass(frozen=True)
class Hole:
    """An elliptic window cut through a body (foramen, fossa), with ``keep`` of it left."""

    c: tuple[float, float]
    a: float
    b: float
    angle: float = 0.0
    keep: float = 0.0

    def factor(self, s: FloatMap, d: FloatMap) -> FloatMap:
        """Fraction of the body kept at frame coordinates (1 outside the hole)."""
        c, k = np.float32(np.cos(self.angle)), np.float32(np.sin(self.angle))
        rs, rd = s - np.float32(self.c[0]), d - np.float32(self.c[1])
        u = (rs * c + rd * k) / np.float32(self.a)
        v = (rd * c - rs * k) / np.float32(self.b)
        edge = np.clip((np.sqrt(u * u + v * v) - 1.0) * np.float32(min(self.a, self.b) / 1.5), 0, 1)
        return np.asarray(self.keep + (1.0 - self.keep) * edge, dtype=np.float32)


Shape = Tube | Blob | Arc


@dataclass(frozen=True)
class Frame:
    """A body frame in the image: pixel ``origin`` of (0, 0), image ``angle`` of +s.

    ``dsign`` is -1 for a mirrored (left/right swapped) placement: the frame's ``d`` is then the
    negative of ``phantom.frame_coords``' ``d``.
    """

    origin: tuple[float, float]
    angle: float
    dsign: float
    spacing_mm: float

    def to_image(self, s: float, d: float) -> tuple[float, float]:
        """Image pixel of the frame point (``s``, ``d``) in mm."""
        c, k = float(np.cos(self.angle)), float(np.sin(self.angle))
        dd = d * self.dsign
        return (
            self.origin[0] + (s * c - dd * k) / self.spacing_mm,
            self.origin[1] + (s * k + dd * c) / self.spacing_mm,
        )

    def coords(self, box: Slices) -> tuple[FloatMap, FloatMap]:
        """Frame coordinates (``s``, image-handed ``d``) in mm over the image crop ``box``."""
        y0, x0 = box[0].start, box[1].start
        h, w = box[0].stop - y0, box[1].stop - x0
        xs = ((np.arange(w, dtype=np.float32) + (x0 + 0.5)) - self.origin[0]) * self.spacing_mm
        ys = ((np.arange(h, dtype=np.float32) + (y0 + 0.5)) - self.origin[1]) * self.spacing_mm
        c, k = np.float32(np.cos(self.angle)), np.float32(np.sin(self.angle))
        s = xs[None, :] * c + ys[:, None] * k
        d = -xs[None, :] * k + ys[:, None] * c
        return s.astype(np.float32), d.astype(np.float32)

    def box(self, pts: NDArray[np.float64], pad_mm: float, shape: tuple[int, int]) -> Slices | None:
        """Pixel bounding box of frame points padded by ``pad_mm``, clipped to the image."""
        img = np.array([self.to_image(float(p[0]), float(p[1])) for p in pts])
        pad = pad_mm / self.spacing_mm + 2.0
        x0 = max(int(np.floor(img[:, 0].min() - pad)), 0)
        x1 = min(int(np.ceil(img[:, 0].max() + pad)), shape[1])
        y0 = max(int(np.floor(img[:, 1].min() - pad)), 0)
        y1 = min(int(np.ceil(img[:, 1].max() + pad)), shape[0])
        if x1 <= x0 or y1 <= y0:
            return None
        return (slice(y0, y1), slice(x0, x1))


def union_box(boxes: list[Slices | None]) -> Slices | None:
    """Smallest box holding all given boxes (None when there are none)."""
    real = [b for b in boxes if b is not None]
    if not real:
        return None
    return (
        slice(min(b[0].start for b in real), max(b[0].stop for b in real)),
        slice(min(b[1].start for b in real), max(b[1].stop for b in real)),
    )


def shape_size(shape: Shape) -> float:
    """The smallest in-plane half-width of a primitive (mm): what its outline's wobble scales to."""
    if isinstance(shape, Tube):
        return shape.radius
    if isinstance(shape, Blob):
        return min(shape.a, shape.b)
    return shape.r


@dataclass(frozen=True)
class Warp:
    """A smooth displacement of frame coordinates that makes outlines irregular.

    ``ds`` and ``dd`` are unit fields over the coordinate arrays; each primitive is displaced by
    ``rel`` times its ``shape_size``, at most ``cap_mm``, so a finger and a thigh wobble alike
    relative to their size. Anatomy is never a perfect ellipse or a straight line.
    """

    ds: FloatMap
    dd: FloatMap
    rel: float
    cap_mm: float

    def amplitude(self, shape: Shape) -> np.float32:
        """Displacement (mm) of the unit fields for ``shape``."""
        return np.float32(min(self.rel * shape_size(shape), self.cap_mm))


def warp_fields(
    rng: np.random.Generator, shape: tuple[int, int], *, scale_px: float
) -> tuple[FloatMap, FloatMap]:
    """Two unit displacement fields: a coarse octave of feature size ``scale_px`` plus a finer one."""
    out = []
    for _ in range(2):
        coarse = smooth_noise(rng, shape, scale_px=scale_px)
        fine = smooth_noise(rng, shape, scale_px=max(scale_px / 2.7, 2.0))
        out.append(np.asarray(0.85 * coarse + 0.5 * fine, dtype=np.float32))
    return out[0], out[1]


def evaluate_union(
    shapes: tuple[Shape, ...],
    holes: tuple[Hole, ...],
    s: FloatMap,
    d: FloatMap,
    sub: list[list[Slices]] | None = None,
    warp: Warp | None = None,
) -> tuple[FloatMap, FloatMap, FloatMap]:
    """Union of shapes at frame coordinates: outer chord, inner chord, fill of the core.

    The union takes the longest chord per pixel (exact for nested convex parts, close enough
    where parts merge); the fill comes from the part with the longest core. ``sub`` limits each
    shape to sub-boxes of the coordinate arrays (None: everywhere); a shape evaluated on
    overlapping boxes gives the same values twice, which the union leaves unchanged. ``warp``
    displaces each shape's coordinates in proportion to its size (irregular outlines).
    """
    outer = np.zeros(s.shape, dtype=np.float32)
    inner = np.zeros(s.shape, dtype=np.float32)
    fill = np.zeros(s.shape, dtype=np.float32)
    full = (slice(0, s.shape[0]), slice(0, s.shape[1]))
    for i, shape in enumerate(shapes):
        amp = None if warp is None else warp.amplitude(shape)
        for box in [full] if sub is None else sub[i]:
            if warp is None or amp is None:
                o, n, f = shape.shape(s[box], d[box])
            else:
                o, n, f = shape.shape(s[box] + amp * warp.ds[box], d[box] + amp * warp.dd[box])
            np.maximum(outer[box], o, out=outer[box])
            win = n > inner[box]
            inner[box] = np.where(win, n, inner[box])
            fill[box] = np.where(win, f, fill[box])
    if holes:
        keep = np.ones(s.shape, dtype=np.float32)
        for hole in holes:
            keep *= hole.factor(s, d)
        outer *= keep
        inner *= keep
    inner = np.minimum(inner, outer)
    return outer, inner, fill


def _pieces(shape: Shape) -> list[tuple[NDArray[np.float64], float]]:
    """Bounding pieces of a shape: long tubes and arcs are cut so their boxes stay tight."""
    pts, pad = shape.extent()
    if len(pts) == 1:
        return [(pts, pad)]
    if isinstance(shape, Tube):
        length = float(np.hypot(*(pts[1] - pts[0])))
        n = int(min(max(np.ceil(length / (3.0 * pad)), 1), 12))
        ts = np.linspace(0.0, 1.0, n + 1)
        ends = pts[0][None, :] + ts[:, None] * (pts[1] - pts[0])[None, :]
        return [(ends[i : i + 2], pad) for i in range(n)]
    step = max(int(np.ceil(len(pts) / 6)), 2)
    return [(pts[i : i + step + 1], pad) for i in range(0, len(pts) - 1, step)]


def sub_boxes(
    shapes: tuple[Shape, ...],
    frame: Frame,
    box: Slices,
    shape: tuple[int, int],
    *,
    margin_mm: float = 0.0,
    margins_mm: tuple[float, ...] | None = None,
) -> list[list[Slices]]:
    """Per-shape lists of boxes relative to the crop ``box`` (empty where out of view).

    Each shape's boxes are padded by ``margin_mm``, or by its own entry of ``margins_mm``.
    """
    out: list[list[Slices]] = []
    oy, ox = box[0].start, box[1].start
    for i, sh in enumerate(shapes):
        boxes: list[Slices] = []
        extra = margin_mm if margins_mm is None else margins_mm[i]
        for pts, pad in _pieces(sh):
            b = frame.box(pts, pad + extra, shape)
            if b is None:
                continue
            y0, y1 = max(b[0].start, box[0].start), min(b[0].stop, box[0].stop)
            x0, x1 = max(b[1].start, box[1].start), min(b[1].stop, box[1].stop)
            if y1 > y0 and x1 > x0:
                boxes.append((slice(y0 - oy, y1 - oy), slice(x0 - ox, x1 - ox)))
        out.append(boxes)
    return out


def shapes_box(
    shapes: tuple[Shape, ...], frame: Frame, shape: tuple[int, int], margin_mm: float = 0.0
) -> Slices | None:
    """Image box of a union of shapes, padded by ``margin_mm``."""
    boxes = []
    for sh in shapes:
        pts, pad = sh.extent()
        boxes.append(frame.box(pts, pad + margin_mm, shape))
    return union_box(boxes)


def add_soft_tissue(
    scene: Scene,
    frame: Frame,
    shapes: tuple[Shape, ...],
    rng: np.random.Generator,
    *,
    cavities: tuple[Shape, ...] = (),
) -> NDArray[np.bool_]:
    """Draw a body outline: fat under the skin line (the shells), muscle and fat planes inside.

    ``cavities`` (e.g. lungs) hold air: their chords are taken out of the muscle. Thickness
    varies smoothly by a few per cent; outside the outline nothing is added. Returns the body
    silhouette over the whole image.
    """
    body = np.zeros(scene.shape, dtype=bool)
    # Soft tissue has no marrow: the whole core is muscle, less the fat planes.
    shapes = tuple(replace(s, marrow=1.0) if isinstance(s, Tube) else s for s in shapes)
    box = shapes_box(shapes, frame, scene.shape, SKIN_WOBBLE_CAP_MM * 3.5 + 1.0)
    if box is None:
        return body
    # Soft tissue is smooth: draw it on a grid of about 1 mm and interpolate (zeros stay zero).
    f = max(int(1.0 / scene.spacing_mm), 1)
    y0, x0 = box[0].start // f, box[1].start // f
    y1, x1 = -(-box[0].stop // f), -(-box[1].stop // f)
    coarse = Frame(
        (frame.origin[0] / f, frame.origin[1] / f), frame.angle, frame.dsign, frame.spacing_mm * f
    )
    cshape = (-(-scene.shape[0] // f), -(-scene.shape[1] // f))
    cbox = (slice(y0, y1), slice(x0, x1))
    s, d = coarse.coords(cbox)
    d *= np.float32(frame.dsign)
    h, w = s.shape
    # The skin line is irregular and the limb asymmetric: coordinates are displaced by a
    # smooth field (tens of mm), each part in proportion to its girth; the fat under the skin
    # thickens and thins along it.
    ds, dd = warp_fields(rng, (h, w), scale_px=float(rng.uniform(70.0, 130.0)) / coarse.spacing_mm)
    warp = Warp(ds, dd, SKIN_WOBBLE_REL * float(rng.uniform(0.6, 1.3)), SKIN_WOBBLE_CAP_MM)
    reach = tuple(3.5 * float(warp.amplitude(sh)) + 1.0 for sh in shapes)
    sub = sub_boxes(shapes, coarse, cbox, cshape, margins_mm=reach)
    outer, inner, fill = evaluate_union(shapes, (), s, d, sub, warp)
    wobble = 1.0 + 0.035 * smooth_noise(rng, (h, w), scale_px=45.0 / coarse.spacing_mm)
    outer *= wobble
    fat_layer = 1.0 + 0.3 * smooth_noise(rng, (h, w), scale_px=60.0 / coarse.spacing_mm)
    inner = np.minimum(inner * wobble * np.clip(fat_layer, 0.5, 1.5), outer)
    muscle = inner * fill
    fat = outer - muscle
    if cavities:
        air, _, _ = evaluate_union(cavities, (), s, d)
        muscle = np.maximum(muscle - air, 0.25 * muscle)
    big = (slice(y0 * f, y1 * f), slice(x0 * f, x1 * f))
    size = (w * f, h * f)
    muscle_up = cv2.resize(muscle, size, interpolation=cv2.INTER_LINEAR)
    fat_up = cv2.resize(fat, size, interpolation=cv2.INTER_LINEAR)
    hh, ww = scene.shape
    cut = (
        slice(0, min(big[0].stop, hh) - big[0].start),
        slice(0, min(big[1].stop, ww) - big[1].start),
    )
    dst = (slice(big[0].start, min(big[0].stop, hh)), slice(big[1].start, min(big[1].stop, ww)))
    scene.thickness["soft_tissue"][dst] += muscle_up[cut].astype(np.float32)
    scene.thickness["fat"][dst] += fat_up[cut].astype(np.float32)
    body[dst] = (muscle_up[cut] + fat_up[cut]) > 0
    return body


def trabecular_texture(
    rng: np.random.Generator, shape: tuple[int, int], *, spacing_mm: float
) -> FloatMap:
    """Multiplicative "sponge" texture for cancellous bone: rods and pores of ~0.5–2 mm.

    Two oriented scales of band-limited noise are summed and pushed through a soft threshold, so
    the result clusters near its low (pore) and high (trabecula) values; the mean is about 1.
    """
    aspect = float(rng.uniform(1.3, 2.2))
    if rng.random() < 0.5:
        aspect = 1.0 / aspect
    fine = smooth_noise(rng, shape, scale_px=max(0.55 / spacing_mm, 1.2), aspect=aspect)
    mid = smooth_noise(rng, shape, scale_px=max(1.6 / spacing_mm, 2.0))
    field = 0.7 * fine + 0.45 * mid
    sponge = np.tanh(2.2 * field)
    return np.asarray(1.0 + 0.2 * sponge, dtype=np.float32)


def blur_small(img: FloatMap, sigma_px: float) -> FloatMap:
    """Light Gaussian blur (anti-aliasing of crisp primitive edges)."""
    return np.asarray(cv2.GaussianBlur(img, (0, 0), sigma_px), dtype=np.float32)
