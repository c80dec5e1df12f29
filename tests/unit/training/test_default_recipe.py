"""The default model's snapshot: synthetic + FracAtlas train images at the input size, with
FracAtlas' category renamed and its polygons scaled; reused when only the optimiser changes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from orthogui.ml.data import decode_segmentation
from orthogui.training.default_model import Recipe, RecipeError, build_snapshot, default_job
from orthogui.training.job import load_job, save_job


def _fake_fracatlas(root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    images, anns = [], []
    for i, name in enumerate(["A.jpg", "B.jpg", "C.jpg"]):
        cv2.imwrite(str(root / "images" / name), rng.integers(0, 255, (400, 200), np.uint8))
        images.append({"id": i + 1, "width": 200, "height": 400, "file_name": name})
        anns.append(
            {
                "id": i,  # FracAtlas numbers from 0
                "image_id": i + 1,
                "category_id": 0,
                "segmentation": [[20.0, 40.0, 120.0, 40.0, 120.0, 200.0, 20.0, 200.0]],
                "bbox": [20.0, 40.0, 100.0, 160.0],
                "area": 16000.0,
                "iscrowd": 0,
            }
        )
    coco = {"images": images, "annotations": anns, "categories": [{"id": 0, "name": "fractured"}]}
    (root / "annotations.json").write_text(json.dumps(coco))
    (root / "dataset.csv").write_text(
        "image_id,split\nA.jpg,train\nB.jpg,valid\nC.jpg,train\n", encoding="utf-8"
    )
    return root


def _screw(ann_id: int, image_id: int, y: float, kind: str) -> dict:
    """An outlined screw of the real-screw labels: 100 x 10 px from x = 10 at height ``y``."""
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1,
        "segmentation": [[10.0, y, 110.0, y, 110.0, y + 10, 10.0, y + 10]],
        "bbox": [10.0, y, 100.0, 10.0],
        "area": 1000.0,
        "iscrowd": 0,
        "attributes": {"type": kind},
    }


def test_snapshot_mixes_synthetic_and_scaled_fracatlas_train(tmp_path: Path) -> None:
    fa = _fake_fracatlas(tmp_path / "fa")
    recipe = Recipe(size=128, synth_train=3, synth_val=2)
    summary = build_snapshot(tmp_path / "snap", recipe=recipe, fracatlas_dir=fa)
    train = json.loads((tmp_path / "snap/annotations/train.json").read_text())
    val = json.loads((tmp_path / "snap/annotations/val.json").read_text())
    assert summary["train_fracatlas_images"] == 2 and summary["train_synthetic_images"] == 3
    assert len(train["images"]) == 5 and len(val["images"]) == 2
    assert len({im["id"] for im in train["images"]}) == 5
    assert len({a["id"] for a in train["annotations"]}) == len(train["annotations"])
    fa_images = [im for im in train["images"] if im["file_name"].startswith("images/fracatlas")]
    assert {im["source"] for im in fa_images} == {"A.jpg", "C.jpg"}  # valid is held out
    for im in fa_images:
        assert (im["width"], im["height"]) == (64, 128)  # longest side at the input size
        stored = cv2.imread(str(tmp_path / "snap" / im["file_name"]), cv2.IMREAD_UNCHANGED)
        assert stored.shape == (128, 64)
        (ann,) = [a for a in train["annotations"] if a["image_id"] == im["id"]]
        assert ann["category_id"] == 6  # fracture
        assert ann["bbox"] == pytest.approx([6.4, 12.8, 32.0, 51.2])
        assert ann["segmentation"][0][:4] == pytest.approx([6.4, 12.8, 38.4, 12.8])
    for im in train["images"]:
        assert (tmp_path / "snap" / im["file_name"]).is_file()
    # Phantoms are made at the detector size and stored at the input size, labels scaled along.
    synth = [im for im in train["images"] if im["file_name"].startswith("synth/")]
    assert {(im["width"], im["height"]) for im in synth} == {(128, 128)}
    ids = {im["id"] for im in synth}
    synth_anns = [a for a in train["annotations"] if a["image_id"] in ids]
    assert synth_anns
    for a in synth_anns:
        x, y, w, h = a["bbox"]
        assert x >= 0 and y >= 0 and x + w <= 128.5 and y + h <= 128.5
        mask = decode_segmentation(a["segmentation"], 128, 128)
        assert abs(int(mask.sum()) - a["area"]) <= 0.5 * a["area"] + 20
    # another optimiser or display threshold, same data: the snapshot is reused, not rebuilt
    mtime = (tmp_path / "snap/annotations/train.json").stat().st_mtime_ns
    other = replace(recipe, hyper=replace(recipe.hyper, max_steps=5), display_threshold=0.9)
    build_snapshot(tmp_path / "snap", recipe=other, fracatlas_dir=fa)
    assert (tmp_path / "snap/annotations/train.json").stat().st_mtime_ns == mtime
    # other data: rebuilt
    build_snapshot(tmp_path / "snap", recipe=replace(other, synth_train=2), fracatlas_dir=fa)
    assert (tmp_path / "snap/annotations/train.json").stat().st_mtime_ns != mtime


def test_job_round_trips_with_the_percentile_window(tmp_path: Path) -> None:
    recipe = Recipe(size=128, synth_train=2, synth_val=1)
    build_snapshot(tmp_path / "snap", recipe=recipe, fracatlas_dir=None)
    job = default_job(tmp_path / "snap", tmp_path / "run", recipe=recipe, models_dir=None)
    loaded = load_job(save_job(job, tmp_path / "job.json"))
    assert loaded.window == "percentile"
    assert (loaded.window_percentile_low, loaded.window_percentile_high) == (0.5, 99.95)
    assert loaded.image_size == 128 and loaded.hyper == recipe.hyper


def test_unreadable_fracatlas_names_the_file(tmp_path: Path) -> None:
    fa = tmp_path / "fa"
    fa.mkdir()
    (fa / "annotations.json").write_text("{ nope")
    with pytest.raises(RecipeError, match=r"annotations\.json"):
        build_snapshot(
            tmp_path / "snap", recipe=Recipe(size=64, synth_train=1, synth_val=1), fracatlas_dir=fa
        )


def test_real_screw_labels_come_along_and_unlabelled_implant_films_stay_out(
    tmp_path: Path,
) -> None:
    """A "tune" film trains with its screws (scaled, typed where known), a "check" film and an
    implant film nobody outlined are left out, a film without implants trains as before."""
    fa = _fake_fracatlas(tmp_path / "fa")
    for name in ("D.jpg", "E.jpg"):
        cv2.imwrite(str(fa / "images" / name), np.zeros((400, 200), np.uint8))
    coco = json.loads((fa / "annotations.json").read_text())
    coco["images"] += [
        {"id": 4, "width": 200, "height": 400, "file_name": "D.jpg"},
        {"id": 5, "width": 200, "height": 400, "file_name": "E.jpg"},
    ]
    (fa / "annotations.json").write_text(json.dumps(coco))
    (fa / "dataset.csv").write_text(
        "image_id,split,hardware\nA.jpg,train,1\nB.jpg,valid,0\nC.jpg,train,1\n"
        "D.jpg,train,1\nE.jpg,train,0\n",
        encoding="utf-8",
    )
    labels = {
        "images": [
            {"id": 1, "file_name": "A.jpg", "width": 200, "height": 400, "split": "tune"},
            {"id": 2, "file_name": "C.jpg", "width": 200, "height": 400, "split": "check"},
        ],
        "annotations": [_screw(1, 1, 100.0, "unknown"), _screw(2, 1, 200.0, "locking_screw")],
        "categories": [{"id": 1, "name": "screw", "supercategory": "screw"}],
    }
    path = tmp_path / "screws.json"
    path.write_text(json.dumps(labels))
    recipe = Recipe(size=128, synth_train=1, synth_val=1, real_screws=str(path))
    summary = build_snapshot(tmp_path / "snap", recipe=recipe, fracatlas_dir=fa)
    train = json.loads((tmp_path / "snap/annotations/train.json").read_text())
    sources = {im["source"]: im for im in train["images"] if "source" in im}
    assert set(sources) == {"A.jpg", "E.jpg"}  # C held out for the check, D never outlined
    assert summary["real_screw_films_held_out"] == ["C.jpg"]
    a_id = sources["A.jpg"]["id"]
    cats = sorted(a["category_id"] for a in train["annotations"] if a["image_id"] == a_id)
    assert cats == [1, 3, 6]  # unknown type -> the group's first type; locking; the fracture
    (locking,) = [
        a for a in train["annotations"] if a["image_id"] == a_id and a["category_id"] == 3
    ]
    assert locking["bbox"] == pytest.approx([3.2, 64.0, 32.0, 3.2])  # scaled to 128 px
    # the screw of unknown type says so, so that the type stage never learns "cortical" from it
    (unknown,) = [
        a for a in train["annotations"] if a["image_id"] == a_id and a["category_id"] == 1
    ]
    assert unknown["attributes"] == {"type": "unknown"} and "attributes" not in locking
    assert locking["area"] == pytest.approx(102.4)
    # labels changed: the snapshot is rebuilt, not reused
    mtime = (tmp_path / "snap/annotations/train.json").stat().st_mtime_ns
    labels["images"][1]["split"] = "tune"
    path.write_text(json.dumps(labels))
    again = build_snapshot(tmp_path / "snap", recipe=recipe, fracatlas_dir=fa)
    assert (tmp_path / "snap/annotations/train.json").stat().st_mtime_ns != mtime
    assert again["real_screw_films_held_out"] == []

    labels["images"][0]["split"] = "later"
    path.write_text(json.dumps(labels))
    with pytest.raises(RecipeError, match=r"A\.jpg: split must be tune or check"):
        build_snapshot(tmp_path / "snap2", recipe=recipe, fracatlas_dir=fa)


def _outline_a_as_tune(fa: Path, labels_path: Path) -> None:
    """A.jpg an implant film with one outlined screw (tune), C.jpg a plain train film."""
    (fa / "dataset.csv").write_text(
        "image_id,split,hardware\nA.jpg,train,1\nB.jpg,valid,0\nC.jpg,train,0\n", encoding="utf-8"
    )
    labels = {
        "images": [{"id": 1, "file_name": "A.jpg", "width": 200, "height": 400, "split": "tune"}],
        "annotations": [_screw(1, 1, 100.0, "unknown")],
        "categories": [{"id": 1, "name": "screw", "supercategory": "screw"}],
    }
    labels_path.write_text(json.dumps(labels))


def test_fine_tune_mix_weights_the_real_screw_films_and_keeps_the_recipe_val(
    tmp_path: Path,
) -> None:
    """The next version's fine-tuning snapshot: the first phantoms, the first FracAtlas films
    without outlined screws, every film with outlined screws repeated; val is the recipe's;
    the job starts from the given card with the fine-tuning schedule."""
    from orthogui.training.fine_tune import FineTune, fine_tune_job, fine_tune_snapshot

    fa = _fake_fracatlas(tmp_path / "fa")
    _outline_a_as_tune(fa, tmp_path / "screws.json")
    recipe = Recipe(size=128, synth_train=3, synth_val=2, real_screws=str(tmp_path / "screws.json"))
    build_snapshot(tmp_path / "snap", recipe=recipe, fracatlas_dir=fa)
    fine = FineTune(synthetic=2, fracatlas=5, real_screw_repeats=3, steps=7, composites=0)
    summary = fine_tune_snapshot(tmp_path / "snap", tmp_path / "ft", fine_tune=fine)
    train = json.loads((tmp_path / "ft/annotations/train.json").read_text())
    sources = [im.get("source", "synth") for im in train["images"]]
    assert sources == ["synth", "synth", "C.jpg", "A.jpg", "A.jpg", "A.jpg"]
    assert [im["id"] for im in train["images"]] == [1, 2, 3, 4, 5, 6]
    a_ids = {im["id"] for im in train["images"] if im.get("source") == "A.jpg"}
    screws = [a for a in train["annotations"] if a["image_id"] in a_ids and a["category_id"] == 1]
    assert len(screws) == 3  # the one outlined screw, once per repeat
    assert len({a["id"] for a in train["annotations"]}) == len(train["annotations"])
    for im in train["images"]:
        assert (tmp_path / "ft" / im["file_name"]).is_file()
    for im in json.loads((tmp_path / "ft/annotations/val.json").read_text())["images"]:
        assert (tmp_path / "ft" / im["file_name"]).is_file()  # the worker evaluates on these
    val = (tmp_path / "ft/annotations/val.json").read_bytes()
    assert val == (tmp_path / "snap/annotations/val.json").read_bytes()
    assert summary["train_images"] == 6 and summary["train_synthetic_images"] == 2
    assert summary["fine_tune"]["real_screw_films"] == 1 and summary["fine_tune"]["steps"] == 7

    job = fine_tune_job(
        tmp_path / "ft",
        tmp_path / "run",
        start_card=tmp_path / "m-4.json",
        recipe=recipe,
        fine_tune=fine,
        models_dir=None,
    )
    assert job.start_card == (tmp_path / "m-4.json").resolve()
    assert job.categories == () and job.category_groups == {}
    assert (job.hyper.max_steps, job.hyper.lr, job.hyper.warmup_steps) == (7, 0.005, 50)

    (tmp_path / "snap/summary.json").unlink()
    with pytest.raises(RecipeError, match=r"summary\.json: the recipe snapshot is not complete"):
        fine_tune_snapshot(tmp_path / "snap", tmp_path / "ft2", fine_tune=fine)


def test_fine_tune_mix_adds_films_with_phantom_screws_drawn_in(tmp_path: Path) -> None:
    """Composites: other FracAtlas films (never the outlined ones) with phantom screws drawn
    in, their own fracture kept, each screw an exact mask of its type."""
    from orthogui.core.categories import DEFAULT_CATEGORIES
    from orthogui.training.fine_tune import FineTune, fine_tune_snapshot

    fa = _fake_fracatlas(tmp_path / "fa")
    film = np.full((400, 200), 12, np.uint8)
    film[:, 40:170] = 85
    film[30:370, 80:130] = 170  # a shaft
    cv2.imwrite(str(fa / "images" / "C.jpg"), film)
    cv2.imwrite(str(fa / "images" / "A.jpg"), film)
    _outline_a_as_tune(fa, tmp_path / "screws.json")
    recipe = Recipe(size=400, synth_train=1, synth_val=1, real_screws=str(tmp_path / "screws.json"))
    build_snapshot(tmp_path / "snap", recipe=recipe, fracatlas_dir=fa)
    fine = FineTune(synthetic=1, fracatlas=1, real_screw_repeats=1, composites=4)
    summary = fine_tune_snapshot(tmp_path / "snap", tmp_path / "ft", fine_tune=fine)
    train = json.loads((tmp_path / "ft/annotations/train.json").read_text())
    comp = [im for im in train["images"] if im.get("composite")]
    assert 1 <= len(comp) == summary["train_composite_images"] <= 4
    assert {im["source"] for im in comp} == {"C.jpg"}  # never the outlined film
    assert "phantom screws drawn in" in summary["fine_tune"]["mix"]
    screw_ids = {c.id for c in DEFAULT_CATEGORIES if c.group == "screw"}
    for im in comp:
        pixels = cv2.imread(str(tmp_path / "ft" / im["file_name"]), cv2.IMREAD_GRAYSCALE)
        plain = cv2.imread(str(tmp_path / "snap/images/fracatlas/C.png"), cv2.IMREAD_GRAYSCALE)
        assert pixels.shape == plain.shape == (im["height"], im["width"])
        anns = [a for a in train["annotations"] if a["image_id"] == im["id"]]
        cats = [a["category_id"] for a in anns]
        assert cats.count(6) == 1  # the film's own fracture
        screws = [a for a in anns if a["category_id"] in screw_ids]
        assert screws
        for a in screws:
            mask = decode_segmentation(a["segmentation"], im["height"], im["width"]) > 0
            # the metal is where the label says: the film is much brighter there
            lift = pixels[mask].astype(int) - plain[mask].astype(int)
            assert np.median(lift) > 25
            x, y, w, h = a["bbox"]
            assert min(x, y) >= 0 and x + w <= im["width"] and y + h <= im["height"]


def test_fine_tune_mix_adds_plain_limb_phantoms_at_the_recipe_sizes(tmp_path: Path) -> None:
    """``limb``: plain limb phantoms made for the mix at the recipe's phantom size, stored at
    its input size, with every screw and the fracture labelled inside the stored image."""
    from orthogui.core.categories import DEFAULT_CATEGORIES
    from orthogui.training.fine_tune import FineTune, fine_tune_snapshot

    fa = _fake_fracatlas(tmp_path / "fa")
    _outline_a_as_tune(fa, tmp_path / "screws.json")
    recipe = Recipe(
        size=160,
        synth_size=320,
        synth_train=1,
        synth_val=1,
        real_screws=str(tmp_path / "screws.json"),
    )
    build_snapshot(tmp_path / "snap", recipe=recipe, fracatlas_dir=fa)
    fine = FineTune(synthetic=1, fracatlas=1, real_screw_repeats=1, limb=3, limb_seed=5)
    summary = fine_tune_snapshot(tmp_path / "snap", tmp_path / "ft", fine_tune=fine)
    train = json.loads((tmp_path / "ft/annotations/train.json").read_text())
    limb = [im for im in train["images"] if im["file_name"].startswith("synth/limb/")]
    assert len(limb) == 3 and summary["train_synthetic_images"] == 1 + 3
    assert "3 plain limb phantoms (seed 5)" in summary["fine_tune"]["mix"]
    assert [im["id"] for im in train["images"]] == list(range(1, len(train["images"]) + 1))
    assert len({a["id"] for a in train["annotations"]}) == len(train["annotations"])
    names = {c.id: c.name for c in DEFAULT_CATEGORIES}
    cats = []
    for im in limb:
        pixels = cv2.imread(str(tmp_path / "ft" / im["file_name"]), cv2.IMREAD_UNCHANGED)
        assert pixels.dtype == np.uint16 and max(pixels.shape) == 160
        assert pixels.shape == (im["height"], im["width"])
        for a in (a for a in train["annotations"] if a["image_id"] == im["id"]):
            cats.append(names[a["category_id"]])
            x, y, w, h = a["bbox"]
            assert min(x, y) >= 0 and x + w <= im["width"] + 0.5 and y + h <= im["height"] + 0.5
    assert "fracture" in cats and any(c.endswith("_screw") for c in cats)
    again = fine_tune_snapshot(tmp_path / "snap", tmp_path / "ft2", fine_tune=fine)
    assert again["train_images"] == summary["train_images"]
    first = (tmp_path / "ft" / limb[0]["file_name"]).read_bytes()
    assert first == (tmp_path / "ft2" / limb[0]["file_name"]).read_bytes()  # same seed, same bytes


def test_the_command_prepares_a_fine_tune_from_a_published_card(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``orthogui-cli train-default --from-card CARD --prepare-only``: the recipe snapshot, then
    the fine-tuning mix and its job beside it, starting from the card."""
    from orthogui import cli
    from orthogui.training import default_model
    from orthogui.training.fine_tune import FineTune

    fa = _fake_fracatlas(tmp_path / "fa")
    labels = tmp_path / "screws.json"
    labels.write_text(
        json.dumps(
            {
                "images": [
                    {"id": 1, "file_name": "A.jpg", "width": 200, "height": 400, "split": "tune"}
                ],
                "annotations": [_screw(1, 1, 100.0, "unknown")],
                "categories": [{"id": 1, "name": "screw", "supercategory": "screw"}],
            }
        )
    )
    small = Recipe(size=128, synth_size=256, synth_train=2, synth_val=1, real_screws=str(labels))
    monkeypatch.setattr(default_model, "Recipe", lambda: small)
    work = tmp_path / "work"
    args = ["train-default", "--work", str(work), "--fracatlas", str(fa), "--prepare-only"]
    card = tmp_path / "m-4.json"
    assert cli.main([*args, "--from-card", str(card)]) == 1  # no such card: nothing built
    assert "m-4.json: no such model card (--from-card)" in capsys.readouterr().err
    assert not work.exists()
    card.write_text("{}")  # preparing reads no card; the worker loads it when training
    assert cli.main([*args, "--from-card", str(card), "--steps", "9", "--composites", "2"]) == 0
    assert "finetune/job.json" in capsys.readouterr().err
    job = load_job(work / "finetune" / "job.json")
    assert job.start_card == (tmp_path / "m-4.json").resolve() and job.hyper.max_steps == 9
    train = json.loads((work / "finetune/snapshot/annotations/train.json").read_text())
    sources = [im.get("source", "synth") for im in train["images"]]
    assert sources.count("A.jpg") == FineTune().real_screw_repeats
    assert sources.count("C.jpg") == 1  # the other FracAtlas train film
    assert not (work / "finetune" / "run").exists()  # prepared, not trained
    assert cli.main([*args, "--from-card", str(card), "--fracatlas-films", "0"]) == 0
    train = json.loads((work / "finetune/snapshot/annotations/train.json").read_text())
    sources = [im.get("source", "synth") for im in train["images"]]
    assert "C.jpg" not in sources
    assert sources.count("A.jpg") == FineTune().real_screw_repeats
    assert sources.count("synth") == 2  # the recipe snapshot's two phantoms
    assert cli.main([*args, "--from-card", str(card), "--mix-phantoms", "1"]) == 0
    train = json.loads((work / "finetune/snapshot/annotations/train.json").read_text())
    assert [im.get("source", "synth") for im in train["images"]].count("synth") == 1
    assert cli.main([*args, "--from-card", str(card), "--limb-phantoms", "2"]) == 0
    train = json.loads((work / "finetune/snapshot/annotations/train.json").read_text())
    limb = [im for im in train["images"] if im["file_name"].startswith("synth/limb/")]
    assert len(limb) == 2


def test_a_published_fine_tune_states_the_options_it_was_run_with() -> None:
    """The card's command repeats the data and schedule options given (an 800-px fine-tune on
    300 phantoms is not the recipe's 640 px and 800), and nothing when none were."""
    import argparse

    from orthogui.cli import train_default

    parser = argparse.ArgumentParser()
    train_default.add_arguments(parser)
    given = parser.parse_args(
        [
            "--work",
            "W",
            "--from-card",
            "c.json",
            "--size",
            "800",
            "--synth-train",
            "300",
            "--fracatlas-films",
            "600",
            "--mix-phantoms",
            "500",
            "--limb-phantoms",
            "200",
        ]
    )
    assert train_default._stated_options(given) == (
        " --size 800 --synth-train 300 --fracatlas-films 600 --mix-phantoms 500 --limb-phantoms 200"
    )
    assert train_default._stated_options(parser.parse_args(["--work", "W"])) == ""


def test_a_fine_tune_refuses_an_input_size_its_model_does_not_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fine-tune keeps the start model's input size: ``--size`` of another size is refused
    before anything is built (it would only store the snapshot larger and state a size the
    network never read); an unreadable card is named."""
    from orthogui import cli
    from orthogui.ml.card import default_models_dir, load_card
    from orthogui.training.default_model import DEFAULT_MODEL_NAME

    shipped = sorted(default_models_dir().glob(f"{DEFAULT_MODEL_NAME}-*.json"))[-1]
    reads = load_card(shipped).preprocessing.max_size
    work = tmp_path / "work"
    args = ["train-default", "--work", str(work), "--fracatlas", "none", "--prepare-only"]
    assert cli.main([*args, "--from-card", str(shipped), "--size", str(reads + 224)]) == 1
    err = capsys.readouterr().err
    assert f"reads {reads}-px images" in err and f"--size {reads + 224} cannot" in err
    assert not work.exists()
    broken = tmp_path / "broken.json"
    broken.write_text("{}")
    assert cli.main([*args, "--from-card", str(broken), "--size", "800"]) == 1
    assert "broken.json" in capsys.readouterr().err
    assert not work.exists()
