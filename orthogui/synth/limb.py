"""Limb scene: long bone(s) with cortex and medullary canal, fractures, plate, plate and lag screws.

Everything is computed in the bone's frame (``s`` along the shaft, ``d`` across, in mm); a
fracture splits the bone into fragments, each drawn from its own rigidly moved frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from orthogui.synth.phantom import FloatMap, Instance, Scene, chord, frame_coords, smooth_noise
from orthogui.synth.screws import SCREW_TYPES, random_screw

FIELD_OF_VIEW_MM = (170.0, 210.0)


@dataclass(frozen=True)
class LongBone:
    """A tubular bone along ``s``: shaft radius, cortex, and a metaphyseal flare at one end."""

    radius: float
    cortex: float
    flare_at: float  # s of the metaphysis centre (mm)
    flare_gain: float  # extra radius at the metaphysis (mm)
    flare_len: float
    bow: float  # curvature: d offset = bow * s^2

    def outer(self, s: NDArray[np.float32]) -> NDArray[np.float32]:
        z = np.clip((s - self.flare_at) / self.flare_len, -40.0, 40.0)
        flare = self.flare_gain / (1.0 + np.exp(-z * 2.0 if self.flare_at > 0 else z * 2.0))
        return np.asarray(self.radius + flare, dtype=np.float32)

    def maps(
        self, s: NDArray[np.float32], d: NDArray[np.float32]
    ) -> tuple[FloatMap, FloatMap, NDArray[np.bool_]]:
        """Cortical and cancellous chords (mm) and the silhouette at frame coordinates."""
        dd = d - self.bow * s * s
        r_out = self.outer(s)
        meta = np.clip((r_out - self.radius) / max(self.flare_gain, 1e-3), 0.0, 1.0)
        cortex = self.cortex * (1.0 - 0.7 * meta)
        r_in = r_out - cortex
        outer = chord(dd, r_out)
        inner = chord(dd, r_in)
        # Medullary canal: fatty marrow in the shaft, trabecular bone in the metaphysis.
        canc = inner * (0.15 + 0.85 * meta)
        return (outer - inner).astype(np.float32), canc.astype(np.float32), outer > 0


@dataclass(frozen=True)
class Fracture:
    """A fracture plane through the bone and the rigid motion of the distal fragment."""

    s0: float
    tilt: float  # obliquity of the fracture line in the bone frame (radians)
    gap: float  # mm
    shift_d: float
    shift_s: float
    angulation: float  # radians
    butterfly: bool
    kind: str

    def normal(self) -> tuple[float, float]:
        return float(np.cos(self.tilt)), float(np.sin(self.tilt))


def _random_fracture(rng: np.random.Generator, *, s_range: tuple[float, float]) -> Fracture:
    kind = str(rng.choice(["hairline", "displaced", "displaced", "comminuted"]))
    s0 = float(rng.uniform(*s_range))
    tilt = float(rng.uniform(-0.7, 0.7))
    if kind == "hairline":
        return Fracture(s0, tilt, float(rng.uniform(0.25, 0.5)), 0.0, 0.0, 0.0, False, kind)
    return Fracture(
        s0,
        tilt,
        float(rng.uniform(0.6, 2.5)),
        float(rng.uniform(-6.0, 6.0)),
        float(rng.uniform(-3.0, 1.0)),
        float(rng.uniform(-0.15, 0.15)),
        kind == "comminuted",
        kind,
    )


def fragment_coords(
    s: FloatMap, d: FloatMap, f: Fracture
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Bone-frame coordinates of the distal fragment (inverse of its rigid motion)."""
    ca, sa = np.float32(np.cos(-f.angulation)), np.float32(np.sin(-f.angulation))
    ss = s - f.s0 - f.shift_s
    dd = d - f.shift_d
    return (ss * ca - dd * sa + f.s0).astype(np.float32), (ss * sa + dd * ca).astype(np.float32)


def fracture_side(
    s: NDArray[np.float32], d: NDArray[np.float32], f: Fracture
) -> NDArray[np.float32]:
    nx, ny = f.normal()
    return np.asarray((s - f.s0) * nx + d * ny, dtype=np.float32)


def _draw_bone(
    scene: Scene,
    bone: LongBone,
    s: FloatMap,
    d: FloatMap,
    fracture: Fracture | None,
    rng: np.random.Generator,
) -> NDArray[np.bool_]:
    """Add a (possibly fractured) bone to the scene; returns the fracture region mask."""
    # Trabecular pattern: fine, oriented along the shaft, two scales.
    fine = smooth_noise(rng, scene.shape, scale_px=0.7 / scene.spacing_mm, aspect=2.5)
    tex = 0.6 * fine + 0.4 * smooth_noise(rng, scene.shape, scale_px=2.5 / scene.spacing_mm)
    region = np.zeros(scene.shape, dtype=bool)
    if fracture is None:
        cort, canc, _ = bone.maps(s, d)
        scene.thickness["cortical"] += cort
        scene.thickness["cancellous"] += canc * (1.0 + 0.22 * tex)
        return region
    side_a = fracture_side(s, d, fracture)
    sb, db = fragment_coords(s, d, fracture)
    side_b = fracture_side(sb, db, fracture)
    half = fracture.gap / 2
    keep_a = side_a < -half
    keep_b = side_b > half
    wedge_a = np.zeros(scene.shape, dtype=bool)
    if fracture.butterfly:
        # A triangular fragment knocked out of fragment A's cortex on one side.
        depth = bone.radius * float(rng.uniform(0.8, 1.3))
        base = bone.radius * float(rng.uniform(1.2, 2.0))
        sign = float(rng.choice([-1.0, 1.0]))
        u = -side_a
        wedge_a = (u > half) & (u < base) & (sign * d > bone.radius - depth * (1 - u / base))
        keep_a &= ~wedge_a
        # The butterfly is drawn displaced outwards, separated by a fracture gap.
        sw, dw = s, d - sign * float(rng.uniform(1.5, 4.0))
        uw = -fracture_side(sw, dw, fracture)
        inner_w = (uw > half + 0.6) & (uw < base - 0.6)
        inner_w &= sign * dw > bone.radius - depth * (1 - uw / base) + 0.6
        cw, kw, _ = bone.maps(sw, dw)
        scene.thickness["cortical"] += np.where(inner_w, cw, 0.0).astype(np.float32)
        scene.thickness["cancellous"] += np.where(inner_w, kw, 0.0).astype(np.float32)
        region |= inner_w & (cw + kw > 0)
    ca, ka, sil_a = bone.maps(s, d)
    cb, kb, sil_b = bone.maps(sb, db)
    scene.thickness["cortical"] += np.where(keep_a, ca, 0.0) + np.where(keep_b, cb, 0.0)
    canc = np.where(keep_a, ka, 0.0) + np.where(keep_b, kb, 0.0)
    scene.thickness["cancellous"] += (canc * (1.0 + 0.22 * tex)).astype(np.float32)
    band = max(2.0, 4.0 * scene.spacing_mm)
    near = (np.abs(side_a) < half + band) & sil_a
    near |= (np.abs(side_b) < half + band) & sil_b
    region |= near
    if fracture.butterfly:
        region |= wedge_a & sil_a
    return region


def _draw_soft_tissue(
    scene: Scene, s: FloatMap, d: FloatMap, rng: np.random.Generator, *, radius: float
) -> None:
    wobble = smooth_noise(rng, scene.shape, scale_px=60.0 / scene.spacing_mm, aspect=3.0)
    taper = 1.0 + 0.12 * np.tanh(s / 80.0) * float(rng.choice([-1.0, 1.0]))
    r = radius * taper * (1.0 + 0.012 * wobble)
    offset = float(rng.uniform(-8.0, 8.0))
    limb = chord(d - offset, r)
    fat = smooth_noise(rng, scene.shape, scale_px=8.0 / scene.spacing_mm)
    scene.thickness["soft_tissue"] += limb * (1.0 + 0.01 * fat)


def _add_plate(
    scene: Scene,
    bone: LongBone,
    s: FloatMap,
    d: FloatMap,
    *,
    s_mid: float,
    n_holes: int,
    side: float,
    rng: np.random.Generator,
) -> tuple[list[tuple[float, float]], float]:
    """Edge-on plate along the bone surface; returns hole centres (s, bone radius) and thickness."""
    pitch = float(rng.uniform(12.0, 16.0))
    half_len = pitch * n_holes / 2
    thick = float(rng.uniform(3.5, 5.0))
    width = float(rng.uniform(11.0, 14.0))
    hole_r = float(rng.uniform(2.6, 3.2))
    dd = d - bone.bow * s * s
    r_out = bone.outer(s)
    inner_face = side * dd - r_out
    along = s - s_mid
    on_plate = (inner_face >= 0) & (inner_face <= thick) & (np.abs(along) <= half_len)
    # Tapered ends and rounded edges, as a contoured plate seen edge-on.
    end_taper = np.clip((half_len - np.abs(along)) / 6.0, 0.35, 1.0)
    edge = np.sqrt(np.clip(1.0 - ((inner_face - thick / 2) / (thick / 2 + 0.4)) ** 2, 0.0, 1.0))
    metal = width * end_taper * (0.6 + 0.4 * edge)
    holes: list[tuple[float, float]] = []
    for i in range(n_holes):
        sh = s_mid - half_len + pitch * (i + 0.5)
        holes.append((sh, float(bone.outer(np.array([sh], dtype=np.float32))[0])))
        metal = metal - chord(along - (sh - s_mid), hole_r * 1.25) * 0.8 * (inner_face >= 0)
    plate = np.where(on_plate, np.clip(metal, 0.5, None), 0.0).astype(np.float32)
    scene.thickness["metal"] += plate
    if scene.occluders is not None:
        scene.occluders |= plate > 0
    return holes, thick


def generate_limb(
    rng: np.random.Generator, *, size: int, screw_types: list[str], view: str | None = None
) -> Scene:
    """A long-bone radiograph with optional fracture, plate and screws of the given types.

    ``screw_types`` lists the screws to place (category names); ones that cannot be placed
    visibly are dropped.
    """
    spacing = round(float(rng.uniform(*FIELD_OF_VIEW_MM)) / size, 4)
    view = view or str(rng.choice(["ap", "lateral"]))
    scene = Scene.empty(
        (size, size), spacing_mm=spacing, view=view, side=str(rng.choice(["L", "R"]))
    )
    centre = (size / 2 + rng.uniform(-0.12, 0.12) * size, size / 2)
    axis = np.pi / 2 + float(rng.uniform(-0.25, 0.25))
    s, d = frame_coords(scene.shape, origin=centre, angle=axis, spacing_mm=spacing)
    half_fov = size * spacing / 2
    radius = float(rng.uniform(11.0, 16.0))
    bone = LongBone(
        radius=radius,
        cortex=radius * float(rng.uniform(0.22, 0.32)),
        flare_at=float(rng.choice([-1.0, 1.0])) * half_fov * float(rng.uniform(0.55, 0.8)),
        flare_gain=radius * float(rng.uniform(0.5, 1.0)),
        flare_len=float(rng.uniform(15.0, 25.0)),
        bow=float(rng.uniform(-4e-4, 4e-4)),
    )
    _draw_soft_tissue(scene, s, d, rng, radius=radius * float(rng.uniform(2.3, 3.2)))
    if rng.random() < 0.5:
        # Paired bone (fibula / ulna), thinner, beside the main one.
        off = float(rng.choice([-1.0, 1.0])) * radius * float(rng.uniform(1.7, 2.3))
        second = LongBone(radius * 0.45, radius * 0.45 * 0.35, bone.flare_at, 2.0, 20.0, 0.0)
        cort, canc, _ = second.maps(s, d - off)
        scene.thickness["cortical"] += cort
        scene.thickness["cancellous"] += canc
    shaft = (-half_fov * 0.45, half_fov * 0.45)
    fracture = _random_fracture(rng, s_range=shaft) if rng.random() < 0.65 else None
    region = _draw_bone(scene, bone, s, d, fracture, rng)
    if fracture is not None and region.sum() > 30:
        attrs = {"view": view, "kind": fracture.kind}
        scene.instances.append(Instance("fracture", region, attrs))
    _place_screws(scene, bone, s, d, screw_types, fracture, rng)
    return scene


def _place_screws(
    scene: Scene,
    bone: LongBone,
    s: FloatMap,
    d: FloatMap,
    screw_types: list[str],
    fracture: Fracture | None,
    rng: np.random.Generator,
) -> None:
    spacing = scene.spacing_mm
    plate_types = [t for t in screw_types if SCREW_TYPES[t].head != "none"]
    free_types = list(screw_types)
    use_plate = "locking_screw" in screw_types or (len(plate_types) >= 3 and rng.random() < 0.6)
    s_mid = fracture.s0 if fracture is not None else float(rng.uniform(-30, 30))
    frame = _Frame.from_maps(s, d, spacing)
    if use_plate:
        in_plate = [t for t in plate_types if t in ("locking_screw", "cortical_screw")]
        in_plate += [t for t in plate_types if t not in in_plate][: max(0, 4 - len(in_plate))]
        n_holes = max(len(in_plate) + int(rng.integers(1, 4)), int(rng.integers(5, 9)))
        side = float(rng.choice([-1.0, 1.0]))
        holes, plate_thick = _add_plate(
            scene, bone, s, d, s_mid=s_mid, n_holes=n_holes, side=side, rng=rng
        )
        order = rng.permutation(len(holes))
        for t, hole_i in zip(in_plate, order):
            free_types.remove(t)
            sh, r_out = holes[int(hole_i)]
            # Locking heads sit inside the plate hole; round heads rest on the plate.
            lift = 0.2 if t == "locking_screw" else 2.1
            head_d = side * (r_out + plate_thick + lift)
            tilt = float(rng.uniform(-0.25, 0.25)) if t != "locking_screw" else 0.0
            length = 2 * r_out + plate_thick + float(rng.uniform(-2.0, 6.0))
            x, y = frame.to_image(sh, head_d + bone.bow * sh * sh)
            angle = frame.direction(np.sin(tilt), -side * np.cos(tilt))
            scene.add_screw(random_screw(rng, t, x=x, y=y, angle=angle, length_mm=length))
    for t in free_types:
        # Lag screws cross the fracture roughly perpendicular to it, or fix the metaphysis.
        if fracture is not None and rng.random() < 0.7:
            s_c = fracture.s0 + float(rng.uniform(-6, 6))
            ang = fracture.tilt + float(rng.uniform(-0.3, 0.3))
        else:
            s_c = bone.flare_at * float(rng.uniform(0.55, 1.0)) + float(rng.uniform(-15, 15))
            ang = float(rng.uniform(-0.6, 0.6))
        r_out = float(bone.outer(np.array([s_c], dtype=np.float32))[0])
        sign = float(rng.choice([-1.0, 1.0]))
        ds, dd = float(np.sin(ang)), float(np.cos(ang)) * -sign
        length_span = 2 * r_out / max(abs(np.cos(ang)), 0.5)
        t_len = SCREW_TYPES[t].length_mm
        length = float(np.clip(length_span * rng.uniform(0.75, 1.05), t_len[0], t_len[1]))
        start_s = s_c - ds * length / 2
        start_d = -dd * length / 2 + bone.bow * s_c * s_c
        x, y = frame.to_image(start_s, start_d)
        angle = frame.direction(ds, dd)
        scene.add_screw(random_screw(rng, t, x=x, y=y, angle=angle, length_mm=length))


@dataclass(frozen=True)
class _Frame:
    """Maps bone-frame mm coordinates back to image pixels."""

    origin: tuple[float, float]
    ex: tuple[float, float]  # image-pixel step per mm of s
    ey: tuple[float, float]  # image-pixel step per mm of d

    @classmethod
    def from_maps(cls, s: FloatMap, d: FloatMap, spacing: float) -> _Frame:
        # s, d are affine in (x, y): solve from three pixel centres.
        a = np.array([[0.5, 0.5, 1.0], [1.5, 0.5, 1.0], [0.5, 1.5, 1.0]])
        sv = np.array([s[0, 0], s[0, 1], s[1, 0]], dtype=np.float64)
        dv = np.array([d[0, 0], d[0, 1], d[1, 0]], dtype=np.float64)
        cs = np.linalg.solve(a, sv)
        cd = np.linalg.solve(a, dv)
        m = np.array([[cs[0], cs[1]], [cd[0], cd[1]]])
        inv = np.linalg.inv(m)
        origin = inv @ -np.array([cs[2], cd[2]])
        return cls(
            (float(origin[0]), float(origin[1])),
            (float(inv[0, 0]), float(inv[1, 0])),
            (float(inv[0, 1]), float(inv[1, 1])),
        )

    def to_image(self, s: float, d: float) -> tuple[float, float]:
        return (
            self.origin[0] + s * self.ex[0] + d * self.ey[0],
            self.origin[1] + s * self.ex[1] + d * self.ey[1],
        )

    def direction(self, ds: float, dd: float) -> float:
        vx = ds * self.ex[0] + dd * self.ey[0]
        vy = ds * self.ex[1] + dd * self.ey[1]
        return float(np.arctan2(vy, vx))
