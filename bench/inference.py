"""Benchmark: our Mask R-CNN predictor against plain torchvision eager inference.

Same network, same weights, same images, one process; prints JSON (latency per image,
images/s, peak RSS, CUDA peak memory, agreement of the detections).
Run: ``.venv/bin/python bench/inference.py --arch lite --size 1024 --n 3``.

Random weights detect nothing useful, which would make agreement trivial: BatchNorm
statistics are re-estimated on synthetic images and the class logits biased so that every
image yields ``--max-det`` detections with varied scores and ragged masks.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from typing import Any

import numpy as np
import torch

from orthogui.core.categories import DEFAULT_CATEGORIES
from orthogui.core.radiograph import Radiograph
from orthogui.io.masks import mask_iou
from orthogui.ml.architectures import build_model, recalibrate_batch_norm
from orthogui.ml.card import CardCategory, ModelCard, Postprocessing, Preprocessing
from orthogui.ml.predictor import MaskRCNNPredictor
from orthogui.ml.preprocess import to_unit_image
from orthogui.ml.weights import build_options

ARCHS = {"lite": "maskrcnn_mobilenet_v3_large_fpn_lite", "r50v2": "maskrcnn_resnet50_fpn_v2"}


def synthetic(seed: int, size: int) -> Radiograph:
    rng = np.random.default_rng(seed)
    img = rng.normal(900, 60, (size, size))
    yy, xx = np.mgrid[0:size, 0:size]
    for _ in range(8):
        cx, cy = rng.uniform(0.1 * size, 0.9 * size, 2)
        hw, hh = rng.uniform(0.01, 0.03) * size, rng.uniform(0.05, 0.12) * size
        img[(np.abs(xx - cx) < hw) & (np.abs(yy - cy) < hh)] += 2500
    stored = np.clip(img, 0, 4095).astype(np.uint16)
    return Radiograph(path=f"synthetic-{seed}", format="png", stored=stored, bits_stored=12)


def peak_rss_reset() -> None:
    try:  # Linux: "5" resets VmHWM, so each model's peak is its own
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def timed(fn: Any, items: list[Any], device: torch.device) -> tuple[list[Any], dict[str, float]]:
    fn(items[0])  # warm-up
    peak_rss_reset()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    outs, lat = [], []
    for item in items:
        t = time.perf_counter()
        outs.append(fn(item))
        if device.type == "cuda":
            torch.cuda.synchronize()
        lat.append(time.perf_counter() - t)
    stats = {
        "latency_ms_mean": 1000 * float(np.mean(lat)),
        "latency_ms_min": 1000 * float(np.min(lat)),
        "images_per_s": len(lat) / float(np.sum(lat)),
        "peak_rss_mb": peak_rss_mb(),
    }
    if device.type == "cuda":
        stats["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return outs, stats


def agreement(ours: list[Any], theirs: list[dict[str, Any]], thr: float) -> dict[str, float]:
    total = matched = 0
    box_diffs, ious = [], []
    for det, ref in zip(ours, theirs):
        rb = ref["boxes"].float().cpu().numpy()
        rl = ref["labels"].cpu().numpy()
        rm = ref["masks"][:, 0].float().cpu().numpy() > thr
        used: set[int] = set()
        for j in range(len(rb)):
            total += 1
            cand = [i for i in range(len(det)) if det.labels[i] == rl[j] and i not in used]
            if not cand:
                continue
            i = min(cand, key=lambda k: float(np.abs(det.boxes[k] - rb[j]).max()))
            diff = float(np.abs(det.boxes[i] - rb[j]).max())
            iou = mask_iou(det.masks[i].full(det.image_size), rm[j])
            box_diffs.append(diff)
            ious.append(iou)
            if diff <= 1.0 and iou > 0.98:
                matched += 1
                used.add(i)
    return {
        "torchvision_detections": total,
        "our_detections": sum(len(d) for d in ours),
        "matched_fraction": matched / total if total else 1.0,
        "max_box_diff_px": max(box_diffs, default=0.0),
        "min_mask_iou": min(ious, default=1.0),
    }


def findings_model(architecture: str, size: int, max_det: int) -> tuple[Any, ModelCard]:
    """A network of ``architecture`` with random weights that nevertheless outputs findings
    (BatchNorm re-estimated on synthetic images, logits biased), and its card."""
    cats = tuple(CardCategory(c.id, c.name, c.name, c.shape) for c in DEFAULT_CATEGORIES)
    card = ModelCard(
        name="bench",
        version="0",
        architecture=architecture,
        num_classes=len(cats) + 1,
        categories=cats,
        weights_file="none",
        weights_sha256="0" * 64,
        preprocessing=Preprocessing(min_size=size, max_size=size),
        postprocessing=Postprocessing(score_threshold=0.05, max_detections=max_det),
    )
    torch.manual_seed(0)
    model = build_model(card.architecture, build_options(card))
    calib = [to_unit_image(synthetic(1000 + i, size), card.preprocessing) for i in range(2)]
    recalibrate_batch_norm(model, [torch.from_numpy(u)[None].expand(3, -1, -1) for u in calib])
    with torch.no_grad():
        cls = model.roi_heads.box_predictor.cls_score
        cls.weight.mul_(3.0)
        cls.bias.zero_()
        cls.bias[1] = cls.bias[6] = 3.0
        model.roi_heads.mask_predictor.mask_fcn_logits.bias.fill_(0.5)
    return model, card


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default=None, help="cpu | cuda (default: auto)")
    ap.add_argument("--arch", default="lite", choices=sorted(ARCHS))
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--n", type=int, default=3)
    ap.add_argument("--max-det", type=int, default=20)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model, card = findings_model(ARCHS[args.arch], args.size, args.max_det)
    predictor = MaskRCNNPredictor(model, card, device=args.device)
    device = predictor.device
    rgs = [synthetic(i, args.size) for i in range(args.n + 1)]
    units = [to_unit_image(rg, card.preprocessing) for rg in rgs]

    def tv(u: np.ndarray) -> dict[str, Any]:
        x = torch.from_numpy(u).to(device)[None].expand(3, -1, -1)
        with torch.inference_mode(), torch.autocast("cuda", torch.float16, enabled=predictor.fp16):
            return predictor.model([x])[0]  # torchvision's own transform + postprocess

    theirs, tv_stats = timed(tv, units, device)
    ours_dets, detect_stats = timed(lambda u: predictor.detect([u])[0], units, device)
    _, our_stats = timed(predictor.predict, rgs, device)  # radiograph -> polygons, end to end
    report = {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or platform.machine(),
        "cpu_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "fp16": predictor.fp16,
        "arch": card.architecture,
        "size": args.size,
        "n_images": args.n,
        "max_detections": args.max_det,
        "torchvision_eager": tv_stats,
        "ours_detect": detect_stats,  # unit image -> pasted masks, as torchvision's output
        "ours_end_to_end": our_stats,  # stored pixels -> polygons and boxes
        "speedup": tv_stats["latency_ms_mean"] / our_stats["latency_ms_mean"],
        "agreement": agreement(ours_dets[1:], theirs[1:], card.postprocessing.mask_threshold),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
