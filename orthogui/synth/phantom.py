"""Phantom scenes as 2-D projected thickness maps per material, plus their ground-truth instances.

Geometry only: ``physics`` turns the maps into a radiograph. Helpers here compute chords of
simple solids (cylinders, tubes) and band-limited textures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from orthogui.synth.screws import Screw, render_screw

FloatMap = NDArray[np.float32]


@dataclass(frozen=True)
class Material:
    """Linear attenuation at the effective beam energy, per mm.

    Materials embedded in soft tissue carry their *excess* attenuation over the soft tissue they
    displace, so the maps can simply be summed.
    """

    name: str
    mu_per_mm: float


MATERIALS: dict[str, Material] = {
    m.name: m
    for m in (
        Material("soft_tissue", 0.021),
        # Subcutaneous and intermuscular fat: a little less attenuating than muscle, so the fat
        # layer under the skin line and the fat planes show as darker bands.
        Material("fat", 0.017),
        Material("cancellous", 0.035),
        Material("cortical", 0.080),
        # Steel at ~60 keV effective energy with beam hardening; makes metal the brightest.
        Material("metal", 0.70),
    )
}


@dataclass
class Instance:
    """One ground-truth finding: category name, full (amodal) mask and attributes."""

    category: str
    mask: NDArray[np.bool_]
    attributes: dict[str, Any] = field(default_factory=dict)
    metal: bool = False


@dataclass
class Hardware:
    """Metal in the image that is not a finding (nail, wire, cerclage, plate, prosthesis, ...).

    It is drawn into the metal map and occludes findings, but is never labelled.
    """

    kind: str
    mask: NDArray[np.bool_]


@dataclass
class Scene:
    """Thickness maps (mm) per material name, instances, and the acquisition facts."""

    shape: tuple[int, int]
    spacing_mm: float
    view: str
    side: str  # "L" | "R", burned into the image as a lead marker
    thickness: dict[str, FloatMap]
    instances: list[Instance] = field(default_factory=list)
    occluders: NDArray[np.bool_] | None = None  # metal that is not an instance (plates)
    body_part: str = ""  # "forearm", "knee", ... ("" for the plain limb and spine scenes)
    hardware: list[Hardware] = field(default_factory=list)
    sites: list[Any] = field(default_factory=list)  # ``sites.BoneSite`` of the bones drawn
    seams: list[int] = field(default_factory=list)  # columns between views on one film

    @classmethod
    def empty(cls, shape: tuple[int, int], *, spacing_mm: float, view: str, side: str) -> Scene:
        maps = {name: np.zeros(shape, dtype=np.float32) for name in MATERIALS}
        return cls(shape, spacing_mm, view, side, maps, [], np.zeros(shape, dtype=bool))

    def add_screw(self, screw: Screw) -> bool:
        """Render a screw into the metal map and record it as an instance; False if unseen."""
        out = render_screw(screw, shape=self.shape, spacing_mm=self.spacing_mm)
        if out is None:
            return False
        crop, thick, mask = out
        if mask.sum() < 20:
            return False
        self.thickness["metal"][crop] += thick
        full = np.zeros(self.shape, dtype=bool)
        full[crop] = mask
        attrs = {
            "length_mm": round(screw.length_mm, 3),
            "diameter_mm": round(screw.diameter_mm, 3),
            "view": self.view,
        }
        self.instances.append(Instance(screw.type_name, full, attrs, metal=True))
        return True

    def add_hardware(
        self, kind: str, crop: tuple[slice, slice], thickness: NDArray[np.float32]
    ) -> bool:
        """Add non-finding metal (mm of steel on ``image[crop]``); False if nothing is visible."""
        mask_crop = thickness > 0.05
        if not mask_crop.any():
            return False
        self.thickness["metal"][crop] += thickness.astype(np.float32)
        full = np.zeros(self.shape, dtype=bool)
        full[crop] = mask_crop
        if self.occluders is not None:
            self.occluders |= full
        self.hardware.append(Hardware(kind, full))
        return True


def chord(d: NDArray[Any], radius: NDArray[Any] | float) -> NDArray[np.float32]:
    """Path length through a cylinder of ``radius`` at perpendicular distance ``d``."""
    r = np.asarray(radius, dtype=np.float32)
    return np.asarray(
        2.0 * np.sqrt(np.clip(r * r - np.asarray(d, dtype=np.float32) ** 2, 0.0, None)),
        dtype=np.float32,
    )


def smooth_noise(
    rng: np.random.Generator,
    shape: tuple[int, int],
    *,
    scale_px: float,
    aspect: float = 1.0,
) -> FloatMap:
    """Zero-mean, unit-std band-limited noise with feature size ``scale_px`` (cheap: upsampled)."""
    h, w = shape
    gh = max(int(h / scale_px * max(aspect, 1.0)) + 2, 2)
    gw = max(int(w / scale_px / min(aspect, 1.0)) + 2, 2)
    small = rng.standard_normal((gh, gw)).astype(np.float32)
    big = np.asarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC), dtype=np.float32)
    big -= float(big.mean())
    return np.asarray(big / (float(big.std()) + 1e-6), dtype=np.float32)


def frame_coords(
    shape: tuple[int, int],
    *,
    origin: tuple[float, float],
    angle: float,
    spacing_mm: float,
) -> tuple[FloatMap, FloatMap]:
    """Per-pixel coordinates (mm) in a rotated frame: ``s`` along ``angle``, ``d`` across it."""
    h, w = shape
    xs = ((np.arange(w, dtype=np.float32) + 0.5) - origin[0]) * spacing_mm
    ys = ((np.arange(h, dtype=np.float32) + 0.5) - origin[1]) * spacing_mm
    c, s = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    s_map = xs[None, :] * c + ys[:, None] * s
    d_map = -xs[None, :] * s + ys[:, None] * c
    return s_map.astype(np.float32), d_map.astype(np.float32)


def burn_side_marker(
    scene: Scene, rng: np.random.Generator, *, steel_mm: float = 3.0, clinical: bool = False
) -> None:
    """Lead letter (L or R) in a corner: very dense metal with crisp edges, not an instance.

    ``steel_mm`` is the marker's attenuation as mm of steel; a clinical lead letter shows near
    white after a processing curve with black air, which needs more than the default.
    ``clinical`` draws it as clinical films show it: small (2–4 % of the image), in one of
    several typefaces, framed only sometimes, anywhere along the border.
    """
    if clinical:
        _clinical_marker(scene, rng, steel_mm)
        return
    h, w = scene.shape
    size = max(min(h, w) // 14, 12)
    marker = np.zeros((size + 8, size + 8), dtype=np.uint8)
    scale = size / 30.0
    thickness = max(round(size / 9), 1)
    cv2.putText(marker, scene.side, (4, size + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, thickness)
    cv2.rectangle(marker, (0, 0), (size + 7, size + 7), 120, max(thickness // 2, 1))
    corner = int(rng.integers(4))
    margin = int(0.06 * min(h, w))
    y = margin if corner < 2 else h - margin - marker.shape[0]
    x = margin if corner % 2 == 0 else w - margin - marker.shape[1]
    region = (slice(y, y + marker.shape[0]), slice(x, x + marker.shape[1]))
    scene.thickness["metal"][region] += marker.astype(np.float32) / 255.0 * np.float32(steel_mm)


_MARKER_FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_TRIPLEX)


def _clinical_marker(scene: Scene, rng: np.random.Generator, steel_mm: float) -> None:
    h, w = scene.shape
    unit = min(h, w)
    height = max(float(rng.uniform(0.018, 0.04)) * unit, 8.0)
    font = _MARKER_FONTS[int(rng.integers(len(_MARKER_FONTS)))]
    scale = height / cv2.getTextSize(scene.side, font, 1.0, 1)[0][1]
    thick = max(round(height / float(rng.uniform(6.0, 10.0))), 1)
    (tw, th), base = cv2.getTextSize(scene.side, font, scale, thick)
    pad = max(round(0.3 * height), 2)
    marker = np.zeros((th + base + 2 * pad, tw + 2 * pad), dtype=np.uint8)
    cv2.putText(marker, scene.side, (pad, pad + th), font, scale, 255, thick, cv2.LINE_AA)
    if rng.random() < 0.35:
        frame = max(thick // 2, 1)
        mh, mw = marker.shape
        cv2.rectangle(marker, (0, 0), (mw - 1, mh - 1), int(rng.integers(60, 160)), frame)
    mh, mw = marker.shape
    if mh >= h or mw >= w:
        return
    lo = int(0.02 * unit)
    busy = scene.thickness["metal"] > 0
    for inst in scene.instances:
        busy |= inst.mask
    region = (slice(0, 0), slice(0, 0))
    for _ in range(8):  # somewhere along the border, clear of findings and metal
        along = float(rng.uniform(0.05, 0.95))
        edge = int(rng.integers(4))  # top, bottom, left, right
        inset = int(rng.integers(lo, max(int(0.1 * unit), lo + 1)))
        if edge < 2:
            x = int(along * (w - mw))
            y = inset if edge == 0 else h - inset - mh
        else:
            y = int(along * (h - mh))
            x = inset if edge == 2 else w - inset - mw
        y, x = min(max(y, 0), h - mh), min(max(x, 0), w - mw)
        region = (slice(y, y + mh), slice(x, x + mw))
        if not busy[region].any():
            break
    else:
        return
    scene.thickness["metal"][region] += marker.astype(np.float32) / 255.0 * np.float32(steel_mm)
