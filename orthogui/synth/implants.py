"""Fixation constructs that carry the labelled screws: intramedullary nail, plate, lag screws.

Each builder takes the screw types offered to it, places the ones it can use through its holes
(``Scene.add_screw``) and returns the rest; its own metal goes in as unlabelled hardware.
Geometry lives in the bone's frame (``s`` along, ``d`` across, ``z`` towards the source, mm).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from orthogui.synth.implant_draw import overlap, place_screw, site_patch
from orthogui.synth.phantom import Scene, chord
from orthogui.synth.screws import SCREW_TYPES, random_screw
from orthogui.synth.sites import BoneSite

# Screw types a plate hole or a nail hole takes (headed, fully or partly threaded).
PLATE_SCREWS = ("locking_screw", "cortical_screw", "cancellous_screw")
NAIL_SCREWS = ("cortical_screw", "locking_screw")


def _unit(v: tuple[float, float, float]) -> tuple[float, float, float]:
    n = float(np.sqrt(sum(c * c for c in v)))
    return (v[0] / n, v[1] / n, v[2] / n)


def _take(offered: list[str], allowed: tuple[str, ...], n: int) -> list[str]:
    """Remove and return up to ``n`` screws of the ``allowed`` types from ``offered``."""
    taken: list[str] = []
    for t in list(offered):
        if len(taken) >= n:
            break
        if t in allowed:
            offered.remove(t)
            taken.append(t)
    return taken


def _bone_exit(p0: tuple[float, float], u: tuple[float, float], radius: float) -> float | None:
    """Distance along unit ``u`` from ``p0`` (d, z) to the far side of a circle of ``radius``."""
    b = p0[0] * u[0] + p0[1] * u[1]
    c = p0[0] ** 2 + p0[1] ** 2 - radius * radius
    disc = b * b - c
    if disc <= 0:
        return None
    return -b + float(np.sqrt(disc))


def _entry_end(rng: np.random.Generator, site: BoneSite) -> int:
    """+1 when the implant enters at the high end of ``s_range``, -1 at the low end."""
    if site.joint_ends:
        end = str(rng.choice(list(site.joint_ends)))
        return 1 if end == "high" else -1
    return 1 if rng.random() < 0.5 else -1


def build_nail(
    scene: Scene, rng: np.random.Generator, site: BoneSite, offered: list[str]
) -> list[str]:
    """Cannulated nail in the canal with interlocking holes, screws through some of them."""
    lo, hi = site.s_range
    sgn = _entry_end(rng, site)
    near, far = (hi, lo) if sgn > 0 else (lo, hi)
    far_joint = ("low" if sgn > 0 else "high") in site.joint_ends
    s_entry = near + sgn * float(rng.uniform(-10.0, 40.0))
    s_tip = far + sgn * (
        float(rng.uniform(8.0, 30.0)) if far_joint else float(rng.uniform(-40, 60))
    )
    # The nail reaches well past the fracture.
    if site.fracture_s is not None and sgn * (site.fracture_s - s_tip) < 40.0:
        s_tip = site.fracture_s - sgn * 40.0
    canal = site.canal_radius_mm
    r_n = float(np.clip(canal * rng.uniform(0.75, 0.93), 1.0, 6.5))
    r_n = min(r_n, 0.95 * canal)
    r_in = r_n * float(rng.uniform(0.3, 0.55)) if r_n >= 3.5 else 0.0
    flare = float(rng.uniform(1.15, 1.4)) if r_n >= 4.0 and rng.random() < 0.6 else 1.0
    r_big = min(r_n * flare, 0.95 * canal)
    flare_len = float(rng.uniform(40.0, 70.0))
    patch = site_patch(scene, site, [(s_entry, -r_big), (s_tip, r_big)], pad_mm=1.0)
    if patch is None:
        return offered
    s, d = patch.s, patch.d
    from_tip = sgn * (s - s_tip)  # mm from the tip towards the entry
    to_entry = sgn * (s_entry - s)
    along = (from_tip >= 0) & (to_entry >= 0)
    # Proximal flare, bullet tip.
    grow = np.clip(1.0 - (to_entry - 10.0) / flare_len, 0.0, 1.0)
    radius = r_n + (r_big - r_n) * grow
    tip_x = np.clip(from_tip / (1.3 * r_n), 0.0, 1.0)
    radius = radius * np.sqrt(1.0 - (1.0 - tip_x) ** 2)
    inner = r_in * (radius / max(r_big, 1e-3))
    metal = np.where(along, chord(d, radius) - chord(d, inner), 0.0).astype(np.float32)

    # Interlocking holes: two near the tip, one or two near the entry.
    hole_r = min(0.55 * r_n, float(rng.uniform(2.3, 3.0)))
    dist = [float(rng.uniform(8.0, 16.0)), float(rng.uniform(25.0, 40.0))]
    hole_s = [s_tip + sgn * x for x in dist]
    prox = [float(rng.uniform(20.0, 35.0))]
    if rng.random() < 0.6:
        prox.append(prox[0] + float(rng.uniform(18.0, 30.0)))
    hole_s += [s_entry - sgn * x for x in prox]
    lateral = scene.view == "lateral"
    holes: list[tuple[float, tuple[float, float, float]]] = []
    for sh in hole_s:
        phi = float(rng.uniform(-0.2, 0.2)) + (
            float(rng.uniform(-0.5, 0.5)) if rng.random() < 0.25 else 0.0
        )
        elev = float(rng.uniform(1.15, 1.4)) if lateral else float(rng.uniform(-0.25, 0.25))
        axis = _unit((np.sin(phi) * np.cos(elev), np.cos(phi) * np.cos(elev), np.sin(elev)))
        holes.append((sh, axis))
        _drill(metal, s, d, s_h=sh, axis=axis, r_hole=hole_r, r_out=radius, r_in=inner)
    scene.add_hardware("intramedullary_nail", patch.crop, metal)

    order = rng.permutation(len(holes))
    n_fill = int(rng.integers(1, len(holes) + 1))
    used = _take(offered, NAIL_SCREWS, n_fill)
    side = float(rng.choice([-1.0, 1.0]))
    for t, i in zip(used, order):
        sh, axis = holes[int(i)]
        ax = (axis[0] * side, axis[1] * side, axis[2] * side)
        rho = float(np.hypot(ax[1], ax[2]))
        lam = site.radius_mm / rho + float(rng.uniform(1.0, 3.0))
        head = (sh - ax[0] * lam, -ax[1] * lam)
        length = 2 * site.radius_mm / rho + float(rng.uniform(2.0, 8.0))
        place_screw(scene, rng, site, t, head=head, direction=ax, length_mm=length)
    return offered


def _drill(
    metal: NDArray[np.float32],
    s: NDArray[np.float32],
    d: NDArray[np.float32],
    *,
    s_h: float,
    axis: tuple[float, float, float],
    r_hole: float,
    r_out: NDArray[np.floating],
    r_in: NDArray[np.floating],
) -> None:
    """Re-integrate the tube's path near a hole (cylinder through (s_h, 0, 0) along ``axis``)."""
    ca = float(np.sqrt(max(1.0 - axis[0] ** 2, 1e-3)))
    reach = (r_hole + 2.0 * float(np.max(r_out)) * abs(axis[0])) / ca + 0.5
    near = np.abs(s - s_h) < reach
    rows = np.flatnonzero(near.any(axis=1))
    cols = np.flatnonzero(near.any(axis=0))
    if rows.size == 0 or cols.size == 0:
        return
    sl = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    ss, dd = s[sl] - s_h, d[sl]
    ro = np.broadcast_to(np.asarray(r_out, dtype=np.float32), s.shape)[sl]
    ri = np.broadcast_to(np.asarray(r_in, dtype=np.float32), s.shape)[sl]
    keep = metal[sl] > 0
    zmax = float(np.max(ro))
    n = 16
    z = ((np.arange(n, dtype=np.float32) + 0.5) / n * 2.0 - 1.0) * zmax
    dz = 2.0 * zmax / n
    q = dd[..., None] ** 2 + z * z
    wall = (q <= (ro * ro)[..., None]) & (q >= (ri * ri)[..., None])
    proj = ss[..., None] * axis[0] + dd[..., None] * axis[1] + z * axis[2]
    r2 = ss[..., None] ** 2 + q - proj * proj
    path = (wall & (r2 > r_hole * r_hole)).sum(axis=-1).astype(np.float32) * dz
    full = (wall.sum(axis=-1).astype(np.float32) * dz) + 1e-6
    # Keep the analytic (smooth) path, scaled by the fraction the hole leaves.
    metal[sl] = np.where(keep, metal[sl] * (path / full), 0.0).astype(np.float32)


def build_plate(
    scene: Scene, rng: np.random.Generator, site: BoneSite, offered: list[str]
) -> list[str]:
    """Plate on the bone surface, face-on, oblique or edge-on, with screws through its holes."""
    lo, hi = site.s_range
    k = float(np.clip(site.radius_mm / 11.0, 0.3, 1.4))
    width = max(float(rng.uniform(10.0, 14.0)) * k, 4.5)
    thick = max(float(rng.uniform(3.0, 4.5)) * k, 1.0)
    hole_r = max(float(rng.uniform(2.2, 2.8)) * k, 0.8)
    pitch = max(width * float(rng.uniform(0.95, 1.25)), 2.7 * hole_r)
    n_holes = int(rng.integers(4, 13 if k > 0.6 else 8))
    length = n_holes * pitch
    if site.fracture_s is not None:
        s_mid = site.fracture_s + float(rng.uniform(-0.2, 0.2)) * length
    else:
        s_mid = float(rng.uniform(lo, hi))
    s_mid = (
        float(np.clip(s_mid, lo + 0.3 * length, hi - 0.3 * length))
        if hi - lo > 0.6 * length
        else (lo + hi) / 2
    )
    mode = rng.choice(["face_on", "oblique", "edge_on"], p=[0.45, 0.25, 0.30])
    roll_range = {"face_on": (0.05, 0.4), "oblique": (0.45, 1.0), "edge_on": (1.25, 1.5)}[str(mode)]
    rho = float(rng.uniform(*roll_range)) * float(rng.choice([-1.0, 1.0]))
    style = str(rng.choice(["round", "oval", "combi"]))
    ext = hole_r * float(rng.uniform(0.9, 1.6)) if style == "oval" else 0.0
    waist = float(rng.uniform(0.04, 0.12)) if rng.random() < 0.5 else 0.0
    hole_s = s_mid - length / 2 + pitch * (np.arange(n_holes) + 0.5)

    cr, sr = float(np.cos(rho)), float(np.sin(rho))
    r_mid = site.radius_mm + thick / 2
    d_c = r_mid * sr
    half_d = abs(width / 2 * cr) + abs(thick / 2 * sr) + 1.0
    patch = site_patch(
        scene,
        site,
        [(s_mid - length / 2, d_c - half_d), (s_mid + length / 2, d_c + half_d)],
        pad_mm=1.0,
        k=2,
    )
    if patch is None:
        return offered
    s, d = patch.s, patch.d
    along = s - s_mid
    # Outline: rounded ends, waisted between holes.
    end = np.abs(along) - (length / 2 - width / 2)
    hw = width / 2 * np.sqrt(np.clip(1.0 - (np.clip(end, 0.0, None) / (width / 2)) ** 2, 0.0, 1.0))
    idx = np.clip(np.rint((s - hole_s[0]) / pitch), 0, n_holes - 1).astype(np.int64)
    rel = s - hole_s[idx].astype(np.float32)
    hw = hw * (1.0 - waist * (0.5 - 0.5 * np.cos(2 * np.pi * rel / pitch)))
    hw = np.where(np.abs(along) <= length / 2, hw, 0.0)
    # Hole half-width across the plate at this ``s``.
    h = np.sqrt(np.clip(hole_r**2 - np.clip(np.abs(rel) - ext / 2, 0.0, None) ** 2, 0.0, None))
    if style == "combi":
        off = rel - 0.9 * hole_r * np.where(idx % 2 == 0, 1.0, -1.0)
        h = np.maximum(h, np.sqrt(np.clip((0.8 * hole_r) ** 2 - off * off, 0.0, None)))
    # Path through a tilted slab: the ray spans ``w0 +- a`` across the plate's width.
    w0 = (d - d_c) / max(cr, 0.05)
    a = max(thick / 2 * abs(sr) / max(cr, 0.05), 1e-3)
    scale = thick / max(cr, 0.05) / (2 * a)
    hh = np.minimum(h, hw)
    path = (overlap(w0, a, -hw, hw) - overlap(w0, a, -hh, hh)) * scale
    scene.add_hardware("plate", patch.crop, patch.reduce(path))

    # Screws: not in the holes over the fracture; both sides of it when possible.
    free = [i for i in range(n_holes)]
    if site.fracture_s is not None:
        free = [i for i in free if abs(hole_s[i] - site.fracture_s) > 0.6 * pitch]
    order = [free[int(i)] for i in rng.permutation(len(free))]
    used = _take(offered, PLATE_SCREWS, len(order))
    normal = (0.0, sr, cr)
    for t, i in zip(used, order):
        fixed = t == "locking_screw"
        alpha = float(rng.uniform(-0.05, 0.05)) if fixed else float(rng.uniform(-0.3, 0.3))
        beta = float(rng.uniform(-0.05, 0.05)) if fixed else float(rng.uniform(-0.2, 0.2))
        ang = rho + beta
        u3 = _unit((np.sin(alpha), -np.sin(ang) * np.cos(alpha), -np.cos(ang) * np.cos(alpha)))
        lift = 0.2 if fixed else float(rng.uniform(0.6, 1.4))
        top = site.radius_mm + thick + lift
        p0 = (top * normal[1], top * normal[2])
        n2 = float(np.hypot(u3[1], u3[2]))
        exit_ = _bone_exit(p0, (u3[1] / n2, u3[2] / n2), site.radius_mm)
        if exit_ is None:
            continue
        length_mm = exit_ / n2 + float(rng.uniform(1.0, 4.0))
        s_h = float(hole_s[i]) + (0.45 * ext * float(rng.choice([-1.0, 1.0])) if ext else 0.0)
        place_screw(scene, rng, site, t, head=(s_h, p0[0]), direction=u3, length_mm=length_mm)
    return offered


def build_lag_screws(
    scene: Scene, rng: np.random.Generator, site: BoneSite, offered: list[str]
) -> list[str]:
    """Every offered screw as a lag screw across the fracture, or into the metaphysis."""
    lo, hi = site.s_range
    r = site.radius_mm
    for t in offered:
        if site.fracture_s is not None and rng.random() < 0.75:
            s_c = site.fracture_s + float(rng.uniform(-0.5, 0.5)) * r
            # Between perpendicular to the shaft and perpendicular to the fracture line.
            theta = -float(site.fracture_tilt) * float(rng.uniform(0.3, 0.7))
        else:
            end = float(rng.choice([lo, hi]))
            s_c = end + (1 if end == lo else -1) * float(rng.uniform(0.3, 2.0)) * r
            theta = float(rng.uniform(-0.6, 0.6))
        theta += float(rng.uniform(-0.15, 0.15))
        elev = float(rng.uniform(-0.4, 0.4))
        sign = float(rng.choice([-1.0, 1.0]))
        ds, dd = float(np.sin(theta)), sign * float(np.cos(theta))
        span = 2 * r / max(abs(dd), 0.5)
        t_len = SCREW_TYPES[t].length_mm
        length = span * float(rng.uniform(0.8, 1.05)) / np.cos(elev)
        length = float(np.clip(length, max(0.5 * t_len[0], 10.0), t_len[1]))
        proj = length * float(np.cos(elev))
        head = (s_c - ds * proj / 2, -dd * proj / 2 + float(rng.uniform(-0.2, 0.2)) * r)
        direction = (ds * np.cos(elev), dd * np.cos(elev), float(np.sin(elev)))
        place_screw(scene, rng, site, t, head=head, direction=direction, length_mm=length)
    return []


def free_lag_screws(scene: Scene, rng: np.random.Generator, offered: list[str]) -> None:
    """Screws anywhere in the central area, for scenes without bone sites."""
    h, w = scene.shape
    for t in offered:
        x = float(rng.uniform(0.3, 0.7)) * w
        y = float(rng.uniform(0.3, 0.7)) * h
        angle = float(rng.uniform(-np.pi, np.pi))
        elev = float(rng.uniform(-0.4, 0.4))
        scene.add_screw(random_screw(rng, t, x=x, y=y, angle=angle, elevation=elev))
