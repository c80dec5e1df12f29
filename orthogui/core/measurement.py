"""Measurements on an image: rulers (length) and angles, kept with the image in the project.

A measurement is not a finding: it is never exported as training data, reviewed or approved.
Values are derived from the points and the radiograph's pixel spacing when shown.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, replace
from typing import Any, Literal

from orthogui.core.radiograph import Radiograph

MeasurementKind = Literal["length", "angle"]
#: How many points each kind has (an angle's vertex is the middle point).
POINTS: dict[str, int] = {"length": 2, "angle": 3}
NO_SPACING = "px — no pixel spacing"
AT_DETECTOR = "mm at detector, not corrected for magnification"

Point = tuple[float, float]


@dataclass(frozen=True)
class Measurement:
    """One ruler or angle on one image, in image pixel coordinates.

    Raises
    ------
    ValueError
        An unknown kind, or a number of points that does not fit it.
    """

    id: str
    image_id: str
    kind: MeasurementKind
    points: tuple[Point, ...]
    label: str = ""
    created_by: str = ""

    def __post_init__(self) -> None:
        if self.kind not in POINTS:
            raise ValueError(f"unknown measurement kind {self.kind!r}")
        if len(self.points) != POINTS[self.kind]:
            raise ValueError(f"a {self.kind} measurement has {POINTS[self.kind]} points")

    @classmethod
    def new(
        cls,
        *,
        image_id: str,
        kind: MeasurementKind,
        points: list[Point] | tuple[Point, ...],
        created_by: str = "",
        label: str = "",
    ) -> Measurement:
        """A new measurement with a fresh id."""
        pts = tuple((float(x), float(y)) for x, y in points)
        return cls(uuid.uuid4().hex, image_id, kind, pts, label, created_by)

    def with_point(self, index: int, x: float, y: float) -> Measurement:
        """A copy with point ``index`` moved to (x, y)."""
        pts = list(self.points)
        pts[index] = (float(x), float(y))
        return replace(self, points=tuple(pts))


def measure(
    x0: float, y0: float, x1: float, y1: float, rg: Radiograph | None
) -> tuple[float, float, str]:
    """Length of a line from its ends and the radiograph's pixel spacing.

    Spacing is (row, column) mm and may be anisotropic; without spacing the text gives pixels,
    and with only ImagerPixelSpacing it says the length is at the detector.

    Returns
    -------
    tuple of (float, float, str)
        Length in pixels, in mm (nan without spacing) and the label text.
    """
    dx, dy = x1 - x0, y1 - y0
    px = math.hypot(dx, dy)
    spacing = rg.pixel_spacing if rg is not None else None
    if not spacing or rg is None or rg.spacing_source == "none":
        return px, float("nan"), f"{px:.1f} {NO_SPACING}"
    row_mm, col_mm = spacing
    mm = math.hypot(dx * col_mm, dy * row_mm)
    if rg.spacing_source == "ImagerPixelSpacing":
        return px, mm, f"{mm:.1f} {AT_DETECTOR}"
    return px, mm, f"{mm:.1f} mm"


def angle_degrees(a: Point, vertex: Point, b: Point, rg: Radiograph | None = None) -> float:
    """The angle at ``vertex`` between the arms to ``a`` and ``b``, in degrees (0-180).

    With anisotropic pixel spacing the arms are scaled to mm first, so the angle is the one
    in the patient, not on the screen. Zero-length arms give nan.
    """
    sx, sy = 1.0, 1.0
    spacing = rg.pixel_spacing if rg is not None else None
    if spacing and rg is not None and rg.spacing_source != "none":
        sy, sx = spacing
    ux, uy = (a[0] - vertex[0]) * sx, (a[1] - vertex[1]) * sy
    vx, vy = (b[0] - vertex[0]) * sx, (b[1] - vertex[1]) * sy
    if math.hypot(ux, uy) == 0.0 or math.hypot(vx, vy) == 0.0:
        return float("nan")
    return abs(math.degrees(math.atan2(ux * vy - uy * vx, ux * vx + uy * vy)))


def value_of(m: Measurement, rg: Radiograph | None) -> tuple[float, str]:
    """The measurement's value (mm, px without spacing, or degrees) and its label text."""
    if m.kind == "length":
        (x0, y0), (x1, y1) = m.points
        px, mm, text = measure(x0, y0, x1, y1, rg)
        value = px if math.isnan(mm) else mm
    else:
        value = angle_degrees(m.points[0], m.points[1], m.points[2], rg)
        text = f"{value:.1f}°"
    return value, f"{m.label}: {text}" if m.label else text


def measurement_to_dict(m: Measurement) -> dict[str, Any]:
    return {
        "id": m.id,
        "image_id": m.image_id,
        "kind": m.kind,
        "points": [[x, y] for x, y in m.points],
        "label": m.label,
        "created_by": m.created_by,
    }


def measurement_from_dict(data: dict[str, Any]) -> Measurement:
    kind = str(data["kind"])
    if kind not in POINTS:
        raise ValueError(f"unknown measurement kind {kind!r}")
    return Measurement(
        id=str(data["id"]),
        image_id=str(data["image_id"]),
        kind=kind,  # type: ignore[arg-type]
        points=tuple((float(p[0]), float(p[1])) for p in data["points"]),
        label=str(data.get("label", "")),
        created_by=str(data.get("created_by", "")),
    )
