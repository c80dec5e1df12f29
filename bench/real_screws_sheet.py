"""Contact sheet of a model's findings on real FracAtlas radiographs with implants.

    python bench/real_screws_sheet.py --card models/orthogui-default-light-4.json \
        --out docs/real-screws.png [--n 12] [--json docs/real-screws.json]

Takes the first ``--n`` films tagged ``hardware`` in FracAtlas' ``dataset.csv`` (implants
visible; the dataset does not outline them), runs the card's predictor at its display
threshold and draws what a reviewer would be shown: screw outlines coloured by type with the
type and score, fracture boxes in yellow. Prints one JSON line per image (counts by category).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import torch
from numpy.typing import NDArray

from orthogui.core.categories import DEFAULT_CATEGORIES
from orthogui.core.geometry import Box, Polygon
from orthogui.io.readers import read_radiograph
from orthogui.ml.predictor import MaskRCNNPredictor
from orthogui.ml.preprocess import to_unit_image

ROOT = Path(__file__).resolve().parents[1]
FRACATLAS = ROOT.parent / "shared" / "data" / "fracatlas"
TILE = 420


def _bgr(hex_colour: str) -> tuple[int, int, int]:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return (b, g, r)


def hardware_films(root: Path, n: int) -> list[Path]:
    with (root / "dataset.csv").open(newline="", encoding="utf-8") as fh:
        names = [row["image_id"] for row in csv.DictReader(fh) if row["hardware"] == "1"]
    paths = [root / "images" / name for name in sorted(names)]
    return [p for p in paths if p.is_file()][:n]


def tile(predictor: MaskRCNNPredictor, path: Path) -> tuple[NDArray[np.uint8], dict[str, int]]:
    rg = read_radiograph(path)
    unit = to_unit_image(rg, predictor.card.preprocessing)
    scale = TILE / max(unit.shape)
    img = cv2.resize((unit * 255).astype(np.uint8), None, fx=scale, fy=scale)
    canvas = np.zeros((TILE, TILE, 3), np.uint8)
    canvas[: img.shape[0], : img.shape[1]] = img[..., None]
    counts: dict[str, int] = {}
    for p in predictor.predict(rg):
        counts[p.category] = counts.get(p.category, 0) + 1
        colour = _bgr(DEFAULT_CATEGORIES.by_name(p.category).color)
        if isinstance(p.shape, Box):
            x0, y0, x1, y1 = (
                int(v * scale) for v in (p.shape.x0, p.shape.y0, p.shape.x1, p.shape.y1)
            )
            cv2.rectangle(canvas, (x0, y0), (x1, y1), (0, 220, 255), 1)
            anchor = (x0, max(y0 - 3, 10))
        elif isinstance(p.shape, Polygon):
            pts = (p.shape.points * scale).astype(np.int32)
            cv2.polylines(canvas, [pts], True, colour, 1, cv2.LINE_AA)
            anchor = (int(pts[:, 0].min()), max(int(pts[:, 1].min()) - 3, 10))
        else:
            continue
        text = f"{p.category.split('_')[0][:5]} {p.score:.2f}"
        cv2.putText(canvas, text, anchor, cv2.FONT_HERSHEY_SIMPLEX, 0.33, colour, 1, cv2.LINE_AA)
    cv2.putText(canvas, path.name, (4, TILE - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
    return canvas, counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--card", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--n", type=int, default=12)
    parser.add_argument("--cols", type=int, default=4)
    parser.add_argument("--fracatlas", type=Path, default=FRACATLAS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None, help="also write the counts here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    films = hardware_films(args.fracatlas, args.n)
    if not films:
        print(f"{args.fracatlas}: no films tagged hardware", file=sys.stderr)
        return 1
    predictor = MaskRCNNPredictor.from_card(args.card, device="cpu")
    tiles, rows = [], []
    for path in films:
        t, counts = tile(predictor, path)
        tiles.append(t)
        rows.append({"image": path.name, **counts})
        print(json.dumps(rows[-1]), flush=True)
    while len(tiles) % args.cols:
        tiles.append(np.zeros_like(tiles[0]))
    grid = [np.hstack(tiles[i : i + args.cols]) for i in range(0, len(tiles), args.cols)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), np.vstack(grid))
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
