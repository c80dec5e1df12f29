"""Registry of scene kinds and the one call that turns a plan into a finished synthetic image.

A ``SceneSpec`` says what to draw (kind, size, screws, fracture level, body part, views);
``synthesize`` builds the phantom, burns in the side marker and exposes it.

Kinds: ``body`` is a body part (``anatomy.BODY_PARTS``) with its implants (``hardware``),
acquired like a clinical CR/DR film (``acquisition``), sometimes two views on one film;
``limb`` (one long bone, plate and lag screws) and ``spine`` (lateral thoracolumbar) are the
first, simpler phantoms, exposed by ``physics.expose``. ``realistic`` gives the spine the
clinical acquisition too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from orthogui.core.radiograph import WindowPreset
from orthogui.synth.acquisition import Acquisition, burn_in_overlays, expose_realistic
from orthogui.synth.anatomy import BODY_PARTS, generate_body_part
from orthogui.synth.film import burn_seam, side_by_side
from orthogui.synth.hardware import place_hardware
from orthogui.synth.limb import generate_limb
from orthogui.synth.phantom import Scene, burn_side_marker
from orthogui.synth.physics import Exposure, expose, window_presets
from orthogui.synth.spine import generate_spine

# How often each body part is drawn when a plan leaves it open: FracAtlas's mix (hand and
# wrist films most common, then leg, then hip and shoulder).
BODY_PART_WEIGHTS: dict[str, float] = {
    "hand_wrist": 0.26,
    "forearm": 0.12,
    "elbow": 0.08,
    "shoulder": 0.09,
    "hip_femur": 0.09,
    "knee": 0.12,
    "leg_ankle": 0.14,
    "foot": 0.10,
}


@dataclass(frozen=True)
class SceneSpec:
    """What one synthetic image should show."""

    kind: str  # a key of ``SCENE_BUILDERS``
    size: int
    screw_types: tuple[str, ...] = ()
    fracture_level: str | None = None  # spine only
    view: str | None = None  # limb and body only; None = random
    part: str | None = None  # body only: one of ``anatomy.BODY_PARTS``; None = random
    views: int = 1  # body only: 2 = two views side by side on one film
    realistic: bool = False  # spine: clinical acquisition (body scenes always have it)


@dataclass
class SynthImage:
    """A finished image: stored pixels, its scene (thickness maps, instances) and exposure."""

    stored: NDArray[np.uint16]
    scene: Scene
    exposure: Exposure | Acquisition
    windows: tuple[WindowPreset, ...] = field(default_factory=tuple)


def _limb(rng: np.random.Generator, spec: SceneSpec) -> Scene:
    return generate_limb(rng, size=spec.size, screw_types=list(spec.screw_types), view=spec.view)


def _spine(rng: np.random.Generator, spec: SceneSpec) -> Scene:
    return generate_spine(
        rng, size=spec.size, screw_types=list(spec.screw_types), fracture_level=spec.fracture_level
    )


def random_part(rng: np.random.Generator) -> str:
    """A body part drawn with ``BODY_PART_WEIGHTS``."""
    names = list(BODY_PART_WEIGHTS)
    weights = np.array([BODY_PART_WEIGHTS[n] for n in names], dtype=np.float64)
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]


def _one_view(rng: np.random.Generator, spec: SceneSpec, part: str, **kw: object) -> Scene:
    scene = generate_body_part(rng, part=part, size=spec.size, **kw)  # type: ignore[arg-type]
    place_hardware(scene, rng, screw_types=list(spec.screw_types))
    return scene


def _body(rng: np.random.Generator, spec: SceneSpec) -> Scene:
    part = spec.part or random_part(rng)
    if part not in BODY_PARTS:
        raise ValueError(f"unknown body part {part!r}; known: {list(BODY_PARTS)}")
    if spec.views == 1:
        return _one_view(rng, spec, part, view=spec.view)
    if spec.views != 2:
        raise ValueError(f"a film holds 1 or 2 views, got {spec.views}")
    first = _one_view(rng, spec, part, view=spec.view or "ap")
    other = "lateral" if first.view != "lateral" else "ap"
    second = _one_view(rng, spec, part, view=other, side=first.side, spacing_mm=first.spacing_mm)
    film, seam = side_by_side(first, second)
    film.seams.append(seam)
    return film


SCENE_BUILDERS: dict[str, Callable[[np.random.Generator, SceneSpec], Scene]] = {
    "limb": _limb,
    "spine": _spine,
    "body": _body,
}


def synthesize(spec: SceneSpec, rng: np.random.Generator) -> SynthImage:
    """Build, mark and expose one scene.

    Parameters
    ----------
    spec
        Kind, size and content of the image.
    rng
        The only source of randomness: the same generator state gives the same image.
    """
    if spec.kind not in SCENE_BUILDERS:
        raise ValueError(f"unknown scene kind {spec.kind!r}; known: {list(SCENE_BUILDERS)}")
    if not 64 <= spec.size <= 8192:
        raise ValueError(f"image size must be 64..8192 px, got {spec.size}")
    scene = SCENE_BUILDERS[spec.kind](rng, spec)
    if spec.kind != "body" and not spec.realistic:
        burn_side_marker(scene, rng)
        stored, exposure = expose(scene, rng)
        return SynthImage(stored, scene, exposure, window_presets(stored, bits=exposure.bits))
    # Clinical films carry a lead letter about half the time; the console adds text, an
    # electronic marker or a ruler on top of the processed image.
    if rng.random() < 0.5:
        burn_side_marker(scene, rng, steel_mm=12.0, clinical=True)
    stored, acq = expose_realistic(scene, rng)
    for seam in scene.seams:
        stored = burn_seam(stored, seam, rng, bits=acq.bits)
    stored = burn_in_overlays(stored, rng, acq.bits, keep_out=_findings(scene))
    return SynthImage(stored, scene, acq, window_presets(stored, bits=acq.bits))


def _findings(scene: Scene) -> NDArray[np.bool_]:
    """Where the labelled findings and the metal are: overlays must not hide them."""
    out = scene.thickness["metal"] > 0
    for inst in scene.instances:
        out |= inst.mask
    return out
