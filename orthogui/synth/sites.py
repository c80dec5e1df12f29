"""What a body-part builder hands to the hardware placer: the bones it drew, in image geometry.

A ``BoneSite`` is one long bone (or the long axis of a short one) with its own frame: ``s`` along
the shaft, ``d`` across it, in mm, mapped to image pixels by ``origin`` and ``angle``. It carries
what implants need to sit on or in the bone: outer and canal radius, the extent of the shaft in
view, the joint ends, and the fracture, if any, that the builder drew through it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orthogui.synth.phantom import FloatMap, frame_coords


@dataclass(frozen=True)
class BoneSite:
    """One bone an implant can be fixed to.

    ``s_range`` is the part of the shaft (mm along ``s``) that lies inside the image and is
    tubular; ``joint_ends`` names which ends of that range carry an articular end
    (``"low"`` = ``s_range[0]``, ``"high"`` = ``s_range[1]``).
    """

    name: str  # anatomical name: "femur", "tibia", "radius", "metacarpal", ...
    origin: tuple[float, float]  # image pixel (x, y) of s = 0, d = 0
    angle: float  # image direction of +s, radians
    spacing_mm: float
    s_range: tuple[float, float]
    radius_mm: float  # outer radius of the shaft
    cortex_mm: float  # cortical thickness of the shaft
    joint_ends: tuple[str, ...] = ()
    fracture_s: float | None = None  # where a fracture crosses the axis (mm along s)
    fracture_tilt: float = 0.0  # obliquity of the fracture line in the bone frame (radians)

    @property
    def canal_radius_mm(self) -> float:
        return max(self.radius_mm - self.cortex_mm, 0.5)

    def to_image(self, s: float, d: float) -> tuple[float, float]:
        """Image pixel of the frame point (``s``, ``d``) in mm."""
        c, k = float(np.cos(self.angle)), float(np.sin(self.angle))
        return (
            self.origin[0] + (s * c - d * k) / self.spacing_mm,
            self.origin[1] + (s * k + d * c) / self.spacing_mm,
        )

    def direction(self, ds: float, dd: float) -> float:
        """Image angle of the frame direction (``ds``, ``dd``)."""
        c, k = float(np.cos(self.angle)), float(np.sin(self.angle))
        return float(np.arctan2(ds * k + dd * c, ds * c - dd * k))

    def coords(self, shape: tuple[int, int]) -> tuple[FloatMap, FloatMap]:
        """Per-pixel (``s``, ``d``) maps of this frame over an image of ``shape``."""
        return frame_coords(shape, origin=self.origin, angle=self.angle, spacing_mm=self.spacing_mm)
