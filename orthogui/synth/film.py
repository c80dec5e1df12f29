"""Films that hold more than one exposure: two views of a body part side by side.

About one FracAtlas film in nine is such a "multiscan": the cassette is split by lead masking,
each half is exposed on its own, and the half that the lead covered during one exposure stays
unexposed — the processed film shows a bright seam between the views. ``side_by_side`` builds
the scene of such a film from two scenes of the same spacing; ``burn_seam`` draws the seam into
the stored pixels after exposure.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from orthogui.synth.phantom import Hardware, Instance, Scene

MIN_INSTANCE_PX = 20


def _centre_column(scene: Scene) -> int:
    """Column of the body part's centre: the bone mass centroid, else the image centre."""
    bone = scene.thickness["cortical"] + scene.thickness["cancellous"]
    cols = bone.sum(axis=0, dtype=np.float64)
    total = float(cols.sum())
    if total <= 0:
        return scene.shape[1] // 2
    return round(float((cols * np.arange(len(cols))).sum()) / total)


def _crop_scene(scene: Scene, x0: int, width: int) -> Scene:
    cols = slice(x0, x0 + width)
    h = scene.shape[0]
    out = Scene.empty((h, width), spacing_mm=scene.spacing_mm, view=scene.view, side=scene.side)
    for name, thick in scene.thickness.items():
        out.thickness[name] = np.ascontiguousarray(thick[:, cols])
    if scene.occluders is not None:
        out.occluders = np.ascontiguousarray(scene.occluders[:, cols])
    for inst in scene.instances:
        mask = np.ascontiguousarray(inst.mask[:, cols])
        kept = int(np.count_nonzero(mask))
        if kept < MIN_INSTANCE_PX:
            continue
        attrs = dict(inst.attributes)
        if kept < int(np.count_nonzero(inst.mask)):
            attrs["truncated"] = True
        out.instances.append(Instance(inst.category, mask, attrs, metal=inst.metal))
    for hw in scene.hardware:
        mask = np.ascontiguousarray(hw.mask[:, cols])
        if mask.any():
            out.hardware.append(Hardware(hw.kind, mask))
    out.body_part = scene.body_part
    out.sites = [
        replace(site, origin=(site.origin[0] - x0, site.origin[1])) for site in scene.sites
    ]
    return out


def side_by_side(left: Scene, right: Scene) -> tuple[Scene, int]:
    """One film with the central strip of ``left`` beside the central strip of ``right``.

    Both scenes must have the same shape and pixel spacing (one film has one spacing). Each
    keeps a strip of half the width around its bone centre; instances cut by the strip keep the
    part inside it (attribute ``truncated``) and are dropped below ``MIN_INSTANCE_PX`` pixels.
    Returns the scene and the seam column.
    """
    if left.shape != right.shape:
        raise ValueError(f"views must have the same shape, got {left.shape} and {right.shape}")
    if abs(left.spacing_mm - right.spacing_mm) > 1e-9:
        raise ValueError(
            f"views must share the pixel spacing, got {left.spacing_mm} and {right.spacing_mm} mm"
        )
    h, w = left.shape
    half = w // 2
    parts = []
    for scene in (left, right):
        x0 = int(np.clip(_centre_column(scene) - half // 2, 0, w - half))
        parts.append(_crop_scene(scene, x0, half if scene is left else w - half))
    a, b = parts
    film = Scene.empty((h, w), spacing_mm=left.spacing_mm, view=left.view, side=left.side)
    for name in film.thickness:
        film.thickness[name] = np.hstack([a.thickness[name], b.thickness[name]])
    film.occluders = np.hstack(
        [
            a.occluders if a.occluders is not None else np.zeros((h, half), bool),
            b.occluders if b.occluders is not None else np.zeros((h, w - half), bool),
        ]
    )

    def widen(mask: NDArray[np.bool_], at_left: bool) -> NDArray[np.bool_]:
        pad = np.zeros((h, w - mask.shape[1]), dtype=bool)
        return np.hstack([mask, pad] if at_left else [pad, mask])

    for part, at_left in ((a, True), (b, False)):
        for inst in part.instances:
            film.instances.append(
                Instance(inst.category, widen(inst.mask, at_left), inst.attributes, inst.metal)
            )
        for hw in part.hardware:
            film.hardware.append(Hardware(hw.kind, widen(hw.mask, at_left)))
    film.body_part = left.body_part
    film.sites = list(a.sites) + [
        replace(site, origin=(site.origin[0] + half, site.origin[1])) for site in b.sites
    ]
    return film, half


def burn_seam(
    stored: NDArray[np.uint16], seam: int, rng: np.random.Generator, *, bits: int
) -> NDArray[np.uint16]:
    """The unexposed strip between two views: a bright band a few pixels wide at ``seam``."""
    out = stored.copy()
    w = out.shape[1]
    half_width = max(int(rng.integers(1, 5)) * max(w // 512, 1), 1)
    x0, x1 = max(seam - half_width, 0), min(seam + half_width, w)
    top = (1 << bits) - 1
    level = float(rng.uniform(0.85, 0.97)) * top
    noise = rng.normal(0.0, 0.01 * top, size=(out.shape[0], x1 - x0))
    out[:, x0:x1] = np.clip(level + noise, 0, top).astype(np.uint16)
    return out
