"""Registry of scene kinds and the one call that turns a plan into a finished synthetic image.

A ``SceneSpec`` says what to draw (kind, size, screws, fracture level); ``synthesize`` builds
the phantom, burns in the side marker and exposes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from orthogui.core.radiograph import WindowPreset
from orthogui.synth.limb import generate_limb
from orthogui.synth.phantom import Scene, burn_side_marker
from orthogui.synth.physics import Exposure, expose, window_presets
from orthogui.synth.spine import generate_spine


@dataclass(frozen=True)
class SceneSpec:
    """What one synthetic image should show."""

    kind: str  # a key of ``SCENE_BUILDERS``
    size: int
    screw_types: tuple[str, ...] = ()
    fracture_level: str | None = None  # spine only
    view: str | None = None  # limb only; None = random


@dataclass
class SynthImage:
    """A finished image: stored pixels, its scene (thickness maps, instances) and exposure."""

    stored: NDArray[np.uint16]
    scene: Scene
    exposure: Exposure
    windows: tuple[WindowPreset, ...] = field(default_factory=tuple)


def _limb(rng: np.random.Generator, spec: SceneSpec) -> Scene:
    return generate_limb(rng, size=spec.size, screw_types=list(spec.screw_types), view=spec.view)


def _spine(rng: np.random.Generator, spec: SceneSpec) -> Scene:
    return generate_spine(
        rng, size=spec.size, screw_types=list(spec.screw_types), fracture_level=spec.fracture_level
    )


SCENE_BUILDERS: dict[str, Callable[[np.random.Generator, SceneSpec], Scene]] = {
    "limb": _limb,
    "spine": _spine,
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
    burn_side_marker(scene, rng)
    stored, exposure = expose(scene, rng)
    return SynthImage(stored, scene, exposure, window_presets(stored, bits=exposure.bits))
