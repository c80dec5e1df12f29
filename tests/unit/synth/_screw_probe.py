"""Measure screw features on rendered radiographs: width profile, pitch, head, hollow core."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from orthogui.synth.phantom import Scene
from orthogui.synth.physics import Exposure, expose
from orthogui.synth.screws import SCREW_TYPES, Screw

SPACING = 0.08
LENGTH_MM = 40.0
X0 = 40.0

QUIET = Exposure(
    photons=2e5,
    electronic_sigma=0.5,
    scatter_fraction=0.05,
    scatter_sigma_mm=20.0,
    heel=0.0,
    heel_angle=0.0,
    psf_sigma_px=0.6,
    unsharp_gain=0.0,
    unsharp_sigma_mm=8.0,
    collimation=(0.0, 0.0, 0.0, 0.0),
    bits=16,
)


def render(type_name: str, seed: int = 0) -> tuple[NDArray[np.float64], Screw]:
    """A horizontal screw (first catalogue size) over 40 mm of soft tissue, little noise."""
    rng = np.random.default_rng(seed)
    spec = SCREW_TYPES[type_name]
    thread = LENGTH_MM * sum(spec.thread_fraction) / 2
    shape = (220, int(X0 + LENGTH_MM / SPACING + 40))
    scene = Scene.empty(shape, spacing_mm=SPACING, view="ap", side="L")
    scene.thickness["soft_tissue"][:] = 40.0
    screw = Screw(type_name, LENGTH_MM, spec.sizes[0], thread, X0, 110.0, 0.0)
    assert scene.add_screw(screw)
    stored, _ = expose(scene, rng, QUIET)
    return stored.astype(np.float64), screw


def width_profile(img: NDArray[np.float64]) -> NDArray[np.float64]:
    """Projected width (mm) of the metal per column, from a half-maximum threshold."""
    bg = float(np.median(img[:10]))
    top = float(np.percentile(img, 99.9))
    inside = img > (bg + top) / 2
    return np.asarray(inside.sum(axis=0) * SPACING, dtype=np.float64)


def shaft(img: NDArray[np.float64]) -> NDArray[np.float64]:
    """Width profile along the screw only, head end first."""
    w = width_profile(img)
    return w[int(X0) : int(X0 + LENGTH_MM / SPACING)]


def dominant_period_mm(w: NDArray[np.float64]) -> float:
    """Strongest period of a width profile (the thread pitch), by FFT."""
    x = w - w.mean()
    n = 16 * len(x)  # zero padding: fine frequency steps for short thread zones
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)), n=n))
    freqs = np.fft.rfftfreq(n, d=SPACING)
    valid = freqs > 1 / 6.0  # pitches under 6 mm
    k = int(np.argmax(np.where(valid, spec, 0)))
    return float(1 / freqs[k])


def ripple(w: NDArray[np.float64], window_mm: float = 3.0) -> NDArray[np.float64]:
    """Local peak-to-peak width (thread depth x2) in a sliding window."""
    n = max(int(window_mm / SPACING), 3)
    pad = np.pad(w, n // 2, mode="edge")
    view = np.lib.stride_tricks.sliding_window_view(pad, n)[: len(w)]
    return np.asarray(view.max(axis=1) - view.min(axis=1), dtype=np.float64)
