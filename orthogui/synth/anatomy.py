"""Body-part scenes (hand to hip) as FracAtlas shows them: bones with joints, soft tissue, sites.

``generate_body_part`` picks the layout of a part for a view (``joints`` for the lower limb,
``extremity`` for the upper), scales it to a patient, frames it in the image and draws it:
bones into the cortical and cancellous maps, the body outline into fat and muscle. It places
no metal and does not expose the image.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from numpy.typing import NDArray

from orthogui.synth.extremity import elbow, forearm, hand_wrist, shoulder
from orthogui.synth.joints import foot, hip_femur, knee, leg_ankle
from orthogui.synth.phantom import Scene
from orthogui.synth.skeleton import Layout, Placement, draw_skeleton
from orthogui.synth.tissue import add_soft_tissue, trabecular_texture

BODY_PARTS: tuple[str, ...] = (
    "hand_wrist",
    "forearm",
    "elbow",
    "shoulder",
    "hip_femur",
    "knee",
    "leg_ankle",
    "foot",
)
VIEWS: tuple[str, ...] = ("ap", "lateral", "oblique")

LayoutBuilder = Callable[[np.random.Generator, str], Layout]

LAYOUTS: dict[str, LayoutBuilder] = {
    "hand_wrist": hand_wrist,
    "forearm": forearm,
    "elbow": elbow,
    "shoulder": shoulder,
    "hip_femur": hip_femur,
    "knee": knee,
    "leg_ankle": leg_ankle,
    "foot": foot,
}


def _placement(
    rng: np.random.Generator,
    layout: Layout,
    *,
    size: int,
    side: str,
    spacing_mm: float | None = None,
) -> Placement:
    spacing = round(float(rng.uniform(*layout.fov_mm)) / size, 5)
    if spacing_mm is not None:
        spacing = spacing_mm
    mirror = (-1.0 if side == "R" else 1.0) * layout.lateral_x
    angle = layout.axis - np.pi / 2 + float(rng.uniform(-layout.jitter, layout.jitter))
    probe = Placement((0.0, 0.0), angle, mirror, spacing)
    fx, fy = probe.point(*layout.focus)
    shift = rng.uniform(-0.14, 0.14, size=2) * size
    centre = (size / 2 - fx + float(shift[0]), size / 2 - fy + float(shift[1]))
    return Placement(centre, angle, mirror, spacing)


def _sleeve_stray_bone(scene: Scene, body: NDArray[np.bool_]) -> None:
    """Cover any bone the outline missed (a toe tip, a rib end) with a thin skin sleeve."""
    bone = (scene.thickness["cortical"] > 0) | (scene.thickness["cancellous"] > 0)
    stray = bone & ~body
    if not stray.any():
        return
    ys, xs = np.nonzero(stray)
    pad = int(np.ceil(4.0 / scene.spacing_mm)) + 2
    h, w = scene.shape
    box = (
        slice(max(int(ys.min()) - pad, 0), min(int(ys.max()) + pad + 1, h)),
        slice(max(int(xs.min()) - pad, 0), min(int(xs.max()) + pad + 1, w)),
    )
    k = 2 * pad + 1
    grown = cv2.dilate(bone[box].astype(np.uint8), np.ones((k, k), np.uint8))
    sleeve = cv2.GaussianBlur(grown.astype(np.float32), (0, 0), pad / 2.0) * 6.0
    sleeve *= cv2.dilate(stray[box].astype(np.uint8), np.ones((3 * k, 3 * k), np.uint8)) > 0
    sleeve[body[box]] = 0.0
    sleeve[bone[box] & ~body[box]] = np.maximum(sleeve[bone[box] & ~body[box]], 1.0)
    scene.thickness["fat"][box] += sleeve.astype(np.float32)


def generate_body_part(
    rng: np.random.Generator,
    *,
    part: str,
    size: int,
    view: str | None = None,
    side: str | None = None,
    spacing_mm: float | None = None,
) -> Scene:
    """Build the scene of one body part in one view.

    Parameters
    ----------
    rng
        The only source of randomness: the same generator state gives the same scene.
    part
        One of ``BODY_PARTS``.
    size
        Width and height of the square image in pixels.
    view
        One of ``VIEWS``; None draws one.
    side
        ``"L"`` or ``"R"``; None draws one.
    spacing_mm
        Pixel spacing to use instead of the one that fits the part's field of view (two views
        on one film share it).

    Returns
    -------
    Scene
        Thickness maps (mm) of soft tissue, fat, cortical and cancellous bone (metal empty),
        ``body_part``, ``side``, the fracture instance if one was drawn, and a
        ``sites.BoneSite`` for every shaft in view.

    Raises
    ------
    ValueError
        For an unknown part or view, or a size below 32 px.
    """
    if part not in LAYOUTS:
        raise ValueError(f"unknown body part {part!r}; known: {list(BODY_PARTS)}")
    if view is not None and view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; known: {list(VIEWS)}")
    if size < 32:
        raise ValueError(f"image size must be at least 32 px, got {size}")
    view = view or str(rng.choice(np.array(VIEWS), p=[0.45, 0.35, 0.2]))
    drawn_side = str(rng.choice(["L", "R"]))
    side = side or drawn_side
    if side not in ("L", "R"):
        raise ValueError(f"side must be L or R, got {side!r}")
    if spacing_mm is not None and not 0.01 <= spacing_mm <= 5.0:
        raise ValueError(f"pixel spacing must be 0.01..5 mm, got {spacing_mm}")
    layout = LAYOUTS[part](rng, view).scaled(float(rng.uniform(0.9, 1.1)))
    place = _placement(rng, layout, size=size, side=side, spacing_mm=spacing_mm)
    scene = Scene.empty((size, size), spacing_mm=place.spacing_mm, view=view, side=side)
    scene.body_part = part
    body_frame = place.frame((0.0, 0.0), 0.0)
    body = add_soft_tissue(scene, body_frame, layout.soft, rng, cavities=layout.cavities)
    for group in layout.extra_soft:
        body |= add_soft_tissue(scene, body_frame, group, rng)
    draw_skeleton(scene, layout.bones, place, rng, prefer=layout.prefer)
    _sleeve_stray_bone(scene, body)
    canc = scene.thickness["cancellous"]
    rows, cols = np.flatnonzero(canc.any(axis=1)), np.flatnonzero(canc.any(axis=0))
    if rows.size:
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        h, w = box[0].stop - box[0].start, box[1].stop - box[1].start
        canc[box] *= trabecular_texture(rng, (h, w), spacing_mm=place.spacing_mm)
    return scene
