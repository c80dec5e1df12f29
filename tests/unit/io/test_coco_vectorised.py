"""The batched paths of COCO export and import give what the one-by-one paths gave."""

from __future__ import annotations

import gc
import json
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from orthogui.core.categories import DEFAULT_CATEGORIES
from orthogui.core.geometry import Box, Polygon
from orthogui.io.coco import COORD_DECIMALS, gc_paused, images_geometry, shape_geometry
from orthogui.io.importers import ImportValidationError, LabelMap, read_import
from orthogui.io.importers._base import new_ids


def _shapes(rng: np.random.Generator, n: int) -> list[Polygon | Box]:
    out: list[Polygon | Box] = []
    t = np.linspace(0, 2 * np.pi, 11, endpoint=False)
    for k in range(n):
        c = rng.uniform(20, 180, 2)
        if k % 3 == 0:
            out.append(Box(*c, *(c + rng.uniform(1, 30, 2))))
        else:
            r = rng.uniform(2, 40, len(t))
            out.append(Polygon(c + np.c_[np.cos(t), np.sin(t)] * r[:, None] + 1 / 3))
    return out


def test_geometry_of_many_images_is_each_image_rounded_and_rasterised() -> None:
    rng = np.random.default_rng(3)
    groups = [(_shapes(rng, n), 200, 240) for n in (0, 1, 5, 300)]  # 300: past pycocotools' 255
    batched = images_geometry(groups)
    for (shapes, h, w), (rings, bboxes, areas) in zip(groups, batched):
        assert (rings, bboxes, areas) == shape_geometry(shapes, height=h, width=w)
        for shape, ring, bbox, area in zip(shapes, rings, bboxes, areas):
            pts = shape.corners() if isinstance(shape, Box) else shape.points
            np.testing.assert_allclose(
                np.reshape(ring, (-1, 2)), pts, atol=0.5 * 10**-COORD_DECIMALS
            )
            assert ring == [round(v, COORD_DECIMALS) for v in ring]
            xs, ys = ring[0::2], ring[1::2]
            assert bbox == pytest.approx([min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)])
            if isinstance(shape, Box):
                assert area == pytest.approx(bbox[2] * bbox[3])
            else:  # the area COCOeval bins by: pycocotools' raster of the written ring
                rle = mask_utils.frPyObjects([ring], h, w)
                assert area == float(mask_utils.area(rle)[0])


def test_unknown_image_size_uses_the_shapes_extent() -> None:
    square = Polygon([(10, 10), (30.5, 10), (30.5, 20), (10, 20)])
    ((_, _, areas),) = images_geometry([([square], 0, 0)])
    assert areas == [float(mask_utils.area(mask_utils.frPyObjects([square.flat()], 21, 31))[0])]


def test_gc_paused_restores_the_collector() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            pass
        assert not gc.isenabled()  # the inner block leaves the outer pause alone
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_new_ids_are_unique_uuid4_hex() -> None:
    ids = new_ids(5000)
    assert len(set(ids)) == 5000 and new_ids(0) == []
    for i in ids[:50]:
        u = uuid.UUID(hex=i)
        assert u.version == 4 and u.variant == uuid.RFC_4122 and u.hex == i


def _write(tmp_path: Path, anns: list[dict[str, Any]]) -> Path:
    data = {
        "images": [
            {"id": 1, "file_name": "a.png", "width": 100, "height": 80},
            {"id": 2, "file_name": "b.png"},  # size unknown: no bounds check
        ],
        "categories": [{"id": 1, "name": "cortical_screw"}],
        "annotations": anns,
    }
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(data).replace('"NaN"', "NaN"))
    return path


def _ann(i: int, seg: Any, image_id: int = 1) -> dict[str, Any]:
    return {"id": i, "image_id": image_id, "category_id": 1, "segmentation": seg}


def test_import_checks_all_rings_at_once_and_names_each_bad_one(tmp_path: Path) -> None:
    good = [10, 10, 40, 10, 40, 30]
    path = _write(
        tmp_path,
        [
            _ann(1, [good]),
            _ann(2, [[10, 10, "x", 10, 40, 30]]),  # not a number
            _ann(3, [[10, 10, 140, 10, 40, 30]]),  # outside 100x80
            _ann(4, [good, [10, 10, "NaN", 10, 40, 30]]),  # second ring not finite
            _ann(5, [[500, 500, 600, 500, 600, 600]], image_id=2),  # no size: fine
            _ann(6, [[1, 1, 5, 5]]),  # two points
        ],
    )
    with pytest.raises(ImportValidationError) as err:
        read_import("coco", path, label_map=LabelMap(DEFAULT_CATEGORIES))
    found = [(p.entry, p.problem) for p in err.value.problems]
    assert found == [
        ("annotations[1].segmentation[0]", "polygon coordinates must be numbers"),
        (
            "annotations[2].segmentation[0]",
            "polygon [10.0, 10.0, 140.0, 30.0] (x0, y0, x1, y1) lies outside the image 100x80",
        ),
        ("annotations[3].segmentation[1]", "polygon vertices must be finite numbers"),
        ("annotations[5].segmentation[0]", "polygon with 2 points: at least 3 needed"),
    ]
    assert str(path) in str(err.value) and "(and 3 more problems)" in str(err.value)


def test_import_keeps_file_order_parts_and_shared_values(tmp_path: Path) -> None:
    a = [10.5, 10, 40, 10, 40, 30.25]
    b = [50, 50, 60, 50, 60, 60, 50, 60]
    anns = [_ann(1, [a, b]), _ann(2, [b], image_id=2), {**_ann(3, []), "bbox": [1, 2, 3, 4]}]
    anns[1]["score"] = 0.5
    res = read_import("coco", _write(tmp_path, anns), label_map=LabelMap(DEFAULT_CATEGORIES))
    shapes = [a.shape for a in res.annotations]
    assert shapes == [
        Polygon.from_flat(a),
        Polygon.from_flat(b),
        Polygon.from_flat(b),
        Box(1, 2, 4, 6),
    ]
    assert [w.problem for w in res.warnings] == ["2 separate parts: imported as 2 annotations"]
    first, second, third, fourth = res.annotations
    assert first.provenance is second.provenance is fourth.provenance  # one immutable value
    assert third.provenance.score == 0.5 and third.review.state.value == "proposed"
    assert len({x.id for x in res.annotations}) == 4
