"""Hardware placer: every kind is placed when forced, only the requested screws are labelled,
masks sit on their metal, nails stay in the canal, plates cover the bone, all deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from orthogui.synth.hardware import HARDWARE_KINDS, place_hardware
from orthogui.synth.phantom import Scene, chord
from orthogui.synth.screws import SCREW_TYPES, Screw, random_screw, render_screw
from orthogui.synth.sites import BoneSite

SIZE = 384
SPACING = 0.5


def _scene(
    *,
    part: str = "",
    view: str = "ap",
    name: str = "femur",
    joint: tuple[str, ...] = ("high",),
    fracture: float | None = 10.0,
) -> Scene:
    scene = Scene.empty((SIZE, SIZE), spacing_mm=SPACING, view=view, side="L")
    scene.body_part = part
    site = BoneSite(
        name,
        (SIZE / 2, SIZE / 2),
        np.pi / 2 + 0.1,
        SPACING,
        (-70.0, 40.0),
        12.0,
        3.5,
        joint,
        fracture_s=fracture,
        fracture_tilt=0.3,
    )
    s, d = site.coords(scene.shape)
    inside = (s > -100) & (s < 50)
    scene.thickness["soft_tissue"] += chord(d, 40.0)
    scene.thickness["cortical"] += np.where(
        inside, chord(d, site.radius_mm) - chord(d, site.canal_radius_mm), 0.0
    ).astype(np.float32)
    scene.sites = [site]
    return scene


@pytest.mark.parametrize("kind", HARDWARE_KINDS)
def test_each_kind_is_placed_when_forced(kind: str) -> None:
    part = "knee" if kind == "joint_replacement" else ""
    scene = _scene(part=part, name="tibia" if part == "knee" else "femur")
    place_hardware(scene, np.random.default_rng(1), screw_types=[], kinds=[kind])
    assert [h.kind for h in scene.hardware] and {h.kind for h in scene.hardware} == {kind}
    assert scene.thickness["metal"].max() > 0.5
    assert not scene.instances


@pytest.mark.parametrize("seed", range(6))
def test_only_requested_screws_are_instances_and_masks_sit_on_metal(seed: int) -> None:
    scene = _scene()
    screws = ["cortical_screw", "locking_screw", "cancellous_screw", "compression_screw"]
    place_hardware(
        scene, np.random.default_rng(seed), screw_types=screws, kinds=list(HARDWARE_KINDS)
    )
    assert len(scene.instances) <= len(screws)
    assert len(scene.instances) >= 2
    assert all(i.category in SCREW_TYPES for i in scene.instances)
    names = [i.category for i in scene.instances]
    assert all(names.count(t) <= screws.count(t) for t in set(names))
    metal = scene.thickness["metal"]
    for inst in scene.instances:
        assert inst.metal and inst.mask.any()
        assert (metal[inst.mask] > 0).all()
    for hw in scene.hardware:
        assert hw.kind in HARDWARE_KINDS
        assert (metal[hw.mask] > 0).all()


def test_nail_lies_inside_the_canal() -> None:
    for seed in range(4):
        scene = _scene()
        place_hardware(
            scene, np.random.default_rng(seed), screw_types=[], kinds=["intramedullary_nail"]
        )
        (nail,) = scene.hardware
        _, d = scene.sites[0].coords(scene.shape)
        assert np.abs(d[nail.mask]).max() <= scene.sites[0].canal_radius_mm + SPACING


def test_face_on_plate_covers_the_bone() -> None:
    found = 0
    for seed in range(30):
        scene = _scene()
        place_hardware(scene, np.random.default_rng(seed), screw_types=[], kinds=["plate"])
        (plate,) = scene.hardware
        _, d = scene.sites[0].coords(scene.shape)
        dd = d[plate.mask]
        assert np.abs(dd).max() <= scene.sites[0].radius_mm + 8.0  # on the bone, not beside it
        if dd.min() < -2.0 and dd.max() > 2.0:  # straddles the axis: seen face-on
            found += 1
    assert found >= 5


def test_same_seed_same_metal() -> None:
    maps = []
    for _ in range(2):
        scene = _scene()
        place_hardware(
            scene, np.random.default_rng(7), screw_types=["cortical_screw", "locking_screw"]
        )
        maps.append(scene.thickness["metal"].copy())
    assert np.array_equal(maps[0], maps[1])


def test_random_kinds_give_variety_and_sometimes_nothing() -> None:
    seen: set[str] = set()
    empty = 0
    for seed in range(40):
        scene = _scene()
        place_hardware(scene, np.random.default_rng(seed), screw_types=[])
        kinds = {h.kind for h in scene.hardware}
        seen |= kinds
        empty += not kinds
    assert len(seen) >= 4 and empty >= 1


def test_scene_without_sites_gets_free_screws() -> None:
    scene = Scene.empty((SIZE, SIZE), spacing_mm=SPACING, view="ap", side="R")
    place_hardware(
        scene, np.random.default_rng(0), screw_types=["cortical_screw", "cannulated_screw"]
    )
    assert sorted(i.category for i in scene.instances) == ["cannulated_screw", "cortical_screw"]
    assert not scene.hardware


def test_unknown_kind_raises_naming_it() -> None:
    with pytest.raises(ValueError, match="space_laser"):
        place_hardware(_scene(), np.random.default_rng(0), screw_types=[], kinds=["space_laser"])


def _screw(elevation: float) -> Screw:
    s = random_screw(
        np.random.default_rng(3), "cortical_screw", x=20.0, y=50.0, angle=0.0, length_mm=40.0
    )
    return Screw(s.type_name, s.length_mm, s.size, s.thread_length_mm, s.x, s.y, s.angle, elevation)


def test_zero_elevation_renders_as_before() -> None:
    base = _screw(0.0)
    plain = Screw(
        base.type_name, base.length_mm, base.size, base.thread_length_mm, base.x, base.y, base.angle
    )
    a = render_screw(base, shape=(100, 400), spacing_mm=0.2)
    b = render_screw(plain, shape=(100, 400), spacing_mm=0.2)
    assert a is not None and b is not None
    assert a[0] == b[0] and np.array_equal(a[1], b[1]) and np.array_equal(a[2], b[2])


@pytest.mark.parametrize("elevation", [0.2, 0.8, 1.2])
def test_foreshortened_screw_is_shorter_in_the_image(elevation: float) -> None:
    def extent(screw: Screw) -> tuple[float, float]:
        out = render_screw(screw, shape=(100, 400), spacing_mm=0.2)
        assert out is not None
        _, thick, mask = out
        cols = np.flatnonzero(mask.any(axis=0))
        mid = thick[:, (cols[0] + cols[-1]) // 2]  # across the shaft, half-way along
        return (cols[-1] - cols[0] + 1) * 0.2, float(mid.max())

    flat_len, flat_max = extent(_screw(0.0))
    tilt_len, tilt_max = extent(_screw(elevation))
    expected = 40.0 * np.cos(elevation)
    assert tilt_len < flat_len
    assert tilt_len == pytest.approx(expected, abs=0.3 * 40.0 * np.sin(elevation) + 2.0)
    assert tilt_max > flat_max  # the path through the shaft grows


def test_no_sites_but_forced_kinds_still_place_screws() -> None:
    scene = Scene.empty((SIZE, SIZE), spacing_mm=SPACING, view="ap", side="R")
    place_hardware(scene, np.random.default_rng(0), screw_types=["locking_screw"], kinds=["plate"])
    assert [i.category for i in scene.instances] == ["locking_screw"]
