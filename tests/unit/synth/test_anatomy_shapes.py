"""The anatomy the clinical phantoms draw is there: the whole pelvis, the foot, the palm."""

from __future__ import annotations

import cv2
import numpy as np

from orthogui.synth.anatomy import generate_body_part
from orthogui.synth.joints import foot, hip_femur
from orthogui.synth.phantom import Scene
from orthogui.synth.skeleton import Placement, draw_bone, mirror_bone, plate_bone
from orthogui.synth.tissue import Blob, Hole, Tube


def _enclosed_holes(bone: np.ndarray, spacing_mm: float) -> list[tuple[float, float, float]]:
    """(area mm², x px, y px) of every region without bone that bone surrounds."""
    free = (~bone).astype(np.uint8)
    n, _labels, stats, cents = cv2.connectedComponentsWithStats(free, connectivity=4)
    h, w = bone.shape
    out = []
    for k in range(1, n):
        x, y, bw, bh, area = stats[k]
        if x == 0 or y == 0 or x + bw == w or y + bh == h:
            continue
        out.append((float(area) * spacing_mm**2, float(cents[k][0]), float(cents[k][1])))
    return out


def test_pelvis_has_two_obturator_foramina() -> None:
    both = 0
    for seed in range(6):
        scene = generate_body_part(
            np.random.default_rng(seed), part="hip_femur", size=512, view="ap"
        )
        bone = (scene.thickness["cortical"] + scene.thickness["cancellous"]) > 0
        holes = [h for h in _enclosed_holes(bone, scene.spacing_mm) if 350.0 < h[0] < 2500.0]
        pairs = [
            (a, b)
            for i, a in enumerate(holes)
            for b in holes[i + 1 :]
            if max(a[0], b[0]) < 1.8 * min(a[0], b[0])
            and 90.0 < np.hypot(a[1] - b[1], a[2] - b[2]) * scene.spacing_mm < 260.0
        ]
        both += bool(pairs)
    # Two foramina of like size, a symphysis apart, whenever the film frames the whole pelvis.
    assert both >= 3


def test_pelvis_layout_is_two_mirrored_halves_around_the_sacrum() -> None:
    layout = hip_femur(np.random.default_rng(1), "ap")
    names = [b.name for b in layout.bones]
    assert names.count("pelvis") == 2 and names.count("femur") == 2
    assert "sacrum" in names
    sacrum = layout.bones[names.index("sacrum")]
    assert len(sacrum.holes) == 8  # four pairs of sacral foramina
    halves = [b for b in layout.bones if b.name == "pelvis"]
    assert all(len(b.holes) == 1 for b in halves)  # one obturator foramen each


def test_mirror_bone_reflects_about_the_midline() -> None:
    spacing = 0.5
    place = Placement((128.0, 128.0), 0.0, 1.0, spacing)
    bone = plate_bone(
        "pelvis",
        (Blob((-20.0, -10.0), 12.0, 8.0, 6.0, 0.4), Tube((-30.0, 10.0), (-5.0, 25.0), 4.0, 1.0)),
        (Hole((-20.0, -10.0), 4.0, 3.0, 0.3),),
    )
    a = Scene.empty((256, 256), spacing_mm=spacing, view="ap", side="L")
    b = Scene.empty((256, 256), spacing_mm=spacing, view="ap", side="L")
    draw_bone(a, bone, place)
    draw_bone(b, mirror_bone(bone, 0.0), place)
    # The mirror image about x = 0 (image column 128) is the original flipped left-right.
    flipped = a.thickness["cortical"][:, ::-1]
    got = b.thickness["cortical"]
    assert got.sum() > 0
    assert np.abs(flipped - got).max() < 0.05
    assert not np.array_equal(a.thickness["cortical"] > 0, got > 0)


def test_foot_has_five_rays_of_metatarsal_and_phalanges() -> None:
    for seed in range(3):
        for view in ("ap", "lateral"):
            names = [b.name for b in foot(np.random.default_rng(seed), view).bones]
            assert names.count("metatarsal") == 5
            assert names.count("phalanx") == 14  # two in the great toe, three in each other toe
            assert names.count("cuneiform") == 3
            assert {"calcaneus", "talus", "navicular", "cuboid"} <= set(names)


def test_hand_palm_widens_from_wrist_to_knuckles() -> None:
    from orthogui.synth.extremity import hand_wrist

    for seed in range(3):
        palm = hand_wrist(np.random.default_rng(seed), "ap").soft[1]
        assert isinstance(palm, Tube)
        assert palm.flare_b > 0.3 * palm.radius  # wider at the knuckles than at the wrist
        assert palm.depth < 0.7  # and flat: thinner front to back than across
    # Without the skin's wobble: the palm and its eminences are a wedge, about 5 cm across
    # where they meet the wrist and 7-9 cm at the knuckles (not a block of one width).
    from orthogui.synth.tissue import evaluate_union

    layout = hand_wrist(np.random.default_rng(0), "ap")
    xs = np.arange(-80.0, 80.0, 0.5, dtype=np.float32)
    for y, lo, hi in ((15.0, 40.0, 62.0), (80.0, 68.0, 100.0)):
        ss, dd = np.meshgrid(xs, np.array([y], dtype=np.float32))
        outer, _, _ = evaluate_union(tuple(layout.soft[1:4]), (), ss, dd)
        width = float((outer > 0).sum()) * 0.5
        assert lo < width < hi, (y, width)
