"""The screw-type stage's command: strips from phantoms, a pretrained classifier trained on
them, its held-out figures and weights attached to the detector's card."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("timm")


@pytest.mark.slow
def test_train_screw_types_attaches_a_measured_stage(tmp_path: Path, capsys) -> None:
    from orthogui.cli import main
    from orthogui.core.categories import DEFAULT_CATEGORIES, SCREW_GROUP
    from orthogui.ml.architectures import BuildOptions, build_model
    from orthogui.ml.card import CardCategory, load_card
    from orthogui.ml.weights import load_type_stage, save_weights
    from tests.unit.ml.conftest import card_for

    screws = tuple(c.name for c in DEFAULT_CATEGORIES if c.group == SCREW_GROUP)
    card = replace(
        card_for(num_classes=2),
        categories=(CardCategory(1, "screw", screws[0], covers=screws),),
    )
    model = build_model(card.architecture, BuildOptions(num_classes=2, min_size=64, max_size=64))
    saved = save_weights(model, card, tmp_path)
    args = ["train-screw-types", "--card", str(saved.source), "--images", "4"]
    args += ["--test-images", "2", "--epochs", "1", "--copies", "1", "--threads", "1"]
    assert main([*args, "--from-stage"]) == 1  # nothing to continue from: said, nothing written
    assert "has no type stage to continue from" in capsys.readouterr().err
    assert load_card(saved.source).type_stage is None
    assert main([*args, "--limb-images", "2"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    typed = load_card(saved.source)
    stage = typed.type_stage
    assert stage is not None and stage.categories == screws
    assert report["held_out_strips"] == stage.metrics["held_out_strips"] > 0
    matrix = np.asarray(stage.metrics["confusion"])
    assert matrix.shape == (5, 5) and matrix.sum() == stage.metrics["held_out_strips"]
    assert stage.training_data["recipe"]["images"] == 4
    assert stage.training_data["recipe"]["limb_images"] == 2
    assert "4 mixed and 2 limb phantoms" in stage.training_data["data"]
    command = stage.training_data["command"]
    assert "--images 4 " in command and "--limb-images 2" in command and "--seed" not in command
    classifier = load_type_stage(typed, torch.device("cpu"))
    assert classifier is not None and not classifier.training
    # Cut by the screw's length, as the card records; continuing the stage on strips cut
    # another way, or cutting them with a context under one length, is refused before training.
    assert (stage.crop_context, stage.crop_diameters) == (2.2, 1.0)
    assert main([*args, "--from-stage", "--crop-context", "1.2", "--crop-diameters", "2"]) == 1
    assert "was trained on strips cut as" in capsys.readouterr().err
    assert main([*args, "--crop-context", "0.5"]) == 1
    assert "crop context must be >= 1" in capsys.readouterr().err
    assert load_card(saved.source).type_stage == stage


def test_detector_outlines_are_matched_one_to_one_by_mask_iou() -> None:
    from orthogui.training.screw_types import _matched

    def box(x0: int, x1: int) -> np.ndarray:
        m = np.zeros((20, 40), bool)
        m[5:15, x0:x1] = True
        return m

    truth = [box(0, 10), box(20, 30)]
    # two outlines on the first screw (the better one wins), one half on the second, one on air
    found = [box(1, 10), box(0, 10), box(25, 30), box(32, 40)]
    assert _matched(truth, found, 0.5) == [(0, 1), (1, 2)]
    assert _matched(truth, found, 0.6) == [(0, 1)]  # the half outline (IoU 0.5) is not enough
    assert _matched([], found, 0.5) == [] and _matched(truth, [], 0.5) == []


@pytest.mark.slow
def test_detector_strips_are_cut_where_the_bundled_detector_outlines_true_screws() -> None:
    """The bundled detector on two phantoms: a strip per screw it finds, labelled with the true
    type, shaped like the type stage's input."""
    from collections import Counter

    from orthogui.ml.card import default_models_dir, list_cards
    from orthogui.training.default_model import DEFAULT_MODEL_NAME
    from orthogui.training.screw_types import SCREW_TYPES, detector_strips, scene_phantoms

    card = [c for c in list_cards(default_models_dir()) if c.name == DEFAULT_MODEL_NAME][-1]
    strips = detector_strips(card, n_images=2, seed=8203)
    truth = [
        inst.category
        for img, _rng in scene_phantoms(2, 8203)
        for inst in img.scene.instances
        if inst.category in SCREW_TYPES
    ]
    assert 0 < len(strips.labels) <= len(truth)
    assert Counter(SCREW_TYPES[k] for k in strips.labels) <= Counter(truth)
    spec = card.type_stage
    assert spec is not None
    assert {s.shape for s in strips.images} == {(spec.crop_width, spec.crop_length)}


def _reviewed_file(root: Path, n: int = 9) -> tuple[Path, dict]:
    """``n`` small limb phantoms as a COCO file with screw types (ground truth: reviewed),
    one screw left as a model proposal nobody looked at and one whose type nobody knew."""
    from orthogui.synth.dataset import write_dataset

    summary = write_dataset(root, n=n, seed=5, scene="limb", size=256, fmt="png16")
    coco = json.loads(summary.annotations_path.read_text())
    screws = [a for a in coco["annotations"] if a["category_id"] in _screw_ids(coco)]
    assert len(screws) >= 4
    screws[0]["review_state"] = "proposed"
    screws[1]["attributes"] = {"type": "unknown"}
    summary.annotations_path.write_text(json.dumps(coco))
    return summary.annotations_path, coco


_SCREWS = (
    "cortical_screw",
    "cancellous_screw",
    "locking_screw",
    "cannulated_screw",
    "compression_screw",
)


def _screw_ids(coco: dict) -> dict[int, str]:
    from orthogui.training.screw_types import SCREW_TYPES

    return {c["id"]: c["name"] for c in coco["categories"] if c["name"] in SCREW_TYPES}


def test_reviewed_strips_take_the_reviewed_screws_of_known_type_and_keep_a_check_set(
    tmp_path: Path,
) -> None:
    from collections import Counter

    from orthogui.ml.card import Preprocessing
    from orthogui.ml.screw_type import LENGTH_CROP
    from orthogui.training.screw_types import SCREW_TYPES, reviewed_strips

    path, coco = _reviewed_file(tmp_path / "reviewed")
    ids = _screw_ids(coco)
    usable = [
        a
        for a in coco["annotations"]
        if a["category_id"] in ids
        and a.get("review_state") != "proposed"
        and a.get("attributes", {}).get("type") != "unknown"
    ]
    images = sorted({a["image_id"] for a in usable})
    names = {im["id"]: im["file_name"] for im in coco["images"]}
    ordered = sorted(images, key=lambda i: str(path.parent / names[i]))
    held = ordered[4] if len(ordered) >= 5 else None
    out = reviewed_strips(path, Preprocessing(), spec=LENGTH_CROP, copies=3, seed=1)
    assert out.images == len(images) and out.check_images == (held is not None)
    assert out.skipped == {"not reviewed (proposed)": 1, "type unknown": 1}
    in_check = [a for a in usable if a["image_id"] == held]
    in_train = [a for a in usable if a["image_id"] != held]
    assert len(out.check.labels) == len(in_check)  # the check set: each outline once
    assert len(out.train.labels) == 3 * len(in_train)
    want = Counter(ids[a["category_id"]] for a in in_train for _ in range(3))
    assert Counter(SCREW_TYPES[k] for k in out.train.labels) == want
    shapes = {s.shape for s in out.train.images + out.check.images}
    assert shapes == {(LENGTH_CROP.width, LENGTH_CROP.length)}
    assert all(float(s.min()) >= 0.0 and float(s.max()) <= 1.0 for s in out.train.images)


def test_reviewed_strips_refuse_a_file_without_reviewed_screws_or_with_a_bad_image(
    tmp_path: Path,
) -> None:
    from orthogui.core.radiograph import RadiographError
    from orthogui.ml.card import Preprocessing
    from orthogui.training.screw_types import reviewed_strips

    path, coco = _reviewed_file(tmp_path / "reviewed")
    ids = _screw_ids(coco)
    unreviewed = {
        **coco,
        "annotations": [
            {**a, "review_state": "proposed"} if a["category_id"] in ids else a
            for a in coco["annotations"]
        ],
    }
    none = path.with_name("none.json")
    none.write_text(json.dumps(unreviewed))
    with pytest.raises(ValueError, match=r"none\.json: no reviewed screw of a known type"):
        reviewed_strips(none, Preprocessing())
    broken = path.with_name("broken.json")
    broken.write_text(path.read_text()[:200])
    with pytest.raises(ValueError, match=r"broken\.json"):
        reviewed_strips(broken, Preprocessing())
    # an image cut short on disk: the error names it
    first = [a for a in coco["annotations"] if a["category_id"] in ids][2]["image_id"]
    name = next(im["file_name"] for im in coco["images"] if im["id"] == first)
    image = path.parent / name
    image.write_bytes(image.read_bytes()[:300])
    with pytest.raises(RadiographError, match=re.escape(image.name)):
        reviewed_strips(path, Preprocessing())


@pytest.mark.slow
def test_train_screw_types_learns_from_reviewed_screws(tmp_path: Path, capsys) -> None:
    """The command continues the bundled stage on reviewed screws alone, reports the check
    images' accuracy before and after, and records how it was trained."""
    import shutil

    from orthogui.cli import main
    from orthogui.ml.card import default_models_dir, list_cards, load_card
    from orthogui.training.default_model import DEFAULT_MODEL_NAME

    bundled = [c for c in list_cards(default_models_dir()) if c.name == DEFAULT_MODEL_NAME][-1]
    assert bundled.source is not None and bundled.type_stage is not None
    models = tmp_path / "models"
    models.mkdir()
    for name in {bundled.source.name, bundled.weights_file, bundled.type_stage.weights_file}:
        shutil.copy(bundled.source.parent / name, models / name)
    card = models / bundled.source.name
    path, _coco = _reviewed_file(tmp_path / "reviewed")
    args = ["train-screw-types", "--card", str(card), "--from-stage", "--images", "0"]
    args += ["--test-images", "0", "--epochs", "1", "--threads", "1", "--reviewed", str(path)]
    assert main([*args, "--reviewed-copies", "0"]) == 1
    assert "reviewed copies must be at least 1" in capsys.readouterr().err
    assert main([*args, "--reviewed-copies", "2"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    stage = load_card(card).type_stage
    assert stage is not None and stage.weights_sha256 != bundled.type_stage.weights_sha256
    metrics = stage.metrics
    assert report["reviewed_check_accuracy"] == metrics["reviewed_check_accuracy"]
    assert 0.0 <= metrics["reviewed_check_accuracy_before"] <= 1.0
    assert metrics["reviewed_check_images"] == 1 and metrics["reviewed_images"] >= 5
    assert metrics["reviewed_skipped"] == {"not reviewed (proposed)": 1, "type unknown": 1}
    assert "held_out_accuracy" not in metrics  # no phantoms held out: no phantom figure
    assert f"--reviewed {path}" in stage.training_data["command"]
    assert "--reviewed-copies 2" in stage.training_data["command"]
    assert "strips of the screws reviewed in annotations.json" in stage.training_data["data"]


def test_reviewed_strips_read_a_project_snapshot(tmp_path: Path) -> None:
    """What a user does: import labelled films into a project, export a snapshot, and hand
    the snapshot folder to the type stage — every split's reviewed screws come back."""
    from orthogui.cli import main
    from orthogui.io.store import ProjectStore
    from orthogui.ml.card import Preprocessing
    from orthogui.training.screw_types import reviewed_strips

    path, _coco = _reviewed_file(tmp_path / "films")
    direct = reviewed_strips(path, Preprocessing(), copies=1)
    project = tmp_path / "p.orthogui"
    ProjectStore.create(project).close()
    imported = ["import", "coco", str(path), "--project", str(project)]
    assert main([*imported, "--images-root", str(path.parent)]) == 0
    snap = tmp_path / "snap"
    export = ["export", str(project), str(snap), "--all-images", "--split", "0.6,0.2,0.2"]
    assert main([*export, "--trusted-images", str(path.parent / "images")]) == 0
    assert len(list((snap / "annotations").glob("*.json"))) == 3
    out = reviewed_strips(snap, Preprocessing(), copies=1)
    assert out.images == direct.images
    total = len(out.train.labels) + len(out.check.labels)
    assert total == len(direct.train.labels) + len(direct.check.labels)
    assert sorted(out.train.labels + out.check.labels) == sorted(
        direct.train.labels + direct.check.labels
    )
    # the snapshot's own split (by study) decides: its val and test images are the check
    held = 0
    for split in ("val", "test"):
        data = json.loads((snap / "annotations" / f"{split}.json").read_text())
        names = {c["id"]: c["name"] for c in data["categories"]}
        held += len(
            {
                a["image_id"]
                for a in data["annotations"]
                if names[a["category_id"]] in _SCREWS
                and a.get("attributes", {}).get("type") != "unknown"
            }
        )
    assert out.check_images == held > 0
    # a folder with annotations.json (as `orthogui synth` writes) reads as its file does
    folder = reviewed_strips(path.parent, Preprocessing(), copies=1)
    assert folder.check.labels == direct.check.labels and folder.images == direct.images
    with pytest.raises(ValueError, match="a folder without annotations"):
        reviewed_strips(tmp_path / "films" / "images", Preprocessing())


def test_a_type_stage_worse_on_the_reviewed_check_images_is_not_written(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    """A new stage that types fewer of the reviewed check screws right than the present one
    leaves the card and its weights as they were, says so, and exits 1; --keep-worse writes it."""
    from orthogui.cli import main
    from orthogui.io.fileops import file_sha256
    from orthogui.ml.architectures import BuildOptions, build_model
    from orthogui.ml.card import CardCategory, Preprocessing, load_card
    from orthogui.ml.screw_type import LENGTH_CROP
    from orthogui.ml.weights import save_weights
    from orthogui.training import screw_types
    from tests.unit.ml.conftest import card_for

    path, _coco = _reviewed_file(tmp_path / "reviewed")
    check = screw_types.reviewed_strips(path, Preprocessing(), spec=LENGTH_CROP, copies=1).check
    absent = next(k for k in range(len(screw_types.SCREW_TYPES)) if k not in check.labels)

    class Always(torch.nn.Module):  # names one type whatever it reads: none of the check's
        def __init__(self) -> None:
            super().__init__()
            self.logits = torch.nn.Parameter(torch.zeros(len(screw_types.SCREW_TYPES)))
            with torch.no_grad():
                self.logits[absent] = 5.0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.logits.expand(x.shape[0], -1)

    monkeypatch.setattr(screw_types, "train_classifier", lambda *a, **k: Always().eval())
    monkeypatch.setattr(screw_types, "_check_before", lambda *a: 0.5)
    screws = screw_types.SCREW_TYPES
    card = replace(
        card_for(num_classes=2),
        categories=(CardCategory(1, "screw", screws[0], covers=screws),),
    )
    model = build_model(card.architecture, BuildOptions(num_classes=2, min_size=64, max_size=64))
    saved = save_weights(model, card, tmp_path)
    assert saved.source is not None
    before = saved.source.read_bytes()
    args = ["train-screw-types", "--card", str(saved.source), "--images", "0"]
    args += ["--test-images", "0", "--epochs", "1", "--reviewed", str(path)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "kept its present type stage" in err and "right for 0.0%" in err and "50.0%" in err
    assert saved.source.read_bytes() == before
    assert not list(tmp_path.glob("*.types.safetensors"))
    assert main([*args, "--keep-worse"]) == 0
    written = load_card(saved.source).type_stage
    assert written is not None and written.metrics["reviewed_check_accuracy"] == 0.0
    assert written.metrics["reviewed_check_accuracy_before"] == 0.5
    assert file_sha256(saved.source.parent / written.weights_file) == written.weights_sha256
    assert "--keep-worse" in written.training_data["command"]
