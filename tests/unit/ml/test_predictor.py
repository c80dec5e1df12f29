"""The Mask R-CNN predictor end to end on small synthetic radiographs, random weights with
biased heads so that there is something to detect; plus the input preprocessing."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch

from orthogui.core.geometry import Box, Polygon
from orthogui.core.predictor import Predictor
from orthogui.core.radiograph import Radiograph, WindowPreset
from orthogui.io.masks import mask_iou, polygons_to_mask
from orthogui.ml.architectures import build_model
from orthogui.ml.card import Preprocessing
from orthogui.ml.predictor import MaskRCNNPredictor
from orthogui.ml.preprocess import to_unit_image
from orthogui.ml.weights import build_options
from tests.unit.ml.conftest import card_for, synthetic_radiograph, wake_up


@pytest.fixture(scope="module")
def predictor() -> MaskRCNNPredictor:
    card = card_for(score_threshold=0.2)
    torch.manual_seed(0)
    model = build_model(card.architecture, build_options(card))
    wake_up(model, card, [1, 6])  # cortical screw (polygon) and fracture (box)
    return MaskRCNNPredictor(model, card, device="cpu", max_detections=30)


def test_predictions_are_valid_shapes_inside_the_image(predictor: MaskRCNNPredictor) -> None:
    assert isinstance(predictor, Predictor)
    rg = synthetic_radiograph(0)
    preds = predictor.predict(rg)
    assert preds, "biased heads must produce detections"
    kinds = {type(p.shape) for p in preds}
    assert kinds == {Polygon, Box}
    for p in preds:
        assert p.category in {"cortical_screw", "fracture"}
        assert isinstance(p.shape, Box) == (p.category == "fracture")
        assert 0.2 <= p.score <= 1.0
        assert (p.model_name, p.model_version) == ("test-model", "0.1")
        b = p.shape.bbox()
        assert 0 <= b.x0 < b.x1 <= rg.columns and 0 <= b.y0 < b.y1 <= rg.rows
        if isinstance(p.shape, Polygon):
            assert len(p.shape) >= 3 and p.shape.area >= predictor.card.postprocessing.min_area


def test_polygons_follow_the_pasted_masks(predictor: MaskRCNNPredictor) -> None:
    rg = synthetic_radiograph(1)
    # Tolerance 0: this checks placement; simplification of ragged random masks moves ~10 %.
    # Every mask kept (the random masks overlap; duplicates are tested in test_postprocess).
    card = predictor.card
    post = replace(card.postprocessing, polygon_tolerance=0.0, mask_containment=1.0)
    exact = replace(card, postprocessing=post)
    pred0 = MaskRCNNPredictor(predictor.model, exact, device="cpu", max_detections=30)
    (det,) = pred0.detect([to_unit_image(rg, card.preprocessing)])
    preds = pred0.predictions(det)
    polys = [p for p in preds if isinstance(p.shape, Polygon)]
    masks = [
        det.masks[i] for i in range(len(det)) if det.labels[i] == 1 and det.masks[i].mask.any()
    ]
    assert len(polys) == len(masks) > 0
    for poly, crop in zip(polys, masks):
        drawn = polygons_to_mask([poly.shape], rg.shape).astype(bool)  # type: ignore[list-item]
        full = crop.full(rg.shape)
        # The polygon is the outer ring of the largest component (random masks are ragged):
        # compare with that component, holes filled, in image coordinates.
        contours, _ = cv2.findContours(
            full.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE
        )
        outer = np.zeros(rg.shape, np.uint8)
        cv2.drawContours(outer, [max(contours, key=cv2.contourArea)], -1, 1, thickness=-1)
        assert mask_iou(drawn, outer) > 0.95


def test_batched_equals_single(predictor: MaskRCNNPredictor) -> None:
    # Same-size images: a batch pads to its largest image, which shifts results near the
    # padded border for smaller ones (torchvision behaves the same).
    rgs = [synthetic_radiograph(2), synthetic_radiograph(3), synthetic_radiograph(4)]
    singles = [predictor.predict(rg) for rg in rgs]
    batched = predictor.predict_batch(rgs)
    assert [len(s) for s in singles] == [len(b) for b in batched]
    for single, batch in zip(singles, batched):
        assert len({p.score for p in single}) > 1  # varied scores: the order means something
        for a, b in zip(single, batch):
            assert a.category == b.category
            assert a.score == pytest.approx(b.score, abs=1e-4)
            assert a.shape.bbox().iou(b.shape.bbox()) > 0.95


def test_overrides_change_thresholds(predictor: MaskRCNNPredictor) -> None:
    strict = MaskRCNNPredictor(predictor.model, predictor.card, device="cpu", score_threshold=0.99)
    assert strict.predict(synthetic_radiograph(0)) == []
    # The shared network is configured per predictor; restore the fixture's settings.
    MaskRCNNPredictor(predictor.model, predictor.card, device="cpu", max_detections=30)


def test_auto_device_is_cpu_without_cuda(predictor: MaskRCNNPredictor) -> None:
    auto = MaskRCNNPredictor(predictor.model, predictor.card, max_detections=30)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert auto.device.type == expected and auto.fp16 == (expected == "cuda")


def test_unit_image_uses_window_and_inverts_monochrome1() -> None:
    stored = np.array([[0, 100], [200, 400]], np.uint16)
    rg = Radiograph(
        path="a",
        format="dicom",
        stored=stored,
        bits_stored=12,
        rescale_slope=2.0,
        rescale_intercept=-100.0,
        windows=(WindowPreset(center=200, width=400),),
    )
    unit = to_unit_image(rg, Preprocessing(window="default"))
    # modality values -100, 100, 300, 700; window [0, 400]
    np.testing.assert_allclose(unit, [[0.0, 0.25], [0.75, 1.0]])
    inv = to_unit_image(replace(rg, photometric="MONOCHROME1"), Preprocessing())
    np.testing.assert_allclose(inv, 1.0 - unit)
    assert unit.dtype == np.float32


def test_unit_image_percentile_window() -> None:
    stored = np.arange(100 * 100, dtype=np.uint16).reshape(100, 100)
    stored[0, 0] = 65535  # one hot pixel must not squash the window
    unit = to_unit_image(
        Radiograph(path="p", format="png", stored=stored, bits_stored=16),
        Preprocessing(window="percentile", percentiles=(1.0, 99.0)),
    )
    assert unit.min() == 0.0 and unit.max() == 1.0
    assert 0.4 < float(np.median(unit)) < 0.6
    with pytest.raises(ValueError, match=r"rgb\.png: expected a 2-D"):
        to_unit_image(
            Radiograph(path="rgb.png", format="png", stored=np.zeros((4, 4, 3)), bits_stored=8),
            Preprocessing(),
        )


def test_fracture_boxes_can_come_from_their_masks(predictor: MaskRCNNPredictor) -> None:
    # With ``box_from_mask`` the predictor redraws each fracture box around the mask head's
    # cells at or above it; screws' boxes and every mask stay as the regressed ones.
    rg = synthetic_radiograph(1)
    card = predictor.card
    unit = to_unit_image(rg, card.preprocessing)
    (plain,) = predictor.detect([unit])
    tight_card = replace(card, postprocessing=replace(card.postprocessing, box_from_mask=0.5))
    tight = MaskRCNNPredictor(predictor.model, tight_card, device="cpu", max_detections=30)
    (det,) = tight.detect([unit])
    MaskRCNNPredictor(predictor.model, card, device="cpu", max_detections=30)  # restore
    assert np.array_equal(plain.labels, det.labels) and np.allclose(plain.scores, det.scores)
    fractures = det.labels == 6
    assert fractures.any() and (~fractures).any()
    assert np.allclose(det.boxes[~fractures], plain.boxes[~fractures])
    for i in np.flatnonzero(fractures):
        old, new = plain.boxes[i], det.boxes[i]
        # Inside the regressed box and no larger than it; the pasted masks are unchanged.
        assert old[0] - 1e-3 <= new[0] < new[2] <= old[2] + 1e-3
        assert old[1] - 1e-3 <= new[1] < new[3] <= old[3] + 1e-3
        assert np.array_equal(det.masks[i].mask, plain.masks[i].mask)
    assert not np.allclose(det.boxes[fractures], plain.boxes[fractures])


def test_outline_confidence_reweights_scores_and_the_threshold_holds(
    predictor: MaskRCNNPredictor,
) -> None:
    # ``mask_score_power``: each screw's score times the mean probability of its outline's
    # cells; boxes keep theirs; findings the product puts under the threshold are dropped.
    rg = synthetic_radiograph(2)
    card = predictor.card
    unit = to_unit_image(rg, card.preprocessing)
    (plain,) = predictor.detect([unit])
    threshold = float(np.median(plain.scores[plain.labels == 1]))
    post = replace(card.postprocessing, mask_score_power=1.0)
    weighted = MaskRCNNPredictor(
        predictor.model,
        replace(card, postprocessing=post),
        device="cpu",
        max_detections=30,
        score_threshold=threshold,
    )
    (det,) = weighted.detect([unit])
    MaskRCNNPredictor(predictor.model, card, device="cpu", max_detections=30)  # restore
    assert (det.scores >= threshold).all()
    # every finding kept is one of the unweighted ones (same box), with a score no higher
    for box, score, label in zip(det.boxes, det.scores, det.labels):
        same = np.all(np.isclose(plain.boxes, box), axis=1) & (plain.labels == label)
        (i,) = np.flatnonzero(same)
        if label == 6:
            assert score == pytest.approx(plain.scores[i])
        else:
            assert score < plain.scores[i]
    above = plain.scores >= threshold
    screws_above = int((above & (plain.labels == 1)).sum())
    assert 0 < (det.labels == 1).sum() < screws_above  # some fall under the threshold
    assert (det.labels == 6).sum() == (above & (plain.labels == 6)).sum()


def test_fracture_boxes_can_need_a_higher_score(predictor: MaskRCNNPredictor) -> None:
    # ``box_score_threshold``: box categories start at it, mask ones at ``score_threshold``;
    # an explicit threshold (evaluation) is the one threshold for every category.
    rg = synthetic_radiograph(3)
    card = predictor.card
    unit = to_unit_image(rg, card.preprocessing)
    (plain,) = predictor.detect([unit])
    fractures = plain.labels == 6
    cut = float(np.median(plain.scores[fractures]))
    post = replace(card.postprocessing, box_score_threshold=cut)
    stricter = replace(card, postprocessing=post)
    (det,) = MaskRCNNPredictor(predictor.model, stricter, device="cpu", max_detections=30).detect(
        [unit]
    )
    assert (det.labels == 1).sum() == (plain.labels == 1).sum()
    assert 0 < (det.labels == 6).sum() == (plain.scores[fractures] >= cut).sum() < fractures.sum()
    assert (det.scores[det.labels == 6] >= cut).all()
    explicit = MaskRCNNPredictor(
        predictor.model, stricter, device="cpu", max_detections=30, score_threshold=0.2
    )
    (low,) = explicit.detect([unit])
    MaskRCNNPredictor(predictor.model, card, device="cpu", max_detections=30)  # restore
    assert (low.labels == 6).sum() == fractures.sum()
