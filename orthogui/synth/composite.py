"""Screws drawn into real radiographs: exact masks on real anatomy.

The phantoms carry exact screw masks but their anatomy is drawn from simple solids; a real film
has the anatomy but no labels. A composite puts the generator's screws (``render_screw``: true
thread profiles, heads, cannulas, out-of-plane tilt) into a real film without hardware, where
its bone is: rows of screws across the shaft, often through a plate, sometimes beside a K-wire.
Plates and wires are distractors and never labelled. The metal is added the way a radiograph
shows it: each millimetre of steel pushes the displayed value towards white, saturating; the
layer is blurred like the film's own edges and the result is JPEG-compressed like the source.

Sizes follow the film: a screw is about as long as the bone it crosses is wide, and its thread
diameter over its length is drawn from ``width_ratios`` (``WIDTH_RATIOS`` explains the default).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from orthogui.synth.screws import SCREW_NAMES, random_screw, render_screw

# Thread diameter over length of a screw seen from the side. Screws outlined on real implant
# films give a box width over length of 0.14-1.0 (5th-95th percentile, median 0.34): that width
# is the head's, about twice the thread's, and near 1 is a screw seen end-on; a screw across a
# shaft shows the thin side of that range.
WIDTH_RATIOS = (0.08, 0.1, 0.12, 0.14, 0.17, 0.2, 0.25)
JPEG_QUALITY = (70, 95)


@dataclass(frozen=True)
class CompositeScrew:
    """One screw drawn into the film: its type and its exact mask (the whole image's shape)."""

    type_name: str
    mask: NDArray[np.bool_]


def bone_mask(gray: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """Bone on a displayed radiograph (bone bright): within the body, what stands out above
    its surroundings (a white top-hat narrower than a third of the film, Otsu-thresholded).
    The film's border, saturated marks and small specks are left out."""
    g = cv2.GaussianBlur(gray, (0, 0), 1.5)
    h, w = g.shape
    r = max(15, min(h, w) // 6)
    top = cv2.morphologyEx(
        g, cv2.MORPH_TOPHAT, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    )
    body_t, _ = cv2.threshold(g, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    inside = (g > body_t) & (g < 250)
    if np.count_nonzero(inside) < 100:
        return np.zeros(gray.shape, dtype=bool)
    bone_t, _ = cv2.threshold(
        top[inside].reshape(1, -1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU
    )
    found = ((top > bone_t) & inside).astype(np.uint8)
    m = max(4, min(h, w) // 25)
    found[:m], found[-m:], found[:, :m], found[:, -m:] = 0, 0, 0, 0
    opened = cv2.morphologyEx(found, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    _n, labels, stats, _ = cv2.connectedComponentsWithStats(opened)
    keep = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] >= 150)
    return np.isin(labels, keep[keep > 0])


def _across_angle(bone: NDArray[np.bool_], x: int, y: int, radius: int) -> float:
    """Direction across the bone at ``(x, y)``: the dominant gradient of the smoothed bone mask
    (a shaft's edges run along it, so the gradient points across)."""
    h, w = bone.shape
    y0, y1, x0, x1 = max(y - radius, 0), min(y + radius, h), max(x - radius, 0), min(x + radius, w)
    patch = cv2.GaussianBlur(bone[y0:y1, x0:x1].astype(np.float32), (0, 0), radius / 4)
    gx = cv2.Sobel(patch, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(patch, cv2.CV_32F, 0, 1)
    jxx, jyy, jxy = float((gx * gx).sum()), float((gy * gy).sum()), float((gx * gy).sum())
    return 0.5 * float(np.arctan2(2 * jxy, jxx - jyy))


def _chord(bone: NDArray[np.bool_], x: float, y: float, angle: float) -> tuple[float, float]:
    """Distances from ``(x, y)`` to the bone's edge backwards and forwards along ``angle``."""
    h, w = bone.shape
    c, s = float(np.cos(angle)), float(np.sin(angle))
    out = []
    for sign in (-1.0, 1.0):
        d = 0.0
        while True:
            px, py = round(x + sign * (d + 1) * c), round(y + sign * (d + 1) * s)
            if not (0 <= px < w and 0 <= py < h) or not bone[py, px]:
                break
            d += 1
        out.append(d)
    return out[0], out[1]


def _bar(
    shape: tuple[int, int], p0: NDArray[np.float64], p1: NDArray[np.float64], width: float
) -> NDArray[np.float32]:
    """A flat bar (plate or wire) of ``width`` px between two points: 1 inside, antialiased."""
    k = 4
    h, w = shape
    canvas = np.zeros((h * k, w * k), np.uint8)
    a = tuple(int(v) for v in np.rint(p0 * k))
    b = tuple(int(v) for v in np.rint(p1 * k))
    cv2.line(canvas, a, b, 255, max(1, round(width * k)), cv2.LINE_8)
    return cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def _screw_row(
    rng: np.random.Generator,
    bone: NDArray[np.bool_],
    centres: list[NDArray[np.float64]],
    across: float,
    *,
    width_px: float,
    side: float | None,
    taken: NDArray[np.bool_],
    metal: NDArray[np.float32],
) -> tuple[list[CompositeScrew], list[NDArray[np.float64]]]:
    """Screws across the bone at ``centres`` (heads on ``side``: +1, -1, or either when None),
    drawn into ``metal`` and ``taken``; returns the screws and their head points."""
    h, w = bone.shape
    u = np.array([np.cos(across), np.sin(across)])
    screws: list[CompositeScrew] = []
    heads: list[NDArray[np.float64]] = []
    for centre in centres:
        x, y = float(centre[0]), float(centre[1])
        if not (0 <= int(x) < w and 0 <= int(y) < h) or not bone[int(y), int(x)]:
            continue
        b, f = _chord(bone, x, y, across)
        length_px = float(np.clip((b + f) * rng.uniform(0.85, 1.3), width_px * 2.5, 400))
        type_name = str(rng.choice(SCREW_NAMES))
        probe = random_screw(rng, type_name, x=0, y=0, angle=0)
        spacing = probe.size.outer / width_px  # mm per px that gives the drawn width
        elevation = 0.0 if rng.random() < 0.85 else float(rng.uniform(0.2, 1.1))
        # The screw spans the chord's middle, its head outside the cortex on one side.
        middle = np.array([x, y]) + u * (f - b) / 2
        sign = side if side is not None else (1.0 if rng.random() < 0.5 else -1.0)
        head = middle - sign * u * length_px / 2
        screw = random_screw(
            rng,
            type_name,
            x=float(head[0]),
            y=float(head[1]),
            angle=float(across if sign > 0 else across + np.pi),
            length_mm=max(8.0, length_px * spacing),
            elevation=elevation,
        )
        drawn = render_screw(screw, shape=(h, w), spacing_mm=spacing)
        if drawn is None:
            continue
        crop, thick, mask = drawn
        # Keep screws whole and apart: one cut by the film's edge is not what this teaches.
        if crop[0].start == 0 or crop[1].start == 0 or crop[0].stop == h or crop[1].stop == w:
            continue
        full = np.zeros((h, w), bool)
        full[crop] = mask
        if (full & taken).any() or np.count_nonzero(full) < 6:
            continue
        metal[crop] += thick
        taken |= full
        screws.append(CompositeScrew(type_name, full))
        heads.append(head)
    return screws, heads


def composite_screws(
    gray: NDArray[np.uint8],
    rng: np.random.Generator,
    *,
    width_ratios: tuple[float, ...] = WIDTH_RATIOS,
) -> tuple[NDArray[np.uint8], list[CompositeScrew]]:
    """Draw rows of screws into ``gray``: along a plate (its heads on the plate), through an
    intramedullary nail (interlocking), or loose; K-wires beside some. Plates, nails and
    wires are distractors, never labelled. Returns the new 8-bit film and its screws; no
    screws where no bone is found."""
    if gray.dtype != np.uint8 or gray.ndim != 2:
        raise ValueError("composite_screws needs an 8-bit grey image")
    h, w = gray.shape
    bone = bone_mask(gray)
    inner = cv2.erode(bone.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    ys, xs = np.nonzero(inner)
    metal = np.zeros((h, w), np.float32)  # steel path length, mm
    taken = np.zeros((h, w), bool)
    screws: list[CompositeScrew] = []
    n_rows = int(rng.choice([1, 2, 2, 3, 3]))
    for _ in range(n_rows if len(xs) else 0):
        k = int(rng.integers(len(xs)))
        cx, cy = float(xs[k]), float(ys[k])
        across = _across_angle(bone, int(cx), int(cy), radius=max(12, min(h, w) // 12))
        along = np.array([-np.sin(across), np.cos(across)])
        back, fwd = _chord(bone, cx, cy, across)
        chord = back + fwd
        ratio = float(rng.choice(width_ratios))
        width_px = float(np.clip(chord * rng.uniform(0.85, 1.3) * ratio, 3.0, 18.0))
        kind = str(rng.choice(["plate", "plate", "nail", "loose"]))
        tilt = float(rng.normal(0.0, 0.15 if kind != "loose" else 0.35))
        n = int(rng.integers(2, 8)) if kind == "plate" else int(rng.integers(1, 4))
        step = width_px * rng.uniform(2.0, 3.2)
        offsets = [step * (i - (n - 1) / 2) for i in range(n)]
        if kind == "nail":
            # Interlocking screws are a few nail widths apart.
            offsets = [o * rng.uniform(1.0, 2.0) for o in offsets]
        centres = [np.array([cx, cy]) + along * o for o in offsets]
        side = None if kind == "loose" else (1.0 if rng.random() < 0.5 else -1.0)
        row, heads = _screw_row(
            rng,
            bone,
            centres,
            across + tilt,
            width_px=width_px,
            side=side,
            taken=taken,
            metal=metal,
        )
        screws += row
        if not row:
            continue
        u = np.array([np.cos(across), np.sin(across)])
        if kind == "plate":
            # A plate on the cortex under the heads: face-on (wide, thin) or edge-on.
            pts = np.array(heads)
            o = np.argsort(pts @ along)
            ends = along * step * rng.uniform(0.6, 1.5)
            face_on = rng.random() < 0.5
            plate_w = width_px * (rng.uniform(1.2, 1.7) if face_on else rng.uniform(0.5, 0.8))
            plate_mm = rng.uniform(2.5, 4.0) if face_on else rng.uniform(8.0, 14.0)
            # Edge-on, the plate lies along the cortex just below the heads.
            shift = (0.0 if face_on else plate_w / 2) * (side or 1.0) * u
            bar = _bar((h, w), pts[o[0]] - ends + shift, pts[o[-1]] + ends + shift, plate_w)
            holes = np.zeros((h, w), np.uint8)
            if face_on:
                for p in pts:
                    c = tuple(int(v) for v in np.rint(p))
                    cv2.circle(holes, c, int(max(1, width_px * 0.45)), 1, -1)
            metal += bar * (1 - 0.7 * holes) * plate_mm
        elif kind == "nail":
            # An intramedullary nail along the shaft, through the screws' middle.
            mid = np.array([cx, cy]) + u * (fwd - back) / 2
            span = max(abs(offsets[0]), abs(offsets[-1])) + step * rng.uniform(2.0, 6.0)
            nail_w = float(np.clip(chord * rng.uniform(0.3, 0.5), width_px * 1.3, 60))
            bar = _bar((h, w), mid - along * span, mid + along * span, nail_w)
            metal += bar * float(rng.uniform(6.0, 12.0))
        if rng.random() < 0.25:
            # A K-wire crossing the bone near the row (never a screw).
            a2 = across + float(rng.uniform(-0.8, 0.8))
            d = np.array([np.cos(a2), np.sin(a2)])
            c0 = np.array([cx, cy]) + along * rng.uniform(-3, 3) * width_px
            span = float(rng.uniform(2.0, 5.0)) * max(width_px, 8)
            wire = _bar((h, w), c0 - d * span, c0 + d * span, max(1.5, width_px * 0.35))
            metal += wire * float(rng.uniform(1.2, 2.5))
    if not screws:
        return gray.copy(), []
    layer = cv2.GaussianBlur(metal, (0, 0), float(rng.uniform(0.4, 0.9)))
    k_mm = float(rng.uniform(0.35, 0.8))
    g = gray.astype(np.float32) / 255.0
    out = 1.0 - (1.0 - g) * np.exp(-k_mm * layer)
    out = np.clip(out * 255.0 + rng.normal(0.0, 1.5, out.shape), 0, 255).astype(np.uint8)
    q = int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1))
    ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, q])
    if ok:
        out = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return out, screws
