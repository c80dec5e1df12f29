"""Mask pasting and mask -> polygon: agreement with torchvision, round trips, holes, boxes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.models.detection.roi_heads import paste_masks_in_image

from orthogui.core.geometry import Box, Polygon
from orthogui.io.masks import mask_iou, polygons_to_mask
from orthogui.ml.card import Postprocessing
from orthogui.ml.postprocess import (
    Detections,
    MaskCrop,
    boxes_from_masks,
    mask_confidence_scores,
    paste_masks,
    to_predictions,
)
from tests.unit.ml.conftest import card_for


def test_paste_agrees_with_torchvision() -> None:
    rng = np.random.default_rng(0)
    n, h, w = 40, 300, 400
    xy = rng.uniform(-30, [w, h], size=(n, 2))
    wh = rng.uniform(2, 150, size=(n, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
    # Smooth blobs rather than noise, like real mask heads produce.
    yy, xx = np.mgrid[0:28, 0:28] / 27.0
    cx, cy, r = rng.uniform(0.3, 0.7, (3, n, 1, 1))
    masks = (1.0 / (1.0 + np.exp(((xx - cx) ** 2 + (yy - cy) ** 2 - r * r / 4) * 40))).astype(
        np.float32
    )
    ours = paste_masks(masks, boxes, (h, w), threshold=0.5)
    ref = paste_masks_in_image(torch.from_numpy(masks)[:, None], torch.from_numpy(boxes), (h, w))
    for i in range(n):
        theirs = ref[i, 0].numpy() > 0.5
        assert mask_iou(ours[i].full((h, w)), theirs) > 0.99, i


def _blob(
    shape: tuple[int, int], centre: tuple[float, float], radii: tuple[float, float]
) -> np.ndarray:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    return (((xx - centre[0]) / radii[0]) ** 2 + ((yy - centre[1]) / radii[1]) ** 2 <= 1).astype(
        bool
    )


def _one(
    mask: np.ndarray, x0: int, y0: int, label: int, post: Postprocessing, size: tuple[int, int]
):
    det = Detections(
        image_size=size,
        boxes=np.array([[x0, y0, x0 + mask.shape[1], y0 + mask.shape[0]]], np.float32),
        scores=np.array([0.8], np.float32),
        labels=np.array([label]),
        masks=(MaskCrop(x0, y0, mask),),
    )
    card = card_for()
    return to_predictions(
        det, categories=card.category_for_label(), post=post, model_name="m", model_version="1"
    )


@pytest.mark.parametrize("radii", [(20.0, 12.0), (6.0, 30.0), (40.0, 40.0)])
def test_polygon_round_trip_of_blobs(radii: tuple[float, float]) -> None:
    size = (200, 220)
    blob = _blob((100, 100), (50, 50), radii)
    (pred,) = _one(blob, 60, 40, 1, Postprocessing(polygon_tolerance=1.0), size)
    assert isinstance(pred.shape, Polygon) and pred.category == "cortical_screw"
    assert pred.model_version == "1" and pred.score == pytest.approx(0.8)
    full = MaskCrop(60, 40, blob).full(size)
    assert mask_iou(polygons_to_mask([pred.shape], size), full) > 0.95


def test_holes_and_fragments_are_dropped() -> None:
    ring = _blob((80, 80), (40, 40), (30, 30)) & ~_blob((80, 80), (40, 40), (10, 10))
    ring[2:4, 2:4] = True  # a 4-pixel fragment away from the ring
    (pred,) = _one(
        ring, 10, 10, 2, Postprocessing(polygon_tolerance=0.5, min_area=16.0), (100, 100)
    )
    filled = MaskCrop(10, 10, _blob((80, 80), (40, 40), (30, 30))).full((100, 100))
    assert mask_iou(polygons_to_mask([pred.shape], (100, 100)), filled) > 0.95  # outer ring only


def test_empty_or_tiny_masks_give_no_prediction() -> None:
    tiny = np.zeros((10, 10), bool)
    tiny[4:6, 4:6] = True
    assert _one(tiny, 0, 0, 1, Postprocessing(min_area=16.0), (20, 20)) == []
    assert _one(np.zeros((10, 10), bool), 0, 0, 1, Postprocessing(), (20, 20)) == []


def test_box_categories_become_clipped_boxes() -> None:
    det = Detections(
        image_size=(50, 60),
        boxes=np.array([[-5, 10, 70, 30]], np.float32),
        scores=np.array([0.7], np.float32),
        labels=np.array([6]),
        masks=(MaskCrop(0, 10, np.zeros((20, 60), bool)),),
    )
    (pred,) = to_predictions(
        det,
        categories=card_for().category_for_label(),
        post=Postprocessing(),
        model_name="m",
        model_version="1",
    )
    assert pred.category == "fracture" and pred.shape == Box(0, 10, 60, 30)


def test_one_fracture_is_one_box() -> None:
    from orthogui.core.annotation import Prediction
    from orthogui.ml.postprocess import one_box_per_finding

    post = Postprocessing(box_containment=0.7, max_boxes_per_category=2)
    big = Prediction("fracture", 0.9, Box(100, 100, 300, 300))
    nested = Prediction("fracture", 0.8, Box(150, 150, 220, 230))  # inside the big one
    apart = Prediction("fracture", 0.5, Box(400, 400, 450, 450))
    third = Prediction("fracture", 0.4, Box(600, 10, 650, 60))  # over the cap of two
    screw = Prediction("cortical_screw", 0.3, Polygon([(0, 0), (10, 0), (10, 40)]))
    inside_screw = Prediction("cortical_screw", 0.2, Polygon([(1, 1), (9, 1), (9, 30)]))
    kept = one_box_per_finding([nested, third, screw, apart, big, inside_screw], post)
    assert kept == [big, apart, screw, inside_screw]  # score order; polygons untouched


def test_a_screw_proposed_twice_is_one_finding_and_neighbours_stay() -> None:
    """A whole screw (0.9) and its half again (0.6) are one finding; a parallel screw beside it
    and a screw crossing it stay; another category is never merged into a screw."""
    size = (100, 200)

    def bar(x0: int, x1: int, y0: int, y1: int) -> MaskCrop:
        return MaskCrop(x0, y0, np.ones((y1 - y0, x1 - x0), bool))

    crops = (
        bar(20, 120, 40, 48),  # the screw
        bar(20, 70, 40, 48),  # its half, proposed again
        bar(20, 120, 52, 60),  # the next screw in the plate, 4 px away
        bar(66, 74, 10, 90),  # a screw crossing it
        bar(20, 120, 40, 48),  # the same pixels as another category (label 3: locking)
    )
    det = Detections(
        image_size=size,
        boxes=np.array(
            [[c.x0, c.y0, c.x0 + c.mask.shape[1], c.y0 + c.mask.shape[0]] for c in crops],
            np.float32,
        ),
        scores=np.array([0.9, 0.6, 0.8, 0.7, 0.5], np.float32),
        labels=np.array([1, 1, 1, 1, 3]),
        masks=crops,
    )
    card = card_for()

    def run(containment: float) -> list[tuple[str, float]]:
        preds = to_predictions(
            det,
            categories=card.category_for_label(),
            post=Postprocessing(mask_containment=containment),
            model_name="m",
            model_version="1",
        )
        return [(p.category, round(p.score, 2)) for p in preds]

    assert run(0.6) == [
        ("cortical_screw", 0.9),
        ("cortical_screw", 0.8),
        ("cortical_screw", 0.7),
        ("locking_screw", 0.5),
    ]
    assert len(run(1.0)) == 5  # off: every mask kept


def test_a_box_is_redrawn_around_its_own_mask() -> None:
    # Two detections over the same 28-cell grid: a fracture (box label 6) whose mask lights
    # rows 7-13 and columns 4-23 of a 280 x 140 px box, and a screw (label 1) with the same
    # mask, which keeps its box: only box categories are redrawn.
    masks = np.zeros((3, 28, 28), np.float32)
    masks[:, 7:14, 4:24] = 0.6
    masks[:, 10, 2] = 0.2  # under the threshold: not part of the extent
    boxes = np.array([[100, 50, 380, 190], [100, 50, 380, 190], [0, 0, 28, 28]], np.float32)
    labels = np.array([6, 1, 6])
    masks[2] = 0.0  # a fracture whose mask reaches nowhere keeps its regressed box
    out = boxes_from_masks(boxes, masks, labels, frozenset({6}), threshold=0.25)
    assert out[0] == pytest.approx([100 + 4 * 10, 50 + 7 * 5, 100 + 24 * 10, 50 + 14 * 5])
    assert out[1] == pytest.approx(boxes[1]) and out[2] == pytest.approx(boxes[2])
    assert boxes[0] == pytest.approx([100, 50, 380, 190])  # the input is left alone
    # Threshold 0 turns it off; at 0.1 the faint cell widens the box to column 2.
    assert boxes_from_masks(boxes, masks, labels, frozenset({6}), threshold=0.0) == (
        pytest.approx(boxes)
    )
    wider = boxes_from_masks(boxes, masks, labels, frozenset({6}), threshold=0.1)
    assert wider[0][0] == pytest.approx(100 + 2 * 10)


def test_mask_scores_are_weighted_by_the_outline_confidence() -> None:
    # A firm outline (cells at 0.9) keeps 0.9 of its score, a hesitant one (0.6) keeps 0.6;
    # cells under the mask threshold do not count; a box label keeps its score.
    masks = np.zeros((4, 28, 28), np.float32)
    masks[0, 5:20, 10:14] = 0.9
    masks[1, 5:20, 10:14] = 0.6
    masks[1, 0:5, :] = 0.3  # faint, outside the outline
    masks[2, 5:20, 10:14] = 0.6
    # masks[3] is empty: no outline, no confidence
    scores = np.array([0.8, 0.8, 0.8, 0.8], np.float32)
    labels = np.array([1, 1, 6, 1])
    out = mask_confidence_scores(scores, masks, labels, frozenset({1}), power=1.0, threshold=0.5)
    assert out == pytest.approx([0.72, 0.48, 0.8, 0.0])
    squared = mask_confidence_scores(
        scores, masks, labels, frozenset({1}), power=2.0, threshold=0.5
    )
    assert squared[:2] == pytest.approx([0.8 * 0.81, 0.8 * 0.36])
    off = mask_confidence_scores(scores, masks, labels, frozenset({1}), power=0.0, threshold=0.5)
    assert off == pytest.approx(scores) and off is not scores
