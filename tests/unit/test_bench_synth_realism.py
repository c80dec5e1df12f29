"""The realism bench's statistics: AUC, linear probe and Fréchet ratio on known distributions."""

from __future__ import annotations

import numpy as np
import pytest

from tests.unit._bench import load_bench

sr = load_bench("synth_realism")


def test_auc_by_ranks_matches_pair_counting() -> None:
    rng = np.random.default_rng(0)
    scores = np.round(rng.normal(size=60), 1)  # ties on purpose
    labels = (rng.random(60) < 0.4).astype(np.int64)
    pos, neg = scores[labels == 1], scores[labels == 0]
    pairs = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert sr._auc(scores, labels) == pytest.approx(pairs / (len(pos) * len(neg)))


def test_probe_tells_shifted_sets_apart_and_not_identical_ones() -> None:
    rng = np.random.default_rng(1)
    real = rng.normal(size=(120, 16))
    same = rng.normal(size=(60, 16))
    shifted = rng.normal(size=(60, 16))
    shifted[:, 3] += 3.0
    assert sr.probe_auc(shifted, real) > 0.95
    assert sr.probe_auc(same, real) < 0.75


def test_frechet_ratio_near_one_for_the_same_distribution() -> None:
    rng = np.random.default_rng(2)
    real = rng.normal(size=(400, 8))
    same = rng.normal(size=(200, 8))
    far = rng.normal(size=(200, 8)) * 2.0 + 1.0
    assert sr.frechet(real, real) == pytest.approx(0.0, abs=1e-6)
    near = sr.frechet_ratio(same, real)["ratio"]
    assert 0.5 < near < 2.0
    assert sr.frechet_ratio(far, real)["ratio"] > 10 * near


def test_preparation_is_the_same_for_any_bit_depth_and_aspect() -> None:
    wide = (np.arange(300 * 500, dtype=np.uint16).reshape(300, 500) % 4096) * 16
    out = sr.prepare(wide)
    assert out.shape == (sr.INPUT_PX, sr.INPUT_PX) and out.dtype == np.uint8
    assert out.min() == 0 and out.max() == 255


def test_export_experiments_resize_and_soften_the_jpeg() -> None:
    from collections import Counter

    import cv2

    from orthogui.synth.dataset import plan_image
    from orthogui.synth.scenes import synthesize

    rng = np.random.default_rng([7301, 0])
    img = synthesize(plan_image(rng, scene="limb", size=192, placed=Counter()), rng)
    plain = sr.exported(img, "jpeg8")
    assert plain.shape == (192, 192) and plain.dtype == np.uint8
    assert sr.exported(img, "jpeg8", export_px=96).shape == (96, 96)
    soft = sr.exported(img, "jpeg8", blur=2.0)
    assert soft.shape == plain.shape
    detail = [float(cv2.Laplacian(a, cv2.CV_32F).std()) for a in (plain, soft)]
    assert detail[1] < 0.7 * detail[0]
    with pytest.raises(SystemExit, match="jpeg8 export only"):
        sr.exported(img, "png16", export_px=96)


def _fracatlas(root, hardware: int, plain: int):
    """A FracAtlas-like tree: ``hardware`` implant films and ``plain`` others, 64 px each."""
    import cv2

    (root / "images" / "Fractured").mkdir(parents=True)
    rows = ["image_id,split,hand,leg,hip,shoulder,mixed,hardware"]
    for i in range(hardware + plain):
        name = f"IMG{i:07d}.jpg"
        img = np.full((64, 48), 30 + i, np.uint8)
        img[10:50, 20:28] = 200
        cv2.imwrite(str(root / "images" / "Fractured" / name), img)
        rows.append(f"{name},x,1,0,0,0,0,{int(i < hardware)}")
    (root / "dataset.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def test_references_are_real_films_outside_the_reference_set(tmp_path, monkeypatch) -> None:
    _fracatlas(tmp_path, hardware=20, plain=40)
    monkeypatch.setattr(sr, "FRACATLAS", tmp_path)
    files = sr.real_files(20)
    implant, plain = sr.outside_films(files)
    assert not (set(implant) | set(plain)) & set(files)
    every = sorted((tmp_path / "images").rglob("*.jpg"))
    hardware = set(every[:20])
    assert set(implant) == hardware - set(files) and len(implant) >= 10
    assert len(plain) == len(implant) and not set(plain) & hardware
    assert len(set(plain)) == len(plain)
    # Too few implant films outside the set: a clear error, not a figure on three films.
    with pytest.raises(SystemExit, match="10 implant films"):
        sr.outside_films(sr.real_files(40))


def test_references_score_each_set_at_the_same_size(tmp_path, monkeypatch) -> None:
    _fracatlas(tmp_path, hardware=20, plain=40)
    monkeypatch.setattr(sr, "FRACATLAS", tmp_path)
    seen: list[int] = []

    def features(images, **_):
        seen.append(len(images))
        return np.stack([np.histogram(i, bins=8, range=(0, 256))[0] for i in images]) / 1e4

    monkeypatch.setattr(sr, "lite0_features", features)
    files = sr.real_files(20)
    rng = np.random.default_rng(3)
    out = sr.references(files, rng.normal(size=(40, 8)), rng.normal(size=(30, 8)) + 2.0)
    assert set(out) == {"implant_films", "plain_films", "composites", "phantoms"}
    n = len(sr.outside_films(files)[0])
    assert seen == [n, n, n] and all(row["n"] == n for row in out.values())
    # The phantoms' row: the first n phantoms, here a shifted set, told apart.
    assert out["phantoms"]["probe_auc"] > 0.9
    assert all(0.0 <= row["probe_auc"] <= 1.0 and row["ratio"] > 0 for row in out.values())


def test_leaving_out_the_far_part_lowers_the_ratio_more_than_a_random_cut() -> None:
    rng = np.random.default_rng(4)
    real = rng.normal(size=(200, 6))
    near = rng.normal(size=(80, 6))
    far = rng.normal(size=(20, 6)) + 4.0
    parts = ["near"] * 80 + ["far"] * 20
    out = sr.leave_one_part_out(np.concatenate([near, far]), real, parts)
    assert set(out) == {"near", "far"}
    assert out["far"]["without"] < 0.5 * out["far"]["random_cut"]
    assert out["near"]["without"] > out["near"]["random_cut"]
