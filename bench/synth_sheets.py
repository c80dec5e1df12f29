"""Make the docs figures of the synthetic radiographs: screw-type contact sheet, synth vs real.

Run: ``.venv/bin/python bench/synth_sheets.py`` (writes docs/synth-screw-types.png,
docs/synth-vs-real.png and docs/composites.png; the real images come from
../shared/data/fracatlas when present).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from orthogui.synth.anatomy import BODY_PARTS
from orthogui.synth.composite import composite_screws
from orthogui.synth.dataset import export_8bit
from orthogui.synth.phantom import Scene, chord, frame_coords
from orthogui.synth.physics import expose, window_presets
from orthogui.synth.scenes import SceneSpec, SynthImage, synthesize
from orthogui.synth.screws import SCREW_NAMES, random_screw

ROOT = Path(__file__).resolve().parents[1]
FRACATLAS = ROOT.parent / "shared" / "data" / "fracatlas"


def to8(img: SynthImage) -> NDArray[np.uint8]:
    w = img.windows[0]
    lo = w.center - w.width / 2
    return np.clip((img.stored.astype(np.float64) - lo) / w.width * 255, 0, 255).astype(np.uint8)


def label(tile: NDArray[np.uint8], text: str) -> NDArray[np.uint8]:
    """The tile with ``text`` once, in white on a dark band (a thick outline drawn under the
    text is wider than the text itself and reads as a second, shifted label)."""
    out = tile.copy()
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.55
    (tw, th), base = cv2.getTextSize(text, font, scale, 1)
    band = out[: th + base + 10, : tw + 12]
    band[:] = (band.astype(np.float32) * 0.25).astype(np.uint8)
    cv2.putText(out, text, (6, th + 5), font, scale, 255, 1, cv2.LINE_AA)
    return out


def screw_tile(name: str, seed: int) -> NDArray[np.uint8]:
    rng = np.random.default_rng(seed)
    spacing = 0.1
    scene = Scene.empty((260, 760), spacing_mm=spacing, view="ap", side="L")
    s, _ = frame_coords(scene.shape, origin=(380, 130), angle=np.pi / 2, spacing_mm=spacing)
    scene.thickness["soft_tissue"] += 60.0
    scene.thickness["cortical"] += chord(s, 11.0) - chord(s, 8.0)
    scene.thickness["cancellous"] += 0.4 * chord(s, 8.0)
    screw = random_screw(
        rng, name, x=40 + rng.uniform(0, 40), y=130, angle=rng.uniform(-0.08, 0.08)
    )
    scene.add_screw(screw)
    stored, ex = expose(scene, rng)
    img = SynthImage(stored, scene, ex, window_presets(stored, bits=ex.bits))
    tile = to8(img)
    text = f"{name.replace('_', ' ')}  {screw.diameter_mm:g} x {screw.length_mm:g} mm"
    return label(tile, text)


def screw_sheet() -> NDArray[np.uint8]:
    rows = []
    for name in SCREW_NAMES:
        tiles = [cv2.resize(screw_tile(name, k), (570, 195)) for k in range(3)]
        rows.append(np.hstack(tiles))
    return np.vstack(rows)


REGIONS = ("hand", "leg", "hip", "shoulder")


def real_tiles(size: int, count: int) -> list[NDArray[np.uint8]]:
    """FracAtlas films, one per region in turn, implant films first."""
    if not (FRACATLAS / "dataset.csv").is_file():
        return []
    with (FRACATLAS / "dataset.csv").open() as f:
        rows = list(csv.DictReader(f))
    picks: list[str] = []
    for hardware in ("1", "0"):
        for region in REGIONS:
            names = [r["image_id"] for r in rows if r[region] == "1" and r["hardware"] == hardware]
            if names:
                picks.append(names[len(names) // 3])
    tiles = []
    for name in picks[:count]:
        im = cv2.imread(str(FRACATLAS / "images" / name), cv2.IMREAD_GRAYSCALE)
        if im is None:
            continue
        h, w = im.shape
        side = min(h, w)
        crop = im[(h - side) // 2 : (h + side) // 2, (w - side) // 2 : (w + side) // 2]
        tile = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
        tiles.append(label(tile, "real: FracAtlas (CC BY 4.0)"))
    return tiles


def scenes_sheet(size: int = 300, cols: int = 6) -> NDArray[np.uint8]:
    """The realistic phantoms, one per body part (with implants), above real films."""
    screws = ("locking_screw", "cortical_screw", "cannulated_screw")
    specs = [
        (SceneSpec("body", 1024, screws, part=part), 40 + k) for k, part in enumerate(BODY_PARTS)
    ]
    specs.append((SceneSpec("body", 1024, screws[:2], part="forearm", views=2), 61))
    specs.append((SceneSpec("spine", 1024, screws[1:], "L1", realistic=True), 5))
    synth = []
    for spec, seed in specs:
        img = synthesize(spec, np.random.default_rng(seed))
        tile = cv2.resize(export_8bit(img), (size, size), interpolation=cv2.INTER_AREA)
        name = img.scene.body_part or spec.kind
        synth.append(label(tile, f"phantom: {name}{' (2 views)' if spec.views == 2 else ''}"))
    blank = np.zeros((size, size), np.uint8)
    synth += [blank] * (-len(synth) % cols)
    real = real_tiles(size, cols)
    real += [blank] * (-len(real) % cols)
    tiles = synth + real
    return np.vstack([np.hstack(tiles[i : i + cols]) for i in range(0, len(tiles), cols)])


def _crop_at(img: NDArray[np.uint8], cx: int, cy: int, half: int, size: int) -> NDArray[np.uint8]:
    crop = img[max(0, cy - half) : cy + half, max(0, cx - half) : cx + half]
    crop = cv2.copyMakeBorder(
        crop, 0, 2 * half - crop.shape[0], 0, 2 * half - crop.shape[1], cv2.BORDER_CONSTANT
    )
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_CUBIC)


def _at_640(name: str) -> tuple[NDArray[np.uint8], float] | None:
    im = cv2.imread(str(FRACATLAS / "images" / name), cv2.IMREAD_GRAYSCALE)
    if im is None:
        return None
    s = 640 / max(im.shape)
    small = cv2.resize(im, (round(im.shape[1] * s), round(im.shape[0] * s)), cv2.INTER_AREA)
    return small, s


def composites_sheet(size: int = 300, cols: int = 4) -> NDArray[np.uint8] | None:
    """Phantom screws drawn into FracAtlas films without implants (as the fine-tuning mix has
    them, at the network's 640 px), above screws on real implant films (outlined tune films)."""
    if not (FRACATLAS / "dataset.csv").is_file():
        return None
    with (FRACATLAS / "dataset.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["hardware"] == "0" and r["split"] == "train"]
    made: list[NDArray[np.uint8]] = []
    for k, row in enumerate(rows[::23]):
        loaded = _at_640(row["image_id"])
        if loaded is None:
            continue
        film, screws = composite_screws(loaded[0], np.random.default_rng([9101, k]))
        if not screws:
            continue
        ys, xs = np.nonzero(screws[0].mask)
        tile = _crop_at(film, int(xs.mean()), int(ys.mean()), 80, size)
        made.append(label(tile, "composite"))
        if len(made) == 2 * cols:
            break
    labels = json.loads((ROOT / "resources/real-screws/fracatlas-screws.json").read_text())
    tune = {im["id"]: im for im in labels["images"] if im["split"] == "tune"}
    real: list[NDArray[np.uint8]] = []
    for a in labels["annotations"]:
        im = tune.pop(a["image_id"], None)
        loaded = _at_640(im["file_name"]) if im else None
        if loaded is None:
            continue
        x, y, w, h = (v * loaded[1] for v in a["bbox"])
        real.append(label(_crop_at(loaded[0], int(x + w / 2), int(y + h / 2), 80, size), "real"))
        if len(real) == cols:
            break
    tiles = made + real
    tiles += [np.zeros((size, size), np.uint8)] * (-len(tiles) % cols)
    return np.vstack([np.hstack(tiles[i : i + cols]) for i in range(0, len(tiles), cols)])


def main() -> None:
    cv2.setNumThreads(1)
    docs = ROOT / "docs"
    docs.mkdir(exist_ok=True)
    cv2.imwrite(str(docs / "synth-screw-types.png"), screw_sheet())
    cv2.imwrite(str(docs / "synth-vs-real.png"), scenes_sheet())
    written = ["docs/synth-screw-types.png", "docs/synth-vs-real.png"]
    sheet = composites_sheet()
    if sheet is not None:
        cv2.imwrite(str(docs / "composites.png"), sheet)
        written.append("docs/composites.png")
    print(json.dumps({"written": written}))


if __name__ == "__main__":
    main()
