"""Realistic acquisition: legacy bytes frozen, tissue order, grid moiré, overlays, JPEG export."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from orthogui.cli import main as cli_main
from orthogui.core.radiograph import WindowPreset
from orthogui.synth.acquisition import (
    JPEG_QUALITY,
    Acquisition,
    Collimation,
    Grid,
    burn_in_overlays,
    encode_jpeg,
    expose_realistic,
    open_field,
    render_8bit,
)
from orthogui.synth.dataset import export_8bit, write_dataset
from orthogui.synth.phantom import MATERIALS, Scene, chord
from orthogui.synth.physics import expose, line_integral, window_presets
from orthogui.synth.scenes import SynthImage

# sha256 of ``expose`` on ``_legacy_scene()`` for seeds 0, 1, 2, computed before the realistic
# mode was added: the legacy path must keep producing these bytes.
LEGACY_SHA256 = {
    0: "a86a29e1e923c7deba950ada1a3dd02bef6dd1fcc1e3f09ffb59a4b34ebf69c2",
    1: "70ad3c39a743d9d5a218cf4042e3cc5a10237f829cb6f92e5aabe4ab5864f451",
    2: "6426ee5d80afbec512ec4205594f0ee95997c39a92407ff0226805c2d82e84d3",
}
# IJG (Annex K) luminance table, natural order, which libjpeg scales by quality.
# fmt: off
IJG_LUMA = np.array([
    [16, 11, 10, 16, 24, 40, 51, 61],
    [12, 12, 14, 19, 26, 58, 60, 55],
    [14, 13, 16, 24, 40, 57, 69, 56],
    [14, 17, 22, 29, 51, 87, 80, 62],
    [18, 22, 37, 56, 68, 109, 103, 77],
    [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101],
    [72, 92, 95, 98, 112, 100, 103, 99],
]).ravel()
# fmt: on


def _legacy_scene(size: int = 256) -> Scene:
    sc = Scene.empty((size, size), spacing_mm=0.2, view="ap", side="L")
    xx = np.mgrid[0:size, 0:size][1].astype(np.float32)
    sc.thickness["soft_tissue"][:, size // 4 : 3 * size // 4] = 60.0
    d = np.abs(xx - size / 2)
    sc.thickness["cortical"][:] = np.where(d < size / 10, 8.0, 0).astype(np.float32)
    sc.thickness["cancellous"][:] = np.where(d < size / 14, 12.0, 0).astype(np.float32)
    sc.thickness["metal"][size // 2 - 10 : size // 2 + 10, size // 2 - 3 : size // 2 + 3] = 4.0
    return sc


def _limb_scene(size: int = 384, spacing_mm: float = 0.5) -> Scene:
    """A cylinder of soft tissue with a cortical tube and a steel pin, air on both sides."""
    sc = Scene.empty((size, size), spacing_mm=spacing_mm, view="ap", side="R")
    x = (np.arange(size, dtype=np.float32) + 0.5 - size / 2) * spacing_mm
    d = np.broadcast_to(x[None, :], (size, size))
    sc.thickness["soft_tissue"][:] = chord(d, 45.0)
    sc.thickness["cortical"][:] = chord(d, 12.0) - chord(d, 8.0)
    sc.thickness["cancellous"][:] = chord(d, 8.0) * 0.5
    pin = np.zeros((size, size), dtype=np.float32)
    pin[size // 2 - 40 : size // 2 + 40, size // 2 - 4 : size // 2 + 4] = 4.0
    sc.thickness["metal"][:] = pin
    return sc


def _flat_scene(size: int = 256) -> Scene:
    sc = Scene.empty((size, size), spacing_mm=0.2, view="ap", side="L")
    sc.thickness["soft_tissue"][:] = 40.0
    return sc


def _quiet(acq: Acquisition, **changes: object) -> Acquisition:
    """``acq`` without detector structure, collimation or grid, unless ``changes`` add them."""
    base: dict[str, object] = {
        "grid": None,
        "line_pattern": 0.0,
        "flat_field": 0.0,
        "dust": 0,
        "collimation": Collimation((0.0, 0.0, 0.0, 0.0), 0.0, "cropped"),
    }
    base.update(changes)
    return dataclasses.replace(acq, **base)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", sorted(LEGACY_SHA256))
def test_legacy_expose_bytes_are_unchanged(seed: int) -> None:
    stored, _ = expose(_legacy_scene(), np.random.default_rng(seed))
    assert hashlib.sha256(stored.tobytes()).hexdigest() == LEGACY_SHA256[seed]


def test_realistic_exposure_is_deterministic() -> None:
    scene = _limb_scene(256)
    a, acq_a = expose_realistic(scene, np.random.default_rng(11))
    b, acq_b = expose_realistic(scene, np.random.default_rng(11))
    c, _ = expose_realistic(scene, np.random.default_rng(12))
    assert acq_a == acq_b
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    d, _ = expose_realistic(scene, np.random.default_rng(99), acq_a)
    assert not np.array_equal(a, d)  # fixed parameters, fresh noise


def test_random_acquisitions_span_modalities_grids_and_collimation() -> None:
    rng = np.random.default_rng(0)
    draws = [Acquisition.random(rng) for _ in range(300)]
    assert {a.modality for a in draws} == {"CR", "DR"}
    assert {a.bits for a in draws} == {10, 12, 14, 16}
    assert {a.collimation.outside for a in draws} == {"cropped", "bright", "black"}
    with_grid = [a for a in draws if a.grid is not None]
    assert 0.2 < len(with_grid) / len(draws) < 0.5
    assert all(0.4 <= a.grid.frequency <= 0.7 for a in with_grid if a.grid is not None)
    cr = [a for a in draws if a.modality == "CR"]
    dr = [a for a in draws if a.modality == "DR"]
    # CR: phosphor blur and fewer quanta (more noise) than DR.
    assert np.mean([a.psf_sigma_px for a in cr]) > np.mean([a.psf_sigma_px for a in dr])
    assert np.mean([a.photons for a in cr]) < np.mean([a.photons for a in dr])
    assert any(a.dust for a in cr) and not any(a.dust for a in dr)
    assert all(not any(a.collimation.margins) for a in draws if a.collimation.outside == "cropped")


@pytest.mark.parametrize("seed", range(8))
def test_metal_over_bone_over_soft_tissue_over_air(seed: int) -> None:
    scene = _limb_scene()
    stored, acq = expose_realistic(scene, np.random.default_rng(seed))
    assert stored.dtype == np.uint16 and stored.max() < 1 << acq.bits
    assert acq.bits in (10, 12, 14, 16)
    t = scene.thickness
    field = open_field(scene.shape, acq.collimation) > 0.99
    field = cv2.erode(field.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    near_metal = cv2.dilate((t["metal"] > 0).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    metal = (t["metal"] > 3.0) & field
    bone = (t["cortical"] > 5.0) & ~near_metal & field
    soft = (t["soft_tissue"] > 40.0) & (t["cortical"] + t["cancellous"] == 0) & field
    air = (t["soft_tissue"] == 0) & field
    # Keep clear of the skin line, where the processing's edge halo lives.
    air &= cv2.erode((t["soft_tissue"] == 0).astype(np.uint8), np.ones((41, 41), np.uint8)) > 0
    assert metal.sum() and bone.sum() and soft.sum() and air.sum()
    v = stored.astype(np.float64)
    assert v[metal].mean() > v[bone].mean() > v[soft].mean() > v[air].mean()
    top = (1 << acq.bits) - 1
    # Processed look: dark air, the soft tissue a grey envelope well above it (as on processed
    # extremity films), metal near white.
    assert v[air].mean() < 0.2 * top
    assert v[soft].mean() - v[air].mean() > 0.25 * top
    assert v[metal].mean() > 0.8 * top


def test_both_modalities_with_grid_keep_the_order() -> None:
    scene = _limb_scene()
    base = Acquisition.random(np.random.default_rng(5))
    grid = Grid(frequency=0.55, angle=0.02, depth=0.03, phase=0.0)
    for modality, psf in (("CR", 1.3), ("DR", 0.6)):
        acq = dataclasses.replace(_quiet(base, grid=grid), psf_sigma_px=psf)
        acq = dataclasses.replace(acq, modality=modality)  # type: ignore[arg-type]
        stored, _ = expose_realistic(scene, np.random.default_rng(1), acq)
        t = scene.thickness
        v = stored.astype(np.float64)
        soft = (t["soft_tissue"] > 40.0) & (t["cortical"] + t["cancellous"] == 0)
        bone = (t["cortical"] > 5.0) & (t["metal"] == 0)
        bone &= cv2.erode(bone.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        assert v[t["metal"] > 3.0].mean() > v[bone].mean() > v[soft].mean()


def _peak_ratio(stored: np.ndarray, freq: float) -> float:
    """Power at ``freq`` (cycles/px, along x) over the median power of the row-mean profile."""
    profile = stored.astype(np.float64).mean(axis=0)
    power = np.abs(np.fft.rfft(profile - profile.mean())) ** 2
    k = round(freq * len(profile))
    return float(power[k - 1 : k + 2].max() / np.median(power[1:]))


def test_grid_lines_alias_into_a_spectral_peak() -> None:
    scene = _flat_scene()
    grid = Grid(frequency=0.56, angle=0.0, depth=0.03, phase=0.3)
    acq = _quiet(Acquisition.random(np.random.default_rng(2)), grid=grid)
    with_grid, _ = expose_realistic(scene, np.random.default_rng(4), acq)
    without, _ = expose_realistic(scene, np.random.default_rng(4), _quiet(acq))
    alias = 1.0 - grid.frequency  # 0.56 cycles/px sampled at 1 /px shows up at 0.44
    assert _peak_ratio(with_grid, alias) > 100.0
    assert _peak_ratio(without, alias) < 20.0


@pytest.mark.parametrize("outside", ["bright", "black"])
def test_collimated_border_is_bright_or_black(outside: str) -> None:
    scene = _limb_scene()
    col = Collimation((0.08, 0.0, 0.08, 0.0), 0.05, outside)  # type: ignore[arg-type]
    acq = _quiet(Acquisition.random(np.random.default_rng(3)), collimation=col)
    stored, _ = expose_realistic(scene, np.random.default_rng(3), acq)
    open_ = open_field(scene.shape, col)
    top = (1 << acq.bits) - 1
    blocked = stored[open_ < 0.01].astype(np.float64)
    soft = stored[(open_ > 0.99) & (scene.thickness["soft_tissue"] > 40.0)].astype(np.float64)
    assert blocked.size
    if outside == "bright":
        assert blocked.mean() > 0.8 * top > soft.mean()
    else:
        assert blocked.mean() < 0.03 * top < soft.mean()


def test_overlays_change_only_the_pixels_they_draw() -> None:
    bits, top = 12, (1 << 12) - 1
    stored = np.full((512, 512), 1500, dtype=np.uint16)
    before = stored.copy()
    drawn = 0
    for seed in range(20):
        out = burn_in_overlays(stored, np.random.default_rng(seed), bits)
        np.testing.assert_array_equal(stored, before)  # the input is left alone
        changed = out != stored
        assert out.dtype == np.uint16
        assert set(np.unique(out[changed]).tolist()) <= {0, top}
        # Console annotations live near the borders, not over the middle of the film.
        assert not changed[160:352, 160:352].any()
        drawn += int(changed.any())
        again = burn_in_overlays(stored, np.random.default_rng(seed), bits)
        np.testing.assert_array_equal(out, again)
    assert drawn >= 12


def test_overlays_avoid_the_keep_out_mask() -> None:
    stored = np.full((400, 400), 300, dtype=np.uint16)
    keep_out = np.zeros((400, 400), dtype=bool)
    keep_out[:200, :] = True  # findings all over the top half
    inside = outside = 0
    for seed in range(30):
        changed = burn_in_overlays(stored, np.random.default_rng(seed), 10, keep_out=keep_out)
        changed = changed != stored
        inside += int((changed & keep_out).sum())
        outside += int((changed & ~keep_out).sum())
    assert outside > 0 and inside < 0.15 * outside


def test_render_8bit_full_range_and_window() -> None:
    stored = np.array([[0, 2047, 4095]], dtype=np.uint16)
    assert render_8bit(stored, bits=12).tolist() == [[0, 127, 255]]
    win = WindowPreset(2048.0, 1024.0, "w")
    assert render_8bit(stored, bits=12, window=win).tolist() == [[0, 127, 255]]
    with pytest.raises(ValueError, match="uint8"):
        encode_jpeg(stored.astype(np.uint8)[None])


def _quality_table(quality: int) -> list[int]:
    s = 5000 / quality if quality < 50 else 200 - 2 * quality
    return np.clip((IJG_LUMA * s + 50) // 100, 1, 255).astype(int).tolist()


def test_jpeg8_dataset_writes_readable_8bit_files(tmp_path: Path) -> None:
    summary = write_dataset(tmp_path / "j", n=3, seed=5, scene="limb", size=192, fmt="jpeg8")
    data = json.loads(summary.annotations_path.read_text())
    coco = COCO(str(summary.annotations_path))
    assert len(coco.imgs) == 3
    for entry in data["images"]:
        assert entry["file_name"].startswith("images/") and entry["file_name"].endswith(".jpg")
        assert entry["bits_stored"] == 8 and entry["jpeg_quality"] == JPEG_QUALITY
        path = tmp_path / "j" / entry["file_name"]
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert img is not None and img.dtype == np.uint8 and img.shape == (192, 192)
        assert (entry["height"], entry["width"]) == img.shape
        with Image.open(path) as pil:
            assert pil.format == "JPEG" and pil.mode == "L"
            assert list(pil.quantization[0]) == _quality_table(JPEG_QUALITY)  # type: ignore[attr-defined]
    assert not list((tmp_path / "j" / "images").glob("*.png"))
    png = write_dataset(tmp_path / "p", n=3, seed=5, scene="limb", size=192, fmt="png16")
    assert json.loads(png.annotations_path.read_text())["annotations"] == data["annotations"]


def test_all_format_keeps_png_and_dicom_bytes_and_adds_the_jpeg(tmp_path: Path) -> None:
    # The legacy limb phantoms: their JPEG shows the default window.
    write_dataset(tmp_path / "both", n=3, seed=9, scene="limb", size=160, fmt="both")
    write_dataset(tmp_path / "all", n=3, seed=9, scene="limb", size=160, fmt="all")
    for p in sorted((tmp_path / "both" / "images").iterdir()):
        assert p.read_bytes() == (tmp_path / "all" / "images" / p.name).read_bytes()
    both = json.loads((tmp_path / "both" / "annotations.json").read_text())
    every = json.loads((tmp_path / "all" / "annotations.json").read_text())
    assert every["annotations"] == both["annotations"]
    for a, b in zip(both["images"], every["images"]):
        assert {k: v for k, v in b.items() if not k.startswith("jpeg_")} == a
        png = cv2.imread(str(tmp_path / "all" / b["file_name"]), cv2.IMREAD_UNCHANGED)
        jpg = cv2.imread(str(tmp_path / "all" / b["jpeg_file_name"]), cv2.IMREAD_UNCHANGED)
        assert png is not None and jpg is not None and png.dtype == np.uint16
        center, width, _ = b["windows"][0]
        expected = render_8bit(
            np.asarray(png, np.uint16), bits=b["bits_stored"], window=WindowPreset(center, width)
        )
        assert np.abs(jpg.astype(int) - expected.astype(int)).mean() < 3.0


def test_realistic_images_export_their_full_range() -> None:
    scene = _limb_scene(128)
    stored, acq = expose_realistic(scene, np.random.default_rng(0))
    windows = window_presets(stored, bits=acq.bits)
    realistic = export_8bit(SynthImage(stored, scene, acq, windows))
    np.testing.assert_array_equal(realistic, render_8bit(stored, bits=acq.bits))
    legacy_stored, ex = expose(scene, np.random.default_rng(0))
    legacy_windows = window_presets(legacy_stored, bits=ex.bits)
    legacy = export_8bit(SynthImage(legacy_stored, scene, ex, legacy_windows))
    expected = render_8bit(legacy_stored, bits=ex.bits, window=legacy_windows[0])
    np.testing.assert_array_equal(legacy, expected)


def test_bad_format_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format must be one of"):
        write_dataset(tmp_path, n=1, seed=0, fmt="tiff")  # type: ignore[arg-type]
    with pytest.raises(SystemExit):
        cli_main(["synth", "--out", str(tmp_path), "--format", "tiff"])


def test_cli_writes_jpeg8(tmp_path: Path) -> None:
    rc = cli_main(
        ["synth", "--out", str(tmp_path), "--n", "1", "--size", "128", "--format", "jpeg8"]
    )
    assert rc == 0
    data = json.loads((tmp_path / "annotations.json").read_text())
    assert data["images"][0]["file_name"].endswith(".jpg")
    assert (tmp_path / data["images"][0]["file_name"]).is_file()


def test_the_beam_sets_soft_tissue_attenuation() -> None:
    scene = _limb_scene()
    t = scene.thickness
    default = line_integral(scene)
    harder = line_integral(scene, {"soft_tissue": 0.03})
    expected = default + np.float32(0.03 - MATERIALS["soft_tissue"].mu_per_mm) * t["soft_tissue"]
    np.testing.assert_allclose(harder, expected, rtol=1e-5, atol=1e-5)
    # Each realistic film draws its beam; an extremity technique keeps water near 0.03 per mm.
    draws = [Acquisition.random(np.random.default_rng(s)) for s in range(40)]
    mus = [a.soft_tissue_mu_per_mm for a in draws]
    assert 0.026 <= min(mus) < max(mus) <= 0.034
