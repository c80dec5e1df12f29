"""Realistic acquisition and export: CR/DR detectors, grid, collimation, processing LUT, overlays.

Sits beside the legacy ``physics.expose`` (whose output is frozen: tests and a shipped model
depend on it) and shares its projection; also renders the 8-bit presentation image and encodes
the JPEG that the ``jpeg8`` export writes, at the quality FracAtlas films carry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from orthogui.core.radiograph import WindowPreset
from orthogui.synth.phantom import Scene, smooth_noise
from orthogui.synth.physics import blur, line_integral

Modality = Literal["CR", "DR"]
Outside = Literal["cropped", "bright", "black"]

# FracAtlas JPEGs carry standard IJG tables: 661 of 782 files at quality 89-90 (the 373x454
# px majority), the full-resolution grey files mostly at 95. 90 is the common look.
JPEG_QUALITY = 90

# A film needs this many anatomy samples before its histogram drives the processing curve.
_MIN_ANATOMY_SAMPLES = 50
# Line integral (attenuation x mm) above which a pixel counts as anatomy, not open air.
_AIR_LIMIT = 0.12


@dataclass(frozen=True)
class Collimation:
    """Shutter blades: margins as fractions of the width/height (left, top, right, bottom).

    ``angle`` (radians) turns the blades about the image centre. ``outside`` says what the
    processed film shows beyond them: ``"bright"`` (unexposed plate, white as most processed
    films show), ``"black"`` (electronic shuttering) or ``"cropped"`` (the film was cut to
    the field, so no blades are visible and the margins are zero).
    """

    margins: tuple[float, float, float, float]
    angle: float
    outside: Outside


@dataclass(frozen=True)
class Grid:
    """Anti-scatter grid lamellae as the detector samples them.

    ``frequency`` is in cycles per pixel *before* sampling, so values above 0.5 alias into a
    low-frequency moiré; ``depth`` is the relative modulation left after the detector blur.
    """

    frequency: float
    angle: float
    depth: float
    phase: float


@dataclass(frozen=True)
class ToneCurve:
    """Film-like processing LUT: a logistic over the anatomy's value range.

    Anatomy is rescaled to ``u`` in [0, 1] between its 1st and 99th percentile; the output, as
    a fraction of full scale, is ``black + (white - black) * (S(u) - S(0)) / (1 - S(0))`` with
    ``S = (1 - toe) * sigmoid(slope * (u - midpoint)) + toe * clip((u + 0.5) / 2, 0, 1)``: air
    sits near ``black`` and metal near ``white``, and the linear ``toe`` keeps the noise of the
    air visible instead of crushing it flat, as real films show.
    """

    slope: float
    midpoint: float
    black: float
    white: float
    toe: float

    def _s(self, u: NDArray[np.float32]) -> NDArray[np.float32]:
        sig = 1.0 / (1.0 + np.exp(-np.float32(self.slope) * (u - np.float32(self.midpoint))))
        ramp = np.clip((u + np.float32(0.5)) * np.float32(0.5), 0.0, 1.0)
        return np.asarray(np.float32(1.0 - self.toe) * sig + np.float32(self.toe) * ramp)

    def apply(self, u: NDArray[np.float32]) -> NDArray[np.float32]:
        """Map rescaled values ``u`` to fractions of full scale (monotonic increasing).

        ``S`` is shifted so that the anatomy's faintest edge (``u = 0``) lands on ``black``: a
        gentle curve then lifts the soft tissue without lifting the air, which lies a little
        below, in the toe."""
        s0 = self._s(np.zeros(1, dtype=np.float32))[0]
        s = (self._s(u) - s0) / (np.float32(1.0) - s0)
        return np.asarray(
            np.float32(self.black) + np.float32(self.white - self.black) * s, dtype=np.float32
        )


@dataclass(frozen=True)
class Acquisition:
    """Detector, grid, collimation and processing of one realistic image (drawn by ``random``)."""

    modality: Modality
    photons: float  # mean detected quanta per pixel in the central (AEC) field
    electronic_sigma: float  # read-out noise in quanta
    scatter_fraction: float
    scatter_sigma_mm: float
    heel: float  # relative intensity drop across the field
    heel_angle: float
    psf_sigma_px: float  # detector blur: phosphor spread (CR) or pixel aperture (DR)
    glare: float  # fraction of the signal in the long-range tail (light scatter in a CR plate)
    glare_sigma_px: float
    latitude: float  # fraction of the large-scale signal the processing removes (0..1)
    latitude_sigma_mm: float
    detail_gain: float  # fine-detail (edge) enhancement of the processing
    detail_sigma_mm: float
    tone: ToneCurve
    collimation: Collimation
    grid: Grid | None
    line_pattern: float  # offset spread per scan line (CR) or column (DR), fraction of full scale
    line_axis: int  # 0: the pattern varies from row to row, 1: from column to column
    flat_field: float  # amplitude of the smooth flat-field residual
    dust: int  # dust specks and scratches on a CR plate
    bits: int
    # Soft tissue's attenuation for this film's beam: an extremity technique (50-65 kVp, an
    # effective energy near 33 keV) puts water at about 0.03 per mm, so the limb's soft tissue
    # shows as a grey envelope around the bone, not the faint halo of a harder beam.
    soft_tissue_mu_per_mm: float = 0.03

    @classmethod
    def random(cls, rng: np.random.Generator) -> Acquisition:
        """Draw a CR or DR acquisition with the spread seen on clinical extremity films."""
        cr = bool(rng.random() < 0.5)
        # Most processed films show the unexposed border bright; FracAtlas is mostly cropped to
        # the field, with a bright band on one or two sides.
        outside: Outside = str(rng.choice(["cropped", "bright", "black"], p=[0.45, 0.42, 0.13]))  # type: ignore[assignment]
        if outside == "cropped":
            margins = (0.0, 0.0, 0.0, 0.0)
        else:
            drawn = [
                float(rng.uniform(0.02, 0.09)) if rng.random() < 0.5 else 0.0 for _ in range(4)
            ]
            if not any(drawn):
                drawn[int(rng.integers(4))] = float(rng.uniform(0.02, 0.07))
            margins = (drawn[0], drawn[1], drawn[2], drawn[3])
        tilt = float(rng.uniform(-0.12, 0.12)) if rng.random() < 0.3 else 0.0
        grid: Grid | None = None
        if rng.random() < 0.35:
            axis = 0.0 if rng.random() < 0.5 else np.pi / 2
            angle = (
                axis + float(rng.uniform(-0.04, 0.04))
                if rng.random() < 0.7
                else float(rng.uniform(0.0, np.pi))
            )
            grid = Grid(
                frequency=float(rng.uniform(0.42, 0.68)),
                angle=angle,
                depth=float(rng.uniform(0.008, 0.03)),
                phase=float(rng.uniform(0.0, 2 * np.pi)),
            )
        # A gentle curve centred low in the anatomy's range: processed extremity films keep the
        # soft tissue mid-grey and the bone short of white.
        tone = ToneCurve(
            slope=float(rng.uniform(2.7, 3.9) if cr else rng.uniform(3.2, 4.9)),
            midpoint=float(rng.uniform(0.3, 0.45)),
            black=float(rng.uniform(0.1, 0.17)),
            white=float(rng.uniform(0.95, 0.995)),
            toe=float(rng.uniform(0.08, 0.2)),
        )
        return cls(
            modality="CR" if cr else "DR",
            photons=float(rng.uniform(120.0, 400.0) if cr else rng.uniform(300.0, 1000.0)),
            electronic_sigma=float(rng.uniform(2.0, 6.0) if cr else rng.uniform(1.0, 3.0)),
            scatter_fraction=float(rng.uniform(0.05, 0.12) if grid else rng.uniform(0.1, 0.25)),
            scatter_sigma_mm=float(rng.uniform(15.0, 30.0)),
            heel=float(rng.uniform(0.05, 0.18)),
            heel_angle=float(rng.uniform(0, 2 * np.pi)),
            psf_sigma_px=float(rng.uniform(0.9, 1.5) if cr else rng.uniform(0.45, 0.8)),
            glare=float(rng.uniform(0.05, 0.15) if cr else rng.uniform(0.0, 0.03)),
            glare_sigma_px=float(rng.uniform(4.0, 10.0)),
            latitude=float(rng.uniform(0.3, 0.65)),
            latitude_sigma_mm=float(rng.uniform(8.0, 20.0)),
            detail_gain=float(rng.uniform(0.2, 0.7)),
            detail_sigma_mm=float(rng.uniform(0.6, 1.6)),
            tone=tone,
            collimation=Collimation(margins, tilt, outside),
            grid=grid,
            line_pattern=float(rng.uniform(0.001, 0.006) if cr else rng.uniform(0.0, 0.003)),
            line_axis=int(rng.integers(2)) if cr else 1,
            flat_field=float(rng.uniform(0.003, 0.02)),
            dust=int(rng.poisson(2.0)) if cr and rng.random() < 0.4 else 0,
            bits=int(rng.choice([10, 12])) if cr else int(rng.choice([12, 14, 16])),
            soft_tissue_mu_per_mm=float(rng.uniform(0.026, 0.034)),
        )


def open_field(shape: tuple[int, int], collimation: Collimation) -> NDArray[np.float32]:
    """Fraction of the beam that passes the blades per pixel (1 inside, 0 under a blade)."""
    h, w = shape
    left, top, right, bottom = collimation.margins
    if not any(collimation.margins):
        return np.ones(shape, dtype=np.float32)
    xs = np.arange(w, dtype=np.float32) + 0.5
    ys = np.arange(h, dtype=np.float32) + 0.5
    pen = np.float32(2.0)  # penumbra of a couple of pixels at the blade edges
    if collimation.angle == 0.0:
        u, v = xs[None, :], ys[:, None]
    else:
        c, s = np.float32(np.cos(collimation.angle)), np.float32(np.sin(collimation.angle))
        dx, dy = xs[None, :] - w / 2, ys[:, None] - h / 2
        u = dx * c + dy * s + w / 2
        v = -dx * s + dy * c + h / 2
    inside_u = np.clip((u - left * w) / pen, 0, 1) * np.clip(((1 - right) * w - u) / pen, 0, 1)
    inside_v = np.clip((v - top * h) / pen, 0, 1) * np.clip(((1 - bottom) * h - v) / pen, 0, 1)
    return np.asarray(np.broadcast_to(inside_u * inside_v, shape), dtype=np.float32)


def grid_pattern(shape: tuple[int, int], grid: Grid) -> NDArray[np.float32]:
    """``cos`` of the lamella phase sampled at pixel centres (aliasing included), in [-1, 1]."""
    h, w = shape
    k = np.float32(2 * np.pi * grid.frequency)
    ax = k * np.float32(np.cos(grid.angle)) * (np.arange(w, dtype=np.float32) + 0.5)
    ay = k * np.float32(np.sin(grid.angle)) * (np.arange(h, dtype=np.float32) + 0.5)
    ax = ax + np.float32(grid.phase)
    # cos(a + b) as two outer products: far cheaper than a full-size phase map.
    return np.asarray(
        np.cos(ay)[:, None] * np.cos(ax)[None, :] - np.sin(ay)[:, None] * np.sin(ax)[None, :],
        dtype=np.float32,
    )


def _detector_gain(
    shape: tuple[int, int], acq: Acquisition, rng: np.random.Generator
) -> NDArray[np.float32] | None:
    """Multiplicative structure of the detector: flat-field residual and dust."""
    h, w = shape
    gain = np.ones(shape, dtype=np.float32)
    touched = False
    if acq.flat_field > 0:
        gain += np.float32(acq.flat_field) * smooth_noise(rng, shape, scale_px=max(h, w) / 3)
        touched = True
    if acq.dust:
        marks = np.zeros(shape, dtype=np.uint8)
        for _ in range(acq.dust):
            x, y = int(rng.integers(w)), int(rng.integers(h))
            if rng.random() < 0.7:
                cv2.circle(marks, (x, y), int(rng.integers(1, 4)), 255, -1)
            else:  # a scratch on the phosphor
                length = float(rng.uniform(0.03, 0.15)) * max(h, w)
                a = float(rng.uniform(0, np.pi))
                end = (int(x + length * np.cos(a)), int(y + length * np.sin(a)))
                cv2.line(marks, (x, y), end, 255, 1)
        # Dust blocks the stimulated light: fewer counts, so a bright speck on MONOCHROME2.
        gain -= np.float32(float(rng.uniform(0.15, 0.4)) / 255.0) * marks.astype(np.float32)
        touched = True
    return gain if touched else None


def _smooth(img: NDArray[np.float32], sigma_px: float) -> NDArray[np.float32]:
    """A blur that only has to keep low frequencies: at half resolution when that is cheaper."""
    if sigma_px >= 8 or sigma_px < 3:
        return blur(img, sigma_px)
    h, w = img.shape
    half = cv2.resize(img, (max(w // 2, 1), max(h // 2, 1)), interpolation=cv2.INTER_AREA)
    half = cv2.GaussianBlur(half, (0, 0), sigma_px / 2, borderType=cv2.BORDER_REFLECT)
    return np.asarray(cv2.resize(half, (w, h), interpolation=cv2.INTER_LINEAR), dtype=np.float32)


def _soft_ceiling(m: NDArray[np.float32], hi: float, knee: float) -> NDArray[np.float32]:
    """Identity below ``hi``, then a tanh knee: collimated and metal areas stay ordered but tame."""
    over = np.clip(m - np.float32(hi), 0.0, None)
    return np.asarray(
        np.minimum(m, np.float32(hi)) + np.float32(knee) * np.tanh(over / np.float32(knee)),
        dtype=np.float32,
    )


def _anatomy_range(
    values: NDArray[np.float32], inside: NDArray[np.bool_], q: tuple[float, float]
) -> tuple[float, float] | None:
    sel = values[inside]
    if sel.size < _MIN_ANATOMY_SAMPLES:
        return None
    lo, hi = (float(v) for v in np.percentile(sel, q))
    return lo, max(hi, lo + 0.3)


def expose_realistic(
    scene: Scene, rng: np.random.Generator, acquisition: Acquisition | None = None
) -> tuple[NDArray[np.uint16], Acquisition]:
    """Simulate a CR or DR acquisition of ``scene`` with a clinical system's processing.

    Parameters
    ----------
    scene
        Thickness maps and spacing.
    rng
        Source of the acquisition parameters (when not given), the noise and the detector
        structure.
    acquisition
        Fixed parameters, else drawn with ``Acquisition.random``.

    Returns
    -------
    stored, acquisition
        ``uint16`` stored values in ``[0, 2**bits - 1]`` (MONOCHROME2: air near black, metal
        near white; the processing LUT is already applied, as in a for-presentation image),
        and the parameters used.
    """
    acq = acquisition or Acquisition.random(rng)
    h, w = scene.shape
    open_ = open_field(scene.shape, acq.collimation)
    ramp_x = (np.arange(w, dtype=np.float32) / w - 0.5) * np.float32(np.cos(acq.heel_angle))
    ramp_y = (np.arange(h, dtype=np.float32) / h - 0.5) * np.float32(np.sin(acq.heel_angle))
    heel = 1.0 - np.float32(acq.heel) * (ramp_y[:, None] + ramp_x[None, :])
    # Blades leave 3 % leakage and scatter: the unexposed border is bright, not saturated.
    mu = {"soft_tissue": acq.soft_tissue_mu_per_mm}
    primary = np.exp(-line_integral(scene, mu)) * heel * (np.float32(0.03) + 0.97 * open_)
    scatter = np.float32(acq.scatter_fraction) * blur(
        primary, acq.scatter_sigma_mm / scene.spacing_mm
    )
    centre = primary[h // 3 : 2 * h // 3 : 4, w // 3 : 2 * w // 3 : 4]
    gain = np.float32(acq.photons / max(float(np.median(centre)), 1e-3))
    quanta = (primary + scatter) * gain
    # Gaussian approximation of the Poisson quanta (plus read-out noise): every pixel holds
    # tens of quanta at least, and it is three times cheaper.
    noise = rng.standard_normal(scene.shape, dtype=np.float32)
    counts = quanta + noise * np.sqrt(quanta + np.float32(acq.electronic_sigma**2))
    counts = blur(counts, acq.psf_sigma_px)
    if acq.glare > 0:
        counts = (1 - np.float32(acq.glare)) * counts + np.float32(acq.glare) * _smooth(
            counts, acq.glare_sigma_px
        )
    if acq.grid is not None:
        counts *= 1.0 + np.float32(acq.grid.depth) * grid_pattern(scene.shape, acq.grid)
    structure = _detector_gain(scene.shape, acq, rng)
    if structure is not None:
        counts *= structure
    measured = -np.log(np.clip(counts, 0.5, None) / gain)

    step = max(min(h, w) // 160, 1)
    m_s = measured[::step, ::step]
    inside = open_[::step, ::step] > 0.99
    raw = _anatomy_range(m_s, inside & (m_s > _AIR_LIMIT), (1.0, 99.0)) or (0.2, 1.5)
    # Processing ignores what lies beyond the anatomy's range (blades, metal): without the knee
    # the large-scale subtraction would paint halos around them.
    tame = np.maximum(_soft_ceiling(measured, raw[1], 0.5), np.float32(-0.1))
    base = _smooth(tame, acq.latitude_sigma_mm / scene.spacing_mm)
    fine = blur(tame, acq.detail_sigma_mm / scene.spacing_mm)
    # Latitude compression only inside the detected field: the unexposed border stays white.
    enhanced = (
        tame
        - np.float32(acq.latitude) * np.maximum(base - np.float32(raw[0]), 0.0) * open_
        + np.float32(acq.detail_gain) * (tame - fine)
    )
    e_s = enhanced[::step, ::step]
    lo, hi = _anatomy_range(e_s, inside & (m_s > _AIR_LIMIT), (1.0, 99.0)) or raw
    tone = acq.tone.apply((enhanced - np.float32(lo)) / np.float32(hi - lo))
    if acq.line_pattern > 0:
        # Scan-line (CR) or column (DR) offsets the flat-field correction leaves: faint stripes
        # that the presented film shows over its air.
        n = h if acq.line_axis == 0 else w
        lines = rng.standard_normal(n).astype(np.float32) * np.float32(acq.line_pattern)
        tone = tone + (lines[:, None] if acq.line_axis == 0 else lines[None, :])
    if acq.collimation.outside == "black":
        tone = tone * open_ + np.float32(0.01) * (1.0 - open_)
    top = float((1 << acq.bits) - 1)
    stored = np.clip(np.rint(tone * np.float32(top)), 0, top).astype(np.uint16)
    return stored, acq


_VIEWS = ("AP", "PA", "LAT", "OBL", "AP ERECT", "LAT WB", "SUPINE", "PORTABLE", "AXIAL")
_SITES = (
    "CITY GENERAL",
    "ORTHO DEPT",
    "RADIOLOGY 2",
    "XR ROOM 3",
    "EMERGENCY",
    "ST. LUKE",
    "TRAUMA UNIT",
    "OPD X-RAY",
)
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_DUPLEX)


def _annotation_lines(rng: np.random.Generator) -> list[str]:
    """One to four lines a technologist's console burns in: date, view, initials, site, dose."""
    y, mo, d = int(rng.integers(2008, 2024)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
    date = str(
        rng.choice(
            [
                f"{d:02d}/{mo:02d}/{y}",
                f"{y}-{mo:02d}-{d:02d}",
                f"{d:02d}-{_MONTHS[mo - 1]}-{y}",
                f"{mo:02d}.{d:02d}.{y % 100:02d}",
            ]
        )
    )
    letters = "ABCDEFGHJKLMNPRSTW"
    initials = "".join(letters[int(i)] for i in rng.integers(len(letters), size=2))
    candidates = [
        date,
        f"{int(rng.integers(0, 24)):02d}:{int(rng.integers(0, 60)):02d}",
        str(rng.choice(_VIEWS)),
        str(rng.choice([initials, f"RT: {initials}", f"TECH {initials}"])),
        str(rng.choice(_SITES)),
        f"{int(rng.integers(45, 75))}kV {float(rng.choice([1.6, 2.0, 2.5, 3.2, 4.0, 5.0]))}mAs",
        f"EI {int(rng.integers(200, 2000))}",
        f"ID {int(rng.integers(10**6, 10**7))}",
    ]
    n = int(rng.integers(1, 5))
    picks = rng.choice(len(candidates), size=n, replace=False)
    return [candidates[int(i)] for i in sorted(picks)]


def _place(
    box: tuple[int, int],
    shape: tuple[int, int],
    rng: np.random.Generator,
    keep_out: NDArray[np.bool_] | None,
    taken: NDArray[np.bool_],
) -> tuple[int, int] | None:
    """Top-left corner for a ``box`` (h, w) near an image corner, clear of ``keep_out``."""
    h, w = shape
    bh, bw = box
    margin = int(rng.uniform(0.01, 0.04) * min(h, w))
    if bh + 2 * margin > h or bw + 2 * margin > w:
        return None
    spots = [
        (margin, margin),
        (margin, w - margin - bw),
        (h - margin - bh, margin),
        (h - margin - bh, w - margin - bw),
    ]
    order = rng.permutation(len(spots))
    best: tuple[float, tuple[int, int]] | None = None
    for i in order:
        y, x = spots[int(i)]
        region = (slice(y, y + bh), slice(x, x + bw))
        if taken[region].any():
            continue
        cost = float(keep_out[region].mean()) if keep_out is not None else 0.0
        if best is None or cost < best[0]:
            best = (cost, (y, x))
        if cost == 0.0:
            break
    return None if best is None else best[1]


def burn_in_overlays(
    stored: NDArray[np.uint16],
    rng: np.random.Generator,
    bits: int,
    *,
    keep_out: NDArray[np.bool_] | None = None,
) -> NDArray[np.uint16]:
    """Burn console annotations into a finished image as saturated pixels.

    Draws, each only sometimes: a block of white text (date, view, initials, site, exposure),
    an electronic L/R marker (white box, black letter, as FracAtlas films show) and a scale
    ruler. Nothing is drawn into the anatomy maps; only the drawn pixels change, to 0 or to
    ``2**bits - 1``.

    Parameters
    ----------
    stored
        Stored values (MONOCHROME2) of the finished image; not modified.
    rng
        Source of what is drawn and where.
    bits
        Bits stored: white is ``2**bits - 1``.
    keep_out
        Optional mask of pixels to keep clear (the findings); each item goes to the image
        corner that overlaps it least.

    Returns
    -------
    NDArray[np.uint16]
        A copy of ``stored`` with the overlays drawn.
    """
    h, w = stored.shape
    top = (1 << bits) - 1
    out = stored.copy()
    taken = np.zeros((h, w), dtype=bool)
    unit = min(h, w)

    if rng.random() < 0.7:
        lines = _annotation_lines(rng)
        font = _FONTS[int(rng.integers(len(_FONTS)))]
        height_px = float(rng.uniform(0.014, 0.03)) * unit
        scale = height_px / cv2.getTextSize("X", font, 1.0, 1)[0][1]
        thick = max(round(height_px / 10), 1)
        sizes = [cv2.getTextSize(s, font, scale, thick) for s in lines]
        line_h = int(max(sz[0][1] + sz[1] for sz in sizes) * 1.35) + 1
        block = (line_h * len(lines) + 2, max(sz[0][0] for sz in sizes) + 2)
        spot = _place(block, (h, w), rng, keep_out, taken)
        if spot is not None:
            ink = np.zeros(block, dtype=np.uint8)
            for k, (s, sz) in enumerate(zip(lines, sizes)):
                baseline = k * line_h + sz[0][1] + 1
                cv2.putText(ink, s, (1, baseline), font, scale, 255, thick, cv2.LINE_8)
            _stamp(out, taken, spot, ink, top)

    if rng.random() < 0.35:
        side = int(max(rng.uniform(0.03, 0.05) * unit, 10))
        ink = np.full((side, side), 255, dtype=np.uint8)
        letter = "L" if rng.random() < 0.5 else "R"
        scale = 0.7 * side / cv2.getTextSize(letter, cv2.FONT_HERSHEY_SIMPLEX, 1.0, 1)[0][1]
        thick = max(side // 8, 1)
        (tw, th), _ = cv2.getTextSize(letter, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        org = ((side - tw) // 2, (side + th) // 2)
        cv2.putText(ink, letter, org, cv2.FONT_HERSHEY_SIMPLEX, scale, 0, thick, cv2.LINE_8)
        spot = _place((side, side), (h, w), rng, keep_out, taken)
        if spot is not None:
            y, x = spot
            region = (slice(y, y + side), slice(x, x + side))
            out[region] = np.where(ink > 0, top, 0).astype(np.uint16)
            taken[region] = True

    if rng.random() < 0.2:
        length = int(rng.uniform(0.2, 0.4) * unit)
        tick = max(int(0.012 * unit), 3)
        ink = np.zeros((2 * tick + 2, length + 2), dtype=np.uint8)
        cv2.line(ink, (1, tick), (length, tick), 255, 1)
        n_ticks = int(rng.choice([5, 10, 20]))
        for i in range(n_ticks + 1):
            x = 1 + round(i * (length - 1) / n_ticks)
            size = tick if i % 5 == 0 else tick // 2
            cv2.line(ink, (x, tick - size), (x, tick), 255, 1)
        spot = _place(ink.shape[:2], (h, w), rng, keep_out, taken)
        if spot is not None:
            _stamp(out, taken, spot, ink, top)
    return out


def _stamp(
    out: NDArray[np.uint16],
    taken: NDArray[np.bool_],
    spot: tuple[int, int],
    ink: NDArray[np.uint8],
    top: int,
) -> None:
    y, x = spot
    region = (slice(y, y + ink.shape[0]), slice(x, x + ink.shape[1]))
    out[region][ink > 0] = top
    taken[region] = True


def render_8bit(
    stored: NDArray[np.uint16], *, bits: int, window: WindowPreset | None = None
) -> NDArray[np.uint8]:
    """The 8-bit picture a workstation would export.

    Parameters
    ----------
    stored
        Stored values (MONOCHROME2).
    bits
        Bits stored; without a window the full range ``0 .. 2**bits - 1`` maps to 0..255
        (right for ``expose_realistic`` output, whose processing LUT is already applied).
    window
        A VOI window (linear, DICOM C.11.2.1.2.1) to apply instead.
    """
    v = stored.astype(np.float32)
    if window is None:
        lo, width = 0.0, float((1 << bits) - 1)
    else:
        lo, width = window.center - window.width / 2, max(window.width, 1.0)
    grey: NDArray[np.uint8] = np.clip(
        np.rint((v - np.float32(lo)) / np.float32(width) * 255.0), 0, 255
    ).astype(np.uint8)
    return grey


def encode_jpeg(image: NDArray[np.uint8], *, quality: int = JPEG_QUALITY) -> bytes:
    """Baseline greyscale JPEG (standard IJG tables at ``quality``), deterministic bytes."""
    if image.dtype != np.uint8 or image.ndim != 2:
        raise ValueError(f"need a 2-D uint8 image, got {image.dtype} {image.shape}")
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buf.tobytes())
