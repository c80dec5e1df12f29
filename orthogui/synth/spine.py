"""Lateral thoracolumbar spine scene (T11–L4) with vertebral compression fractures and pedicle screws.

Each vertebra is drawn in its own frame (``u`` anterior, ``v`` caudal, mm) on a crop around it;
a compression fracture lowers the upper endplate anteriorly (a wedge).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from orthogui.core.categories import VERTEBRA_LEVELS
from orthogui.synth.phantom import FloatMap, Instance, Scene, chord, smooth_noise
from orthogui.synth.screws import SCREW_TYPES, random_screw

FIELD_OF_VIEW_MM = (240.0, 290.0)

# Typical half-height, half-depth (AP) and width of the bodies, in mm, per level.
_BODY_SIZE: dict[str, tuple[float, float, float]] = {
    "T11": (11.5, 14.5, 36.0),
    "T12": (12.0, 15.0, 38.0),
    "L1": (12.5, 16.0, 42.0),
    "L2": (13.0, 16.5, 45.0),
    "L3": (13.5, 17.0, 48.0),
    "L4": (13.5, 17.5, 50.0),
}


@dataclass(frozen=True)
class Vertebra:
    """One vertebra: level, centre (px), tilt, size (mm) and anterior height loss (fraction)."""

    level: str
    cx: float
    cy: float
    tilt: float
    half_height: float
    half_depth: float
    width: float
    wedge: float  # 0 = intact; 0.2-0.5 = compression fracture


def _local(
    shape: tuple[int, int], v: Vertebra, *, spacing: float, facing: float, reach_mm: float
) -> tuple[tuple[slice, slice], FloatMap, FloatMap]:
    h, w = shape
    r = reach_mm / spacing
    x0, x1 = max(int(v.cx - r), 0), min(int(v.cx + r) + 1, w)
    y0, y1 = max(int(v.cy - r), 0), min(int(v.cy + r) + 1, h)
    xs = (np.arange(x0, x1, dtype=np.float32) + 0.5 - v.cx) * spacing
    ys = (np.arange(y0, y1, dtype=np.float32) + 0.5 - v.cy) * spacing
    c, s = np.float32(np.cos(v.tilt)), np.float32(np.sin(v.tilt))
    u = facing * (xs[None, :] * c + ys[:, None] * s)
    vv = -xs[None, :] * s + ys[:, None] * c
    return (slice(y0, y1), slice(x0, x1)), u.astype(np.float32), vv.astype(np.float32)


def _blob(
    u: FloatMap, v: FloatMap, *, cu: float, cv: float, ru: float, rv: float, depth: float
) -> FloatMap:
    """Chord through an ellipsoid of semi-axes (ru, rv, depth / 2)."""
    rho = ((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2
    return np.asarray(depth * np.sqrt(np.clip(1.0 - rho, 0.0, None)), dtype=np.float32)


def _draw_vertebra(
    scene: Scene, v: Vertebra, *, facing: float, density: float, rng: np.random.Generator
) -> NDArray[np.bool_]:
    """Add one vertebra; returns the full-image mask of its body."""
    crop, u, vv = _local(
        scene.shape, v, spacing=scene.spacing_mm, facing=facing, reach_mm=3.2 * v.half_depth
    )
    a, b, wd = v.half_depth, v.half_height, v.width
    shell, plate = 1.2, 1.4
    # Endplates are slightly concave; the anterior wall has a waist.
    rad = np.clip(1.0 - (u / a) ** 2, 0.0, None)
    b_loc = b * (1.0 - 0.05 * rad)
    top = -b_loc + 2 * b * v.wedge * np.clip((u + a) / (2 * a), 0.0, 1.0) ** 1.3
    bottom = b_loc
    a_loc = a * (1.0 - 0.04 * np.clip(1.0 - (vv / b) ** 2, 0.0, None))
    body = (vv > top) & (vv < bottom) & (np.abs(u) < a_loc)
    outer = np.where(body, chord(u, a_loc) * wd / (2 * a), 0.0)
    inner_ok = (vv > top + plate) & (vv < bottom - plate) & (np.abs(u) < a_loc - shell)
    inner = np.where(inner_ok, chord(u, a_loc - shell) * (wd - 2 * shell) / (2 * a), 0.0)
    tex = smooth_noise(rng, u.shape, scale_px=0.8 / scene.spacing_mm, aspect=0.5)
    canc = inner * density * (1.0 + 0.25 * tex)
    if v.wedge > 0:
        # Impacted trabeculae under the collapsed endplate: a sclerotic band.
        canc *= 1.0 + 0.5 * ((vv > top) & (vv < top + 5.0))
    cort = outer - inner
    # Posterior elements: pedicles, lamina / facets and the spinous process.
    post = _blob(u, vv, cu=-a - 6, cv=-0.3 * b, ru=11, rv=0.45 * b, depth=12)
    post += _blob(u, vv, cu=-a - 20, cv=0.1 * b, ru=9, rv=1.3 * b, depth=14)
    post += _blob(u, vv, cu=-a - 36, cv=0.45 * b, ru=16, rv=0.5 * b, depth=8)
    scene.thickness["cortical"][crop] += cort * (0.6 + 0.4 * density) + 0.2 * post
    scene.thickness["cancellous"][crop] += canc + 0.5 * density * post * (1.0 + 0.25 * tex)
    full = np.zeros(scene.shape, dtype=bool)
    full[crop] = body
    return full


def _draw_trunk(scene: Scene, column_x: float, *, facing: float, rng: np.random.Generator) -> None:
    h, w = scene.shape
    sp = scene.spacing_mm
    x = (np.arange(w, dtype=np.float32) + 0.5 - column_x) * sp * facing
    y = (np.arange(h, dtype=np.float32) + 0.5) * sp
    # Trunk cross-section: the back's skin ~70 mm behind the bodies, the belly beyond the field.
    ap = x[None, :] - 45.0 + 0.0 * y[:, None]
    trunk = chord(ap / 1.6, 78.0) * 1.0
    wob = smooth_noise(rng, scene.shape, scale_px=25.0 / sp)
    soft = trunk * (1.0 + 0.03 * wob)
    # Lung bases above a domed diaphragm, behind the heart and liver shadow.
    dome = float(rng.uniform(0.1, 0.3)) * h * sp + 0.002 * (ap * 1.0) ** 2
    lung = np.clip((dome - y[:, None]) / 15.0, 0.0, 1.0) * np.clip((ap + 60) / 20, 0, 1)
    soft -= 45.0 * lung
    # Bowel gas: soft-edged pockets in front of the spine.
    for _ in range(int(rng.integers(3, 9))):
        gx = float(rng.uniform(25, 120))
        gy = float(rng.uniform(0.35, 1.0)) * h * sp
        r = float(rng.uniform(6, 20))
        soft -= _blob(
            ap,
            (y[:, None] + 0.0 * ap).astype(np.float32),
            cu=gx,
            cv=gy,
            ru=r,
            rv=0.7 * r,
            depth=1.6 * r,
        )
    scene.thickness["soft_tissue"] += np.clip(soft, 0.0, None).astype(np.float32)
    # Lower ribs crossing the upper field.
    for _ in range(int(rng.integers(1, 4))):
        cy = float(rng.uniform(0.05, 0.3)) * h * sp
        rr = float(rng.uniform(150, 250))
        dist = np.hypot(ap + 20, y[:, None] - cy - rr) - rr
        rib = chord(dist, 4.5) * (ap > -60) * (ap < 110)
        scene.thickness["cortical"] += (0.5 * rib).astype(np.float32)


def generate_spine(
    rng: np.random.Generator, *, size: int, screw_types: list[str], fracture_level: str | None
) -> Scene:
    """A lateral T11–L4 radiograph; ``fracture_level`` (e.g. "L1") gets a compression fracture.

    ``screw_types`` are placed as pedicle screws where the type fits (headed, non-locking).
    """
    if fracture_level is not None and fracture_level not in _BODY_SIZE:
        raise ValueError(f"unknown vertebra level {fracture_level!r}; known: {VERTEBRA_LEVELS}")
    spacing = round(float(rng.uniform(*FIELD_OF_VIEW_MM)) / size, 4)
    scene = Scene.empty(
        (size, size), spacing_mm=spacing, view="lateral", side=str(rng.choice(["L", "R"]))
    )
    facing = float(rng.choice([-1.0, 1.0]))  # anterior to the right (+1) or left (-1)
    scale = float(rng.uniform(0.9, 1.1))
    column_x = size / 2 + facing * float(rng.uniform(-0.05, 0.12)) * size
    _draw_trunk(scene, column_x, facing=facing, rng=rng)
    lordosis = float(rng.uniform(0.0008, 0.0022))
    disc = float(rng.uniform(6.0, 9.0)) * scale
    total = sum(2 * _BODY_SIZE[lv][0] * scale + disc for lv in VERTEBRA_LEVELS)
    y_mm = (size * spacing - total) / 2 + float(rng.uniform(-15, 15))
    vertebrae: list[Vertebra] = []
    for lv in VERTEBRA_LEVELS:
        hb, hd, wd = (x * scale for x in _BODY_SIZE[lv])
        y_mm += hb
        rel = y_mm - size * spacing * 0.55
        cx = column_x + facing * (-lordosis * rel * rel) / spacing * 0.9
        tilt = facing * np.arctan(2 * lordosis * rel) * 0.9
        wedge = float(rng.uniform(0.2, 0.45)) if lv == fracture_level else 0.0
        vertebrae.append(Vertebra(lv, cx, y_mm / spacing, float(tilt), hb, hd, wd, wedge))
        y_mm += hb + disc
    density = float(rng.uniform(0.45, 0.8))  # osteoporotic to normal trabecular bone
    for vert in vertebrae:
        body = _draw_vertebra(scene, vert, facing=facing, density=density, rng=rng)
        if vert.wedge > 0 and body.sum() > 30:
            attrs = {"vertebra_level": vert.level, "view": "lateral", "height_loss": vert.wedge}
            scene.instances.append(Instance("vertebral_compression_fracture", body, attrs))
    _place_pedicle_screws(scene, vertebrae, screw_types, facing=facing, rng=rng)
    return scene


def _place_pedicle_screws(
    scene: Scene,
    vertebrae: list[Vertebra],
    screw_types: list[str],
    *,
    facing: float,
    rng: np.random.Generator,
) -> None:
    usable = [t for t in screw_types if SCREW_TYPES[t].head == "round"]
    if not usable:
        return
    start = int(rng.integers(0, len(vertebrae) - (len(usable) + 1) // 2 + 1))
    sp = scene.spacing_mm
    for i, t in enumerate(usable):
        vert = vertebrae[min(start + i // 2, len(vertebrae) - 1)]
        # Entry behind the pedicle, aimed at the anterior third of the body, slightly converging.
        c, s = np.cos(vert.tilt), np.sin(vert.tilt)
        eu, ev = -vert.half_depth - 24.0, -0.3 * vert.half_height + (i % 2) * 2.5
        ex = vert.cx + (facing * eu * c - ev * s) / sp
        ey = vert.cy + (facing * eu * s + ev * c) / sp
        aim = vert.tilt + (0.0 if facing > 0 else np.pi) + float(rng.uniform(-0.12, 0.12))
        length = float(np.clip(vert.half_depth * 2 + 18 + rng.uniform(-4, 4), 35, 60))
        scene.add_screw(random_screw(rng, t, x=ex, y=ey, angle=float(aim), length_mm=length))
