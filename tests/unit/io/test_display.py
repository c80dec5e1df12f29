"""The display path: rescale, windows, VOI LUT, inversion, and the fast table gather vs a reference."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from orthogui.core.radiograph import Radiograph, VoiLut, WindowPreset
from orthogui.io.display import default_window, inverted, render, value_range
from orthogui.io.readers import read_radiograph


def _reference(
    values: np.ndarray, *, slope: float, intercept: float, center: float, width: float, invert: bool
) -> np.ndarray:
    """DICOM C.11.2.1.2 linear window in plain float numpy, independent of display.py."""
    x = values.astype(np.float64) * slope + intercept
    y = np.clip((x - (center - 0.5)) / (width - 1.0) + 0.5, 0.0, 1.0)
    if invert:
        y = 1.0 - y
    return np.rint(y * 255.0).astype(np.uint8)


def test_rg1_monochrome1_renders_bone_bright(test_data: Path) -> None:
    rg = read_radiograph(test_data / "dicom" / "RG1_J2KR.dcm")
    assert inverted(rg)
    img = render(rg)
    rows, cols = img.shape
    # PA chest: spine/mediastinum in the middle column, lungs either side of it
    mediastinum = img[int(rows * 0.30) : int(rows * 0.55), int(cols * 0.45) : int(cols * 0.55)]
    right_lung = img[int(rows * 0.30) : int(rows * 0.50), int(cols * 0.18) : int(cols * 0.32)]
    left_lung = img[int(rows * 0.30) : int(rows * 0.50), int(cols * 0.65) : int(cols * 0.80)]
    assert mediastinum.mean() > right_lung.mean() + 25
    assert mediastinum.mean() > left_lung.mean() + 25


def test_thumbnail_rescale_and_inversion_applied(test_data: Path) -> None:
    rg = read_radiograph(test_data / "dicom" / "77654033_CR2_6247.dcm")
    expected = _reference(
        rg.stored, slope=0.684, intercept=200.0, center=1600.0, width=2800.0, invert=True
    )
    np.testing.assert_array_equal(render(rg), expected)
    # ignoring the rescale would give a visibly different (darker) image
    no_rescale = _reference(
        rg.stored, slope=1.0, intercept=0.0, center=1600.0, width=2800.0, invert=True
    )
    assert abs(float(render(rg).mean()) - float(no_rescale.mean())) > 20


def _rg(stored: np.ndarray, **kw: object) -> Radiograph:
    return Radiograph(path="mem", format="png", stored=stored, bits_stored=16, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16, np.int32, np.float32])
def test_fast_path_equals_reference_for_every_dtype(dtype: type) -> None:
    rng = np.random.default_rng(1)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else np.finfo(np.float32)
    lo, hi = max(float(info.min), -3000.0), min(float(info.max), 3000.0)
    stored = rng.uniform(lo, hi, size=(37, 53)).astype(dtype)
    rg = _rg(stored, rescale_slope=1.5, rescale_intercept=-20.0)
    for center, width in [(0.0, 400.0), (100.0, 2.5), (-50.0, 9000.0)]:
        got = render(rg, (center, width))
        ref = _reference(
            stored, slope=1.5, intercept=-20.0, center=center, width=width, invert=False
        )
        assert got.dtype == np.uint8 and got.shape == stored.shape
        assert np.abs(got.astype(int) - ref.astype(int)).max() <= 1  # float rounding only


def test_non_contiguous_stored_renders_like_contiguous() -> None:
    stored = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64)
    view = stored[::2, ::-1]
    np.testing.assert_array_equal(render(_rg(view)), render(_rg(np.ascontiguousarray(view))))


def test_window_changes_the_image_and_presets_are_defaults() -> None:
    stored = np.linspace(0, 1000, 100 * 100).astype(np.uint16).reshape(100, 100)
    rg = _rg(stored, windows=(WindowPreset(500, 200, "narrow"), WindowPreset(500, 1000, "wide")))
    assert default_window(rg).name == "narrow"
    narrow, wide = render(rg), render(rg, rg.windows[1])
    assert (narrow == 0).sum() > (wide == 0).sum()
    assert int(narrow.min()) == 0 and int(narrow.max()) == 255


def test_full_range_default_without_presets() -> None:
    stored = np.array([[10, 20], [30, 40]], dtype=np.uint16)
    rg = _rg(stored, rescale_slope=2.0, rescale_intercept=5.0)
    assert value_range(rg) == (25.0, 85.0)
    img = render(rg)
    assert img[0, 0] < img[0, 1] < img[1, 0] < img[1, 1]


def test_presentation_lut_shape_inverse_flips_monochrome2() -> None:
    stored = np.array([[0, 1000]], dtype=np.uint16)
    normal = render(_rg(stored), (500, 1000))
    flipped = render(_rg(stored, presentation_lut_shape="INVERSE"), (500, 1000))
    np.testing.assert_array_equal(flipped, 255 - normal)
    # DX writes MONOCHROME1 together with INVERSE: one inversion, not two that cancel
    mono1 = render(_rg(stored, photometric="MONOCHROME1"), (500, 1000))
    both = _rg(stored, photometric="MONOCHROME1", presentation_lut_shape="INVERSE")
    np.testing.assert_array_equal(render(both, (500, 1000)), mono1)
    np.testing.assert_array_equal(mono1, flipped)


def test_voi_lut_table_used_without_window() -> None:
    stored = np.array([[0, 1, 2, 3]], dtype=np.uint16)
    lut = VoiLut(first_mapped=1, bits=8, table=np.array([0, 255, 51], dtype=np.uint16))
    rg = _rg(stored, voi_lut=lut)
    # 0 is below the table (clamped to the first entry), 3 above it (clamped to the last)
    np.testing.assert_array_equal(render(rg), [[0, 0, 255, 51]])


def test_sigmoid_function_is_smooth_and_centered() -> None:
    stored = np.arange(0, 1001, dtype=np.uint16).reshape(1, -1)
    img = render(_rg(stored, voi_lut_function="SIGMOID"), (500, 200))
    assert abs(int(img[0, 500]) - 128) <= 1
    linear = render(_rg(stored), (500, 200))
    assert linear[0, 400] == 0 and img[0, 400] > 20  # the sigmoid has tails, the line clips
    assert linear[0, 600] == 255 and img[0, 600] < 235
    assert np.all(np.diff(img[0].astype(int)) >= 0)


def test_window_tuple_equals_preset() -> None:
    stored = np.arange(100, dtype=np.uint16).reshape(10, 10)
    np.testing.assert_array_equal(
        render(_rg(stored), (50, 40)), render(_rg(stored), WindowPreset(50, 40))
    )
    rg = _rg(stored)
    assert replace(rg, photometric="MONOCHROME1").photometric == "MONOCHROME1"


def _ramp(center: float, width: float) -> Radiograph:
    stored = (32744 + np.arange(64 * 64, dtype=np.uint32).reshape(64, 64) * 8).astype(np.uint16)
    return Radiograph(
        path="ramp.dcm",
        format="dicom",
        stored=stored,
        bits_stored=16,
        windows=(WindowPreset(center, width),),
    )


def test_a_window_that_misses_the_pixels_falls_back_to_percentiles() -> None:
    from orthogui.io.display import FALLBACK_PERCENTILES, choose_window

    rg = _ramp(2725.0, 5310.0)  # the stored window of a real file: 70-5380 on 32744-65504
    assert render(rg).min() == 255  # what the file's window shows: a white page
    choice = choose_window(rg)
    lo, hi = np.percentile(rg.stored[::4, ::4].astype(float), FALLBACK_PERCENTILES)
    assert choice.window.center == pytest.approx((lo + hi) / 2)
    assert choice.window.width == pytest.approx(hi - lo)
    assert "misses the pixel values" in choice.note and "C 2725 W 5310" in choice.note
    shown = render(rg, choice.window)
    assert shown.min() == 0 and shown.max() == 255 and 100 < np.median(shown) < 155


def test_a_window_that_holds_the_pixels_is_kept() -> None:
    from orthogui.io.display import choose_window

    rg = _ramp(49000.0, 4000.0)  # inside the range: a narrow window is the reader's choice
    assert choose_window(rg).window == rg.windows[0] and choose_window(rg).note == ""
    plain = replace(rg, windows=())
    assert choose_window(plain).window == default_window(plain)
    assert choose_window(plain).note == ""
