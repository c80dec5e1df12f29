"""Geometry values: areas, boxes, hit tests, vertex edits, simplification."""

from __future__ import annotations

import numpy as np
import pytest

from orthogui.core.categories import DEFAULT_CATEGORIES, SCREW_GROUP, CategorySet, ShapeKind
from orthogui.core.geometry import Box, Polygon


def test_polygon_area_bbox_contains() -> None:
    p = Polygon([(0, 0), (10, 0), (10, 5), (0, 5)])
    assert p.area == 50
    assert p.bbox() == Box(0, 0, 10, 5)
    assert p.contains(5, 2) and not p.contains(11, 2)


def test_box_normalises_and_iou() -> None:
    b = Box(10, 10, 0, 0)
    assert (b.x0, b.y0, b.x1, b.y1) == (0, 0, 10, 10)
    assert b.iou(Box(5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert Box.from_xywh(1, 2, 3, 4).xywh() == (1, 2, 3, 4)


def test_polygon_needs_three_finite_vertices() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        Polygon([(0, 0), (1, 1)])
    with pytest.raises(ValueError, match="finite"):
        Polygon([(0, 0), (1, np.nan), (2, 0)])
    with pytest.raises(ValueError):
        Polygon([(0, 0), (1, 0), (1, 1)]).without_vertices([0])


def test_vertex_edits_return_new_values() -> None:
    p = Polygon([(0, 0), (10, 0), (10, 10), (0, 10)])
    q = p.with_vertex_inserted(1, 5, -2)
    assert len(q) == 5 and q.points[1].tolist() == [5, -2] and len(p) == 4
    assert q.without_vertices({1}) == p
    i, d, pt = p.nearest_edge(5, 1)
    assert i == 0 and d == pytest.approx(1) and pt == (5, 0)


def test_simplify_keeps_corners_drops_collinear_detail() -> None:
    t = np.linspace(0, 1, 50, endpoint=False)
    ring = np.concatenate(
        [
            np.c_[t * 10, np.zeros_like(t)],
            np.c_[np.full_like(t, 10), t * 10],
            np.c_[10 - t * 10, np.full_like(t, 10)],
            np.c_[np.zeros_like(t), 10 - t * 10],
        ]
    )
    s = Polygon(ring).simplified(0.1)
    assert len(s) == 4 and s.area == pytest.approx(100)


def test_principal_axis_length_of_a_rotated_rod() -> None:
    a = np.deg2rad(30)
    d, n = np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])
    rod = Polygon([d * 0 + n * 1, d * 40 + n * 1, d * 40 - n * 1, d * 0 - n * 1])
    assert rod.principal_axis_length() == pytest.approx(40)


def test_default_categories() -> None:
    assert len(DEFAULT_CATEGORIES.group(SCREW_GROUP)) == 5
    assert DEFAULT_CATEGORIES.by_name("fracture").shape is ShapeKind.BOX
    vcf = DEFAULT_CATEGORIES.by_name("vertebral_compression_fracture")
    assert vcf.attributes[0].choices == ("T11", "T12", "L1", "L2", "L3", "L4")
    with pytest.raises(ValueError, match="duplicate"):
        CategorySet(DEFAULT_CATEGORIES.categories + DEFAULT_CATEGORIES.categories[:1])
