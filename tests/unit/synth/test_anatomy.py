"""Body-part scenes: every part and view builds, is reproducible, and its ground truth is exact."""

from __future__ import annotations

import numpy as np
import pytest

from orthogui.synth.anatomy import BODY_PARTS, VIEWS, generate_body_part
from orthogui.synth.phantom import Scene

CASES = [(part, view) for part in BODY_PARTS for view in VIEWS]


def _scene(part: str, view: str, size: int, seed: int = 3) -> Scene:
    return generate_body_part(np.random.default_rng(seed), part=part, size=size, view=view)


@pytest.mark.parametrize("size", [256, 512])
@pytest.mark.parametrize(("part", "view"), CASES)
def test_every_part_and_view_builds(part: str, view: str, size: int) -> None:
    scene = _scene(part, view, size)
    assert scene.shape == (size, size)
    assert scene.body_part == part
    assert scene.view == view
    assert scene.side in ("L", "R")
    for name, thick in scene.thickness.items():
        assert thick.dtype == np.float32, name
        assert np.isfinite(thick).all(), name
        assert (thick >= 0).all(), name
    assert not scene.thickness["metal"].any()
    assert (scene.thickness["cortical"] > 0).sum() > size * size * 0.01
    assert scene.hardware == []


@pytest.mark.parametrize("part", BODY_PARTS)
def test_same_seed_same_maps(part: str) -> None:
    a = generate_body_part(np.random.default_rng(11), part=part, size=256)
    b = generate_body_part(np.random.default_rng(11), part=part, size=256)
    assert (a.view, a.side) == (b.view, b.side)
    for name in a.thickness:
        assert a.thickness[name].tobytes() == b.thickness[name].tobytes(), name
    assert a.sites == b.sites
    assert [i.mask.tobytes() for i in a.instances] == [i.mask.tobytes() for i in b.instances]


@pytest.mark.parametrize(("part", "view"), CASES)
def test_bone_lies_inside_the_body_and_air_is_empty(part: str, view: str) -> None:
    scene = _scene(part, view, 256)
    body = (scene.thickness["soft_tissue"] + scene.thickness["fat"]) > 0
    bone = (scene.thickness["cortical"] + scene.thickness["cancellous"]) > 0
    assert (bone & ~body).sum() == 0
    total = sum(scene.thickness.values())
    assert (total[~body] == 0).all()


@pytest.mark.parametrize("part", ["hand_wrist", "forearm", "elbow", "knee", "leg_ankle", "foot"])
def test_extremities_have_air_around_them(part: str) -> None:
    found = 0
    for seed in range(4):
        scene = _scene(part, "ap", 256, seed)
        body = (scene.thickness["soft_tissue"] + scene.thickness["fat"]) > 0
        found += int((~body).mean() > 0.05)
    assert found >= 3


@pytest.mark.parametrize("part", BODY_PARTS)
def test_fat_layer_under_the_skin_line(part: str) -> None:
    import cv2

    scene = _scene(part, "ap", 512, seed=5)
    body = ((scene.thickness["soft_tissue"] + scene.thickness["fat"]) > 0).astype(np.uint8)
    skin = body - cv2.erode(body, np.ones((5, 5), np.uint8))
    edge = skin.astype(bool)
    edge[[0, -1], :] = False
    edge[:, [0, -1]] = False
    if edge.sum() < 20:
        pytest.skip("body fills the frame")
    fat, muscle = scene.thickness["fat"], scene.thickness["soft_tissue"]
    assert (fat[edge] > 0).mean() > 0.95
    # Near the skin line the path runs mostly through fat; deep inside, mostly through muscle.
    assert float(np.median(fat[edge] / (fat[edge] + muscle[edge] + 1e-6))) > 0.5
    deep = cv2.erode(body, np.ones((41, 41), np.uint8)).astype(bool)
    if deep.any():
        assert float(muscle[deep].sum()) > float(fat[deep].sum()) * 0.8


@pytest.mark.parametrize(("part", "view"), CASES)
def test_sites_lie_on_bone_inside_the_image(part: str, view: str) -> None:
    scene = _scene(part, view, 512, seed=7)
    cort = scene.thickness["cortical"]
    h, w = scene.shape
    for site in scene.sites:
        lo, hi = site.s_range
        assert hi > lo
        for s in (lo, hi):
            x, y = site.to_image(s, 0.0)
            assert 0 <= x < w and 0 <= y < h
        s_mid = (lo + hi) / 2
        if site.fracture_s is not None:
            # The distal fragment is displaced: look at the proximal one, off the fracture line.
            room = site.fracture_s - lo - 3 * site.radius_mm
            if room < site.radius_mm:
                continue
            s_mid = lo + room / 2
        for side in (-1.0, 1.0):
            x, y = site.to_image(s_mid, side * site.radius_mm * 0.9)
            assert cort[int(y), int(x)] > 0, (site.name, side)
        # The canal axis is inside the bone.
        x, y = site.to_image(s_mid, 0.0)
        assert scene.thickness["cancellous"][int(y), int(x)] + cort[int(y), int(x)] > 0


def test_every_part_has_a_site_somewhere() -> None:
    for part in BODY_PARTS:
        names = set()
        for seed in range(5):
            names |= {s.name for s in _scene(part, str(VIEWS[seed % 3]), 256, seed).sites}
        assert names, part


@pytest.mark.parametrize("part", BODY_PARTS)
def test_fracture_masks_are_on_bone_and_recorded_in_sites(part: str) -> None:
    seen = 0
    for seed in range(8):
        scene = generate_body_part(np.random.default_rng(seed), part=part, size=256)
        fractures = [i for i in scene.instances if i.category == "fracture"]
        assert len(fractures) <= 1
        for inst in fractures:
            seen += 1
            assert inst.mask.shape == scene.shape and inst.mask.any()
            bone = scene.thickness["cortical"] + scene.thickness["cancellous"]
            assert (bone[inst.mask] > 0).mean() > 0.5
            assert inst.attributes["body_part"] == part
            assert inst.attributes["view"] == scene.view
            assert inst.attributes["kind"] in ("hairline", "displaced", "comminuted")
            fractured = [s for s in scene.sites if s.fracture_s is not None]
            assert len(fractured) == 1
            assert fractured[0].name == inst.attributes["bone"]
        if not fractures:
            assert all(s.fracture_s is None for s in scene.sites)
    assert seen >= 2


def test_views_differ() -> None:
    maps = [_scene("knee", view, 256, seed=2).thickness["cortical"] for view in VIEWS]
    assert not np.array_equal(maps[0], maps[1])
    assert not np.array_equal(maps[0], maps[2])


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [({"part": "tail"}, "'tail'"), ({"part": "knee", "view": "axial"}, "'axial'")],
)
def test_bad_names_raise(kwargs: dict[str, str], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        generate_body_part(np.random.default_rng(0), size=128, **kwargs)  # type: ignore[arg-type]


def test_bones_depart_smoothly_from_their_solids() -> None:
    from orthogui.synth.skeleton import Placement, draw_bone, long_bone, short_bone

    place = Placement((128.0, 128.0), 0.0, 1.0, 0.25)
    carpal = short_bone("lunate", (0.0, 0.0), 8.0, 7.0, depth=9.0)
    shaft = long_bone("radius", (0.0, -120.0), (0.0, 120.0), radius=7.0, cortex=2.4)
    for bone in (carpal, shaft):
        solid = Scene.empty((256, 256), spacing_mm=0.25, view="ap", side="L")
        drawn = Scene.empty((256, 256), spacing_mm=0.25, view="ap", side="L")
        draw_bone(solid, bone, place)
        draw_bone(drawn, bone, place, rng=np.random.default_rng(4))
        a, b = solid.thickness["cortical"] > 0, drawn.thickness["cortical"] > 0
        # Not the ellipse or the straight tube any more, but the same bone.
        assert (a ^ b).sum() > 0.02 * a.sum(), bone.name
        assert 0.8 < b.sum() / a.sum() < 1.25, bone.name
    # Along the shaft the bone is never narrower than its site's radius (implants stay on it).
    assert shaft.shaft is not None
    half_px = shaft.shaft.radius * 0.9 / 0.25
    rows = np.flatnonzero(b.any(axis=1))
    mid = rows[len(rows) // 4 : 3 * len(rows) // 4]
    assert b[mid][:, int(128 - half_px)].all() and b[mid][:, int(128 + half_px)].all()


def test_clinical_side_marker_is_small_and_clear_of_findings() -> None:
    from orthogui.synth.phantom import Instance, burn_side_marker

    for seed in range(6):
        scene = Scene.empty((512, 512), spacing_mm=0.3, view="ap", side="R")
        finding = np.zeros((512, 512), dtype=bool)
        finding[:, :200] = True
        scene.instances.append(Instance("fracture", finding))
        burn_side_marker(scene, np.random.default_rng(seed), steel_mm=12.0, clinical=True)
        metal = scene.thickness["metal"] > 0
        assert not (metal & finding).any()
        if metal.any():
            ys, xs = np.nonzero(metal)
            assert np.ptp(ys) < 0.08 * 512 and np.ptp(xs) < 0.08 * 512
