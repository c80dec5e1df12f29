"""Benchmark: how far the phantoms are from real radiographs, in pretrained-feature space.

Run: ``.venv/bin/python bench/synth_realism.py [--n-synth 200] [--n-real 400] [--seed 7301]
[--scene mixed] [--size 1024] [--format jpeg8] [--export-px N] [--export-blur S] [--per-part]
[--references] [--json out.json] [--sheet docs/...]``

Both sets go through the same preparation: grey levels stretched between their 0.5 and 99.5
percentiles, the central square cropped (real films have every aspect ratio, phantoms are
square), resized to 320 px, and fed to an ImageNet EfficientNet-Lite0 (the wheel the detector's
backbone comes from); the globally pooled 1280-d features are compared two ways:

- **probe AUC**: an L2-regularised logistic regression told to separate phantoms from real
  films, 5-fold cross-validated (folds stratified, fixed seed); 0.5 = indistinguishable,
  1.0 = always told apart.
- **Fréchet ratio**: the Fréchet distance between phantoms and half of the real films, divided
  by the distance between that half and the other half (same sample sizes, so the finite-sample
  bias cancels); 1.0 = as close as two real samples are to each other.

Real films are FracAtlas (``../shared/data/fracatlas``), a fixed subset spread over the sorted
file list. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parents[1]
FRACATLAS = ROOT.parent / "shared" / "data" / "fracatlas"
INPUT_PX = 320

FloatArray = NDArray[np.float64]


def prepare(img: NDArray[Any]) -> NDArray[np.uint8]:
    """Percentile stretch, central square crop, resize: the same for phantoms and real films."""
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    f = img.astype(np.float32)
    step = max(min(f.shape) // 256, 1)
    lo, hi = (float(v) for v in np.percentile(f[::step, ::step], [0.5, 99.5]))
    g = np.clip((f - lo) / max(hi - lo, 1e-6) * 255.0, 0, 255).astype(np.uint8)
    h, w = g.shape
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    sq = g[y0 : y0 + side, x0 : x0 + side]
    return np.asarray(cv2.resize(sq, (INPUT_PX, INPUT_PX), interpolation=cv2.INTER_AREA))


def real_files(n: int) -> list[Path]:
    files = sorted((FRACATLAS / "images").rglob("*.jpg"))
    if not files:
        raise SystemExit(f"no FracAtlas images under {FRACATLAS / 'images'}")
    idx = np.linspace(0, len(files) - 1, min(n, len(files))).round().astype(int)
    return [files[i] for i in sorted(set(idx.tolist()))]


def synth_images(
    n: int, seed: int, scene: str, size: int, fmt: str, *, export_px: int = 0, blur: float = 0.0
) -> tuple[list[NDArray[np.uint8]], list[str], float]:
    """Phantoms as the data set writer makes them (the same plan and seed scheme)."""
    from orthogui.synth.dataset import plan_image
    from orthogui.synth.scenes import synthesize

    placed: Counter[str] = Counter()
    out: list[NDArray[np.uint8]] = []
    parts: list[str] = []
    t0 = time.perf_counter()
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        spec = plan_image(rng, scene=scene, size=size, placed=placed)  # type: ignore[arg-type]
        img = synthesize(spec, rng)
        placed.update(inst.category for inst in img.scene.instances if inst.metal)
        out.append(prepare(exported(img, fmt, export_px=export_px, blur=blur)))
        parts.append(img.scene.body_part or spec.kind)
    return out, parts, time.perf_counter() - t0


def exported(img: Any, fmt: str, *, export_px: int = 0, blur: float = 0.0) -> NDArray[Any]:
    """The pixels a phantom is written with: 16-bit stored values (``png16``) or the decoded
    8-bit JPEG of the ``jpeg8`` export (what FracAtlas films are).

    Experiments with the export (``jpeg8`` only): ``blur`` (Gaussian sigma, px) softens the
    8-bit image and ``export_px`` area-resizes it to that many px per side (most FracAtlas films
    are 373x454 px exports) before the JPEG is encoded."""
    if fmt == "png16":
        if export_px or blur:
            raise SystemExit("--export-px and --export-blur model the jpeg8 export only")
        return np.asarray(img.stored)
    if fmt == "jpeg8":
        from orthogui.synth.acquisition import encode_jpeg
        from orthogui.synth.dataset import export_8bit

        pixels: NDArray[Any] = export_8bit(img)
        if blur > 0:
            pixels = cv2.GaussianBlur(pixels, (0, 0), blur)
        if export_px:
            pixels = cv2.resize(pixels, (export_px, export_px), interpolation=cv2.INTER_AREA)
        data = np.frombuffer(encode_jpeg(np.ascontiguousarray(pixels)), dtype=np.uint8)
        return np.asarray(cv2.imdecode(data, cv2.IMREAD_GRAYSCALE))
    raise SystemExit(f"unknown export format {fmt!r}: png16 or jpeg8")


def lite0_features(images: list[NDArray[np.uint8]], *, batch: int = 16) -> FloatArray:
    import timm

    from orthogui.ml.backbones import LITE_VARIANTS, imagenet_state_dict

    net = timm.create_model(LITE_VARIANTS["lite0"].timm_name, pretrained=False, num_classes=0)
    net.load_state_dict(
        {k: v for k, v in imagenet_state_dict("lite0").items() if not k.startswith("classifier")}
    )
    net.eval()
    feats = []
    with torch.inference_mode():
        for i in range(0, len(images), batch):
            x = torch.from_numpy(np.stack(images[i : i + batch])).float().div(255.0)
            x = ((x - 0.5) / 0.5)[:, None].expand(-1, 3, -1, -1)
            feats.append(net(x).double().numpy())
    return np.concatenate(feats)


def _auc(scores: FloatArray, labels: NDArray[np.int64]) -> float:
    """Area under the ROC curve by the rank statistic (ties share ranks)."""
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    pos = labels == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _logistic(x: FloatArray, y: NDArray[np.int64], l2: float) -> tuple[FloatArray, float]:
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y.astype(np.float64))
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=200, line_search_fn="strong_wolfe")
    pos_weight = float((y == 0).sum()) / max(float((y == 1).sum()), 1.0)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        logits = xt @ w + b
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            logits, yt, pos_weight=torch.tensor(pos_weight, dtype=torch.float64)
        )
        loss = loss + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy(), float(b.detach())


def probe_auc(
    synth: FloatArray, real: FloatArray, *, folds: int = 5, seed: int = 0, l2: float = 1e-3
) -> float:
    """Cross-validated AUC of a linear probe separating phantoms (1) from real films (0)."""
    x = np.concatenate([synth, real])
    y = np.concatenate([np.ones(len(synth), np.int64), np.zeros(len(real), np.int64)])
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), dtype=np.int64)
    for label in (0, 1):
        idx = np.flatnonzero(y == label)
        fold[rng.permutation(idx)] = np.arange(len(idx)) % folds
    scores = np.empty(len(y), dtype=np.float64)
    for k in range(folds):
        train, test = fold != k, fold == k
        mu, sd = x[train].mean(0), x[train].std(0) + 1e-6
        w, b = _logistic((x[train] - mu) / sd, y[train], l2)
        scores[test] = ((x[test] - mu) / sd) @ w + b
    return _auc(scores, y)


def _sqrtm_psd(a: FloatArray) -> FloatArray:
    vals, vecs = np.linalg.eigh((a + a.T) / 2.0)
    return np.asarray((vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T)


def frechet(a: FloatArray, b: FloatArray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = _sqrtm_psd(ca)
    cross = _sqrtm_psd(root_a @ cb @ root_a)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2.0 * np.trace(cross))


def frechet_ratio(synth: FloatArray, real: FloatArray, *, seed: int = 0) -> dict[str, float]:
    """FD(phantoms, real half A) / FD(real half B, real half A), equal sample sizes."""
    perm = np.random.default_rng(seed).permutation(len(real))
    half = len(real) // 2
    a, b = real[perm[:half]], real[perm[half : 2 * half]]
    m = min(len(synth), half)
    fd_synth = frechet(synth[:m], a[:m])
    fd_real = frechet(b[:m], a[:m])
    return {"fd_synth_real": fd_synth, "fd_real_real": fd_real, "ratio": fd_synth / fd_real}


def sheet(
    synth: list[NDArray[np.uint8]], real: list[NDArray[np.uint8]], parts: list[str], out: Path
) -> None:
    """Phantoms (one per body part, top rows) above real films (bottom row)."""
    tile = 240
    seen: dict[str, NDArray[np.uint8]] = {}
    for img, part in zip(synth, parts):
        seen.setdefault(part, img)
    rows_s = list(seen.items())[:12]
    cols = 6
    tiles = []
    for name, img in rows_s:
        t = cv2.resize(img, (tile, tile), interpolation=cv2.INTER_AREA)
        tiles.append(_label(t, f"phantom: {name}"))
    while len(tiles) % cols:
        tiles.append(np.zeros((tile, tile), np.uint8))
    for img in real[:: max(len(real) // cols, 1)][:cols]:
        tiles.append(_label(cv2.resize(img, (tile, tile), interpolation=cv2.INTER_AREA), "real"))
    while len(tiles) % cols:
        tiles.append(np.zeros((tile, tile), np.uint8))
    rows = [np.hstack(tiles[i : i + cols]) for i in range(0, len(tiles), cols)]
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), np.vstack(rows))


def _label(tile: NDArray[np.uint8], text: str) -> NDArray[np.uint8]:
    """``text`` once, white on a dark band (an outline under it would read as a second label)."""
    out = tile.copy()
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.45
    (tw, th), base = cv2.getTextSize(text, font, scale, 1)
    band = out[: th + base + 8, : tw + 10]
    band[:] = (band.astype(np.float32) * 0.25).astype(np.uint8)
    cv2.putText(out, text, (5, th + 4), font, scale, 255, 1, cv2.LINE_AA)
    return out


def leave_one_part_out(
    feats_synth: FloatArray, feats_real: FloatArray, parts: list[str], *, draws: int = 5
) -> dict[str, dict[str, float]]:
    """Where the distance lies: the Fréchet ratio with one body part's phantoms left out,
    beside the mean over ``draws`` random cuts of as many phantoms. A part whose leaving out
    lowers the ratio more than a random cut is farther from the real films than the average
    phantom."""
    labels = np.array(parts)
    rng = np.random.default_rng(0)
    out: dict[str, dict[str, float]] = {}
    for part in sorted(set(parts)):
        keep = labels != part
        if keep.sum() < 10 or (~keep).sum() < 5:
            continue
        cuts = [
            frechet_ratio(
                feats_synth[rng.choice(len(labels), keep.sum(), replace=False)], feats_real
            )["ratio"]
            for _ in range(draws)
        ]
        out[part] = {
            "without": round(frechet_ratio(feats_synth[keep], feats_real)["ratio"], 4),
            "random_cut": round(float(np.mean(cuts)), 4),
        }
    return out


def outside_films(files: list[Path]) -> tuple[list[Path], list[Path]]:
    """FracAtlas films that are not among ``files``: every implant film (``hardware`` = 1 in
    ``dataset.csv``) and as many films without implants, spread over the sorted list."""
    import csv

    with (FRACATLAS / "dataset.csv").open(newline="", encoding="utf-8") as fh:
        hardware = {r["image_id"] for r in csv.DictReader(fh) if r["hardware"] == "1"}
    taken = set(files)
    others = [f for f in sorted((FRACATLAS / "images").rglob("*.jpg")) if f not in taken]
    implant = [f for f in others if f.name in hardware]
    plain = [f for f in others if f.name not in hardware]
    if len(implant) < 10 or len(plain) < len(implant):
        raise SystemExit(
            f"{FRACATLAS}: {len(implant)} implant and {len(plain)} other films outside the "
            "reference set; the references need 10 implant films and as many others"
        )
    idx = np.linspace(0, len(plain) - 1, len(implant)).round().astype(int)
    return implant, [plain[i] for i in idx]


def references(
    files: list[Path], feats_real: FloatArray, feats_synth: FloatArray
) -> dict[str, dict[str, float]]:
    """The two figures for real films outside the reference set, to read the phantoms' against.

    ``implant_films``: every FracAtlas film tagged ``hardware`` that is not a reference film
    (real post-operative films); ``plain_films``: as many films without implants, also outside
    the reference set (two real samples: the floor); ``composites``: those plain films with the
    generator's screws drawn into their bone (``synth.composite``: real anatomy, drawn metal).
    ``phantoms``: the first as many phantoms. The Fréchet ratio grows with the sample size
    (two real samples drift together as they grow, the phantoms stay as far), so these four rows
    compare with each other, not with the figures of the whole phantom set."""
    from orthogui.synth.composite import composite_screws

    implant, plain = outside_films(files)
    read = [(f, cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)) for f in implant + plain]
    bad = [str(f) for f, img in read if img is None]
    if bad:
        raise SystemExit(f"cannot read {', '.join(bad)}")
    grey = [img for _, img in read]
    composites = [
        composite_screws(g, np.random.default_rng([7301, i]))[0]
        for i, g in enumerate(grey[len(implant) :])
    ]
    sets = {
        "implant_films": grey[: len(implant)],
        "plain_films": grey[len(implant) :],
        "composites": composites,
    }
    feats_of = {name: lite0_features([prepare(i) for i in images]) for name, images in sets.items()}
    feats_of["phantoms"] = feats_synth[: len(implant)]
    out: dict[str, dict[str, float]] = {}
    for name, feats in feats_of.items():
        out[name] = {
            "n": len(feats),
            "probe_auc": round(probe_auc(feats, feats_real), 4),
            "ratio": round(frechet_ratio(feats, feats_real)["ratio"], 4),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-synth", type=int, default=200)
    parser.add_argument("--n-real", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7301)
    parser.add_argument("--scene", default="mixed")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument(
        "--format", default="jpeg8", help="how a phantom is exported: jpeg8 (default) or png16"
    )
    parser.add_argument(
        "--export-px", type=int, default=0, help="jpeg8: area-resize to N px before the JPEG"
    )
    parser.add_argument(
        "--export-blur", type=float, default=0.0, help="jpeg8: Gaussian sigma (px) before it"
    )
    parser.add_argument("--per-part", action="store_true", help="probe AUC per body part too")
    parser.add_argument(
        "--references",
        action="store_true",
        help="the same figures for real implant films, plain films and composites outside "
        "the reference set",
    )
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--sheet", type=Path, help="write a phantoms-vs-real contact sheet")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if args.export_px < 0 or args.export_blur < 0:
        parser.error("--export-px and --export-blur must not be negative")
    if args.format != "jpeg8" and (args.export_px or args.export_blur):
        parser.error("--export-px and --export-blur model the jpeg8 export only")
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(1)
    files = real_files(args.n_real)
    t0 = time.perf_counter()
    real_imgs = []
    for f in files:
        img = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
        if img is None:
            print(f"{f}: cannot be read, skipped", file=sys.stderr)
            continue
        real_imgs.append(prepare(img))
    synth_imgs, parts, synth_s = synth_images(
        args.n_synth,
        args.seed,
        args.scene,
        args.size,
        args.format,
        export_px=args.export_px,
        blur=args.export_blur,
    )
    feats_real = lite0_features(real_imgs)
    feats_synth = lite0_features(synth_imgs)
    result: dict[str, Any] = {
        "benchmark": "synth_realism",
        "scene": args.scene,
        "size": args.size,
        "format": args.format,
        **({"export_px": args.export_px} if args.export_px else {}),
        **({"export_blur": args.export_blur} if args.export_blur else {}),
        "seed": args.seed,
        "n_synth": len(synth_imgs),
        "n_real": len(real_imgs),
        "probe_auc": round(probe_auc(feats_synth, feats_real), 4),
        **{k: round(v, 4) for k, v in frechet_ratio(feats_synth, feats_real).items()},
        "synth_s_per_image": round(synth_s / max(len(synth_imgs), 1), 3),
        "parts": dict(sorted(Counter(parts).items())),
    }
    if args.per_part:
        per: dict[str, float] = {}
        for part in sorted(set(parts)):
            sel = np.array([p == part for p in parts])
            if sel.sum() >= 10:
                per[part] = round(probe_auc(feats_synth[sel], feats_real), 4)
        result["probe_auc_per_part"] = per
        result["ratio_leaving_out"] = leave_one_part_out(feats_synth, feats_real, parts)
    if args.references:
        result["references"] = references(files, feats_real, feats_synth)
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    if args.sheet:
        sheet(synth_imgs, real_imgs, parts, args.sheet)
    text = json.dumps(result)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
