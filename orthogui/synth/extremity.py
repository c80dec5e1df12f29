"""Layouts of the upper limb: hand and wrist, forearm, elbow, shoulder (canonical mm).

Canonical frame: ``y`` runs distally, ``x`` across (radial / lateral side positive, except at
the shoulder where ``x`` points medially). Views interpolate AP (``t = 0``) to lateral (1).
"""

from __future__ import annotations

import numpy as np

from orthogui.synth.joints import lerp, rotate, view_t
from orthogui.synth.skeleton import Bone, Layout, long_bone, plate_bone, short_bone
from orthogui.synth.tissue import Arc, Blob, Hole, Shape, Tube


def _ray(
    bones: list[Bone],
    soft: list[Shape],
    start: tuple[float, float],
    angle: float,
    lengths: tuple[float, ...],
    radius: float,
    *,
    first: str,
    soft_r: float,
    fat: float,
) -> None:
    """A digit: metacarpal/metatarsal then phalanges along ``angle`` with joint gaps."""
    x, y = start
    c, k = float(np.cos(angle)), float(np.sin(angle))
    tip = start
    for j, ln in enumerate(lengths):
        r = radius * (1.0, 0.85, 0.72, 0.62)[min(j, 3)]
        end = (x + c * ln, y + k * ln)
        last = j == len(lengths) - 1
        bones.append(
            long_bone(
                first if j == 0 else "phalanx",
                (x, y),
                end,
                radius=r,
                cortex=r * 0.36,
                flare=(r * 0.55, r * (0.7 if last else 0.45)),
                flare_len=(ln * 0.22, ln * (0.15 if last else 0.2)),
                cap=(2.0, r * 1.1 if not last else r * 0.9),
                site=j == 0,
            )
        )
        gap = 1.6 if j == 0 else 1.3
        x, y = end[0] + c * gap, end[1] + k * gap
        tip = end
    soft.append(
        Tube(
            start,
            (tip[0] + c * 4.0, tip[1] + k * 4.0),
            soft_r,
            fat,
            0.0,
            0.0,
            1.0,
            1.0,
            0.0,
            soft_r,
            0.85,
        )
    )


def hand_wrist(rng: np.random.Generator, view: str) -> Layout:
    """Distal radius and ulna, carpals, metacarpals and phalanges; ``x`` radial (thumb)."""
    t = view_t(rng, view)
    sp = lerp(1.0, 0.12, t)
    rr = float(rng.uniform(6.5, 7.5))
    radius = long_bone(
        "radius",
        (lerp(9.0, 2.0, t), -300.0),
        (lerp(8.0, 2.0, t), -2.0),
        radius=rr,
        cortex=2.4,
        flare=(0.0, lerp(10.0, 6.0, t)),
        flare_len=(20.0, 38.0),
        cap=(0.0, 3.0),
        extra=(Blob((lerp(19.0, 4.0, t), -5.0), 4.5, 8.0, 7.0, 0.3, 1.0, 0.7),),
        joints=("high",),
    )
    ulna = long_bone(
        "ulna",
        (lerp(-14.0, -3.0, t), -300.0),
        (lerp(-12.0, -3.0, t), -5.0),
        radius=rr * 0.8,
        cortex=2.0,
        flare=(0.0, 2.5),
        flare_len=(20.0, 15.0),
        cap=(0.0, 5.0),
        extra=(Blob((lerp(-17.0, -4.0, t), -3.0), 2.8, 5.0, 3.0, 0.0, 0.8, 0.6),),
        joints=("high",),
    )
    bones: list[Bone] = [radius, ulna]
    carpals = (
        ("scaphoid", (11.0, 9.0), 6.5, 12.0, 0.9),
        ("lunate", (0.0, 8.0), 8.0, 7.5, 0.0),
        ("triquetrum", (-11.0, 11.0), 6.0, 7.0, 0.3),
        ("pisiform", (-13.0, 13.0), 4.5, 4.5, 0.0),
        ("trapezium", (17.0, 25.0), 7.0, 7.5, 0.5),
        ("trapezoid", (8.0, 26.0), 5.5, 6.5, 0.0),
        ("capitate", (-1.0, 24.0), 6.5, 11.0, 0.0),
        ("hamate", (-11.0, 24.0), 6.5, 9.5, -0.2),
    )
    for name, (cx, cy), a, b, ang in carpals:
        bones.append(
            short_bone(name, (cx * sp, cy), a, b, depth=lerp(8.0, 11.0, t), angle=ang, cortex=1.0)
        )
    fat = float(rng.uniform(2.5, 5.0))
    palm = float(rng.uniform(0.92, 1.08))
    soft: list[Shape] = [
        Tube(
            (0.0, -320.0),
            (0.0, 35.0),
            float(rng.uniform(27.0, 33.0)),
            fat,
            lerp(10.0, 6.0, t),
            0.0,
            200.0,
            1.0,
            0.0,
            30.0,
            depth=lerp(0.7, 1.3, t),
            planes=(-0.2, 0.35),
        ),
        # The palm widens from the wrist to the knuckles and is flat (thin in AP); the thenar
        # and hypothenar eminences bulge on either side of it.
        Tube(
            (0.0, 10.0),
            (lerp(-3.0, 0.0, t), 97.0),
            lerp(26.0, 14.0, t) * palm,
            fat,
            0.0,
            lerp(16.0, 4.0, t) * palm,
            1.0,
            72.0,
            6.0,
            9.0,
            lerp(0.5, 1.7, t),
        ),
        Blob(
            (lerp(24.0, 6.0, t), 42.0),
            lerp(13.0, 9.0, t),
            27.0,
            lerp(11.0, 16.0, t),
            -0.45,
            fat,
            1.0,
        ),
        Blob((lerp(-26.0, -5.0, t), 50.0), lerp(10.0, 8.0, t), 28.0, 10.0, 0.1, fat, 1.0),
    ]
    digits = (
        ((-18.0, 33.0), (50.0, 33.0, 20.0, 17.0), 3.9, 0.3),
        ((-9.0, 35.0), (56.0, 38.0, 25.0, 18.0), 4.1, 0.13),
        ((0.0, 36.0), (63.0, 44.0, 28.0, 19.0), 4.5, 0.0),
        ((10.0, 34.0), (67.0, 41.0, 25.0, 18.0), 4.4, -0.14),
    )
    # The rays fan out from the carpus: the little finger ulnar-wards, the index radial-wards.
    splay = float(rng.uniform(0.4, 0.9))
    for (bx, by), lens, r, ang in digits:
        a = np.pi / 2 + ang * splay * sp
        _ray(bones, soft, (bx * sp, by), float(a), lens, r, first="metacarpal", soft_r=8.5, fat=fat)
    thumb_ang = np.pi / 2 - lerp(0.6, 0.3, t) * float(rng.uniform(0.7, 1.2))
    _ray(
        bones,
        soft,
        (lerp(19.0, 9.0, t), 30.0),
        float(thumb_ang),
        (42.0, 29.0, 22.0),
        4.7,
        first="metacarpal",
        soft_r=9.5,
        fat=fat,
    )
    return Layout(
        bones,
        tuple(soft),
        (280.0, 364.0),
        focus=(0.0, 30.0),
        jitter=0.4,
        prefer=("radius", "metacarpal"),
    )


def forearm(rng: np.random.Generator, view: str) -> Layout:
    """Radius and ulna with both ends; ``x`` radial. Origin at mid-forearm."""
    t = view_t(rng, view)
    rr = float(rng.uniform(6.0, 7.0))
    radius = long_bone(
        "radius",
        (lerp(11.0, 3.0, t), -128.0),
        (lerp(16.0, 5.0, t), 124.0),
        radius=rr,
        cortex=2.4,
        flare=(3.5, lerp(10.0, 6.0, t)),
        flare_len=(20.0, 38.0),
        cap=(3.0, 3.0),
    )
    ulna = long_bone(
        "ulna",
        (lerp(-9.0, -4.0, t), -146.0),
        (lerp(-12.0, -3.0, t), 121.0),
        radius=rr * 0.9,
        cortex=2.3,
        flare=(8.0, 2.5),
        flare_len=(36.0, 14.0),
        cap=(10.0, 5.0),
        extra=(Blob((lerp(-8.0, -14.0, t), -140.0), 9.0, 12.0, 10.0, 0.0, 1.2, 0.7),),
    )
    humerus = long_bone(
        "humerus",
        (0.0, -420.0),
        (0.0, -140.0),
        radius=10.5,
        cortex=3.4,
        flare=(0.0, lerp(20.0, 12.0, t)),
        flare_len=(20.0, 50.0),
        cap=(0.0, 8.0),
        holes=(Hole((0.0, -160.0), 10.0, 8.0, 0.0, 0.5),),
        joints=("high",),
    )
    bones: list[Bone] = [radius, ulna, humerus]
    sp = lerp(1.0, 0.12, t)
    for name, (cx, cy), a, b in (
        ("scaphoid", (11.0, 134.0), 6.5, 11.0),
        ("lunate", (0.0, 133.0), 8.0, 7.5),
        ("triquetrum", (-11.0, 136.0), 6.0, 7.0),
        ("capitate", (-1.0, 150.0), 6.5, 11.0),
    ):
        bones.append(short_bone(name, (cx * sp, cy), a, b, depth=9.0, cortex=1.0))
    fat = float(rng.uniform(3.0, 7.0))
    soft: tuple[Shape, ...] = (
        Tube(
            (0.0, -450.0),
            (0.0, 150.0),
            float(rng.uniform(26.0, 32.0)),
            fat,
            lerp(14.0, 18.0, t),
            0.0,
            250.0,
            1.0,
            depth=lerp(0.8, 1.1, t),
            planes=(-0.4, 0.0, 0.4),
        ),
        Blob((0.0, 175.0), 40.0, 40.0, 18.0, 0.0, fat, 1.0),
    )
    return Layout(
        bones, soft, (350.0, 462.0), focus=(0.0, 0.0), jitter=0.5, prefer=("radius", "ulna")
    )


def elbow(rng: np.random.Generator, view: str) -> Layout:
    """Distal humerus with condyles, proximal radius and ulna; ``x`` lateral. Origin: joint."""
    t = view_t(rng, view)
    flex = lerp(0.05, float(rng.uniform(1.2, 1.7)), t)

    def fa(p: tuple[float, float]) -> tuple[float, float]:
        return rotate(p, -flex, (0.0, 0.0))

    rh = float(rng.uniform(10.0, 12.0))
    humerus = long_bone(
        "humerus",
        (0.0, -420.0),
        (lerp(0.0, 4.0, t), -6.0),
        radius=rh,
        cortex=rh * 0.32,
        flare=(0.0, lerp(20.0, 8.0, t)),
        flare_len=(20.0, 60.0),
        cap=(0.0, 10.0),
        extra=(
            Blob((lerp(-30.0, 0.0, t), -22.0), lerp(8.0, 14.0, t), 10.0, 10.0, 0.0, 1.2, 0.8),
            Blob((lerp(28.0, 2.0, t), -20.0), lerp(7.0, 13.0, t), 8.0, 9.0, 0.0, 1.2, 0.8),
            Blob(
                (lerp(-9.0, 6.0, t), -10.0),
                lerp(13.0, 12.0, t),
                10.0,
                lerp(14.0, 18.0, t),
                0.0,
                1.3,
                0.85,
            ),
            Blob(
                (lerp(13.0, 8.0, t), -11.0),
                lerp(9.0, 11.0, t),
                10.0,
                lerp(12.0, 16.0, t),
                0.0,
                1.3,
                0.85,
            ),
        ),
        holes=(
            Hole((lerp(0.0, -2.0, t), -30.0), lerp(11.0, 6.0, t), 9.0, 0.0, lerp(0.45, 0.7, t)),
        ),
        joints=("high",),
    )
    radius = long_bone(
        "radius",
        fa((lerp(14.0, 6.0, t), 2.5)),
        fa((lerp(22.0, 6.0, t), 270.0)),
        radius=6.5,
        cortex=2.3,
        flare=(4.5, 0.0),
        flare_len=(14.0, 20.0),
        cap=(2.0, 0.0),
        joints=("low",),
    )
    ulna = long_bone(
        "ulna",
        fa((lerp(-8.0, -14.0, t), -24.0)),
        fa((lerp(-14.0, -6.0, t), 270.0)),
        radius=7.0,
        cortex=2.4,
        flare=(lerp(9.0, 7.0, t), 0.0),
        flare_len=(45.0, 20.0),
        cap=(10.0, 0.0),
        extra=(
            Blob(fa((lerp(-4.0, -8.0, t), lerp(-2.0, 0.0, t))), 10.0, 8.0, 10.0, 0.0, 1.3, 0.8),
        ),
        joints=("low",),
    )
    fat = float(rng.uniform(3.0, 8.0))
    r_arm = float(rng.uniform(36.0, 44.0))
    soft: tuple[Shape, ...] = (
        Tube((0.0, -500.0), (0.0, 0.0), r_arm, fat, depth=0.95, planes=(-0.4, 0.1)),
        Blob((0.0, -5.0), r_arm * 1.05, r_arm, r_arm * 0.9, 0.0, fat, 1.0),
        Tube(
            fa((0.0, 0.0)),
            fa((0.0, 450.0)),
            r_arm * 0.9,
            fat,
            0.0,
            -10.0,
            1.0,
            260.0,
            depth=0.9,
            planes=(-0.3, 0.3),
        ),
    )
    return Layout([humerus, radius, ulna], soft, (280.0, 364.0), focus=(0.0, -10.0), jitter=0.4)


def shoulder(rng: np.random.Generator, view: str) -> Layout:
    """Proximal humerus, glenoid and scapula, clavicle, upper ribs and lung; ``x`` medial."""
    t = view_t(rng, view)
    rot = lerp(0.0, -0.35, t)
    rs = float(rng.uniform(10.5, 12.5))
    rh = float(rng.uniform(22.0, 26.0))
    humerus = long_bone(
        "humerus",
        (-12.0, 6.0),
        rotate((-30.0, 420.0), rot, (0.0, 0.0)),
        radius=rs,
        cortex=rs * 0.3,
        flare=(rs * 1.1, 0.0),
        flare_len=(65.0, 20.0),
        cap=(14.0, 0.0),
        extra=(
            Blob((0.0, 0.0), rh, rh, rh, 0.0, 1.4, 0.9),
            Blob((lerp(-25.0, -10.0, t), -4.0), 10.0, 15.0, 14.0, 0.2, 1.1, 0.8),
        ),
        joints=(),
    )
    gx = lerp(rh + 5.0, 6.0, t)
    scap = lerp(1.0, 0.25, t)
    scapula = plate_bone(
        "scapula",
        (
            Blob((gx, 2.0), lerp(6.0, 14.0, t), 20.0, lerp(14.0, 10.0, t), 0.0, 1.8, 0.7),
            Blob(
                (gx + 52.0 * scap, 62.0),
                50.0 * scap + 6.0,
                88.0,
                lerp(5.0, 14.0, t),
                0.3 * scap,
                1.2,
                0.6,
            ),
            Tube(
                (gx + 2.0, 20.0), (gx + 38.0 * scap + 4.0, 150.0), 5.5, 1.8, depth=1.2, marrow=0.5
            ),
            Tube(
                (-20.0, -38.0),
                (lerp(95.0, 40.0, t), -62.0),
                8.0,
                2.0,
                3.0,
                0.0,
                20.0,
                1.0,
                6.0,
                0.0,
                0.8,
                0.5,
            ),
            Blob((gx + 14.0, -22.0), 7.0, 13.0, 9.0, 0.6, 1.2, 0.7),
        ),
    )
    clav = long_bone(
        "clavicle",
        (-8.0, -52.0),
        (210.0, lerp(-82.0, -60.0, t)),
        radius=8.5,
        cortex=2.4,
        flare=(4.0, 5.0),
        flare_len=(25.0, 25.0),
        cap=(5.0, 0.0),
        depth=0.8,
        joints=("low",),
    )
    ribs = plate_bone(
        "ribs",
        tuple(
            Arc((300.0, -150.0 + 36.0 * i), 210.0 + 6.0 * i, 2.55, 3.75, 5.5, 1.4, 0.4, 0.6)
            for i in range(7)
        )
        + tuple(
            Arc((120.0, -330.0 + 40.0 * i), 260.0, 1.45, 2.05, 5.0, 1.3, 0.4, 0.6) for i in range(5)
        ),
    )
    fat = float(rng.uniform(6.0, 18.0))
    soft: tuple[Shape, ...] = (
        Blob((240.0, 120.0), 300.0, 480.0, float(rng.uniform(95.0, 120.0)), 0.0, fat, 1.0),
        Blob((-8.0, 15.0), 52.0, 70.0, 48.0, 0.0, fat, 1.0),
        Tube(
            (-12.0, 0.0),
            rotate((-40.0, 600.0), rot, (0.0, 0.0)),
            float(rng.uniform(40.0, 50.0)),
            fat,
            depth=0.95,
            planes=(-0.35, 0.2),
        ),
        Blob((150.0, -110.0), 160.0, 55.0, 50.0, -0.1, fat, 1.0),
    )
    lung = (Blob((210.0, 150.0), 110.0, 230.0, 85.0, -0.08, 0.0, 1.0),)
    return Layout(
        [ribs, scapula, clav, humerus],
        soft,
        (364.0, 504.0),
        focus=(50.0, 30.0),
        jitter=0.15,
        lateral_x=-1.0,
        cavities=lung,
        prefer=("humerus", "clavicle"),
    )
