"""Benchmark: synthetic radiographs per second on one core (1024 px), printed as JSON.

Run: ``.venv/bin/python bench/synth.py [--n 10] [--size 1024]``
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter

import cv2
import numpy as np

from orthogui.synth.dataset import plan_image
from orthogui.synth.scenes import synthesize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    results = {}
    for scene in ("limb", "spine"):
        placed: Counter[str] = Counter()
        times = []
        for i in range(args.n):
            rng = np.random.default_rng([0, i])
            spec = plan_image(rng, scene=scene, size=args.size, placed=placed)  # type: ignore[arg-type]
            t0 = time.perf_counter()
            synthesize(spec, rng)
            times.append(time.perf_counter() - t0)
        results[scene] = {
            "median_s": round(float(np.median(times)), 4),
            "max_s": round(float(np.max(times)), 4),
            "images_per_s_per_core": round(1.0 / float(np.mean(times)), 2),
        }
    print(json.dumps({"benchmark": "synth", "size": args.size, "threads": 1, **results}))


if __name__ == "__main__":
    main()
