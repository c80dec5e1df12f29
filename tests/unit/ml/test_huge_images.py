"""Huge radiographs: downsampled for the network under ``max_input_pixels``, predictions back
in full-resolution pixels, masks pasted box by box, type-stage strips still at full resolution;
normal-size images untouched."""

from __future__ import annotations

import itertools
import logging
from dataclasses import replace
from typing import Any

import cv2
import numpy as np
import pytest
import torch
from torch import nn
from torchvision.models.detection.roi_heads import paste_masks_in_image

from orthogui.core.geometry import Polygon
from orthogui.core.radiograph import ModalityLut, Radiograph
from orthogui.io.masks import mask_iou, mask_to_polygons
from orthogui.ml.architectures import build_model
from orthogui.ml.card import Preprocessing
from orthogui.ml.postprocess import paste_masks
from orthogui.ml.predictor import INFERENCE_SCALE, MaskRCNNPredictor, full_resolution_strip
from orthogui.ml.preprocess import (
    DEFAULT_MAX_INPUT_PIXELS,
    input_size,
    network_input,
    to_unit_image,
)
from orthogui.ml.screw_type import LENGTH_CROP, CropSpec, aligned_crop
from orthogui.ml.weights import build_options
from tests.unit.ml.conftest import card_for, synthetic_radiograph, wake_up

MEAN0, STD0 = 0.485, 0.229  # the network's first-channel normalisation (card default)


def _radiograph(
    shape: tuple[int, int], rects: list[tuple[int, int, int, int]], **kw: Any
) -> Radiograph:
    """Dark 12-bit noise-free image with bright ``(x0, y0, x1, y1)`` rectangles."""
    stored = np.full(shape, 300, np.uint16)
    for x0, y0, x1, y1 in rects:
        stored[y0:y1, x0:x1] = 3800
    return Radiograph(path="huge.png", format="png", stored=stored, bits_stored=12, **kw)


# -- a stubbed detector: the real predictor code path around a trivial "network" ---------------
class _Features(nn.Module):
    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"0": x}


class _NoProposals(nn.Module):
    def forward(self, images: Any, features: Any) -> tuple[list[None], dict[str, Any]]:
        return [None] * len(images.image_sizes), {}


class _Heads(nn.Module):
    """One detection per image, label 1, a full 28 x 28 mask: either the extent of the bright
    pixels of the network input (``box=None``) or a fixed box in network-input pixels."""

    def __init__(self, box: tuple[float, float, float, float] | None = None) -> None:
        super().__init__()
        self.box = box
        self.seen: list[tuple[int, int]] = []
        self.score_thresh, self.nms_thresh, self.detections_per_img = 0.5, 0.5, 100

    def forward(
        self, features: dict[str, torch.Tensor], proposals: Any, image_sizes: list[tuple[int, int]]
    ) -> tuple[list[dict[str, torch.Tensor]], dict[str, Any]]:
        out = []
        for img, (h, w) in zip(features["0"], image_sizes):
            self.seen.append((h, w))
            if self.box is None:
                ys, xs = torch.nonzero(img[0, :h, :w] > (0.5 - MEAN0) / STD0, as_tuple=True)
                box = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
                boxes = torch.tensor([[float(v) for v in box]])
            else:
                boxes = torch.tensor([self.box])
            out.append(
                {
                    "boxes": boxes,
                    "scores": torch.tensor([0.9]),
                    "labels": torch.tensor([1]),
                    "masks": torch.ones(1, 1, 28, 28),
                }
            )
        return out, {}


def _stubbed(
    heads: _Heads, *, size: int = 1024, max_input_pixels: int | None = DEFAULT_MAX_INPUT_PIXELS
) -> MaskRCNNPredictor:
    card = card_for(size=size)
    card = replace(card, postprocessing=replace(card.postprocessing, polygon_tolerance=0.0))
    model = build_model(card.architecture, build_options(card))
    model.backbone, model.rpn, model.roi_heads = _Features(), _NoProposals(), heads
    return MaskRCNNPredictor(model, card, device="cpu", max_input_pixels=max_input_pixels)


# -- sizes and resampling ----------------------------------------------------------------------
def test_input_size_is_capped_with_one_factor() -> None:
    assert input_size((3000, 3000), DEFAULT_MAX_INPUT_PIXELS) == (3000, 3000)
    assert input_size((16000, 12000), None) == (16000, 12000)
    for shape, cap in [((16000, 12000), DEFAULT_MAX_INPUT_PIXELS), ((4001, 2999), 1_000_003)]:
        rows, cols = input_size(shape, cap)
        assert rows * cols <= cap
        assert rows * cols > 0.99 * cap  # not needlessly small
        assert abs(rows / shape[0] - cols / shape[1]) < 2.0 / min(rows, cols)  # one factor
    assert DEFAULT_MAX_INPUT_PIXELS == 4096 * 4096


@pytest.mark.parametrize("window", ["default", "percentile"])
def test_chunked_downsampling_is_opencv_area_interpolation(window: str) -> None:
    rng = np.random.default_rng(0)
    stored = rng.integers(0, 4096, (1201, 1999)).astype(np.uint16)  # odd, not square
    lut = ModalityLut(first_mapped=0, bits=16, table=(np.arange(4096) * 3 + 7).astype(np.uint16))
    rg = Radiograph(
        path="r", format="dicom", stored=stored, bits_stored=12, photometric="MONOCHROME1",
        modality_lut=lut,
    )  # fmt: skip
    prep = Preprocessing(window=window)  # type: ignore[arg-type]
    inp = network_input(rg, prep, max_pixels=300 * 499)
    assert inp.downsampled and inp.unit.size <= 300 * 499 and inp.unit.dtype == np.float32
    full = to_unit_image(rg, prep)
    ref = cv2.resize(full, inp.unit.shape[::-1], interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(inp.unit, ref, atol=1e-5)
    # The full-resolution region the type stage reads equals the full unit image there.
    np.testing.assert_array_equal(inp.region(-5, 1190, 40, 1300), full[1190:, :40])


# -- coordinates -------------------------------------------------------------------------------
def test_boxes_and_masks_map_back_exactly_on_an_odd_non_square_image() -> None:
    rows, cols = 4001, 2999
    cap = 1_000_003
    net_box = (10.5, 20.25, 300.75, 400.5)
    heads = _Heads(net_box)
    predictor = _stubbed(heads, max_input_pixels=cap)
    rg = _radiograph((rows, cols), [])
    inp = predictor.network_input(rg)
    assert inp.downsampled and inp.unit.size <= cap
    (det,) = predictor.detect([inp.unit], image_sizes=[inp.image_size])
    (rh, rw) = heads.seen[-1]
    expected = np.array(net_box) * [cols / rw, rows / rh, cols / rw, rows / rh]
    np.testing.assert_allclose(det.boxes[0], expected, rtol=1e-6)
    assert det.image_size == (rows, cols)
    # Same as going network -> unit -> radiograph in two plain scalings.
    (uh, uw), (sx, sy) = inp.unit.shape, inp.scale
    two_step = np.array(net_box) * [uw / rw, uh / rh, uw / rw, uh / rh] * [sx, sy, sx, sy]
    np.testing.assert_allclose(det.boxes[0], two_step, rtol=1e-6)
    # The all-ones mask fills the box, pasted at full resolution.
    crop = det.masks[0]
    ys, xs = np.nonzero(crop.mask)
    extent = (
        crop.x0 + xs.min(),
        crop.y0 + ys.min(),
        crop.x0 + xs.max() + 1,
        crop.y0 + ys.max() + 1,
    )
    np.testing.assert_allclose(extent, expected, atol=1.5)


def test_a_rectangle_is_found_in_place_in_a_downsampled_6000x4000_image(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rect = (1501, 2003, 1837, 3111)  # x0, y0, x1, y1 in radiograph pixels
    rg = _radiograph((4000, 6000), [rect])
    capped = _stubbed(_Heads(), max_input_pixels=2000 * 2000)
    with caplog.at_level(logging.INFO, logger="orthogui.ml.predictor"):
        (pred,) = capped.predict(rg)
    assert "6000 x 4000 downsampled by 2.450 (x) / 2.451 (y) to 2449 x 1632" in caplog.text
    assert pred.attributes[INFERENCE_SCALE] == pytest.approx(4000 / 1632, abs=1e-4)
    assert isinstance(pred.shape, Polygon)
    b = pred.shape.bbox()
    net_px = 6000 / 1024  # one pixel of the network's input, in radiograph pixels
    for got, want in zip((b.x0, b.y0, b.x1, b.y1), rect):
        assert abs(got - want) <= net_px, (got, want)
    # Without the cap (a 96 MB unit image here) the same place within the same tolerance.
    (full,) = _stubbed(_Heads(), max_input_pixels=None).predict(rg)
    assert INFERENCE_SCALE not in full.attributes
    fb = full.shape.bbox()
    for got, ref in zip((b.x0, b.y0, b.x1, b.y1), (fb.x0, fb.y0, fb.x1, fb.y1)):
        assert abs(got - ref) <= net_px


# -- masks -------------------------------------------------------------------------------------
def test_box_sized_pasting_gives_the_polygons_of_full_size_masks() -> None:
    rng = np.random.default_rng(1)
    n, h, w = 25, 300, 400
    xy = rng.uniform(-20, [w, h], size=(n, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 150, size=(n, 2))], axis=1).astype(np.float32)
    yy, xx = np.mgrid[0:28, 0:28] / 27.0
    cx, cy, r = rng.uniform(0.3, 0.7, (3, n, 1, 1))
    masks = (1.0 / (1.0 + np.exp(((xx - cx) ** 2 + (yy - cy) ** 2 - r * r / 4) * 40))).astype(
        np.float32
    )
    crops = paste_masks(masks, boxes, (h, w), threshold=0.5)
    full = paste_masks_in_image(torch.from_numpy(masks)[:, None], torch.from_numpy(boxes), (h, w))
    for i, crop in enumerate(crops):
        if crop.mask.size == 0 or not crop.mask.any():
            continue
        ours = [p.translated(crop.x0, crop.y0) for p in mask_to_polygons(crop.mask, min_area=4)]
        same = mask_to_polygons(crop.full((h, w)), min_area=4)
        assert len(ours) == len(same), i
        for a, b in zip(ours, same):  # equal up to the float rounding of the translation
            np.testing.assert_allclose(a.points, b.points, rtol=0, atol=1e-9)
        theirs = mask_to_polygons(full[i, 0].numpy() > 0.5, min_area=4)
        assert len(theirs) == len(ours)
        assert mask_iou(crop.full((h, w)), full[i, 0].numpy() > 0.5) > 0.99, i


# -- the type stage ----------------------------------------------------------------------------
def test_type_strips_of_a_downsampled_image_are_cut_at_full_resolution() -> None:
    rng = np.random.default_rng(2)
    stored = (rng.normal(900, 60, (1500, 2001)).clip(0, 4095)).astype(np.uint16)
    centres = [(1000.0, 700.0, 30.0), (15.0, 1490.0, 100.0)]  # one touches two image edges
    outlines = []
    for cx, cy, angle in centres:
        rect = ((cx, cy), (240.0, 30.0), angle)
        cv2.fillPoly(stored, [cv2.boxPoints(rect).astype(np.int32)], 3500)
        outlines.append(cv2.boxPoints(rect).astype(np.float32))
    rg = Radiograph(path="s", format="png", stored=stored, bits_stored=12)
    prep = Preprocessing()
    inp = network_input(rg, prep, max_pixels=500 * 667)
    assert inp.downsampled
    full = to_unit_image(rg, prep)
    for spec, pts in itertools.product((CropSpec(), LENGTH_CROP), outlines):
        ours = full_resolution_strip(inp, pts, spec)
        ref = aligned_crop(full, pts, spec)
        # Equal up to OpenCV's fixed-point sampling positions (the warp's offset differs).
        np.testing.assert_allclose(ours, ref, atol=1e-3)
        assert float(np.abs(ours - ref).mean()) < 1e-5


# -- the real network: the cap, and normal images untouched ------------------------------------
@pytest.fixture(scope="module")
def tiny() -> MaskRCNNPredictor:
    card = card_for(score_threshold=0.2)
    torch.manual_seed(0)
    model = build_model(card.architecture, build_options(card))
    wake_up(model, card, [1, 6])
    return MaskRCNNPredictor(model, card, device="cpu", max_detections=30)


def test_the_network_never_sees_more_than_the_cap(
    tiny: MaskRCNNPredictor, monkeypatch: pytest.MonkeyPatch
) -> None:
    capped = MaskRCNNPredictor(tiny.model, tiny.card, device="cpu", max_input_pixels=40_000)
    seen: list[tuple[int, ...]] = []
    real = capped._images

    def spy(units: Any) -> Any:
        seen.extend(u.shape for u in units)
        return real(units)

    monkeypatch.setattr(capped, "_images", spy)
    rg = synthetic_radiograph(3, (401, 599))
    preds = capped.predict_batch([rg, rg])
    assert seen and all(r * c <= 40_000 for r, c in seen)
    for p in (q for batch in preds for q in batch):
        b = p.shape.bbox()
        assert 0 <= b.x0 < b.x1 <= 599 and 0 <= b.y0 < b.y1 <= 401
        assert p.attributes[INFERENCE_SCALE] == pytest.approx(401 / 163, abs=1e-4)


def test_a_normal_size_image_is_not_resampled(tiny: MaskRCNNPredictor) -> None:
    rg = synthetic_radiograph(4)
    unit = to_unit_image(rg, tiny.card.preprocessing)
    inp = tiny.network_input(rg)
    assert not inp.downsampled and inp.scale == (1.0, 1.0)
    np.testing.assert_array_equal(inp.unit, unit)
    # The previous code path: the full unit image, detections in its own pixels.
    before = tiny.typed(tiny.predictions(tiny.detect([unit])[0]), unit)
    after = tiny.predict(rg)
    assert after, "biased heads must produce detections"
    assert len(after) == len(before)
    for a, b in zip(after, before):
        assert (a.category, a.score, a.attributes) == (b.category, b.score, b.attributes)
        assert a.shape.bbox() == b.shape.bbox()
        if isinstance(a.shape, Polygon):
            assert np.array_equal(a.shape.points, b.shape.points)  # type: ignore[union-attr]
