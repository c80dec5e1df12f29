"""The shipped real-screw labels: readable by the recipe, inside their films, and split so that
no picture (or its repeat) is both trained on and checked."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from shapely.geometry import Polygon

from orthogui.paths import resource
from orthogui.training.default_model import REAL_SCREWS, load_real_screws

LABELS = resource(*REAL_SCREWS.split("/"))


def _coco() -> dict:
    return json.loads(LABELS.read_text(encoding="utf-8"))


def test_the_recipe_reads_every_film_and_every_screw() -> None:
    coco = _coco()
    films = load_real_screws(LABELS)
    assert len(films) == len(coco["images"]) >= 60
    assert sum(len(f.polygons) for f in films.values()) == len(coco["annotations"]) >= 300
    assert {f.split for f in films.values()} == {"tune", "check"}
    assert sum(f.split == "check" for f in films.values()) >= 15
    assert coco["categories"] == [{"id": 1, "name": "screw", "supercategory": "screw"}]
    assert "CC BY 4.0" in coco["info"]["images_source"]


def test_screws_lie_inside_their_films_and_boxes_match_outlines() -> None:
    coco = _coco()
    size = {im["id"]: (im["width"], im["height"]) for im in coco["images"]}
    for a in coco["annotations"]:
        w, h = size[a["image_id"]]
        pts = np.asarray(a["segmentation"][0], dtype=float).reshape(-1, 2)
        assert len(pts) >= 4
        assert pts.min() >= -1 and (pts[:, 0] <= w + 1).all() and (pts[:, 1] <= h + 1).all()
        x, y, bw, bh = a["bbox"]
        assert (x, y, x + bw, y + bh) == pytest.approx(Polygon(pts).bounds, abs=0.02)
        assert a["attributes"]["type"] in {
            "unknown", "cortical_screw", "cancellous_screw", "locking_screw",
            "cannulated_screw", "compression_screw",
        }  # fmt: skip


def test_a_repeated_picture_stays_on_one_side_of_the_split() -> None:
    coco = _coco()
    split = {im["file_name"]: im["split"] for im in coco["images"]}
    repeats = [
        (im["file_name"], im["same_film_as"]) for im in coco["images"] if "same_film_as" in im
    ]
    assert repeats  # FracAtlas repeats some films (valid copies of train ones)
    for name, other in repeats:
        assert split[name] == split[other], (name, other)


@pytest.mark.realdata
def test_the_labelled_films_are_the_fracatlas_implant_films_at_their_sizes(
    shared_data: Path,
) -> None:
    root = shared_data / "fracatlas"
    rows = (root / "dataset.csv").read_text(encoding="utf-8").splitlines()
    header = rows[0].split(",")
    hardware = {r.split(",")[0] for r in rows[1:] if r.split(",")[header.index("hardware")] == "1"}
    coco = _coco()
    assert {im["file_name"] for im in coco["images"]} == hardware
    for im in coco["images"]:
        pixels = cv2.imread(str(root / "images" / im["file_name"]), cv2.IMREAD_GRAYSCALE)
        assert pixels.shape == (im["height"], im["width"]), im["file_name"]
