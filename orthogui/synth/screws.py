"""The five orthopaedic screw types as a parameter table, and their projected metal thickness.

A screw is a solid of revolution described by a radius profile along its axis; its projection
is rendered per pixel in the screw's own frame (u along the axis, v across), supersampled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

HeadKind = Literal["round", "conical_threaded", "none"]

_DU_MM = 0.01  # profile sampling step along the axis
_SUPERSAMPLE = 2
_PHASES = 9  # helix phases tabulated across the screw's width
_STEEP = 0.3  # elevation (radians) above which a screw is projected by integration along rays


@dataclass(frozen=True)
class ThreadSize:
    """One catalogue size: outer (thread) diameter, core diameter and pitch, in mm."""

    outer: float
    core: float
    pitch: float
    shank: float  # diameter of the unthreaded shank, if the type has one


@dataclass(frozen=True)
class ScrewType:
    """Parameters that make a screw type recognisable on a radiograph.

    ``thread_fraction`` is the threaded fraction of the shaft (1 = fully threaded);
    ``trailing_*`` describe a second thread zone under the head end (compression screws).
    """

    name: str  # the category name in ``DEFAULT_CATEGORIES``
    sizes: tuple[ThreadSize, ...]
    length_mm: tuple[float, float]
    head: HeadKind
    thread_fraction: tuple[float, float] = (1.0, 1.0)
    cannula_ratio: float = 0.0  # channel diameter / core diameter
    trailing_fraction: float = 0.0
    trailing_pitch_ratio: float = 1.0  # trailing pitch / leading pitch
    trailing_outer_ratio: float = 1.0  # trailing outer diameter / leading outer diameter


SCREW_TYPES: dict[str, ScrewType] = {
    t.name: t
    for t in (
        ScrewType(
            "cortical_screw",
            (ThreadSize(3.5, 2.4, 1.25, 2.4), ThreadSize(4.5, 3.0, 1.75, 3.0)),
            (16.0, 50.0),
            "round",
        ),
        ScrewType(
            "cancellous_screw",
            (ThreadSize(6.5, 3.0, 2.75, 4.5), ThreadSize(4.0, 1.9, 1.75, 2.6)),
            (30.0, 75.0),
            "round",
            thread_fraction=(0.3, 0.5),
        ),
        ScrewType(
            "locking_screw",
            (ThreadSize(5.0, 4.3, 1.0, 4.3), ThreadSize(3.5, 2.9, 0.8, 2.9)),
            (16.0, 46.0),
            "conical_threaded",
        ),
        ScrewType(
            "cannulated_screw",
            (ThreadSize(7.3, 4.8, 2.75, 4.8), ThreadSize(4.5, 3.1, 1.75, 3.1)),
            (35.0, 80.0),
            "round",
            thread_fraction=(0.3, 0.45),
            cannula_ratio=0.55,
        ),
        ScrewType(
            "compression_screw",
            (ThreadSize(3.5, 2.2, 1.6, 2.3), ThreadSize(4.5, 2.8, 2.0, 2.9)),
            (18.0, 40.0),
            "none",
            thread_fraction=(0.3, 0.38),
            trailing_fraction=0.25,
            trailing_pitch_ratio=0.55,
            trailing_outer_ratio=1.22,
        ),
    )
}
SCREW_NAMES: tuple[str, ...] = tuple(SCREW_TYPES)


@dataclass(frozen=True)
class Screw:
    """One placed screw: type, size and pose. ``x``, ``y`` is the head end in image pixels."""

    type_name: str
    length_mm: float
    size: ThreadSize
    thread_length_mm: float
    x: float
    y: float
    angle: float  # radians, direction from head to tip in image coordinates
    # Tilt of the axis out of the image plane (radians): the image shows the axis shortened by
    # cos(elevation); ``length_mm`` stays the true 3-D length.
    elevation: float = 0.0

    @property
    def diameter_mm(self) -> float:
        return self.size.outer

    @property
    def projected_length_mm(self) -> float:
        """Length of the axis as seen in the image plane."""
        return self.length_mm * float(np.cos(self.elevation))

    def tip(self, spacing_mm: float) -> tuple[float, float]:
        """Image pixel of the projected tip."""
        d = self.length_mm * float(np.cos(self.elevation)) / spacing_mm
        return (self.x + d * float(np.cos(self.angle)), self.y + d * float(np.sin(self.angle)))


def random_screw(
    rng: np.random.Generator,
    type_name: str,
    *,
    x: float,
    y: float,
    angle: float,
    length_mm: float | None = None,
    elevation: float = 0.0,
) -> Screw:
    """Draw size, length and thread length of a screw of the given type.

    ``elevation`` tilts the axis out of the image plane (radians, ``|elevation| < pi/2``).
    """
    if type_name not in SCREW_TYPES:
        raise KeyError(f"unknown screw type {type_name!r}; known: {list(SCREW_TYPES)}")
    t = SCREW_TYPES[type_name]
    size = t.sizes[int(rng.integers(len(t.sizes)))]
    if length_mm is None:
        length_mm = float(rng.uniform(*t.length_mm))
    # Catalogue lengths come in 2 mm steps.
    length_mm = max(2.0 * round(length_mm / 2.0), 8.0)
    frac = float(rng.uniform(*t.thread_fraction))
    return Screw(type_name, length_mm, size, frac * length_mm, x, y, angle, elevation)


def _tooth(phase: NDArray[np.float64]) -> NDArray[np.float64]:
    """Buttress thread tooth in [0, 1]: steep flank, flat crest, sloped flank."""
    f = phase - np.floor(phase)
    return np.clip(np.minimum(f / 0.15, (1.0 - f) / 0.45), 0.0, 1.0)


def _thread_zone(
    r: NDArray[np.float64],
    u: NDArray[np.float64],
    *,
    u0: float,
    u1: float,
    core: float,
    outer: float,
    pitch: float,
    phase: float,
) -> None:
    zone = (u >= u0) & (u <= u1)
    r[zone] = core / 2 + (outer - core) / 2 * _tooth(u[zone] / pitch + phase)


def _head_round(u: NDArray[np.float64], s: Screw, r: NDArray[np.float64]) -> float:
    """Hemispherical-underside head; returns the head height in mm."""
    head_r = 0.9 * s.size.outer + 0.6
    h = 0.45 * head_r + 0.8
    zone = u < h
    t = u[zone] / h
    # Rounded top, straight rim, spherical underside seated on the shank.
    top = np.sqrt(np.clip(1.0 - ((0.25 - t) / 0.25) ** 2, 0.0, 1.0))
    under = np.sqrt(np.clip(1.0 - ((t - 0.5) / 0.5) ** 2, 0.0, 1.0))
    prof = np.where(t < 0.25, 0.6 + 0.4 * top, np.where(t < 0.5, 1.0, under))
    r[zone] = np.maximum(head_r * prof, s.size.shank / 2)
    return h


def _head_conical(u: NDArray[np.float64], s: Screw, r: NDArray[np.float64]) -> float:
    """Threaded conical locking head: tapers towards the shaft, fine double-lead thread."""
    top_r = 0.75 * s.size.outer + 0.8
    bot_r = 0.62 * s.size.outer + 0.5
    h = 0.55 * s.size.outer + 1.2
    zone = u < h
    t = u[zone] / h
    cone = top_r + (bot_r - top_r) * t
    depth = 0.35
    r[zone] = cone - depth + depth * _tooth(u[zone] / 0.5)
    r[zone & (u < 0.3)] = top_r - 0.2
    return h


def _head_none(u: NDArray[np.float64], s: Screw, r: NDArray[np.float64]) -> float:
    return 0.0


HEAD_RENDERERS: dict[str, Callable[[NDArray[np.float64], Screw, NDArray[np.float64]], float]] = {
    "round": _head_round,
    "conical_threaded": _head_conical,
    "none": _head_none,
}


def screw_profile(
    screw: Screw, *, phases: int = _PHASES
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Radius profile of a screw along its axis, in mm.

    Returns
    -------
    u, r_outer, r_channel
        Axis positions from the head end (0) to the tip (``length_mm``); outer radius, shape
        ``(phases, len(u))``, for thread phases 0..0.5 (the projected helix crest runs half a
        pitch from one edge to the other); radius of the hollow (drive socket in the head,
        cannula along the axis), 0 where solid.
    """
    t = SCREW_TYPES[screw.type_name]
    size = screw.size
    u = np.arange(0.0, screw.length_mm + _DU_MM, _DU_MM)
    u[-1] = min(u[-1], screw.length_mm)
    sides: list[NDArray[np.float64]] = []
    channel = np.zeros_like(u)
    head_h = 0.0
    for phase in np.linspace(0.0, 0.5, phases):
        r = np.full_like(u, size.shank / 2)
        head_h = HEAD_RENDERERS[t.head](u, screw, r)
        lead_u0 = screw.length_mm - screw.thread_length_mm
        if t.thread_fraction[0] >= 1.0:
            lead_u0 = head_h + 0.3
        _thread_zone(
            r,
            u,
            u0=lead_u0,
            u1=screw.length_mm,
            core=size.core,
            outer=size.outer,
            pitch=size.pitch,
            phase=phase,
        )
        if t.trailing_fraction > 0:
            outer = size.outer * t.trailing_outer_ratio
            _thread_zone(
                r,
                u,
                u0=0.0,
                u1=t.trailing_fraction * screw.length_mm,
                core=size.core * t.trailing_outer_ratio,
                outer=outer,
                pitch=size.pitch * t.trailing_pitch_ratio,
                phase=phase,
            )
            r[u < 0.4] = np.minimum(r[u < 0.4], size.core * t.trailing_outer_ratio / 2)
        # Conical tip over the last pitch and a half.
        tip_len = 1.5 * size.pitch
        taper = np.clip((screw.length_mm - u) / tip_len, 0.0, 1.0)
        r = np.minimum(r, size.core / 2 * (0.35 + 0.65 * taper) + (r - size.core / 2) * taper)
        sides.append(r)
    if head_h > 0:
        socket = u < 0.55 * head_h
        channel[socket] = 0.45 * size.outer / 2 + 0.3
    if t.cannula_ratio > 0:
        channel = np.maximum(channel, t.cannula_ratio * size.core / 2)
    elif t.head == "none":
        channel[u < 0.2 * screw.length_mm] = 0.3 * size.core  # hexalobe drive in the tail
    # A hollow screw keeps a wall all the way to its (open) tip.
    walls = np.maximum(np.stack(sides), np.where(channel > 0, channel + 0.35, 0.0))
    return u, walls, channel


def render_screw(
    screw: Screw, *, shape: tuple[int, int], spacing_mm: float
) -> tuple[tuple[slice, slice], NDArray[np.float32], NDArray[np.bool_]] | None:
    """Projected metal thickness (mm) and mask of a screw, on the crop of the image it covers.

    Returns ``(crop, thickness, mask)`` with ``thickness`` and ``mask`` shaped like
    ``image[crop]``, or ``None`` when the screw lies entirely outside the image.
    """
    u_prof, r_outer, r_chan = screw_profile(screw)
    c, s = float(np.cos(screw.angle)), float(np.sin(screw.angle))
    tx, ty = screw.tip(spacing_mm)
    r_max = float(r_outer.max())
    pad = r_max / spacing_mm + 2
    h, w = shape
    x0 = max(int(np.floor(min(screw.x, tx) - pad)), 0)
    x1 = min(int(np.ceil(max(screw.x, tx) + pad)), w)
    y0 = max(int(np.floor(min(screw.y, ty) - pad)), 0)
    y1 = min(int(np.ceil(max(screw.y, ty) + pad)), h)
    if x1 <= x0 or y1 <= y0:
        return None
    k = _SUPERSAMPLE
    xs = x0 + (np.arange((x1 - x0) * k) + 0.5) / k - screw.x
    ys = y0 + (np.arange((y1 - y0) * k) + 0.5) / k - screw.y
    gx, gy = np.meshgrid(xs * spacing_mm, ys * spacing_mm)
    u = gx * c + gy * s
    v = -gx * s + gy * c
    gain = 1.0
    if screw.elevation != 0.0:
        ce = float(np.cos(screw.elevation))
        if abs(screw.elevation) >= _STEEP:
            return _render_tilted(screw, u, v, u_prof, r_outer, r_chan, (x0, y0, x1, y1))
        # Slightly tilted: stretch the axis back to its true length, lengthen the path.
        u = u / ce
        gain = 1.0 / ce
    inside = (u >= 0) & (u <= screw.length_mm)
    idx = np.clip(np.rint(u / _DU_MM).astype(np.int64), 0, len(u_prof) - 1)
    half = screw.size.outer / 2
    ph = np.rint((np.clip(v / half, -1.0, 1.0) + 1.0) / 2.0 * (r_outer.shape[0] - 1))
    r = r_outer[ph.astype(np.int64), idx]
    rc = r_chan[idx]
    v2 = v * v
    t = 2.0 * np.sqrt(np.clip(r * r - v2, 0.0, None)) - 2.0 * np.sqrt(
        np.clip(rc * rc - v2, 0, None)
    )
    t = np.where(inside, t, 0.0)
    if gain != 1.0:
        t = t * gain
    hh, ww = y1 - y0, x1 - x0
    thick = t.reshape(hh, k, ww, k).mean(axis=(1, 3)).astype(np.float32)
    cover = (t > 0).reshape(hh, k, ww, k).mean(axis=(1, 3))
    mask = cover >= 0.5
    if not mask.any():
        return None
    return (slice(y0, y1), slice(x0, x1)), thick, mask


def _render_tilted(
    screw: Screw,
    u: NDArray[np.float64],
    v: NDArray[np.float64],
    u_prof: NDArray[np.float64],
    r_outer: NDArray[np.float64],
    r_chan: NDArray[np.float64],
    box: tuple[int, int, int, int],
) -> tuple[tuple[slice, slice], NDArray[np.float32], NDArray[np.bool_]] | None:
    """Projection of a steeply tilted screw, by integrating along each ray.

    A ray at image position (``u`` along the projected axis, ``v`` across) meets the cross-section
    at axial position ``a`` at in-disc offset ``w = (a cos e - u) / sin e``; it is in metal where
    ``v^2 + w^2`` lies between the channel and outer radius there, and ``dz = da / sin e``.
    Heads show as ellipses, threads blur, and the path through the metal grows as 1 / cos e.
    """
    e = abs(float(screw.elevation))
    ce, se = float(np.cos(e)), float(np.sin(e))
    r_max = float(r_outer.max())
    span = 2.0 * r_max * se / ce  # axial range one ray can cross
    n = int(np.clip(np.ceil(span / 0.15), 16, 48))
    offs = ((np.arange(n) / (n - 1) - 0.5) * span).astype(np.float32)
    da = span / (n - 1)
    # Threads blur at this tilt: one ray per pixel (the mean of its supersamples) suffices.
    k = _SUPERSAMPLE
    x0, y0, x1, y1 = box
    hh, ww = y1 - y0, x1 - x0
    uu = u.reshape(hh, k, ww, k).mean(axis=(1, 3)).astype(np.float32)
    vv = v.reshape(hh, k, ww, k).mean(axis=(1, 3)).astype(np.float32)
    cand = (np.abs(vv) <= r_max) & (uu >= -r_max) & (uu <= screw.length_mm * ce + r_max)
    uc, vc = uu[cand], vv[cand]
    half = screw.size.outer / 2
    ph = np.rint((np.clip(vc / half, -1.0, 1.0) + 1.0) / 2.0 * (r_outer.shape[0] - 1))
    a = uc[:, None] / np.float32(ce) + offs[None, :]
    w = (a * np.float32(ce) - uc[:, None]) / np.float32(se)
    idx = np.clip(np.rint(a / _DU_MM).astype(np.int64), 0, len(u_prof) - 1)
    q = vc[:, None] ** 2 + w * w
    flat = r_outer.astype(np.float32).ravel()
    r = flat[ph.astype(np.int64)[:, None] * r_outer.shape[1] + idx]
    rc = r_chan.astype(np.float32)[idx]
    hit = (q <= r * r) & (q > rc * rc) & (a >= 0) & (a <= screw.length_mm)
    thick = np.zeros(uu.shape, dtype=np.float32)
    thick[cand] = hit.sum(axis=1).astype(np.float32) * np.float32(da / se)
    mask = thick > 0
    if not mask.any():
        return None
    return (slice(y0, y1), slice(x0, x1)), thick, mask
