"""Image formation: Beer–Lambert projection, scatter, heel effect, collimation, detector and noise.

Turns a ``Scene``'s thickness maps into stored integer pixels (MONOCHROME2: high = dense),
the way a digital radiography system with its usual processing would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from orthogui.core.radiograph import WindowPreset
from orthogui.synth.phantom import MATERIALS, Scene


@dataclass(frozen=True)
class Exposure:
    """Acquisition and processing parameters of one image (drawn per image by ``random``)."""

    photons: float  # mean detected quanta per pixel in the central (AEC) field
    electronic_sigma: float  # read-out noise in quanta
    scatter_fraction: float
    scatter_sigma_mm: float
    heel: float  # relative intensity drop across the field
    heel_angle: float
    psf_sigma_px: float
    unsharp_gain: float  # multiscale contrast enhancement of the processing
    unsharp_sigma_mm: float
    collimation: tuple[float, float, float, float]  # margins (fractions): left, top, right, bottom
    bits: int

    @classmethod
    def random(cls, rng: np.random.Generator) -> Exposure:
        margins = tuple(
            float(rng.uniform(0.02, 0.09)) if rng.random() < 0.5 else 0.0 for _ in range(4)
        )
        return cls(
            photons=float(rng.uniform(300.0, 1200.0)),
            electronic_sigma=float(rng.uniform(1.0, 4.0)),
            scatter_fraction=float(rng.uniform(0.08, 0.2)),
            scatter_sigma_mm=float(rng.uniform(15.0, 30.0)),
            heel=float(rng.uniform(0.08, 0.2)),
            heel_angle=float(rng.uniform(0, 2 * np.pi)),
            psf_sigma_px=float(rng.uniform(0.5, 0.9)),
            unsharp_gain=float(rng.uniform(0.6, 1.2)),
            unsharp_sigma_mm=float(rng.uniform(6.0, 12.0)),
            collimation=(margins[0], margins[1], margins[2], margins[3]),
            bits=int(rng.choice([12, 14, 16])),
        )


def line_integral(
    scene: Scene, mu_per_mm: Mapping[str, float] | None = None
) -> NDArray[np.float32]:
    """Sum over materials of attenuation times thickness (the Beer–Lambert exponent).

    ``mu_per_mm`` overrides the attenuation of some materials (a beam of another quality);
    the others keep ``MATERIALS``'s."""
    override = mu_per_mm or {}
    total = np.zeros(scene.shape, dtype=np.float32)
    for name, thick in scene.thickness.items():
        total += np.float32(override.get(name, MATERIALS[name].mu_per_mm)) * thick
    return total


def blur(img: NDArray[np.float32], sigma_px: float) -> NDArray[np.float32]:
    """Gaussian blur; wide kernels run on a downsampled copy (they only carry low frequencies).

    Parameters
    ----------
    img
        Image to blur.
    sigma_px
        Standard deviation of the Gaussian in pixels.
    """
    if sigma_px < 8:
        return np.asarray(cv2.GaussianBlur(img, (0, 0), sigma_px), dtype=np.float32)
    f = int(sigma_px // 4)
    h, w = img.shape
    small = cv2.resize(img, (max(w // f, 1), max(h // f, 1)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma_px / f, borderType=cv2.BORDER_REFLECT)
    return np.asarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), dtype=np.float32)


_blur = blur  # the name ``expose`` has always used


def _collimator(
    shape: tuple[int, int], margins: tuple[float, float, float, float]
) -> NDArray[np.float32]:
    h, w = shape
    ramp_x = np.arange(w, dtype=np.float32) + 0.5
    ramp_y = np.arange(h, dtype=np.float32) + 0.5
    # Penumbra of a couple of pixels at the leaf edges.
    inside_x = np.clip((ramp_x - margins[0] * w) / 2.0, 0, 1) * np.clip(
        ((1 - margins[2]) * w - ramp_x) / 2.0, 0, 1
    )
    inside_y = np.clip((ramp_y - margins[1] * h) / 2.0, 0, 1) * np.clip(
        ((1 - margins[3]) * h - ramp_y) / 2.0, 0, 1
    )
    open_field = inside_y[:, None] * inside_x[None, :]
    return np.asarray(0.03 + 0.97 * open_field, dtype=np.float32)


def expose(
    scene: Scene, rng: np.random.Generator, exposure: Exposure | None = None
) -> tuple[NDArray[np.uint16], Exposure]:
    """Simulate the acquisition and processing of ``scene``.

    Parameters
    ----------
    scene
        Thickness maps and spacing.
    rng
        Source of the exposure parameters (when not given) and of the quantum noise.
    exposure
        Fixed parameters, else drawn with ``Exposure.random``.

    Returns
    -------
    stored, exposure
        ``uint16`` stored values in ``[0, 2**bits - 1]`` (MONOCHROME2), and the parameters used.
    """
    ex = exposure or Exposure.random(rng)
    h, w = scene.shape
    primary = np.exp(-line_integral(scene))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    along = (xx / w - 0.5) * np.float32(np.cos(ex.heel_angle)) + (yy / h - 0.5) * np.float32(
        np.sin(ex.heel_angle)
    )
    field = (1.0 - ex.heel * along) * _collimator(scene.shape, ex.collimation)
    primary *= field
    scatter = ex.scatter_fraction * _blur(primary, ex.scatter_sigma_mm / scene.spacing_mm)
    # Automatic exposure control: the central field gets ``photons`` quanta whatever the
    # patient's thickness, as a real AEC chamber ends the exposure.
    centre = primary[h // 3 : 2 * h // 3 : 4, w // 3 : 2 * w // 3 : 4]
    gain = np.float32(ex.photons / max(float(np.median(centre)), 1e-3))
    quanta = (primary + scatter) * gain
    counts = rng.poisson(quanta).astype(np.float32)
    # The scintillator spreads each quantum: noise and edges share the same blur.
    counts = _blur(counts, ex.psf_sigma_px)
    counts += rng.normal(0.0, ex.electronic_sigma, size=counts.shape).astype(np.float32)
    measured = -np.log(np.clip(counts, 0.5, None) / gain)
    enhanced = measured + ex.unsharp_gain * (
        measured - _blur(measured, ex.unsharp_sigma_mm / scene.spacing_mm)
    )
    sample = enhanced[:: max(h // 128, 1), :: max(w // 128, 1)]
    lo = float(np.percentile(sample, 0.5))
    # A soft knee keeps dense metal distinct instead of clipping it.
    tone = 1.0 - np.exp(-np.clip(enhanced - lo, 0.0, None) / np.float32(3.0))
    top = float((1 << ex.bits) - 1)
    stored = np.clip(np.rint(tone * top), 0, top).astype(np.uint16)
    return stored, ex


def window_presets(stored: NDArray[np.uint16], *, bits: int) -> tuple[WindowPreset, ...]:
    """Default, bone and metal windows from the stored value histogram."""
    sample = stored[:: max(stored.shape[0] // 256, 1), :: max(stored.shape[1] // 256, 1)]
    p1, p50, p99 = (float(v) for v in np.percentile(sample, [3, 50, 99.5]))
    top = float((1 << bits) - 1)
    default = WindowPreset(round((p1 + p99) / 2, 1), round(max(p99 - p1, 1.0), 1), "default")
    bone = WindowPreset(round((p50 + p99) / 2, 1), round(max(p99 - p50, 1.0), 1), "bone")
    metal = WindowPreset(round(0.85 * top, 1), round(0.3 * top, 1), "metal")
    return (default, bone, metal)
