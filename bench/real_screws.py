"""How well a model finds screws on real post-operative films: FracAtlas implant radiographs
whose screws the project outlined (``resources/real-screws/``).

    python bench/real_screws.py --card models/orthogui-default-light-4.json \
        [--labels resources/real-screws/fracatlas-screws.json] [--split check|tune|all] \
        [--json out.json] [--sheet docs/real-screws.png] [--write-card]

Any-type screw detection (a screw's type is rarely visible at FracAtlas' 454 px): box and mask
AP50 and AP (COCOeval, predictions at score >= 0.05, every screw type counted as "screw"), and
at the card's display threshold what a reviewer sees: the share of labelled screws found (mask
IoU >= 0.5) and the false screw proposals per film. Images come from
``../shared/data/fracatlas/images``; the labels name each file with its size, and a file whose
size differs is an error. ``--sheet`` draws the labels (green) and the findings shown to a
reviewer (red, with scores) on every film of the split. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import torch
from numpy.typing import NDArray

from orthogui.core.categories import DEFAULT_CATEGORIES
from orthogui.core.geometry import Polygon
from orthogui.evaluation import evaluate
from orthogui.io.masks import mask_to_rle, polygons_to_mask
from orthogui.io.readers import read_radiograph
from orthogui.ml.card import load_card, save_card
from orthogui.ml.predictor import MaskRCNNPredictor
from orthogui.ml.preprocess import to_unit_image

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "resources" / "real-screws" / "fracatlas-screws.json"
IMAGES = ROOT.parent / "shared" / "data" / "fracatlas" / "images"
SCREWS = {c.name for c in DEFAULT_CATEGORIES if c.supercategory == "screw"}
AP_THRESHOLD = 0.05
SWEEP = (0.3, 0.5, 0.7, 0.9)  # display thresholds a reviewer might set
TILE = 360


def load_labels(path: Path, split: str) -> dict[str, Any]:
    """The COCO labels of one split ("all": every image), with a single category "screw"."""
    try:
        coco = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SystemExit(f"{path}: cannot read the labels ({exc})") from None
    images = [im for im in coco["images"] if split == "all" or im.get("split") == split]
    if not images:
        raise SystemExit(f"{path}: no image in split {split!r}")
    ids = {im["id"] for im in images}
    return {
        **coco,
        "images": images,
        "annotations": [a for a in coco["annotations"] if a["image_id"] in ids],
    }


def _match(gts: list[NDArray[np.bool_]], shown: list[NDArray[np.bool_]]) -> tuple[int, int]:
    """Labelled screws found (one proposal each, mask IoU >= 0.5, best first) and the
    proposals left over (false screws)."""
    used: set[int] = set()
    for g in gts:
        best, best_iou = -1, 0.5
        for k, m in enumerate(shown):
            if k not in used and (iou := _iou_masks(g, m)) >= best_iou:
                best, best_iou = k, iou
        if best >= 0:
            used.add(best)
    return len(used), len(shown) - len(used)


def _iou_masks(a: NDArray[np.bool_], b: NDArray[np.bool_]) -> float:
    union = int(np.count_nonzero(a | b))
    return int(np.count_nonzero(a & b)) / union if union else 0.0


def run(
    predictor: MaskRCNNPredictor, coco: dict[str, Any], images: Path, display: float
) -> tuple[list[dict[str, Any]], dict[str, Any], list[NDArray[np.uint8]]]:
    """COCO results of every film, what a reviewer sees at ``display``, and the sheet tiles."""
    results: list[dict[str, Any]] = []
    tally: dict[float, list[int]] = {}  # score threshold -> [screws found, false proposals]
    seconds: list[float] = []
    tiles: list[NDArray[np.uint8]] = []
    by_image: dict[int, list[dict[str, Any]]] = {}
    for a in coco["annotations"]:
        by_image.setdefault(int(a["image_id"]), []).append(a)
    for im in coco["images"]:
        path = images / im["file_name"]
        rg = read_radiograph(path)
        if rg.shape != (im["height"], im["width"]):
            raise SystemExit(
                f"{path}: is {rg.shape[1]}x{rg.shape[0]} px, the labels say "
                f"{im['width']}x{im['height']} (another file of that name?)"
            )
        t0 = time.perf_counter()
        preds = [p for p in predictor.predict(rg) if p.category in SCREWS]
        seconds.append(time.perf_counter() - t0)
        masks = []
        for p in preds:
            if not isinstance(p.shape, Polygon):
                continue
            mask = polygons_to_mask([p.shape], rg.shape).astype(bool)
            masks.append((p, mask))
            results.append(
                {
                    "image_id": im["id"],
                    "category_id": 1,
                    "bbox": [round(v, 2) for v in p.shape.bbox().xywh()],
                    "score": round(float(p.score), 5),
                    "segmentation": mask_to_rle(mask),
                }
            )
        gts = [
            polygons_to_mask(
                [Polygon(np.asarray(a["segmentation"][0]).reshape(-1, 2))], rg.shape
            ).astype(bool)
            for a in by_image.get(int(im["id"]), [])
        ]
        for t in sorted({display, *SWEEP}):
            found, false = _match(gts, [m for p, m in masks if p.score >= t])
            tally.setdefault(t, [0, 0])
            tally[t][0] += found
            tally[t][1] += false
        shown = [(p, m) for p, m in masks if p.score >= display]
        tiles.append(_tile(rg, predictor, by_image.get(int(im["id"]), []), shown, im["file_name"]))
    n_gt = len(coco["annotations"])
    films = max(len(coco["images"]), 1)

    def row(t: float) -> dict[str, Any]:
        found, false = tally.get(t, [0, 0])
        return {
            "threshold": t,
            "screws_found": found,
            "screws_found_share": round(found / n_gt, 4) if n_gt else None,
            "false_screws_per_film": round(false / films, 3),
        }

    seen = {
        **row(display),
        "display_threshold": display,
        "sweep": [row(t) for t in sorted(tally)],
        "cpu_seconds_per_image_median": round(statistics.median(seconds), 3) if seconds else None,
    }
    return results, seen, tiles


def _tile(
    rg: Any,
    predictor: MaskRCNNPredictor,
    gts: list[dict[str, Any]],
    shown: list[tuple[Any, NDArray[np.bool_]]],
    name: str,
) -> NDArray[np.uint8]:
    unit = to_unit_image(rg, predictor.card.preprocessing)
    scale = TILE / max(unit.shape)
    img = cv2.resize((unit * 255).astype(np.uint8), None, fx=scale, fy=scale)
    canvas = np.zeros((TILE, TILE, 3), np.uint8)
    canvas[: img.shape[0], : img.shape[1]] = img[..., None]
    for a in gts:
        pts = (np.asarray(a["segmentation"][0]).reshape(-1, 2) * scale).astype(np.int32)
        cv2.polylines(canvas, [pts], True, (0, 200, 0), 1, cv2.LINE_AA)
    for p, _ in shown:
        pts = (np.asarray(p.shape.points) * scale).astype(np.int32)
        cv2.polylines(canvas, [pts], True, (0, 0, 255), 1, cv2.LINE_AA)
        x, y = int(pts[:, 0].min()), max(int(pts[:, 1].min()) - 2, 9)
        cv2.putText(canvas, f"{p.score:.2f}", (x, y), 0, 0.3, (0, 0, 255), 1, cv2.LINE_AA)
    cv2.putText(canvas, name, (4, TILE - 6), 0, 0.38, (255, 255, 255), 1, cv2.LINE_AA)
    return canvas


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--card", type=Path, default=ROOT / "models/orthogui-default-light-4.json")
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--images", type=Path, default=IMAGES)
    parser.add_argument("--split", choices=("check", "tune", "all"), default="check")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    parser.add_argument("--sheet", type=Path, default=None, help="contact sheet of the split")
    parser.add_argument("--cols", type=int, default=5)
    parser.add_argument(
        "--write-card", action="store_true", help="store the figures in the card's metrics"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    coco = load_labels(args.labels, args.split)
    card = load_card(args.card)
    predictor = MaskRCNNPredictor.from_card(card, device="cpu", score_threshold=AP_THRESHOLD)
    display = float(card.postprocessing.score_threshold)
    results, seen, tiles = run(predictor, coco, args.images, display)
    gt = {**coco, "categories": [{"id": 1, "name": "screw", "supercategory": "screw"}]}
    out: dict[str, Any] = {
        "benchmark": "real_screws",
        "card": str(args.card),
        "model": f"{card.name} {card.version}",
        "labels": str(args.labels),
        "split": args.split,
        "films": len(coco["images"]),
        "screws": len(coco["annotations"]),
        "score_threshold_for_ap": AP_THRESHOLD,
    }
    kinds: tuple[tuple[Literal["bbox", "segm"], str], ...] = (("bbox", "box"), ("segm", "mask"))
    for iou_type, key in kinds:
        report = evaluate(gt, results, iou_type=iou_type) if results else None
        c = report["coco"] if report else {"AP50": 0.0, "AP": 0.0}
        out[f"screw_{key}_AP50"] = round(float(c["AP50"]), 4)
        out[f"screw_{key}_AP"] = round(float(c["AP"]), 4)
    out["at_display_threshold"] = seen
    if args.sheet is not None and tiles:
        while len(tiles) % args.cols:
            tiles.append(np.zeros_like(tiles[0]))
        rows = [np.hstack(tiles[i : i + args.cols]) for i in range(0, len(tiles), args.cols)]
        args.sheet.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(args.sheet), np.vstack(rows))
        out["sheet"] = str(args.sheet)
    if args.write_card:
        prefix = f"real_screws_{args.split}"
        figures = {
            f"{prefix}/screw_box_AP50": out["screw_box_AP50"],
            f"{prefix}/screw_mask_AP50": out["screw_mask_AP50"],
            f"{prefix}/screws_found_share": seen["screws_found_share"],
            f"{prefix}/false_screws_per_film": seen["false_screws_per_film"],
        }
        metrics = {k: float(v) for k, v in figures.items() if v is not None}
        save_card(replace(card, metrics={**card.metrics, **metrics}), args.card)
        print(f"metrics written to {args.card}", file=sys.stderr)
    text = json.dumps(out)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
