"""The screw-type stage: strips cut along the screw's axis, the classifier attached to a card,
and the predictor typing grouped detections with every type's probability."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("timm")

from orthogui.core.annotation import TYPE_PROBABILITIES, Prediction  # noqa: E402
from orthogui.core.categories import ShapeKind  # noqa: E402
from orthogui.core.geometry import Box, Polygon  # noqa: E402
from orthogui.ml.card import (  # noqa: E402
    CardCategory,
    ModelCardError,
    ModelLoadError,
    load_card,
)
from orthogui.ml.screw_type import (  # noqa: E402
    DEFAULT_CROP,
    LENGTH_CROP,
    CropSpec,
    aligned_crop,
    build_type_classifier,
    strip_span,
    type_probabilities,
)
from orthogui.ml.weights import load_type_stage  # noqa: E402
from orthogui.training.screw_types import SCREW_TYPES, attach_type_stage  # noqa: E402
from tests.unit.ml.conftest import card_for  # noqa: E402


def _rotated_bar(angle_deg: float, *, length: float = 120, width: float = 14):
    img = np.zeros((300, 300), np.float32)
    rect = ((150.0, 140.0), (length, width), angle_deg)
    pts = cv2.boxPoints(rect)
    cv2.fillPoly(img, [pts.astype(np.int32)], 1.0)
    # A head at one end: a wider block, so end-to-end orientation is visible.
    a = np.deg2rad(angle_deg)
    head = ((150.0 + np.cos(a) * length / 2, 140.0 + np.sin(a) * length / 2), (10, 30), angle_deg)
    cv2.fillPoly(img, [cv2.boxPoints(head).astype(np.int32)], 1.0)
    return img, pts


@pytest.mark.parametrize("angle", [0.0, 33.0, 90.0, 127.0])
def test_strip_lies_along_the_long_axis(angle: float) -> None:
    img, pts = _rotated_bar(angle)
    strip = aligned_crop(img, pts, CropSpec(length=128, width=32, context=1.3))
    assert strip.shape == (32, 128)
    centre_row = strip[16, 20:108]
    assert centre_row.mean() > 0.9  # the bar runs along the strip
    assert strip[:3].mean() < 0.1 and strip[-3:].mean() < 0.1  # nothing above or below it
    assert strip[:, :4].mean() < 0.2  # context before the screw's end


def test_strip_is_normalised_by_its_own_contrast() -> None:
    img, pts = _rotated_bar(20.0)
    faint = 0.4 + 0.01 * img  # a 1 % contrast bar in a grey image
    strip = aligned_crop(faint, pts, CropSpec(length=128, width=32))
    assert strip.max() == pytest.approx(1.0) and strip.min() == pytest.approx(0.0)


def test_a_length_crop_does_not_care_how_wide_the_outline_is() -> None:
    # A detector's outline of a screw is often narrower than the screw (heads, thread tips):
    # cut by length, its strip is the true outline's; cut by width, it is zoomed in.
    img, true_pts = _rotated_bar(30.0, length=120, width=40)
    thin_pts = cv2.boxPoints(((150.0, 140.0), (120.0, 25.0), 30.0)).astype(np.float32)
    by_length = replace(LENGTH_CROP, length=128, width=32)
    np.testing.assert_allclose(
        aligned_crop(img, thin_pts, by_length), aligned_crop(img, true_pts, by_length), atol=1e-5
    )
    by_width = replace(DEFAULT_CROP, length=128, width=32)
    moved = np.abs(aligned_crop(img, thin_pts, by_width) - aligned_crop(img, true_pts, by_width))
    assert moved.mean() > 0.05


def test_a_short_thick_screw_still_fits_across_a_length_crop() -> None:
    # Length 60, diameter 50: by its length alone the strip would be narrower than the screw.
    def across(spec: CropSpec) -> float:  # image pixels across the strip
        return strip_span(60.0, 50.0, spec) * spec.width / spec.length

    assert across(LENGTH_CROP) >= 50.0
    assert across(replace(LENGTH_CROP, diameters=0.0)) < 50.0
    assert across(DEFAULT_CROP) >= 100.0  # the first stages' rule: two diameters


def test_probabilities_are_read_both_ways() -> None:
    model = build_type_classifier(5).eval()
    img, pts = _rotated_bar(10.0)
    strip = aligned_crop(img, pts)
    p = type_probabilities(model, [strip, strip[:, ::-1].copy()], device=torch.device("cpu"))
    assert p.shape == (2, 5)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(p[0], p[1], atol=1e-5)  # mirrored strip, same answer


def _grouped_card(tmp_path: Path):
    from orthogui.ml.architectures import BuildOptions, build_model
    from orthogui.ml.weights import save_weights

    card = card_for(num_classes=4)
    card = replace(
        card,
        categories=(
            CardCategory(1, "screw", SCREW_TYPES[0], covers=SCREW_TYPES),
            CardCategory(2, "fracture", "fracture", ShapeKind.BOX),
            CardCategory(3, "vcf", "vertebral_compression_fracture"),
        ),
    )
    model = build_model(card.architecture, BuildOptions(num_classes=4, min_size=128, max_size=128))
    return save_weights(model, card, tmp_path)


def test_attached_stage_round_trips_and_types_screws(tmp_path: Path) -> None:
    from orthogui.ml.predictor import MaskRCNNPredictor

    card = _grouped_card(tmp_path)
    classifier = build_type_classifier(5).eval()
    out = attach_type_stage(card, classifier, metrics={"held_out_accuracy": 0.5}, training_data={})
    reread = load_card(out.source)
    assert reread.type_stage is not None
    assert reread.type_stage.categories == SCREW_TYPES
    predictor = MaskRCNNPredictor.from_card(reread, device="cpu")
    img, pts = _rotated_bar(45.0)
    preds = [
        Prediction(SCREW_TYPES[0], 0.9, Polygon(pts)),
        Prediction("fracture", 0.8, Box(10, 10, 50, 50)),
    ]
    typed = predictor.typed(preds, img)
    probs = typed[0].attributes[TYPE_PROBABILITIES]
    assert set(probs) == set(SCREW_TYPES)
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-4)
    assert typed[0].category == max(probs, key=probs.get)
    assert typed[0].score == 0.9  # the detection score is kept
    assert typed[1] == preds[1]  # a fracture is not typed


def test_the_stage_cuts_strips_as_its_card_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    classifier = build_type_classifier(5).eval()
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    old_card, new_card = _grouped_card(tmp_path / "old"), _grouped_card(tmp_path / "new")
    old = attach_type_stage(old_card, classifier, metrics={}, training_data={})
    new = attach_type_stage(new_card, classifier, metrics={}, training_data={}, spec=LENGTH_CROP)
    assert new.type_stage is not None and old.type_stage is not None
    reread = load_card(new.source)
    assert reread.type_stage is not None
    assert (reread.type_stage.crop_context, reread.type_stage.crop_diameters) == (2.2, 1.0)
    # A card written before the rule had a name reads as the first stages were cut.
    raw = json.loads(Path(new.source).read_text())
    del raw["type_stage"]["crop_diameters"]
    raw["type_stage"]["crop_context"] = 1.2
    Path(new.source).write_text(json.dumps(raw))
    assert load_card(new.source).type_stage.crop_diameters == DEFAULT_CROP.diameters
    raw["type_stage"]["crop_diameters"] = -1
    Path(new.source).write_text(json.dumps(raw))
    with pytest.raises(ModelCardError, match="crop_diameters"):
        load_card(new.source)
    # The predictor cuts a thin outline of a wide screw as the true one under the length rule
    # only (the strips its classifier is given are compared).
    import orthogui.ml.predictor as predictor_module

    img, true_pts = _rotated_bar(30.0, length=120, width=40)
    thin_pts = cv2.boxPoints(((150.0, 140.0), (120.0, 25.0), 30.0)).astype(np.float32)
    seen: list[np.ndarray] = []

    def spy(model, strips, **kw):
        seen.extend(strips)
        return type_probabilities(model, strips, **kw)

    monkeypatch.setattr(predictor_module, "type_probabilities", spy)
    for c in (reread, old):
        predictor = predictor_module.MaskRCNNPredictor.from_card(c, device="cpu")
        for pts in (thin_pts, true_pts):
            predictor.typed([Prediction(SCREW_TYPES[0], 0.9, Polygon(pts))], img)
    assert len(seen) == 4
    np.testing.assert_allclose(seen[0], seen[1], atol=1e-5)
    assert np.abs(seen[2] - seen[3]).mean() > 0.05


def test_changed_type_weights_are_refused(tmp_path: Path) -> None:
    card = _grouped_card(tmp_path)
    out = attach_type_stage(card, build_type_classifier(5), metrics={}, training_data={})
    path = out.type_weights_path
    assert path is not None
    path.write_bytes(path.read_bytes()[:-10] + b"0" * 10)
    with pytest.raises(ModelLoadError, match="sha256"):
        load_type_stage(load_card(out.source), torch.device("cpu"))


def test_stage_must_cover_the_grouped_types(tmp_path: Path) -> None:
    card = _grouped_card(tmp_path)
    out = attach_type_stage(card, build_type_classifier(5), metrics={}, training_data={})
    assert out.type_stage is not None
    with pytest.raises(ModelCardError, match=r"type_stage\.categories"):
        replace(out, type_stage=replace(out.type_stage, categories=SCREW_TYPES[:2]))


def test_type_doubt_is_an_uncertainty_score() -> None:
    from orthogui.ml.scoring import SCORERS, ImagePredictions, ScoringContext

    def preds(type_probs):
        empty = np.zeros((0, 4))
        return ImagePredictions(
            empty, np.zeros(0), np.zeros(0, np.int64), np.zeros((0, 3)), type_probs=type_probs
        )

    sure = preds(np.array([[0.97, 0.01, 0.01, 0.005, 0.005]]))
    torn = preds(np.array([[0.97, 0.01, 0.01, 0.005, 0.005], [0.46, 0.44, 0.05, 0.03, 0.02]]))
    score = SCORERS["type"]
    assert score(torn, ScoringContext()) > score(sure, ScoringContext()) + 0.3
    assert score(preds(None), ScoringContext()) == 0.0
    assert score(preds(np.full((1, 5), 0.2)), ScoringContext()) == pytest.approx(1.0)


def test_predictor_scores_type_doubt_with_a_type_stage(tmp_path: Path) -> None:
    from orthogui.ml.predictor import MaskRCNNPredictor
    from tests.unit.ml.conftest import synthetic_radiograph

    card = _grouped_card(tmp_path)
    out = attach_type_stage(card, build_type_classifier(5), metrics={}, training_data={})
    predictor = MaskRCNNPredictor.from_card(out, device="cpu", score_threshold=0.0)
    scores = predictor.image_scores(synthetic_radiograph(1), flip=False)
    assert "type" in scores.scores and 0.0 <= scores.scores["type"] <= 1.0
