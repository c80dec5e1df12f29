"""The outline of a screw from the two ends of its axis (two clicks instead of a polygon)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray
from shapely.geometry import Polygon

from orthogui.io.axis_outline import outline_along_axis


def bar(p0: tuple[float, float], p1: tuple[float, float], width: float) -> Polygon:
    """The true outline of a straight bar of ``width`` between two points."""
    (x0, y0), (x1, y1) = p0, p1
    n = math.hypot(x1 - x0, y1 - y0)
    vx, vy = -(y1 - y0) / n * width / 2, (x1 - x0) / n * width / 2
    return Polygon([(x0 + vx, y0 + vy), (x1 + vx, y1 + vy), (x1 - vx, y1 - vy), (x0 - vx, y0 - vy)])


def render(
    polys: list[tuple[Polygon, int]], shape: tuple[int, int] = (200, 240)
) -> NDArray[np.uint8]:
    """Dark background, bright solids, anti-aliased by 8x supersampling, a little noise."""
    s = 8
    big = np.full((shape[0] * s, shape[1] * s), 30, np.uint8)
    for poly, level in polys:
        pts = (np.asarray(poly.exterior.coords) * s).round().astype(np.int32)
        cv2.fillPoly(big, [pts], int(level))
    img = cv2.resize(big, (shape[1], shape[0]), interpolation=cv2.INTER_AREA).astype(np.float32)
    img += np.random.default_rng(0).normal(0, 3, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def iou(a: Polygon, b: Polygon) -> float:
    return float(a.intersection(b).area / a.union(b).area)


@pytest.mark.parametrize("angle", [0.0, 30.0, 97.0, 180.0 + 45.0])
def test_two_ends_give_the_screw_outline_at_any_angle(angle: float) -> None:
    c, half = (120.0, 100.0), 45.0
    d = (math.cos(math.radians(angle)) * half, math.sin(math.radians(angle)) * half)
    p0, p1 = (c[0] - d[0], c[1] - d[1]), (c[0] + d[0], c[1] + d[1])
    truth = bar(p0, p1, 6.0)
    img = render([(truth, 200)])
    out = outline_along_axis(img, p0, p1)
    assert out.found
    assert iou(Polygon(out.polygon), truth) >= 0.85
    assert out.width_px == pytest.approx(6.0, abs=1.0)


def test_ends_clicked_short_of_the_screw_still_reach_its_ends() -> None:
    p0, p1 = (50.0, 60.0), (170.0, 130.0)
    truth = bar(p0, p1, 5.0)
    img = render([(truth, 220)])
    n = math.dist(p0, p1)
    ux, uy = (p1[0] - p0[0]) / n, (p1[1] - p0[1]) / n
    short0 = (p0[0] + 4 * ux, p0[1] + 4 * uy)
    short1 = (p1[0] - 4 * ux, p1[1] - 4 * uy)
    out = outline_along_axis(img, short0, short1)
    poly = Polygon(out.polygon)
    assert iou(poly, truth) >= 0.85
    assert poly.length / 2 >= n - 2.0  # the whole length, not the clicked one


def test_a_plate_under_the_head_is_not_taken_for_the_screw() -> None:
    screw = bar((40.0, 100.0), (150.0, 100.0), 6.0)
    plate = bar((150.0, 20.0), (150.0, 180.0), 14.0)  # across the head, as in a plate hole
    img = render([(plate, 200), (screw, 210)])
    out = outline_along_axis(img, (40.0, 100.0), (150.0, 100.0))
    poly = Polygon(out.polygon)
    assert poly.bounds[1] >= 100 - 8 and poly.bounds[3] <= 100 + 8  # capped near 6 px wide
    assert iou(poly, screw) >= 0.7


def test_sixteen_bit_images_and_low_contrast_fallback() -> None:
    truth = bar((30.0, 30.0), (200.0, 160.0), 8.0)
    img16 = render([(truth, 180)]).astype(np.uint16) * 257
    out = outline_along_axis(img16, (30.0, 30.0), (200.0, 160.0))
    assert out.found and iou(Polygon(out.polygon), truth) >= 0.85

    flat = np.full((100, 100), 90, np.uint8)
    out = outline_along_axis(flat, (10.0, 50.0), (90.0, 50.0))
    assert not out.found
    assert Polygon(out.polygon).area == pytest.approx(80.0 * 8.0, rel=0.05)  # a tenth as wide
    out = outline_along_axis(flat, (10.0, 50.0), (90.0, 50.0), fallback_width=4.0)
    assert out.width_px == 4.0


def test_bad_input_is_a_clear_error() -> None:
    img = np.zeros((50, 50), np.uint8)
    with pytest.raises(ValueError, match="at least 2 px apart"):
        outline_along_axis(img, (10.0, 10.0), (10.5, 10.5))
    with pytest.raises(ValueError, match="one channel"):
        outline_along_axis(np.zeros((50, 50, 3), np.uint8), (1.0, 1.0), (40.0, 40.0))


@pytest.mark.parametrize("plate_width", [8.0, 14.0, 30.0])
def test_the_outline_stops_at_the_head_when_a_plate_lies_beyond_it(plate_width: float) -> None:
    screw = bar((40.0, 100.0), (150.0, 100.0), 6.0)
    x = 150.0 + plate_width / 2
    plate = bar((x, 20.0), (x, 180.0), plate_width)  # the head sits on the plate's near side
    img = render([(plate, 200), (screw, 210)])
    out = outline_along_axis(img, (40.0, 100.0), (150.0, 100.0))
    poly = Polygon(out.polygon)
    assert poly.bounds[2] <= 152.0  # not through the plate
    assert poly.bounds[0] <= 41.0 and iou(poly, screw) >= 0.8


def test_short_wide_objects_and_a_tip_dimmer_than_a_plate_crossed_by_the_axis() -> None:
    stub = bar((90.0, 100.0), (110.0, 100.0), 10.0)  # as long as two widths
    out = outline_along_axis(render([(stub, 200)]), (90.0, 100.0), (110.0, 100.0))
    assert out.found and iou(Polygon(out.polygon), stub) >= 0.75

    screw = bar((30.0, 100.0), (200.0, 100.0), 6.0)
    plate = bar((150.0, 20.0), (150.0, 180.0), 20.0)  # the axis crosses a brighter plate
    img = render([(screw, 120), (plate, 250)])
    out = outline_along_axis(img, (30.0, 100.0), (200.0, 100.0))
    poly = Polygon(out.polygon)
    assert poly.bounds[0] <= 32.0 and poly.bounds[2] >= 198.0  # the dim tip is kept
