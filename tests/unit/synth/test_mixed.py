"""The realistic ``mixed`` set: every body part and implant kind, only screws labelled, exact masks,
two-view films."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from orthogui.synth.anatomy import BODY_PARTS
from orthogui.synth.dataset import annotate, plan_image
from orthogui.synth.film import burn_seam, side_by_side
from orthogui.synth.hardware import HARDWARE_KINDS
from orthogui.synth.phantom import Scene
from orthogui.synth.scenes import SceneSpec, SynthImage, synthesize
from orthogui.synth.screws import SCREW_NAMES

SIZE = 160
N = 90


@pytest.fixture(scope="module")
def mixed() -> list[tuple[SceneSpec, SynthImage]]:
    placed: Counter[str] = Counter()
    out = []
    for i in range(N):
        rng = np.random.default_rng([11, i])
        spec = plan_image(rng, scene="mixed", size=SIZE, placed=placed)
        img = synthesize(spec, rng)
        placed.update(inst.category for inst in img.scene.instances if inst.metal)
        out.append((spec, img))
    return out


def test_every_body_part_and_hardware_kind_appears(mixed: list[tuple[SceneSpec, SynthImage]]):
    parts = {img.scene.body_part for _, img in mixed if img.scene.body_part}
    assert parts == set(BODY_PARTS)
    kinds = {h.kind for _, img in mixed for h in img.scene.hardware}
    assert kinds == set(HARDWARE_KINDS)
    assert any(spec.views == 2 for spec, _ in mixed)
    assert any(spec.kind == "spine" for spec, _ in mixed)
    labelled = {i.category for _, img in mixed for i in img.scene.instances}
    assert set(SCREW_NAMES) <= labelled and "fracture" in labelled


def test_distractors_are_never_labelled(mixed: list[tuple[SceneSpec, SynthImage]]) -> None:
    seen = 0
    for _, img in mixed:
        sc = img.scene
        for inst in sc.instances:
            assert inst.category in SCREW_NAMES or not inst.metal
        for hw in sc.hardware:
            assert hw.kind in HARDWARE_KINDS
            for inst in sc.instances:
                if inst.metal:
                    # A screw may pass through a plate or nail, but no labelled screw is one.
                    inter = np.count_nonzero(inst.mask & hw.mask)
                    union = np.count_nonzero(inst.mask | hw.mask)
                    assert inter / union < 0.5
            seen += 1
    assert seen > 20


def test_masks_stay_exact(mixed: list[tuple[SceneSpec, SynthImage]]) -> None:
    for _, img in mixed:
        sc = img.scene
        for inst in sc.instances:
            assert inst.mask.shape == sc.shape and inst.mask.any()
            if inst.metal:
                # Every labelled screw pixel is metal in the projection.
                assert (sc.thickness["metal"][inst.mask] > 0).all()
            else:
                bone = sc.thickness["cortical"] + sc.thickness["cancellous"]
                assert (bone[inst.mask] > 0).mean() > 0.5
        anns = annotate(sc, image_id=1, first_id=1)
        assert len(anns) == len(sc.instances)


def test_two_views_share_one_film() -> None:
    spec = SceneSpec("body", 256, ("cortical_screw", "locking_screw"), part="leg_ankle", views=2)
    img = synthesize(spec, np.random.default_rng(4))
    sc = img.scene
    assert sc.seams == [128]
    # The seam is burned in bright and straight down the film.
    col = img.stored[:, 127:129].astype(np.float64)
    assert col.mean() > 0.8 * ((1 << img.exposure.bits) - 1)
    # Both halves hold anatomy.
    soft = sc.thickness["soft_tissue"] + sc.thickness["fat"]
    assert soft[:, :128].sum() > 0 and soft[:, 128:].sum() > 0


def test_side_by_side_keeps_instances_and_refuses_mismatched_views() -> None:
    a = Scene.empty((64, 64), spacing_mm=0.5, view="ap", side="L")
    b = Scene.empty((64, 64), spacing_mm=0.5, view="lateral", side="L")
    a.thickness["cortical"][:, 30:34] = 5.0
    b.thickness["cortical"][:, 10:14] = 5.0
    from orthogui.synth.phantom import Instance

    mask = np.zeros((64, 64), bool)
    mask[20:40, 30:34] = True
    a.instances.append(Instance("fracture", mask, {}))
    film, seam = side_by_side(a, b)
    assert seam == 32 and film.shape == (64, 64)
    assert len(film.instances) == 1
    placed = film.instances[0].mask
    assert placed.sum() == mask.sum() and (film.thickness["cortical"][placed] == 5.0).all()
    c = Scene.empty((64, 64), spacing_mm=0.6, view="ap", side="L")
    with pytest.raises(ValueError, match="spacing"):
        side_by_side(a, c)
    stored = np.zeros((64, 64), np.uint16)
    seamed = burn_seam(stored, 32, np.random.default_rng(0), bits=12)
    assert seamed[:, 32].min() > 3000 and seamed[:, :28].max() == 0


def test_unknown_part_and_view_count_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="skull"):
        synthesize(SceneSpec("body", 128, part="skull"), np.random.default_rng(0))
    with pytest.raises(ValueError, match="1 or 2 views"):
        synthesize(SceneSpec("body", 128, part="knee", views=3), np.random.default_rng(0))
