"""Bones of a body part: placement in the image, drawing (with a fracture), and their sites.

Layouts are written in a canonical anatomical frame (mm, ``x`` across, ``y`` distal); a
``Placement`` rotates, mirrors (left/right) and shifts that frame into the image. Each ``Bone``
has its own frame (``s`` along its axis) in which its primitives and its fracture are defined.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from orthogui.synth.limb import Fracture, fracture_side, fragment_coords
from orthogui.synth.phantom import FloatMap, Instance, Scene
from orthogui.synth.sites import BoneSite
from orthogui.synth.tissue import (
    Arc,
    Blob,
    Frame,
    Hole,
    Shape,
    Tube,
    Warp,
    evaluate_union,
    shape_size,
    shapes_box,
    sub_boxes,
    warp_fields,
)


@dataclass(frozen=True)
class Placement:
    """Canonical mm → image pixels: mirror ``x`` by ``mirror``, rotate by ``angle``, shift."""

    centre: tuple[float, float]
    angle: float
    mirror: float
    spacing_mm: float

    def point(self, x: float, y: float) -> tuple[float, float]:
        """Image pixel of the canonical point (``x``, ``y``)."""
        c, k = float(np.cos(self.angle)), float(np.sin(self.angle))
        mx = self.mirror * x
        return (
            self.centre[0] + (mx * c - y * k) / self.spacing_mm,
            self.centre[1] + (mx * k + y * c) / self.spacing_mm,
        )

    def frame(self, origin: tuple[float, float], angle: float) -> Frame:
        """The image frame of a canonical frame at ``origin`` with +s along ``angle``."""
        img_angle = float(np.arctan2(np.sin(angle), self.mirror * np.cos(angle))) + self.angle
        return Frame(self.point(*origin), img_angle, self.mirror, self.spacing_mm)


@dataclass(frozen=True)
class ShaftSpec:
    """The tubular part of a bone (``s0``..``s1`` along its axis) that implants can use."""

    s0: float
    s1: float
    radius: float
    cortex: float
    joints: tuple[str, ...] = ("low", "high")


@dataclass(frozen=True)
class Bone:
    """One bone: a union of primitives in its own frame, and its shaft if it has one."""

    name: str
    origin: tuple[float, float]
    angle: float
    shapes: tuple[Shape, ...]
    holes: tuple[Hole, ...] = ()
    shaft: ShaftSpec | None = None


def to_local(shape: Shape, origin: tuple[float, float], angle: float) -> Shape:
    """Express a shape given in canonical mm in the frame at ``origin`` with +s along ``angle``."""
    c, k = float(np.cos(angle)), float(np.sin(angle))

    def pt(p: tuple[float, float]) -> tuple[float, float]:
        x, y = p[0] - origin[0], p[1] - origin[1]
        return (x * c + y * k, -x * k + y * c)

    if isinstance(shape, Tube):
        return replace(shape, a=pt(shape.a), b=pt(shape.b))
    if isinstance(shape, Blob):
        return replace(shape, c=pt(shape.c), angle=shape.angle - angle)
    return replace(shape, c=pt(shape.c), a0=shape.a0 - angle, a1=shape.a1 - angle)


def hole_local(hole: Hole, origin: tuple[float, float], angle: float) -> Hole:
    """A hole given in canonical mm, in the frame at ``origin`` with +s along ``angle``."""
    c, k = float(np.cos(angle)), float(np.sin(angle))
    x, y = hole.c[0] - origin[0], hole.c[1] - origin[1]
    return replace(hole, c=(x * c + y * k, -x * k + y * c), angle=hole.angle - angle)


def long_bone(
    name: str,
    p0: tuple[float, float],
    p1: tuple[float, float],
    *,
    radius: float,
    cortex: float,
    flare: tuple[float, float] = (0.0, 0.0),
    flare_len: tuple[float, float] = (20.0, 20.0),
    cap: tuple[float, float] = (0.0, 0.0),
    depth: float = 1.0,
    extra: tuple[Shape, ...] = (),
    holes: tuple[Hole, ...] = (),
    joints: tuple[str, ...] = ("low", "high"),
    site: bool = True,
) -> Bone:
    """A tubular bone from ``p0`` to ``p1``; ``extra`` shapes and ``holes`` in canonical mm.

    ``flare``, ``flare_len`` and ``cap`` are per end (``p0``, ``p1``): metaphyseal widening and
    the length over which the rounded epiphysis closes.
    """
    length = float(np.hypot(p1[0] - p0[0], p1[1] - p0[1]))
    angle = float(np.arctan2(p1[1] - p0[1], p1[0] - p0[0]))
    tube = Tube(
        (0.0, 0.0),
        (length, 0.0),
        radius,
        cortex,
        flare[0],
        flare[1],
        flare_len[0],
        flare_len[1],
        cap[0],
        cap[1],
        depth,
    )
    s0 = flare_len[0] if flare[0] > 0 else cap[0]
    s1 = length - (flare_len[1] if flare[1] > 0 else cap[1])
    shaft = ShaftSpec(s0, s1, radius, cortex, joints) if site and s1 - s0 > 8 else None
    local = tuple(to_local(e, p0, angle) for e in extra)
    return Bone(
        name, p0, angle, (tube, *local), tuple(hole_local(h, p0, angle) for h in holes), shaft
    )


def plate_bone(name: str, shapes: tuple[Shape, ...], holes: tuple[Hole, ...] = ()) -> Bone:
    """A bone without a shaft (pelvis, scapula, rib cage) given by canonical shapes."""
    return Bone(name, (0.0, 0.0), 0.0, shapes, holes)


def _flip(shape: Shape) -> Shape:
    """A primitive reflected across its frame's ``s`` axis (``d`` -> ``-d``)."""
    if isinstance(shape, Tube):
        return replace(shape, a=(shape.a[0], -shape.a[1]), b=(shape.b[0], -shape.b[1]))
    if isinstance(shape, Blob):
        return replace(shape, c=(shape.c[0], -shape.c[1]), angle=-shape.angle)
    return replace(shape, c=(shape.c[0], -shape.c[1]), a0=-shape.a1, a1=-shape.a0)


def mirror_bone(bone: Bone, mid: float, name: str | None = None) -> Bone:
    """The bone of the other side: ``bone`` reflected about the canonical line ``x = mid``.

    The frame's origin is reflected and its axis turned to ``pi - angle``; in that frame the
    primitives are flipped across the axis, so each canonical point ``(x, y)`` of the bone
    lands at ``(2 mid - x, y)``. The shaft (along the axis) is unchanged.
    """
    holes = tuple(replace(h, c=(h.c[0], -h.c[1]), angle=-h.angle) for h in bone.holes)
    return replace(
        bone,
        name=name or bone.name,
        origin=(2.0 * mid - bone.origin[0], bone.origin[1]),
        angle=float(np.pi - bone.angle),
        shapes=tuple(_flip(s) for s in bone.shapes),
        holes=holes,
    )


def _scale_shape(shape: Shape, z: float) -> Shape:
    if isinstance(shape, Tube):
        return replace(
            shape,
            a=(shape.a[0] * z, shape.a[1] * z),
            b=(shape.b[0] * z, shape.b[1] * z),
            radius=shape.radius * z,
            cortex=shape.cortex * z,
            flare_a=shape.flare_a * z,
            flare_b=shape.flare_b * z,
            flare_len_a=shape.flare_len_a * z,
            flare_len_b=shape.flare_len_b * z,
            cap_a=shape.cap_a * z,
            cap_b=shape.cap_b * z,
        )
    if isinstance(shape, Blob):
        return replace(
            shape,
            c=(shape.c[0] * z, shape.c[1] * z),
            a=shape.a * z,
            b=shape.b * z,
            depth=shape.depth * z,
            cortex=shape.cortex * z,
        )
    assert isinstance(shape, Arc)
    return replace(
        shape,
        c=(shape.c[0] * z, shape.c[1] * z),
        bend=shape.bend * z,
        r=shape.r * z,
        cortex=shape.cortex * z,
    )


def scale_bone(bone: Bone, z: float) -> Bone:
    """The same bone ``z`` times larger (a bigger or smaller patient)."""
    shaft = bone.shaft
    if shaft is not None:
        shaft = replace(
            shaft,
            s0=shaft.s0 * z,
            s1=shaft.s1 * z,
            radius=shaft.radius * z,
            cortex=shaft.cortex * z,
        )
    holes = tuple(replace(h, c=(h.c[0] * z, h.c[1] * z), a=h.a * z, b=h.b * z) for h in bone.holes)
    return replace(
        bone,
        origin=(bone.origin[0] * z, bone.origin[1] * z),
        shapes=tuple(_scale_shape(s, z) for s in bone.shapes),
        holes=holes,
        shaft=shaft,
    )


@dataclass
class Layout:
    """A body part in canonical mm: bones, body outline, and how to frame it.

    ``lateral_x`` is +1 when canonical +x points to the patient's lateral side, -1 when medial
    (it sets the mirror for the side). ``focus`` is the canonical point framed near the image
    centre; ``axis`` the image angle of canonical +y before jitter. ``fov_mm`` is the range
    the film's width is drawn from: wide, as clinical films frame a limb with much air around
    it (FracAtlas shows a hand with its forearm, a leg with its foot).
    """

    bones: list[Bone]
    soft: tuple[Shape, ...]
    fov_mm: tuple[float, float]
    focus: tuple[float, float] = (0.0, 0.0)
    axis: float = float(np.pi / 2)
    jitter: float = 0.25
    lateral_x: float = 1.0
    cavities: tuple[Shape, ...] = ()
    prefer: tuple[str, ...] = ()
    extra_soft: list[tuple[Shape, ...]] = field(default_factory=list)

    def scaled(self, z: float) -> Layout:
        """The layout of a patient ``z`` times the canonical size."""
        return replace(
            self,
            bones=[scale_bone(b, z) for b in self.bones],
            soft=tuple(_scale_shape(s, z) for s in self.soft),
            cavities=tuple(_scale_shape(s, z) for s in self.cavities),
            extra_soft=[tuple(_scale_shape(s, z) for s in g) for g in self.extra_soft],
            focus=(self.focus[0] * z, self.focus[1] * z),
        )


def short_bone(
    name: str,
    c: tuple[float, float],
    a: float,
    b: float,
    *,
    depth: float,
    angle: float = 0.0,
    cortex: float = 0.9,
    fill: float = 0.8,
) -> Bone:
    """A carpal, tarsal, sesamoid or patella: one ellipsoid at canonical ``c``."""
    return Bone(name, c, angle, (Blob((0.0, 0.0), a, b, depth, 0.0, cortex, fill),))


def random_fracture(
    rng: np.random.Generator, *, s_range: tuple[float, float], radius: float
) -> Fracture:
    """A fracture across a shaft of ``radius``, its size scaled to the bone."""
    kind = str(rng.choice(["hairline", "displaced", "displaced", "comminuted"]))
    s0 = float(rng.uniform(*s_range))
    tilt = float(rng.uniform(-0.7, 0.7))
    if kind == "hairline":
        return Fracture(s0, tilt, float(rng.uniform(0.3, 0.55)), 0.0, 0.0, 0.0, False, kind)
    return Fracture(
        s0,
        tilt,
        float(rng.uniform(0.08, 0.2)) * radius + 0.4,
        float(rng.uniform(-0.55, 0.55)) * radius,
        float(rng.uniform(-0.3, 0.1)) * radius,
        float(rng.uniform(-0.15, 0.15)),
        kind == "comminuted",
        kind,
    )


@dataclass(frozen=True)
class BoneShape:
    """How one drawn bone departs from its solids: a bow and a varying width along the shaft
    (about ``vertex``, where the bow is zero and the shaft axis is the site's) and a smooth
    wobble of every outline, ``rel`` of each part's size (less along the shaft)."""

    bow_mm: float
    vertex: float
    half_len: float
    width_amp: tuple[float, float]
    width_wave: tuple[float, float]
    width_phase: tuple[float, float]
    rel: float
    feature_mm: float

    @classmethod
    def random(cls, rng: np.random.Generator, bone: Bone, vertex: float | None) -> BoneShape:
        shaft = bone.shaft
        size = max(shape_size(sh) for sh in bone.shapes)
        bow = 0.0 if shaft is None else float(rng.uniform(-1.0, 1.0)) * BOW_REL * shaft.radius
        mid = 0.0 if shaft is None else (shaft.s0 + shaft.s1) / 2
        half = 1.0 if shaft is None else max((shaft.s1 - shaft.s0) / 2, 1.0)
        amp = rng.uniform(0.3, 1.0, size=2) * WIDTH_REL
        wave = rng.uniform(50.0, 180.0, size=2)
        phase = rng.uniform(0.0, 2 * np.pi, size=2)
        return cls(
            bow,
            mid if vertex is None else vertex,
            half,
            (float(amp[0]), float(amp[1])),
            (float(wave[0]), float(wave[1])),
            (float(phase[0]), float(phase[1])),
            BONE_WOBBLE_REL * float(rng.uniform(0.6, 1.3)) * (1.0 if shaft else 1.5),
            size * float(rng.uniform(2.2, 3.8)),
        )

    def margins_mm(self, bone: Bone) -> tuple[float, ...]:
        """How far each drawn part can reach beyond its solid (the wobble's peaks, the bow)."""
        cap = self.cap_mm
        return tuple(
            abs(self.bow_mm) * 1.5 + 3.5 * min(self.rel * shape_size(sh), cap) + 1.0
            for sh in bone.shapes
        )

    @property
    def cap_mm(self) -> float:
        """The largest wobble (mm): well below the feature size, so outlines never fold."""
        return 0.08 * self.feature_mm

    def coords(
        self, bone: Bone, s: FloatMap, d: FloatMap
    ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Bone-frame coordinates of the bent, widened and narrowed bone (``d`` image-handed)."""
        if bone.shaft is None:
            return s, d
        q = np.clip((s - np.float32(self.vertex)) / np.float32(self.half_len), -1.4, 1.4)
        bent = d - np.float32(self.bow_mm) * q * q
        width = np.ones_like(s)
        for a, w, p in zip(self.width_amp, self.width_wave, self.width_phase, strict=True):
            # Never narrower than the shaft's radius: implants sized to it stay on bone.
            width += np.float32(a) * (1.0 + np.cos(s * np.float32(2 * np.pi / w) + np.float32(p)))
        return s, np.asarray(bent / width, dtype=np.float32)

    def warp(self, bone: Bone, s: FloatMap, ds: FloatMap, dd: FloatMap) -> Warp:
        """The outline wobble: full at the ends and on short bones, faint along a shaft."""
        shaft = bone.shaft
        if shaft is not None:
            out = np.maximum(np.maximum(shaft.s0 - s, s - shaft.s1), 0.0)
            ramp = np.clip(out / np.float32(2.0 * shaft.radius), 0.0, 1.0)
            env = np.float32(SHAFT_WOBBLE) + np.float32(1.0 - SHAFT_WOBBLE) * ramp
            ds, dd = ds * env, dd * env
        # No fold: the displacement stays well below the feature size.
        return Warp(ds, dd, self.rel, self.cap_mm)


# A bone's outline wobbles by this fraction of each part's size; along a shaft by
# ``SHAFT_WOBBLE`` of that. A shaft bows by up to ``BOW_REL`` of its radius at its ends and its
# width grows by up to four times ``WIDTH_REL`` here and there along it.
BONE_WOBBLE_REL = 0.2
SHAFT_WOBBLE = 0.08
BOW_REL = 0.15
WIDTH_REL = 0.02


def draw_bone(
    scene: Scene,
    bone: Bone,
    place: Placement,
    *,
    fracture: Fracture | None = None,
    rng: np.random.Generator | None = None,
    vertex: float | None = None,
) -> NDArray[np.bool_] | None:
    """Add a bone to the cortical and cancellous maps; returns the fracture region if fractured.

    The fracture is given in the bone's image frame (``s``, ``d`` as ``sites.BoneSite``): the
    distal fragment (``s`` beyond the fracture line) is moved rigidly and a gap opened. With an
    ``rng`` the bone departs smoothly from its solids (``BoneShape``; bow zero at ``vertex``).
    """
    frame = place.frame(bone.origin, bone.angle)
    margin = 0.0 if fracture is None else abs(fracture.shift_d) + abs(fracture.shift_s) + 12.0
    form = None if rng is None else BoneShape.random(rng, bone, vertex)
    if form is not None:
        margin += max(form.margins_mm(bone))
    box = shapes_box(bone.shapes, frame, scene.shape, margin)
    if box is None:
        return None
    s, d = frame.coords(box)  # image-handed d: the BoneSite frame
    sign = np.float32(frame.dsign)
    warp = None
    if form is not None and rng is not None:
        s, d = form.coords(bone, s, d)
        scale = max(form.feature_mm / place.spacing_mm, 3.0)
        ds, dd = warp_fields(rng, s.shape, scale_px=scale)
        warp = form.warp(bone, s, ds, dd)
    wide = None if form is None else form.margins_mm(bone)
    if fracture is None:
        sub = sub_boxes(bone.shapes, frame, box, scene.shape, margins_mm=wide)
        outer, inner, fill = evaluate_union(bone.shapes, bone.holes, s, d * sign, sub, warp)
        scene.thickness["cortical"][box] += outer - inner
        scene.thickness["cancellous"][box] += inner * fill
        return None
    half = fracture.gap / 2
    side_a = fracture_side(s, d, fracture)
    sb, db = fragment_coords(s, d, fracture)
    side_b = fracture_side(sb, db, fracture)
    # The distal fragment's own frame: where its (0, 0) went and how it turned.
    ca, sa = float(np.cos(fracture.angulation)), float(np.sin(fracture.angulation))
    ps = -fracture.s0 * ca + fracture.s0 + fracture.shift_s
    pd = -fracture.s0 * sa + fracture.shift_d
    moved = Frame(
        frame.to_image(ps, pd * frame.dsign),
        frame.angle + fracture.angulation,
        frame.dsign,
        frame.spacing_mm,
    )
    sub_a = sub_boxes(bone.shapes, frame, box, scene.shape, margins_mm=wide)
    sub_b = sub_boxes(bone.shapes, moved, box, scene.shape, margins_mm=wide)
    oa, ia, fa = evaluate_union(bone.shapes, bone.holes, s, d * sign, sub_a, warp)
    ob, ib, fb = evaluate_union(bone.shapes, bone.holes, sb, db * sign, sub_b, warp)
    keep_a = side_a < -half
    keep_b = side_b > half
    # Where the fragments overlap (shortening) both are drawn, as the projection would show.
    cort = np.where(keep_a, oa - ia, 0.0) + np.where(keep_b, ob - ib, 0.0)
    canc = np.where(keep_a, ia * fa, 0.0) + np.where(keep_b, ib * fb, 0.0)
    band = max(1.5, 4.0 * scene.spacing_mm)
    region = (np.abs(side_a) < half + band) & (oa > 0)
    region |= (np.abs(side_b) < half + band) & (ob > 0)
    if fracture.butterfly and rng is not None:
        # A loose cortical chip beside the fracture line (comminution).
        r = float(np.max(oa)) / 2 if oa.size else 5.0
        side = float(rng.choice([-1.0, 1.0]))
        chip = Blob(
            (
                fracture.s0 + float(rng.uniform(-0.3, 0.3)) * r,
                side * r * float(rng.uniform(0.9, 1.4)),
            ),
            max(r * float(rng.uniform(0.35, 0.6)), 1.2),
            max(r * float(rng.uniform(0.15, 0.3)), 0.8),
            max(r * 0.3, 0.8),
            float(rng.uniform(-1.0, 1.0)),
            cortex=0.8,
            fill=0.6,
        )
        co, ci, cf = chip.shape(s, d)
        cort += co - ci
        canc += ci * cf
        region |= co > 0
    scene.thickness["cortical"][box] += cort.astype(np.float32)
    scene.thickness["cancellous"][box] += canc.astype(np.float32)
    full = np.zeros(scene.shape, dtype=bool)
    full[box] = region
    return full


def shaft_in_view(
    bone: Bone, place: Placement, shape: tuple[int, int]
) -> tuple[float, float, tuple[str, ...]] | None:
    """The part of a bone's shaft whose axis lies inside the image, and its joint ends there."""
    if bone.shaft is None:
        return None
    spec = bone.shaft
    frame = place.frame(bone.origin, bone.angle)
    ss = np.arange(spec.s0, spec.s1, 0.5)
    if ss.size < 4:
        return None
    pts = np.array([frame.to_image(float(v), 0.0) for v in ss])
    margin = spec.radius / place.spacing_mm
    inside = (
        (pts[:, 0] >= margin)
        & (pts[:, 0] <= shape[1] - margin)
        & (pts[:, 1] >= margin)
        & (pts[:, 1] <= shape[0] - margin)
    )
    if not inside.any():
        return None
    idx = np.flatnonzero(inside)
    # The longest contiguous run (an axis crosses a convex image once).
    lo, hi = float(ss[idx[0]]), float(ss[idx[-1]])
    if hi - lo < max(10.0, 2.0 * spec.radius):
        return None
    joints: list[str] = []
    if "low" in spec.joints and inside[0]:
        joints.append("low")
    if "high" in spec.joints and inside[-1]:
        joints.append("high")
    return lo, hi, tuple(joints)


def make_site(
    bone: Bone,
    place: Placement,
    view: tuple[float, float, tuple[str, ...]],
    fracture: Fracture | None,
) -> BoneSite:
    """The ``BoneSite`` of a bone whose shaft is in view."""
    assert bone.shaft is not None
    frame = place.frame(bone.origin, bone.angle)
    return BoneSite(
        name=bone.name,
        origin=frame.origin,
        angle=frame.angle,
        spacing_mm=place.spacing_mm,
        s_range=(round(view[0], 3), round(view[1], 3)),
        radius_mm=bone.shaft.radius,
        cortex_mm=bone.shaft.cortex,
        joint_ends=view[2],
        fracture_s=None if fracture is None else fracture.s0,
        fracture_tilt=0.0 if fracture is None else fracture.tilt,
    )


def draw_skeleton(
    scene: Scene,
    bones: list[Bone],
    place: Placement,
    rng: np.random.Generator,
    *,
    fracture_p: float = 0.6,
    prefer: tuple[str, ...] = (),
) -> None:
    """Draw all bones, fracture one shaft with probability ``fracture_p``, record the sites.

    ``prefer`` names bones to fracture first when they are in view (e.g. the distal radius).
    """
    views = {i: shaft_in_view(b, place, scene.shape) for i, b in enumerate(bones)}
    candidates = [i for i, v in views.items() if v is not None]
    fractured: int | None = None
    fracture: Fracture | None = None
    if candidates and rng.random() < fracture_p:
        preferred = [i for i in candidates if bones[i].name in prefer]
        pool = preferred if preferred and rng.random() < 0.7 else candidates
        fractured = int(pool[int(rng.integers(len(pool)))])
        view = views[fractured]
        spec = bones[fractured].shaft
        assert view is not None and spec is not None
        pad = min(0.15 * (view[1] - view[0]), 3.0 * spec.radius)
        fracture = random_fracture(rng, s_range=(view[0] + pad, view[1] - pad), radius=spec.radius)
    for i, bone in enumerate(bones):
        seen = views[i]
        vertex = None if seen is None else (seen[0] + seen[1]) / 2
        if i == fractured:
            region = draw_bone(scene, bone, place, fracture=fracture, rng=rng, vertex=vertex)
            if region is None or not region.any():
                fracture = None
            else:
                attrs = {
                    "view": scene.view,
                    "kind": fracture.kind if fracture else "",
                    "body_part": scene.body_part,
                    "bone": bone.name,
                }
                scene.instances.append(Instance("fracture", region, attrs))
        else:
            draw_bone(scene, bone, place, rng=rng, vertex=vertex)
    for i, v in views.items():
        if v is not None:
            scene.sites.append(make_site(bones[i], place, v, fracture if i == fractured else None))
