"""Metal that looks a bit like screws but never is one: K-wires, cerclage, staples, ex-fix pins.

All of it goes into the scene as unlabelled hardware (``Scene.add_hardware``), drawn as round
rods along polylines in the bone's frame.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from orthogui.synth.implant_draw import Pieces, site_points
from orthogui.synth.phantom import Scene
from orthogui.synth.sites import BoneSite


def _polyline(site: BoneSite, pts: list[tuple[float, float]]) -> NDArray[np.float64]:
    return site_points(site, np.asarray(pts, dtype=np.float64))


def build_kirschner_wires(
    scene: Scene, rng: np.random.Generator, site: BoneSite, offered: list[str]
) -> list[str]:
    """One to three smooth pins (1.6-2.5 mm) across the bone, often out through the skin, bent."""
    r = site.radius_mm
    lo, hi = site.s_range
    n = int(rng.choice([1, 2, 2, 3]))
    base = site.fracture_s if site.fracture_s is not None else float(rng.uniform(lo, hi))
    crossed = rng.random() < 0.4
    theta0 = float(rng.uniform(0.35, 1.1)) * float(rng.choice([-1.0, 1.0]))
    for i in range(n):
        radius = float(rng.choice([0.8, 1.0, 1.1, 1.25])) * (0.8 if r < 5 else 1.0)
        theta = theta0 * (-1.0 if crossed and i % 2 else 1.0) + float(rng.uniform(-0.15, 0.15))
        s_c = base + float(rng.uniform(-0.8, 0.8)) * r
        ds, dd = float(np.sin(theta)), float(np.cos(theta))
        # Tip just past the far cortex; the other end out through the soft tissue.
        inside = 2.0 * r / max(abs(dd), 0.35) * float(rng.uniform(0.5, 0.65))
        outside = float(rng.uniform(15.0, 60.0))
        tip = (s_c + ds * inside, dd * inside)
        tail = (s_c - ds * outside, -dd * outside)
        pts = [tip, tail]
        if rng.random() < 0.5:
            # The cut end bent over (to stop migration): a short hook.
            turn = float(rng.choice([-1.0, 1.0])) * float(rng.uniform(1.2, 1.9))
            hook = float(rng.uniform(5.0, 15.0))
            a = np.arctan2(-dd, -ds) + turn
            pts.append((tail[0] + hook * float(np.cos(a)), tail[1] + hook * float(np.sin(a))))
        poly = _polyline(site, pts)
        # Trocar point: the first 2 mm taper.
        head = poly[0] + (poly[1] - poly[0]) * min(2.0 / max(inside + outside, 1.0), 0.5)
        poly = np.vstack([poly[:1], head[None, :], poly[1:]])
        radii = np.full(len(poly), radius)
        radii[0] = 0.2 * radius
        gain = 1.0 / float(np.cos(rng.uniform(0.0, 0.5)))
        wire = Pieces()
        wire.tube(scene, poly, radii, path_gain=gain)
        wire.flush(scene, "kirschner_wire")
    return offered


def build_cerclage(
    scene: Scene, rng: np.random.Generator, site: BoneSite, offered: list[str]
) -> list[str]:
    """One to three wire loops around the shaft, each with a twisted knot."""
    lo, hi = site.s_range
    n = int(rng.choice([1, 1, 2, 3]))
    base = site.fracture_s if site.fracture_s is not None else float(rng.uniform(lo, hi))
    gap = float(rng.uniform(10.0, 25.0))
    wire_r = float(rng.uniform(0.5, 1.0))
    for i in range(n):
        s_c = base + (i - (n - 1) / 2) * gap + float(rng.uniform(-3.0, 3.0))
        tilt = float(rng.uniform(0.05, 0.45)) * float(rng.choice([-1.0, 1.0]))
        rr = site.radius_mm + wire_r + float(rng.uniform(0.0, 0.6))
        th = np.linspace(0.0, 2 * np.pi, 73)
        ps = s_c + rr * np.sin(th) * np.sin(tilt)
        pd = rr * np.cos(th)
        z = rr * np.sin(th) * np.cos(tilt)
        sd = np.stack([ps, pd], axis=1)
        seg3 = np.diff(np.stack([ps, pd, z], axis=1), axis=0)
        inplane = np.hypot(seg3[:, 0], seg3[:, 1]) / (np.linalg.norm(seg3, axis=1) + 1e-9)
        gain = 1.0 / np.clip(inplane, 0.25, 1.0)
        loop = Pieces()
        loop.tube(scene, site_points(site, sd), wire_r, path_gain=gain)
        # Twisted knot: two strands wound round each other, sticking out of the loop.
        k_th = float(rng.uniform(0.0, 2 * np.pi))
        k0 = np.array([s_c + rr * np.sin(k_th) * np.sin(tilt), rr * np.cos(k_th)])
        out_dir = np.array([0.0, float(np.sign(np.cos(k_th)) or 1.0)])
        out_dir = out_dir + np.array([float(rng.uniform(-0.6, 0.6)), 0.0])
        out_dir /= np.linalg.norm(out_dir)
        side = np.array([-out_dir[1], out_dir[0]])
        k_len = float(rng.uniform(4.0, 10.0))
        u = np.linspace(0.0, k_len, 25)
        for phase in (0.0, np.pi):
            wig = wire_r * 1.1 * np.sin(2 * np.pi * u / float(rng.uniform(2.0, 3.0)) + phase)
            strand = k0[None, :] + u[:, None] * out_dir[None, :] + wig[:, None] * side[None, :]
            loop.tube(scene, site_points(site, strand), wire_r)
        loop.flush(scene, "cerclage_wire")
    return offered


def build_staples(
    scene: Scene, rng: np.random.Generator, site: BoneSite, offered: list[str]
) -> list[str]:
    """One or two U-shaped staples bridging the fracture, legs driven into the bone."""
    lo, hi = site.s_range
    r = site.radius_mm
    base = site.fracture_s if site.fracture_s is not None else float(rng.uniform(lo, hi))
    for _ in range(int(rng.choice([1, 1, 2]))):
        bridge = float(rng.uniform(8.0, 20.0)) * min(1.0, max(r / 8.0, 0.5))
        leg = min(float(rng.uniform(8.0, 16.0)), 1.8 * r)
        wr = float(rng.uniform(0.7, 1.2))
        side = float(rng.choice([-1.0, 1.0]))
        s_c = base + float(rng.uniform(-3.0, 3.0))
        skew = float(rng.uniform(-0.25, 0.25))
        top = side * (r + wr + float(rng.uniform(0.0, 1.5)))
        a = (s_c - bridge / 2, top)
        b = (s_c + bridge / 2, top + skew * bridge)
        inward = -side
        pts = [
            (a[0] + float(rng.uniform(-1, 1)), a[1] + inward * leg),
            a,
            b,
            (b[0] + float(rng.uniform(-1, 1)), b[1] + inward * leg),
        ]
        poly = _polyline(site, pts)
        radii = np.array([0.3 * wr, wr, wr, 0.3 * wr])
        staple = Pieces()
        staple.tube(scene, poly, radii, path_gain=float(rng.uniform(1.0, 1.4)))
        staple.flush(scene, "staple")
    return offered


def build_external_fixator(
    scene: Scene, rng: np.random.Generator, site: BoneSite, offered: list[str]
) -> list[str]:
    """Half-pins in two groups either side of the fracture, clamps and a bar outside the limb."""
    lo, hi = site.s_range
    r = site.radius_mm
    k = float(np.clip(r / 11.0, 0.4, 1.2))
    pin_r = float(rng.uniform(2.0, 3.0)) * k
    side = float(rng.choice([-1.0, 1.0]))
    bar_d = side * (r + float(rng.uniform(45.0, 90.0)))
    mid = site.fracture_s if site.fracture_s is not None else float(rng.uniform(lo, hi))
    span = float(rng.uniform(0.25, 0.45)) * (hi - lo)
    groups = [mid - span, mid + span]
    frame = Pieces()
    pin_s: list[float] = []
    for g in groups:
        n = int(rng.integers(2, 4))
        gap = float(rng.uniform(12.0, 25.0))
        pin_s += [g + (j - (n - 1) / 2) * gap for j in range(n)]
    for sp in pin_s:
        lean = float(rng.uniform(-0.12, 0.12))
        tip = (sp, -side * (r + float(rng.uniform(0.0, 3.0))))
        end = (sp + lean * abs(bar_d) * 1.3, bar_d * 1.3)
        thread_len = 2 * r + float(rng.uniform(3.0, 8.0))
        n = 28
        u = np.linspace(0.0, 1.0, n)
        full = float(np.hypot(end[0] - tip[0], end[1] - tip[1]))
        sd = np.stack([tip[0] + u * (end[0] - tip[0]), tip[1] + u * (end[1] - tip[1])], axis=1)
        radii = np.full(n, pin_r)
        threaded = u * full < thread_len
        radii[threaded] = pin_r * np.where(np.arange(n)[threaded] % 2 == 0, 1.0, 0.8)
        radii[0] = 0.4 * pin_r
        frame.tube(scene, site_points(site, sd), radii)
        # Pin-to-bar clamp: a dense block around the pin at the bar.
        c = np.array(
            [
                [sp + lean * abs(bar_d), bar_d - side * 10.0],
                [sp + lean * abs(bar_d), bar_d + side * 6.0],
            ]
        )
        frame.tube(scene, site_points(site, c), float(rng.uniform(6.0, 9.0)) * k)
    bar_r = float(rng.uniform(4.0, 6.0)) * k
    bar = np.array([[min(pin_s) - 40.0, bar_d], [max(pin_s) + 40.0, bar_d]])
    frame.tube(scene, site_points(site, bar), bar_r)
    frame.flush(scene, "external_fixator")
    return offered
