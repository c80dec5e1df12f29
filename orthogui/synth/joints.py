"""Layouts of the lower limb: hip with femur, knee, leg with ankle, foot (canonical mm).

Canonical frame: ``y`` runs distally, ``x`` across; each function says which way ``x`` points.
Views interpolate between the AP geometry (``t = 0``) and the lateral one (``t = 1``): paired
bones slide over each other, condyles superimpose, the foot turns edge-on.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from orthogui.synth.skeleton import Bone, Layout, long_bone, mirror_bone, plate_bone, short_bone
from orthogui.synth.tissue import Arc, Blob, Hole, Shape, Tube


def lerp(a: float, b: float, t: float) -> float:
    """Linear interpolation from ``a`` (AP) to ``b`` (lateral)."""
    return a + (b - a) * t


def view_t(rng: np.random.Generator, view: str) -> float:
    """How far a view is turned from AP (0) towards lateral (1)."""
    if view == "ap":
        return float(rng.uniform(0.0, 0.08))
    if view == "lateral":
        return float(rng.uniform(0.9, 1.0))
    return float(rng.uniform(0.35, 0.65))


def rotate(p: tuple[float, float], angle: float, about: tuple[float, float]) -> tuple[float, float]:
    """Rotate a canonical point about another."""
    c, k = float(np.cos(angle)), float(np.sin(angle))
    x, y = p[0] - about[0], p[1] - about[1]
    return (about[0] + x * c - y * k, about[1] + x * k + y * c)


def knee(rng: np.random.Generator, view: str) -> Layout:
    """Distal femur, patella, proximal tibia and fibula; ``x`` lateral (AP), anterior (lateral)."""
    t = view_t(rng, view)
    flex = float(rng.uniform(0.0, 0.15)) if t < 0.5 else float(rng.uniform(0.1, 0.9))
    rf = float(rng.uniform(12.0, 14.0))
    rt = rf * 0.85
    space = float(rng.uniform(2.5, 4.0))
    half_w = lerp(39.0, 31.0, t)
    cx = lerp(0.0, -10.0, t)  # condyles sit behind the shaft in the lateral view
    sep = lerp(19.0, 3.0, t)
    condyles = (
        Blob((cx - sep, -22.0), lerp(19.0, 28.0, t), 21.0, lerp(30.0, 20.0, t), 0.0, 1.4, 0.85),
        Blob(
            (cx + sep, -21.0 + 2.0 * t),
            lerp(18.0, 27.0, t),
            20.0,
            lerp(28.0, 19.0, t),
            0.0,
            1.4,
            0.85,
        ),
    )
    femur = long_bone(
        "femur",
        (lerp(-6.0, 4.0, t), -460.0),
        (cx * 0.5, -18.0),
        radius=rf,
        cortex=rf * 0.3,
        flare=(0.0, half_w - rf - 4.0),
        flare_len=(20.0, 70.0),
        cap=(0.0, 14.0),
        extra=condyles,
        joints=("high",),
    )

    def leg(p: tuple[float, float]) -> tuple[float, float]:
        return rotate(p, -flex, (0.0, 0.0))

    plateau = lerp(37.0, 27.0, t)
    spines = (
        Blob(leg((-5.0 * (1 - t), space + 1.5)), 3.5, 5.0, 6.0, 0.0, 1.0, 0.7),
        Blob(leg((5.0 * (1 - t), space + 1.5)), 3.5, 5.0, 6.0, 0.0, 1.0, 0.7),
        Blob(leg((lerp(0.0, rt + 3.0, t), 45.0)), lerp(8.0, 7.0, t), 14.0, 14.0, 0.0, 1.5, 0.6),
    )
    tibia = long_bone(
        "tibia",
        leg((lerp(0.0, -4.0, t), space + 1.0)),
        leg((3.0, 470.0)),
        radius=rt,
        cortex=rt * 0.33,
        flare=(plateau - rt - 1.0, 0.0),
        flare_len=(60.0, 20.0),
        cap=(4.0, 0.0),
        extra=spines,
        joints=("low",),
    )
    fx = lerp(31.0, -14.0, t)
    fibula = long_bone(
        "fibula",
        leg((fx, 16.0 + space)),
        leg((fx * 0.8 - 2.0, 470.0)),
        radius=6.0,
        cortex=2.0,
        flare=(5.5, 0.0),
        flare_len=(28.0, 20.0),
        cap=(9.0, 0.0),
        joints=("low",),
    )
    pat_x = lerp(4.0, rf + 22.0, t)
    patella = short_bone(
        "patella",
        rotate((pat_x, -30.0 + 12.0 * flex), -0.5 * flex * t, (0.0, 0.0)),
        lerp(22.0, 24.0, t),
        lerp(24.0, 10.0, t),
        depth=lerp(11.0, 22.0, t),
        angle=np.pi / 2 - 0.4 * flex * t,
        cortex=1.4,
        fill=0.85,
    )
    r_thigh = float(rng.uniform(52.0, 68.0))
    r_leg = r_thigh * float(rng.uniform(0.82, 0.95))
    fat = float(rng.uniform(5.0, 13.0))
    soft: tuple[Shape, ...] = (
        Tube(
            (0.0, -600.0),
            (lerp(0.0, 4.0, t), 0.4 * r_thigh),
            r_thigh,
            fat,
            cap_b=0.6 * r_thigh,
            depth=0.9,
            planes=(-0.5, 0.05, 0.45),
        ),
        Blob((lerp(0.0, 4.0, t), 0.0), r_thigh * 0.95, r_thigh, r_thigh * 0.9, 0.0, fat, 1.0),
        Tube(
            leg((0.0, -0.4 * r_leg)),
            leg((lerp(0.0, -8.0, t), 600.0)),
            r_leg,
            fat,
            lerp(5.0, 14.0, t),
            0.0,
            140.0,
            20.0,
            0.6 * r_leg,
            depth=0.9,
            planes=(-0.35, 0.3),
        ),
    )
    bones: list[Bone] = [femur, tibia, fibula, patella]
    return Layout(bones, soft, (350.0, 462.0), focus=(0.0, 0.0), jitter=0.3 if t < 0.5 else 0.9)


def leg_ankle(rng: np.random.Generator, view: str) -> Layout:
    """Distal tibia and fibula, talus, calcaneus and the hindfoot; ``x`` lateral / anterior."""
    t = view_t(rng, view)
    rt = float(rng.uniform(10.0, 12.0))
    space = float(rng.uniform(2.0, 3.2))
    tibia = long_bone(
        "tibia",
        (lerp(-2.0, 3.0, t), -480.0),
        (0.0, 0.0),
        radius=rt,
        cortex=rt * 0.33,
        flare=(0.0, lerp(13.0, 10.0, t)),
        flare_len=(20.0, 50.0),
        cap=(0.0, 3.0),
        extra=(Blob((lerp(-19.0, 2.0, t), 7.0), 7.0, 13.0, 11.0, 0.2 * (1 - t), 1.2, 0.7),),
        joints=("high",),
    )
    fx = lerp(22.0, -8.0, t)
    fibula = long_bone(
        "fibula",
        (fx - 2.0, -480.0),
        (fx + 2.0, 24.0),
        radius=5.5,
        cortex=1.9,
        flare=(0.0, 5.5),
        flare_len=(20.0, 30.0),
        cap=(0.0, 10.0),
        joints=("high",),
    )
    talus = short_bone(
        "talus",
        (lerp(0.0, 3.0, t), space + 13.0),
        lerp(19.0, 27.0, t),
        13.0,
        depth=lerp(24.0, 18.0, t),
        cortex=1.3,
        fill=0.85,
    )
    calc = short_bone(
        "calcaneus",
        (lerp(3.0, -14.0, t), lerp(42.0, 45.0, t)),
        lerp(19.0, 38.0, t),
        lerp(17.0, 20.0, t),
        depth=lerp(28.0, 20.0, t),
        angle=lerp(0.0, -0.25, t),
        cortex=1.3,
        fill=0.8,
    )
    bones: list[Bone] = [tibia, fibula, talus, calc]
    if t > 0.3:
        # The midfoot runs towards the viewer in AP and sideways in the lateral view.
        bones += [
            short_bone("navicular", (lerp(0.0, 36.0, t), 24.0), 9.0, 12.0, depth=16.0, angle=0.3),
            short_bone("cuboid", (lerp(0.0, 40.0, t), 46.0), 13.0, 10.0, depth=14.0),
            short_bone("cuneiform", (lerp(0.0, 56.0, t), 30.0), 10.0, 12.0, depth=18.0),
        ]
        for i in range(3):
            y0 = 32.0 + 6.0 * i
            bones.append(
                long_bone(
                    "metatarsal",
                    (lerp(0.0, 66.0, t), y0),
                    (lerp(0.0, 136.0, t), y0 + 14.0),
                    radius=4.5,
                    cortex=1.6,
                    flare=(3.0, 3.0),
                    flare_len=(10.0, 10.0),
                    cap=(3.0, 6.0),
                    site=False,
                )
            )
    r_leg = float(rng.uniform(36.0, 44.0))
    fat = float(rng.uniform(4.0, 9.0))
    soft: tuple[Shape, ...] = (
        Tube(
            (0.0, -600.0),
            (0.0, 20.0),
            r_leg,
            fat,
            lerp(22.0, 28.0, t),
            0.0,
            260.0,
            10.0,
            depth=0.95,
            planes=(-0.3, 0.35),
        ),
        Blob(
            (lerp(0.0, -8.0, t), 34.0),
            lerp(36.0, 40.0, t),
            34.0,
            lerp(40.0, 34.0, t),
            0.0,
            fat,
            1.0,
        ),
    )
    if t > 0.3:
        soft = (
            *soft,
            Tube((lerp(0.0, -30.0, t), 40.0), (lerp(0.0, 190.0, t), 58.0), 30.0, fat, depth=1.3),
        )
    return Layout(bones, soft, (308.0, 420.0), focus=(0.0, -30.0), jitter=0.25, prefer=("fibula",))


def _hemipelvis(rh: float, mid: float, wing: float) -> Bone:
    """One innominate bone as the AP film shows it; origin at the femoral head, ``x`` medial.

    The ilium is a thin fan (mid-grey) edged by its bright crest and the pelvic brim; the
    acetabular roof is sclerotic; the ischium and the two pubic rami ring the obturator
    foramen, an open window; the pubic body stops just short of the symphysis at ``x = mid``.
    """
    w = wing
    shapes: tuple[Shape, ...] = (
        # Ilium: the wing fans out up and laterally from the acetabulum, thin, so mid-grey;
        # thicker behind, at the sacroiliac joint.
        Blob((-4.0 * w, -84.0 * w), 60.0 * w, 44.0 * w, 7.0, 0.35, 1.2, 0.7),
        Blob((16.0, -46.0 * w), 34.0, 28.0 * w, 9.0, 0.5, 1.3, 0.65),
        Blob((mid - 50.0, -86.0 * w), 14.0, 34.0 * w, 10.0, 0.2, 1.5, 0.6),
        # Iliac crest (the bright rim of the wing) and the pelvic brim (iliopectineal line).
        Arc((0.0, -68.0 * w), 58.0 * w, -3.0, -1.05, 3.2, 1.5, 0.5, 1.1),
        Arc((mid - 18.0, -22.0), 48.0, 1.95, 4.1, 2.4, 1.0, 0.5, 0.9),
        # Acetabulum: roof over the head, posterior rim, teardrop.
        Blob((10.0, -22.0), 30.0, 16.0, 16.0, 0.15, 1.6, 0.65),
        Arc((0.0, 0.0), rh + 3.5, -2.9, -0.2, 4.0, 1.6, 0.6, 1.5),
        Arc((0.0, 0.0), rh + 1.5, 0.2, 1.3, 2.4, 1.0, 0.5),
        Blob((rh + 9.0, 6.0), 5.0, 14.0, 8.0, 0.0, 1.5, 0.6),
        # Ischium down to its tuberosity; superior and inferior pubic rami to the pubic body.
        Tube((6.0, 14.0), (22.0, 70.0), 10.0, 1.6, 0.0, 5.0, 1.0, 18.0, 6.0, 8.0, 0.9, 0.55),
        Blob((28.0, 76.0), 17.0, 11.0, 10.0, 0.35, 1.5, 0.6),
        Tube((14.0, 4.0), (mid - 6.0, 24.0), 7.0, 1.4, 2.5, 3.0, 20.0, 15.0, 6.0, 4.0, 0.8, 0.55),
        Tube((34.0, 80.0), (mid - 8.0, 50.0), 5.0, 1.3, 0.0, 2.0, 1.0, 12.0, 5.0, 3.0, 0.8, 0.55),
        Blob((mid - 12.0, 34.0), 9.0, 19.0, 10.0, 0.1, 1.4, 0.6),
    )
    return plate_bone("pelvis", shapes, (Hole((45.0, 44.0), 14.0, 22.0, 0.45),))


def _sacrum(mid: float, wing: float) -> list[Bone]:
    """Sacrum with its foramina, coccyx, and the lowest lumbar vertebra above it (midline)."""
    # The sacrum narrows from its alae to the tip: a tube flaring upwards, flattened.
    sacrum = plate_bone(
        "sacrum",
        (
            Tube(
                (mid, 4.0),
                (mid, -112.0 * wing),
                7.0,
                1.3,
                0.0,
                36.0,
                1.0,
                100.0,
                7.0,
                14.0,
                0.22,
                0.55,
            ),
            Blob((mid, -100.0 * wing), 48.0, 20.0, 7.0, 0.0, 1.4, 0.6),
        ),
        tuple(
            Hole((mid + side * (20.0 - 3.5 * i), (-96.0 + 19.0 * i) * wing), 3.5, 3.0, 0.0, 0.75)
            for i in range(4)
            for side in (-1.0, 1.0)
        ),
    )
    top = -130.0 * wing
    lumbar = plate_bone(
        "lumbar",
        (
            Blob((mid, top - 24.0), 25.0, 16.0, 20.0, 0.0, 1.8, 0.55),
            Tube(
                (mid - 44.0, top - 20.0),
                (mid + 44.0, top - 20.0),
                6.0,
                1.5,
                0.0,
                0.0,
                1.0,
                1.0,
                6.0,
                6.0,
                0.8,
                0.5,
            ),
            Blob((mid, top - 14.0), 6.0, 12.0, 10.0, 0.0, 1.4, 0.6),
        ),
    )
    return [sacrum, lumbar]


def hip_femur(rng: np.random.Generator, view: str) -> Layout:
    """AP pelvis: both hemipelves, sacrum, both hips and proximal femurs (frog-leg lateral).

    ``x`` points medially from the side of interest (towards the pubic symphysis at
    ``x = mid``); the origin is the centre of that femoral head. The film is centred on the
    midline (whole pelvis) or on the hip of interest.
    """
    t = view_t(rng, view)
    rh = float(rng.uniform(22.0, 26.0))
    rf = float(rng.uniform(13.0, 15.5))
    abduct = lerp(0.0, 0.75, t)  # frog-leg lateral: the femurs swing out
    neck_len = lerp(1.0, 0.55, t)
    mid = float(rng.uniform(84.0, 96.0))

    def fem(p: tuple[float, float]) -> tuple[float, float]:
        return rotate(p, abduct, (0.0, 0.0))

    femur = long_bone(
        "femur",
        fem((-44.0 * neck_len - 8.0, 10.0)),
        fem((-28.0, 480.0)),
        radius=rf,
        cortex=rf * 0.32,
        flare=(rf * 0.9, 0.0),
        flare_len=(80.0, 20.0),
        cap=(12.0, 0.0),
        extra=(
            Tube(
                fem((-44.0 * neck_len + 4.0, 52.0)),
                fem((0.0, 0.0)),
                15.5,
                2.2,
                7.0,
                0.0,
                30.0,
                1.0,
                0.0,
                0.0,
                1.0,
                0.75,
            ),
            Blob(fem((-58.0 * neck_len - 4.0, 14.0)), 15.0, 26.0, 22.0, 0.15, 1.3, 0.8),
            Blob(fem((-26.0, lerp(78.0, 66.0, t))), 9.0, 12.0, 9.0, 0.4, 1.2, 0.7),
            Blob((0.0, 0.0), rh, rh, rh, 0.0, 1.5, 0.9),
        ),
        joints=(),
    )
    wing = float(rng.uniform(0.9, 1.1))
    pelvis = _hemipelvis(rh, mid, wing)
    bones: list[Bone] = [
        pelvis,
        mirror_bone(pelvis, mid),
        *_sacrum(mid, wing),
        femur,
        mirror_bone(femur, mid),
    ]
    fat = float(rng.uniform(12.0, 30.0))
    r_thigh = float(rng.uniform(78.0, 95.0))
    thigh = Tube(
        fem((-45.0, -80.0)),
        fem((-30.0, 600.0)),
        r_thigh,
        fat,
        0.0,
        0.0,
        1.0,
        1.0,
        80.0,
        0.0,
        1.0,
        planes=(-0.5, 0.0, 0.4),
    )
    trunk = Blob(
        (mid, -200.0),
        mid + float(rng.uniform(95.0, 125.0)),
        330.0,
        float(rng.uniform(95.0, 120.0)),
        0.0,
        fat,
        1.0,
    )
    # Bowel gas over the sacrum and the iliac fossae: dark, irregular pockets.
    gas = tuple(
        Blob(
            (mid + float(rng.uniform(-95.0, 95.0)), float(rng.uniform(-200.0, -30.0))),
            float(rng.uniform(6.0, 22.0)),
            float(rng.uniform(5.0, 16.0)),
            float(rng.uniform(5.0, 16.0)),
            float(rng.uniform(0.0, np.pi)),
            0.0,
            1.0,
        )
        for _ in range(int(rng.integers(3, 10)))
    )
    whole = rng.random() < 0.6
    return Layout(
        bones,
        (trunk, thigh, _mirror_shape(thigh, mid)),
        (360.0, 440.0) if whole else (300.0, 380.0),
        focus=(mid, -10.0) if whole else (25.0, 40.0),
        jitter=0.08,
        lateral_x=-1.0,
        cavities=gas,
        prefer=("femur",),
    )


def _mirror_shape(shape: Tube, mid: float) -> Tube:
    """A tube reflected about the canonical line ``x = mid`` (the other thigh)."""
    return replace(
        shape, a=(2 * mid - shape.a[0], shape.a[1]), b=(2 * mid - shape.b[0], shape.b[1])
    )


def foot(rng: np.random.Generator, view: str) -> Layout:
    """Tarsals, metatarsals and phalanges; ``y`` runs from the heel to the toes.

    In the AP (dorsoplantar) view the rays fan out side by side; the lateral view stacks them.
    """
    t = view_t(rng, view)
    spread = lerp(1.0, 0.12, t)
    bones: list[Bone] = []
    # Hindfoot and midfoot.
    bones += [
        short_bone(
            "calcaneus",
            (lerp(12.0, 0.0, t), lerp(-20.0, -30.0, t)),
            lerp(20.0, 38.0, t),
            lerp(34.0, 20.0, t),
            depth=lerp(24.0, 22.0, t),
            angle=lerp(0.0, np.pi / 2 + 0.25, t),
            cortex=1.4,
        ),
        short_bone(
            "talus",
            (lerp(-2.0, -6.0, t), lerp(-5.0, -20.0, t)),
            lerp(16.0, 24.0, t),
            lerp(24.0, 14.0, t),
            depth=20.0,
            angle=lerp(0.0, np.pi / 2, t),
            cortex=1.3,
        ),
        short_bone(
            "navicular",
            (lerp(-14.0, -12.0, t), 28.0),
            15.0 * spread + 4.0,
            8.0,
            depth=16.0,
            angle=0.2,
            cortex=1.1,
        ),
        short_bone(
            "cuboid", (lerp(20.0, -4.0, t), 32.0), 12.0 * spread + 6.0, 13.0, depth=16.0, cortex=1.1
        ),
    ]
    for i, x in enumerate((-20.0, -9.0, 1.0)):
        bones.append(
            short_bone("cuneiform", (x * spread, 48.0 - 2.0 * i), 5.5, 10.0, depth=14.0, cortex=1.0)
        )
    lengths = (62.0, 74.0, 70.0, 66.0, 62.0)
    radii = (7.0, 4.4, 4.2, 4.2, 4.6)
    base_x = (-22.0, -10.0, 0.0, 10.0, 20.0)
    tip_x = (-30.0, -14.0, 2.0, 16.0, 30.0)
    phal = (
        (30.0, 0.0, 22.0),
        (26.0, 14.0, 10.0),
        (24.0, 12.0, 9.0),
        (22.0, 11.0, 9.0),
        (20.0, 10.0, 8.0),
    )
    for i in range(5):
        x0, x1 = base_x[i] * spread, tip_x[i] * spread
        y0 = 58.0 if i < 3 else 46.0
        y1 = y0 + lengths[i]
        r = radii[i]
        bones.append(
            long_bone(
                "metatarsal",
                (x0, y0),
                (x1, y1),
                radius=r,
                cortex=r * 0.35,
                flare=(r * 0.5, r * 0.45),
                flare_len=(12.0, 10.0),
                cap=(3.0, 7.0),
            )
        )
        ang = float(np.arctan2(y1 - y0, x1 - x0))
        px, py = x1, y1 + 2.5
        for j, ln in enumerate(phal[i]):
            if ln <= 0:
                continue
            rr = r * (0.8 if j == 0 else 0.7)
            qx, qy = px + np.cos(ang) * ln, py + np.sin(ang) * ln
            bones.append(
                long_bone(
                    "phalanx",
                    (px, py),
                    (float(qx), float(qy)),
                    radius=rr,
                    cortex=rr * 0.35,
                    flare=(rr * 0.45, rr * 0.3),
                    flare_len=(5.0, 4.0),
                    cap=(2.0, 3.0),
                    site=False,
                )
            )
            px, py = float(qx) + np.cos(ang) * 2.2, float(qy) + np.sin(ang) * 2.2
    fat = float(rng.uniform(4.0, 8.0))
    soft: tuple[Shape, ...] = (
        Blob(
            (lerp(4.0, -2.0, t), -20.0),
            lerp(36.0, 38.0, t),
            lerp(50.0, 40.0, t),
            30.0,
            0.0,
            fat,
            1.0,
        ),
        Tube(
            (lerp(2.0, -2.0, t), -30.0),
            (lerp(2.0, 0.0, t), 205.0),
            lerp(46.0, 30.0, t),
            fat,
            0.0,
            lerp(8.0, -8.0, t),
            1.0,
            90.0,
            0.0,
            25.0,
            lerp(0.55, 1.4, t),
        ),
    )
    if t > 0.5:
        soft = (*soft, Tube((-20.0, -25.0), (-400.0, -35.0), 42.0, fat, depth=0.95))
    return Layout(
        bones, soft, (308.0, 420.0), focus=(0.0, 40.0), jitter=0.35, prefer=("metatarsal",)
    )
