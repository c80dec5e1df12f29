"""Training throughput (images/s) of the light Mask R-CNN on synthetic radiographs; prints JSON.

python bench/train_speed.py --sizes 384 512 --steps 4 --batch 2 [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from orthogui.core.categories import DEFAULT_CATEGORIES
from orthogui.ml.architectures import BuildOptions, build_model
from orthogui.ml.augment import AugmentConfig
from orthogui.ml.card import Preprocessing
from orthogui.ml.data import CocoDetectionDataset, collate, load_split
from orthogui.ml.engine import StepInfo, make_optimizer, make_scaler, train_one_epoch
from orthogui.synth.dataset import write_dataset


def measure(
    size: int, *, steps: int, batch: int, device: torch.device, arch: str
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        write_dataset(tmp, n=batch * (steps + 1) + 1, seed=0, scene="mixed", size=size)
        labels = {n: i + 1 for i, n in enumerate(DEFAULT_CATEGORIES.names())}
        ds = CocoDetectionDataset(
            load_split(Path(tmp), "train", val_fraction=0.01),
            labels=labels,
            preprocessing=Preprocessing(min_size=size, max_size=size),
            augment_config=AugmentConfig(),
        )
        torch.manual_seed(0)
        model = build_model(
            arch, BuildOptions(num_classes=len(labels) + 1, min_size=size, max_size=size)
        )
        model.to(device)
        opt = make_optimizer(model, lr=0.005)
        infos: list[StepInfo] = []
        loader = DataLoader(ds, batch_size=batch, shuffle=False, collate_fn=collate)
        train_one_epoch(
            model,
            opt,
            loader,
            device,
            0,
            scaler=make_scaler(device, True),
            max_steps=steps + 1,
            on_step=lambda i: infos.append(i) and None,
        )
        timed = infos[1:]  # the first step pays for allocation and warm-up
        seconds = sum(i.seconds for i in timed)
        images = sum(i.images for i in timed)
        return {
            "size": size,
            "steps": len(timed),
            "batch": batch,
            "images_per_s": images / seconds,
            "s_per_step": seconds / len(timed),
        }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", type=int, nargs="+", default=[384, 512])
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--arch", default="maskrcnn_mobilenet_v3_large_fpn_lite")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    t0 = time.perf_counter()
    rows = [measure(s, steps=a.steps, batch=a.batch, device=device, arch=a.arch) for s in a.sizes]
    print(
        json.dumps(
            {
                "benchmark": "train_speed",
                "device": str(device),
                "arch": a.arch,
                "threads": torch.get_num_threads(),
                "results": rows,
                "wall_s": time.perf_counter() - t0,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
