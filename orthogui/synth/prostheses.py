"""Joint replacements: hip (stem, ball, cup), knee (femoral and tibial components), shoulder.

Dense smooth metal built from a few solids projected analytically in the bone's frame: a
tapered stem of elliptical section, spheres, hemispherical shells with an opening axis tilted
out of the image plane (so the rim shows as an ellipse), and slabs.
"""

from __future__ import annotations

import numpy as np

from orthogui.synth.implant_draw import Patch, Pieces, site_patch, site_points, tube
from orthogui.synth.phantom import FloatMap, Scene, chord
from orthogui.synth.sites import BoneSite

KIND = "joint_replacement"


def _border_mm(site: BoneSite, shape: tuple[int, int], s: float) -> float:
    """Distance (mm) from the axis point at ``s`` to the nearest image border."""
    x, y = site.to_image(s, 0.0)
    h, w = shape
    return min(x, y, w - x, h - y) * site.spacing_mm


def articular_end(site: BoneSite, shape: tuple[int, int]) -> str | None:
    """The end of the shaft that carries a joint in view: ``joint_ends``, else the end of a
    humerus or femur that stops inside the image (the other one runs off the film)."""
    if site.joint_ends:
        return site.joint_ends[0]
    lo, hi = (_border_mm(site, shape, s) for s in site.s_range)
    if max(lo, hi) < 15.0:
        return None
    return "high" if hi > lo else "low"


def _end(scene: Scene, rng: np.random.Generator, site: BoneSite) -> tuple[float, int]:
    """``s`` of the articular end and the direction (+1 / -1) pointing out of the shaft there."""
    ends = list(site.joint_ends) or [articular_end(site, scene.shape) or "high"]
    end = str(rng.choice(ends))
    return (site.s_range[1], 1) if end == "high" else (site.s_range[0], -1)


def _medial(scene: Scene, site: BoneSite, rng: np.random.Generator) -> float:
    """Side (sign of ``d``) facing the image centre: where the joint's other half usually is."""
    h, w = scene.shape
    c, k = float(np.cos(site.angle)), float(np.sin(site.angle))
    dx, dy = w / 2 - site.origin[0], h / 2 - site.origin[1]
    d = -dx * k + dy * c
    if abs(d) * site.spacing_mm < 5.0:
        return float(rng.choice([-1.0, 1.0]))
    return float(np.sign(d))


def _stem(
    p: Patch,
    *,
    s_top: float,
    sgn: int,
    length: float,
    r_tip: float,
    r_top: float,
    depth: float,
    medial: float,
) -> FloatMap:
    """Tapered stem of elliptical section, flaring towards the medial side near its top."""
    x = sgn * (p.s - (s_top - sgn * length))  # 0 at the tip, ``length`` at the top
    f = np.clip(x / length, 0.0, 1.0) ** 1.6
    a = r_tip + (r_top - r_tip) * f
    dc = medial * (a - r_tip) * 0.7
    tip = np.sqrt(np.clip(x / (1.5 * r_tip), 0.0, 1.0))
    u = np.clip((p.d - dc) / a, -1.0, 1.0)
    inside = (x >= 0) & (x <= length)
    path = 2.0 * depth * (0.6 + 0.4 * f) * np.sqrt(1.0 - u * u) * tip
    return np.where(inside, path, 0.0).astype(np.float32)


def _shell(
    p: Patch,
    centre: tuple[float, float],
    *,
    r_in: float,
    r_out: float,
    axis: tuple[float, float],
    tilt: float,
) -> FloatMap:
    """Hemispherical shell; ``axis`` (s, d unit) points out of its opening, tilted by ``tilt``.

    The dome is the half with ``(q, z) . opening <= 0``; along each ray it is two intervals of
    ``z``, clipped at the plane of the rim.
    """
    ps, pd = p.s - centre[0], p.d - centre[1]
    rho2 = ps * ps + pd * pd
    zo = np.sqrt(np.clip(r_out * r_out - rho2, 0.0, None))
    zi = np.sqrt(np.clip(r_in * r_in - rho2, 0.0, None))
    q = (ps * axis[0] + pd * axis[1]) * float(np.cos(tilt))
    st = max(float(np.sin(tilt)), 1e-3)
    zc = -q / st
    upper = np.clip(np.minimum(zo, zc) - zi, 0.0, None)
    lower = np.clip(np.minimum(-zi, zc) + zo, 0.0, None)
    return np.asarray(np.where(zo > 0, upper + lower, 0.0), dtype=np.float32)


def _ball(p: Patch, centre: tuple[float, float], radius: float) -> FloatMap:
    return chord(np.hypot(p.s - centre[0], p.d - centre[1]), radius)


# Where the joint lies beyond the end of the tubular shaft (``s_range``), in mm for a bone of
# the typical radius (scaled with the site's radius): distance along the axis and, for the
# ball-and-socket joints, medial offset of the head centre. ``BoneSite`` does not carry it.
_REACH_MM: dict[str, tuple[float, float, float]] = {
    "hip": (85.0, 48.0, 14.0),  # (along, medial, typical shaft radius)
    "shoulder": (70.0, 12.0, 11.5),
    "knee_femur": (85.0, 0.0, 13.0),
    "knee_tibia": (58.0, 0.0, 11.0),
}


def _reach(rng: np.random.Generator, site: BoneSite, joint: str) -> tuple[float, float]:
    along, medial, r_typ = _REACH_MM[joint]
    f = site.radius_mm / r_typ * float(rng.uniform(0.93, 1.05))
    return along * f, medial * f


def _hip_or_shoulder(
    scene: Scene, rng: np.random.Generator, site: BoneSite, *, shoulder: bool
) -> bool:
    s_end, sgn = _end(scene, rng, site)
    m = _medial(scene, site, rng)
    canal = site.canal_radius_mm
    along, medial = _reach(rng, site, "shoulder" if shoulder else "hip")
    if shoulder:
        length, r_top = float(rng.uniform(80.0, 130.0)), float(rng.uniform(6.0, 8.0))
        r_head = float(rng.uniform(19.0, 25.0))
    else:
        length, r_top = float(rng.uniform(110.0, 160.0)), float(rng.uniform(8.0, 11.0))
        r_head = float(rng.choice([11.0, 14.0, 16.0, 18.0]))
    r_tip = min(float(rng.uniform(3.5, 5.0)), 0.9 * canal)
    neck_angle = float(rng.uniform(0.7, 0.9))  # from the shaft's outward axis
    ns, nd = sgn * float(np.cos(neck_angle)), m * float(np.sin(neck_angle))
    centre = (s_end + sgn * along, m * medial)
    if shoulder:
        neck_len = 0.35 * r_head
    else:
        neck_len = max((medial - 0.5 * r_top) / float(np.sin(neck_angle)), 15.0)
    base = (centre[0] - ns * neck_len, centre[1] - nd * neck_len)
    s_top = base[0] + sgn * 8.0
    reach = r_head + (12.0 if not shoulder else 2.0)
    corners = [
        (s_top - sgn * length, -r_top - 2),
        (s_top, r_top + 2),
        (centre[0] - reach, centre[1] - reach),
        (centre[0] + reach, centre[1] + reach),
    ]
    p = site_patch(scene, site, corners, pad_mm=1.0, k=2)
    if p is None:
        return False
    depth = float(rng.uniform(5.0, 7.0))
    metal = _stem(
        p, s_top=s_top, sgn=sgn, length=length, r_tip=r_tip, r_top=r_top, depth=depth, medial=m
    )
    tilt = float(rng.uniform(0.2, 0.45))
    if shoulder:
        # Hemispherical head on the cut surface, its flat face towards the stem.
        shell = _shell(p, base, r_in=0.0, r_out=r_head, axis=(-ns, -nd), tilt=np.pi / 2 - tilt)
        metal = np.maximum(metal, 0.8 * shell)
    else:
        neck = tube(
            scene, site_points(site, np.array([base, centre])), float(rng.uniform(5.0, 6.5))
        )
        ball = _ball(p, centre, r_head)
        metal = np.maximum(metal, ball)
        r_in = r_head + float(rng.uniform(3.0, 7.0))
        r_out = r_in + float(rng.uniform(2.5, 4.0))
        a = np.arctan2(-nd, -ns) + float(rng.uniform(-0.25, 0.25))
        off = float(rng.uniform(0.0, 0.25)) * (r_in - r_head)
        cup_c = (centre[0] + ns * off, centre[1] + nd * off)
        cup = _shell(
            p, cup_c, r_in=r_in, r_out=r_out, axis=(float(np.cos(a)), float(np.sin(a))), tilt=tilt
        )
        metal = metal + cup
        parts = Pieces()
        parts.add(neck)
        parts.add((p.crop, p.reduce(metal)))
        return parts.flush(scene, KIND)
    return scene.add_hardware(KIND, p.crop, p.reduce(metal))


def _knee_femoral(scene: Scene, rng: np.random.Generator, site: BoneSite) -> bool:
    s_end, sgn = _end(scene, rng, site)
    r = site.radius_mm
    s_j = s_end + sgn * _reach(rng, site, "knee_femur")[0]
    height = float(rng.uniform(30.0, 45.0))
    if scene.view == "lateral":
        ant = float(rng.choice([-1.0, 1.0]))
        rc = float(rng.uniform(0.9, 1.2)) * r
        flange = float(rng.uniform(1.0, 1.3)) * r
        th = np.linspace(0.0, np.pi * 1.1, 24)
        arc_c = (s_j - sgn * rc, ant * (flange - rc))
        arc = [
            (arc_c[0] + sgn * rc * float(np.sin(t)), arc_c[1] + ant * rc * float(np.cos(t)))
            for t in th
        ]
        top = (s_j - sgn * height, ant * flange)
        back = (arc[-1][0] - sgn * 0.5 * height, arc[-1][1] - ant * 2.0)
        pts = np.array([top, *arc, back])
        out = tube(scene, site_points(site, pts), float(rng.uniform(2.5, 3.5)), path_gain=5.0)
        return out is not None and scene.add_hardware(KIND, out[0], out[1])
    width = r * float(rng.uniform(5.2, 6.2))
    p = site_patch(
        scene, site, [(s_j - sgn * height, -width / 2), (s_j, width / 2)], pad_mm=1.0, k=2
    )
    if p is None:
        return False
    x = sgn * (p.s - s_j)  # <= 0 inside, 0 at the joint line
    a = width / 4 * float(rng.uniform(0.95, 1.05))
    dip = float(rng.uniform(6.0, 12.0))
    bottom = np.full(p.s.shape, -np.inf, dtype=np.float32)
    for dk in (-width / 4, width / 4):
        u = np.clip((p.d - dk) / a, -1.0, 1.0)
        cond = -dip * (1.0 - np.sqrt(1.0 - u * u)) - float(rng.uniform(0.0, 3.0))
        bottom = np.maximum(bottom, np.where(np.abs(p.d - dk) <= a, cond, -np.inf))
    notch = float(rng.uniform(0.12, 0.2)) * width
    bottom = np.where(np.abs(p.d) < notch / 2, np.minimum(bottom, -dip - 8.0), bottom)
    inside = (x >= -height) & (x <= bottom)
    runner = np.clip(1.0 - (bottom - x) / float(rng.uniform(5.0, 8.0)), 0.0, 1.0)
    base = float(rng.uniform(8.0, 14.0))
    ramp = np.clip((x + height) / 4.0, 0.0, 1.0)
    metal = np.where(inside, (base + 25.0 * np.sqrt(runner)) * ramp, 0.0)
    box = (np.abs(np.abs(p.d) - notch / 2) < 1.5) & (x > -height * 0.6) & inside
    metal = np.where(box, metal + 15.0, metal)
    return scene.add_hardware(KIND, p.crop, p.reduce(metal))


def _knee_tibial(scene: Scene, rng: np.random.Generator, site: BoneSite) -> bool:
    s_end, sgn = _end(scene, rng, site)
    r = site.radius_mm
    s_j = s_end + sgn * _reach(rng, site, "knee_tibia")[0]
    half = r * float(rng.uniform(2.5, 3.0)) * (0.75 if scene.view == "lateral" else 1.0)
    tray = float(rng.uniform(3.0, 5.0))
    keel = float(rng.uniform(30.0, 50.0))
    p = site_patch(scene, site, [(s_j - sgn * keel, -half), (s_j, half)], pad_mm=1.0, k=2)
    if p is None:
        return False
    x = sgn * (p.s - s_j)
    depth = 1.3 * half
    plate = np.where(
        (x <= 0) & (x >= -tray), depth * np.sqrt(np.clip(1 - (p.d / half) ** 2, 0, 1)), 0.0
    )
    rk = (min(8.0, 0.9 * site.canal_radius_mm + 3.0)) * np.clip(1.0 + x / keel * 0.4, 0.6, 1.0)
    stem = np.where(
        (x < 0) & (x >= -keel), chord(p.d, rk) * np.sqrt(np.clip((x + keel) / 6.0, 0, 1)), 0.0
    )
    return scene.add_hardware(KIND, p.crop, p.reduce(np.maximum(plate, stem)))


def build_joint_replacement(
    scene: Scene, rng: np.random.Generator, site: BoneSite, offered: list[str]
) -> list[str]:
    """The prosthesis that fits the site's bone and the scene's body part."""
    name = site.name.lower()
    part = scene.body_part
    if "humer" in name:
        _hip_or_shoulder(scene, rng, site, shoulder=True)
    elif "femur" in name and part not in ("knee",):
        _hip_or_shoulder(scene, rng, site, shoulder=False)
    elif "femur" in name:
        _knee_femoral(scene, rng, site)
    elif "tibia" in name:
        _knee_tibial(scene, rng, site)
    return offered


def joint_site_ok(site: BoneSite, scene: Scene) -> bool:
    """Whether ``build_joint_replacement`` has a prosthesis for this site."""
    name = site.name.lower()
    if not any(b in name for b in ("humer", "femur", "tibia")):
        return False
    if site.joint_ends:
        return True
    # Builders may leave the hip and shoulder ends unmarked: accept an end inside the image.
    proximal = scene.body_part in ("hip_femur", "shoulder", "")
    return proximal and articular_end(site, scene.shape) is not None
