"""The five screw types differ in features measured on their rendered radiographs."""

from __future__ import annotations

import numpy as np
import pytest

from orthogui.synth.screws import SCREW_NAMES, SCREW_TYPES, random_screw, render_screw
from tests.unit.synth._screw_probe import (
    LENGTH_MM,
    SPACING,
    X0,
    dominant_period_mm,
    render,
    ripple,
    shaft,
)


@pytest.fixture(scope="module")
def rendered() -> dict[str, tuple[np.ndarray, object]]:
    return {name: render(name) for name in SCREW_NAMES}


def _zones(w: np.ndarray) -> tuple[slice, slice, slice]:
    n = len(w)
    return (
        slice(int(0.05 * n), int(0.22 * n)),
        slice(int(0.4 * n), int(0.6 * n)),
        slice(int(0.62 * n), int(0.93 * n)),
    )


def _threaded_fraction(w: np.ndarray) -> float:
    n = len(w)
    return float((ripple(w)[int(0.1 * n) :] > 0.25).mean())


def test_pitch_is_measured_from_the_image_and_matches_the_catalogue(rendered: dict) -> None:
    for name, (img, screw) in rendered.items():
        w = shaft(img)
        tip = w[_zones(w)[2]]
        assert dominant_period_mm(tip) == pytest.approx(screw.size.pitch, rel=0.1), name


def test_cortical_fine_shallow_full_thread_vs_cancellous_coarse_deep_partial(
    rendered: dict,
) -> None:
    cort = shaft(rendered["cortical_screw"][0])
    canc = shaft(rendered["cancellous_screw"][0])
    assert dominant_period_mm(cort[_zones(cort)[2]]) < 0.6 * dominant_period_mm(
        canc[_zones(canc)[2]]
    )
    depth_cort = np.median(ripple(cort)[_zones(cort)[2]]) / np.max(cort[_zones(cort)[2]])
    depth_canc = np.median(ripple(canc)[_zones(canc)[2]]) / np.max(canc[_zones(canc)[2]])
    assert depth_canc > 1.3 * depth_cort
    assert _threaded_fraction(cort) > 0.9
    assert _threaded_fraction(canc) < 0.6
    # The cancellous shank is smooth: no thread ripple in the middle.
    assert np.median(ripple(canc)[_zones(canc)[1]]) < 0.15


def test_headed_types_show_a_head_and_compression_is_headless(rendered: dict) -> None:
    for name, (img, _) in rendered.items():
        w = shaft(img)
        n = len(w)
        head_ratio = w[: int(0.08 * n)].max() / w[int(0.1 * n) : int(0.3 * n)].max()
        if SCREW_TYPES[name].head == "none":
            assert head_ratio < 1.1, name
        else:
            assert head_ratio > 1.25, name


def test_locking_head_is_conical_and_threaded(rendered: dict) -> None:
    def head_widths(name: str) -> np.ndarray:
        w = shaft(rendered[name][0])
        head = w[: int(0.1 * len(w))]
        return head[head > w[int(0.5 * len(w))] * 1.2]

    lock = head_widths("locking_screw")
    cort = head_widths("cortical_screw")
    # Conical: wider at the top than where it meets the shaft.
    assert lock[: len(lock) // 4].mean() > lock[-len(lock) // 4 :].mean() + 0.4
    # Threaded: the head outline ripples; a round head's outline is smooth.
    detrend = lambda x: np.abs(np.diff(x, 2))  # noqa: E731
    assert detrend(lock).mean() > 2 * detrend(cort).mean()


def test_cannulated_has_a_dark_central_channel(rendered: dict) -> None:
    ratios = {}
    for name, (img, screw) in rendered.items():
        col = img[:, int(X0 + 0.5 * LENGTH_MM / SPACING)]
        off = int(screw.size.core / 4 / SPACING)
        ratios[name] = col[110] / col[110 - off]
    assert ratios["cannulated_screw"] < 0.93
    for name, r in ratios.items():
        if name != "cannulated_screw":
            assert r > 0.98, name


def test_compression_has_two_thread_zones_with_different_pitch(rendered: dict) -> None:
    w = shaft(rendered["compression_screw"][0])
    tail, mid, tip = _zones(w)
    r = ripple(w)
    assert np.median(r[tail]) > 0.25 and np.median(r[tip]) > 0.25
    assert np.median(r[mid]) < 0.15
    assert dominant_period_mm(w[tail]) < 0.75 * dominant_period_mm(w[tip])
    for name in ("cortical_screw", "locking_screw"):
        other = shaft(rendered[name][0])
        assert np.median(ripple(other)[_zones(other)[1]]) > 0.2, name


def test_drawn_length_equals_the_length_attribute() -> None:
    rng = np.random.default_rng(5)
    for name in SCREW_NAMES:
        screw = random_screw(rng, name, x=30.0, y=200.0, angle=0.7)
        out = render_screw(screw, shape=(900, 900), spacing_mm=0.15)
        assert out is not None
        crop, _, mask = out
        ys, xs = np.nonzero(mask)
        u = (xs + crop[1].start + 0.5 - 30.0) * np.cos(0.7) + (
            ys + crop[0].start + 0.5 - 200.0
        ) * np.sin(0.7)
        assert (u.max() - u.min()) * 0.15 == pytest.approx(screw.length_mm, abs=0.3), name


def test_unknown_type_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="unknown screw type"):
        random_screw(np.random.default_rng(0), "wood_screw", x=0, y=0, angle=0)
