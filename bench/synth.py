"""Benchmark: synthetic radiographs per second on one core (1024 px), printed as JSON.

Scenes: the simple ``limb`` and ``spine`` phantoms and the realistic ``mixed`` set (4x ``--n``
images, also reported per body part; "x2" = two views on one film).

Run: ``.venv/bin/python bench/synth.py [--n 10] [--size 1024] [--clock wall|cpu]`` (``cpu``:
the process's CPU time, which a busy machine disturbs far less than wall time).
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


def _summary(times: list[float]) -> dict[str, float]:
    return {
        "n": len(times),
        "median_s": round(float(np.median(times)), 4),
        "max_s": round(float(np.max(times)), 4),
        "images_per_s_per_core": round(1.0 / float(np.mean(times)), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = parser.parse_args()
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    cv2.setNumThreads(1)
    results: dict[str, dict[str, float]] = {}
    for scene in ("limb", "spine", "mixed"):
        placed: Counter[str] = Counter()
        times = []
        by_part: dict[str, list[float]] = {}
        n = args.n if scene != "mixed" else 4 * args.n
        for i in range(n):
            rng = np.random.default_rng([0, i])
            spec = plan_image(rng, scene=scene, size=args.size, placed=placed)  # type: ignore[arg-type]
            t0 = clock()
            img = synthesize(spec, rng)
            times.append(clock() - t0)
            placed.update(inst.category for inst in img.scene.instances if inst.metal)
            if scene == "mixed":
                part = img.scene.body_part or spec.kind
                by_part.setdefault(f"{part}{' x2' if spec.views == 2 else ''}", []).append(
                    times[-1]
                )
        results[scene] = _summary(times)
        for part, ts in sorted(by_part.items()):
            results[f"mixed:{part}"] = _summary(ts)
    print(
        json.dumps(
            {"benchmark": "synth", "size": args.size, "threads": 1, "clock": args.clock, **results}
        )
    )


if __name__ == "__main__":
    main()
