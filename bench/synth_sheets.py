"""Make the docs figures of the synthetic radiographs: screw-type contact sheet, synth vs real.

Run: ``.venv/bin/python bench/synth_sheets.py`` (writes docs/synth-screw-types.png and
docs/synth-vs-real.png; the real images come from ../shared/data/fracatlas when present).
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from orthogui.synth.phantom import Scene, chord, frame_coords
from orthogui.synth.physics import expose, window_presets
from orthogui.synth.scenes import SceneSpec, SynthImage, synthesize
from orthogui.synth.screws import SCREW_NAMES, random_screw

ROOT = Path(__file__).resolve().parents[1]
FRACATLAS = ROOT.parent / "shared" / "data" / "fracatlas"
REAL = ("IMG0000453.jpg", "IMG0000467.jpg", "IMG0001868.jpg", "IMG0000092.jpg")


def to8(img: SynthImage) -> NDArray[np.uint8]:
    w = img.windows[0]
    lo = w.center - w.width / 2
    return np.clip((img.stored.astype(np.float64) - lo) / w.width * 255, 0, 255).astype(np.uint8)


def label(tile: NDArray[np.uint8], text: str) -> NDArray[np.uint8]:
    out = tile.copy()
    cv2.putText(out, text, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 0, 4, cv2.LINE_AA)
    cv2.putText(out, text, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 255, 1, cv2.LINE_AA)
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


def real_tiles(size: int) -> list[NDArray[np.uint8]]:
    if not (FRACATLAS / "dataset.csv").is_file():
        return []
    with (FRACATLAS / "dataset.csv").open() as f:
        hardware = {r["image_id"] for r in csv.DictReader(f) if r["hardware"] == "1"}
    tiles = []
    for name in REAL:
        if name not in hardware:
            continue
        im = cv2.imread(str(FRACATLAS / "images" / name), cv2.IMREAD_GRAYSCALE)
        if im is None:
            continue
        h, w = im.shape
        side = min(h, w)
        crop = im[(h - side) // 2 : (h + side) // 2, (w - side) // 2 : (w + side) // 2]
        tiles.append(
            label(
                cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA),
                "FracAtlas (CC BY 4.0)",
            )
        )
    return tiles


def scenes_sheet(size: int = 420) -> NDArray[np.uint8]:
    specs = [
        (SceneSpec("limb", 1024, ("locking_screw", "cortical_screw", "locking_screw")), 11),
        (SceneSpec("limb", 1024, ("cannulated_screw", "cancellous_screw")), 4),
        (SceneSpec("limb", 1024, ("compression_screw", "cortical_screw")), 2),
        (SceneSpec("spine", 1024, ("cancellous_screw", "cortical_screw"), "L1"), 5),
    ]
    synth = []
    for spec, seed in specs:
        img = synthesize(spec, np.random.default_rng(seed))
        tile = cv2.resize(to8(img), (size, size), interpolation=cv2.INTER_AREA)
        synth.append(label(tile, f"synthetic {spec.kind}"))
    rows = [np.hstack(synth)]
    real = real_tiles(size)
    if real:
        real += [np.zeros((size, size), np.uint8)] * (len(synth) - len(real))
        rows.append(np.hstack(real))
    return np.vstack(rows)


def main() -> None:
    cv2.setNumThreads(1)
    docs = ROOT / "docs"
    docs.mkdir(exist_ok=True)
    cv2.imwrite(str(docs / "synth-screw-types.png"), screw_sheet())
    cv2.imwrite(str(docs / "synth-vs-real.png"), scenes_sheet())
    print('{"written": ["docs/synth-screw-types.png", "docs/synth-vs-real.png"]}')


if __name__ == "__main__":
    main()
