"""Burned-in text in the pixels: found by OCR and by its shapes, side markers left alone.

Names are rendered with ``cv2.putText`` into synthetic radiographs (``orthogui.synth`` limb
phantoms, which carry a lead side marker and no console text) at several sizes, contrasts and
places. The tests that need Tesseract are skipped without it (``scripts/ocr.sh install``);
the OCR-free detector is tested always.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from orthogui.core.project import ImageRecord, ImageStatus, ProjectModel
from orthogui.core.radiograph import Radiograph
from orthogui.io import burned_in
from orthogui.io.burned_in import (
    OcrFailed,
    TextRegion,
    find_text,
    find_text_shapes,
    is_laterality,
    mask_boxes,
    tesseract_path,
    to_mask,
)
from orthogui.io.display import render
from orthogui.io.snapshot import (
    NOT_CHECKED,
    BurnedInText,
    SnapshotOptions,
    SnapshotResult,
    export_snapshot,
)
from orthogui.synth.scenes import SceneSpec, synthesize

NEEDS_OCR = pytest.mark.skipif(
    tesseract_path() is None,
    reason="tesseract with English data is not installed (scripts/ocr.sh install)",
)
NAME = "HALVORSEN KESTRA"


def phantom(seed: int, size: int = 768) -> Radiograph:
    """A limb phantom (a lead L or R marker, no console text) as a DICOM would carry it."""
    img = synthesize(SceneSpec("limb", size=size), np.random.default_rng(seed))
    return Radiograph(
        path=f"phantom{seed}",
        format="dicom",
        stored=img.stored,
        bits_stored=img.exposure.bits,
        windows=img.windows,
    )


def burn(
    rg: Radiograph,
    text: str,
    *,
    org: tuple[int, int],
    height: int,
    value: float | None = None,
    label: float | None = None,
) -> tuple[Radiograph, NDArray[np.bool_]]:
    """``text`` drawn into the stored pixels (baseline-left at ``org``, cap ``height`` px) at
    ``value`` (default: the top code), on a filled label of ``label`` when given; returns the
    new radiograph and the ink."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = height / cv2.getTextSize("X", font, 1.0, 1)[0][1]
    thick = max(round(height / 9), 1)
    ink = np.zeros(rg.shape, dtype=np.uint8)
    cv2.putText(ink, text, org, font, scale, 255, thick, cv2.LINE_AA)
    stored = rg.stored.copy()
    top = float((1 << rg.bits_stored) - 1)
    if label is not None:
        (w, h), base = cv2.getTextSize(text, font, scale, thick)
        x, y = org
        stored[
            y - h - height // 2 : y + base + height // 2, x - height // 2 : x + w + height // 2
        ] = label
    drawn = ink > 96
    stored[drawn] = top if value is None else value
    return replace(rg, stored=stored), drawn


def covered(regions: list[TextRegion], ink: NDArray[np.bool_], shape: tuple[int, int]) -> float:
    """The share of the ink that the masks of ``regions`` cover."""
    cover = np.zeros(shape, dtype=bool)
    for x0, y0, x1, y1 in mask_boxes(regions, shape):
        cover[y0:y1, x0:x1] = True
    return float(cover[ink].mean())


def letters(text: str) -> str:
    return "".join(c for c in text.upper() if c.isalnum())


def common(a: str, b: str) -> int:
    """Length of the longest run of characters ``a`` and ``b`` share."""
    return max(
        (n for i in range(len(a)) for n in range(1, len(a) - i + 1) if a[i : i + n] in b), default=0
    )


# -- laterality and boxes -----------------------------------------------------------------------
@pytest.mark.parametrize("text", ["L", "R", "LT", "RT", "rt.", " L ", "(R)"])
def test_side_markers_are_laterality(text: str) -> None:
    assert is_laterality(text)


@pytest.mark.parametrize("text", ["", "LAT", "RT: AB", "L R", "LEFT", "R2", "HALVORSEN"])
def test_other_text_is_not_laterality(text: str) -> None:
    assert not is_laterality(text)


def test_masks_keep_side_markers_and_grow_by_a_margin_inside_the_image() -> None:
    regions = [
        TextRegion(2, 5, 40, 10, "ID 4471902", 90.0),
        TextRegion(100, 100, 12, 14, "L", 88.0),
        TextRegion(130, 100, 30, 14, "RT", 88.0),
        TextRegion(20, 60, 140, 14, "L", 35.0, "shapes"),  # a whole line misread as "L"
        TextRegion(190, 180, 30, 20, "", 0.0, "shapes"),
    ]
    kept = to_mask(regions)
    assert [r.text for r in kept] == ["ID 4471902", "L", ""]
    assert mask_boxes([kept[0], kept[2]], (200, 210)) == [(0, 2, 45, 18), (184, 174, 210, 200)]


# -- the OCR-free detector ----------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shapes_find_no_text_on_a_clean_phantom(seed: int) -> None:
    rg = phantom(seed)
    assert find_text_shapes(rg) == []
    assert find_text(rg, ocr=False) == []


@pytest.mark.parametrize(
    ("org", "height", "value"),
    [
        ((30, 160), 22, None),  # white console text near the edge
        ((420, 620), 14, None),  # small, lower right
        ((200, 380), 30, None),  # large, across the anatomy
        ((40, 600), 18, 0.0),  # at the bottom code: shows black
    ],
)
def test_shapes_find_a_burned_in_name(
    org: tuple[int, int], height: int, value: float | None
) -> None:
    rg, ink = burn(phantom(3), NAME, org=org, height=height, value=value)
    found = find_text_shapes(rg)
    assert found and all(r.source == "shapes" for r in found)
    assert covered(found, ink, rg.shape) > 0.99


def test_shapes_find_a_name_a_narrow_default_window_hides() -> None:
    rg, ink = burn(phantom(4), NAME, org=(60, 400), height=20)
    low = float(np.percentile(rg.stored, 2))
    hidden = replace(rg, windows=(replace(rg.windows[0], center=low, width=2.0),))
    shown = render(hidden)
    assert int(shown[ink].min()) == 255 and float(np.mean(shown == 255)) > 0.95  # all white
    assert covered(find_text_shapes(hidden), ink, rg.shape) == 0.0  # the display alone: nothing
    assert covered(find_text(hidden, ocr=False), ink, rg.shape) > 0.99


def test_an_8bit_image_is_searched_as_it_is() -> None:
    rg, ink = burn(phantom(5), NAME, org=(200, 420), height=24)
    gray = render(rg)
    assert covered(find_text_shapes(gray), ink, rg.shape) > 0.99
    with pytest.raises(ValueError, match="uint8"):
        find_text_shapes(rg.stored)


def test_a_huge_image_is_searched_shrunk_with_boxes_in_its_own_pixels() -> None:
    rg, ink = burn(phantom(6, size=3000), NAME, org=(600, 1400), height=70)
    found = find_text_shapes(rg)
    assert covered(found, ink, rg.shape) > 0.99
    x0, y0 = min(r.x for r in found), min(r.y for r in found)
    x1, y1 = max(r.box[2] for r in found), max(r.box[3] for r in found)
    ys, xs = np.nonzero(ink)  # image pixels, not those of the 2048 px working copy
    assert abs(x0 - xs.min()) <= 4 and abs(x1 - xs.max()) <= 5
    assert abs(y0 - ys.min()) <= 4 and abs(y1 - ys.max()) <= 5


# -- with OCR -----------------------------------------------------------------------------------
@NEEDS_OCR
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_clean_phantom_gives_no_text_to_mask(seed: int) -> None:
    assert to_mask(find_text(phantom(seed))) == []


@NEEDS_OCR
@pytest.mark.parametrize(
    ("org", "height", "value", "label"),
    [
        ((30, 160), 22, None, None),  # white near the edge
        ((420, 620), 13, None, None),  # small, lower right
        ((200, 380), 30, None, None),  # large, over the anatomy
        ((60, 560), 20, 0.0, "top"),  # black on a white label
        ((40, 120), 24, "mid", None),  # grey, low contrast
    ],
)
def test_ocr_reads_a_burned_in_name_and_masks_it(
    org: tuple[int, int], height: int, value: object, label: object
) -> None:
    rg = phantom(7)
    top = float((1 << rg.bits_stored) - 1)
    level = {None: None, 0.0: 0.0, "mid": float(np.percentile(rg.stored, 90)) + top * 0.15}
    rg, ink = burn(
        rg,
        NAME,
        org=org,
        height=height,
        value=level[value],  # type: ignore[index]
        label=top if label == "top" else None,
    )
    found = find_text(rg)
    masked = to_mask(found)
    assert covered(masked, ink, rg.shape) > 0.99
    read = letters(" ".join(r.text for r in found))
    assert common(read, letters(NAME)) >= 5, read  # OCR named it: text, not an artefact


@NEEDS_OCR
def test_side_markers_are_not_masked_but_a_label_like_them_is() -> None:
    rg = phantom(8)
    stored = rg.stored.copy()
    top = (1 << rg.bits_stored) - 1
    font = cv2.FONT_HERSHEY_SIMPLEX
    # electronic markers: a white box with a black letter (as FracAtlas films show)
    for text, (x, y) in (("R", (600, 300)), ("LT", (80, 400)), ("QX7", (300, 600))):
        box = np.full((48, 12 + 30 * len(text)), 255, dtype=np.uint8)
        cv2.putText(box, text, (8, 38), font, 1.3, 0, 3, cv2.LINE_AA)
        stored[y : y + 48, x : x + box.shape[1]] = np.where(box > 128, top, 0)
    masked = to_mask(find_text(replace(rg, stored=stored)))
    assert [letters(r.text) for r in masked] == ["QX7"]
    x0, y0, x1, y1 = masked[0].box
    assert 290 <= x0 <= 310 and 590 <= y0 <= 612 and x1 <= 400 and y1 <= 650


@NEEDS_OCR
def test_a_laterality_marker_beside_a_name_does_not_save_the_name() -> None:
    rg, ink = burn(phantom(9), "R  " + NAME, org=(30, 160), height=22)
    masked = to_mask(find_text(rg))
    assert covered(masked, ink, rg.shape) > 0.99


def test_ocr_that_hangs_or_fails_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rg, _ = burn(phantom(10), NAME, org=(30, 160), height=22)
    script = tmp_path / "tesseract"  # a program in its place that hangs, fails, talks nonsense
    script.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(30)\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(burned_in, "tesseract_path", lambda: str(script))
    with pytest.raises(OcrFailed, match="ran past 1 s"):
        find_text(rg, timeout_s=1.0)
    script.write_text(f"#!{sys.executable}\nimport sys\nsys.exit('Error: no data')\n")
    with pytest.raises(OcrFailed, match="failed \\(1\\): Error: no data"):
        find_text(rg)
    script.write_text(f"#!{sys.executable}\nprint('not a table')\n")
    with pytest.raises(OcrFailed, match="no TSV"):
        find_text(rg)
    assert find_text(rg, ocr=False)  # the shapes alone still see it
    assert os.access(script, os.X_OK)


# -- in a snapshot ------------------------------------------------------------------------------
def _export_one(tmp_path: Path, image: Path, policy: str = "mask") -> SnapshotResult:
    model = ProjectModel()
    model.put_image(ImageRecord("a", str(image), status=ImageStatus.APPROVED))
    return export_snapshot(
        model,
        tmp_path / f"snap-{policy}",
        image_path_of=lambda r: Path(r.path),
        options=SnapshotOptions(fractions=(1.0, 0.0, 0.0), burned_in_text=BurnedInText(policy)),
    )


def test_an_image_ocr_fails_on_is_held_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rg, _ = burn(phantom(11), NAME, org=(30, 160), height=22)
    image = tmp_path / "film.png"
    cv2.imwrite(str(image), render(rg))
    script = tmp_path / "tesseract"
    script.write_text(f"#!{sys.executable}\nimport sys\nsys.exit('Error: out of memory')\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(burned_in, "tesseract_path", lambda: str(script))
    for policy in ("mask", "hold_out"):
        result = _export_one(tmp_path, image, policy)
        assert result.held_out == (
            ("a", NOT_CHECKED.format(why="tesseract failed (1): Error: out of memory")),
        )
        assert list((result.path / "images").iterdir()) == []
    off = _export_one(tmp_path, image, "off")  # no search: written as it is
    assert off.held_out == () and len(list((off.path / "images").iterdir())) == 1


def test_pixels_that_do_not_decode_are_held_out(tmp_path: Path, test_data: Path) -> None:
    broken = test_data / "dicom" / "RG2_JPLY.dcm"  # a defective JPEG stream (see its README)
    result = _export_one(tmp_path, broken)
    assert result.held_out == (("a", NOT_CHECKED.format(why="they do not decode")),)
    assert result.manifest["held_out"][0]["reason"] == result.held_out[0][1]
    assert str(broken.parent) not in json.dumps(result.manifest)


def test_a_dicom_whose_masked_pixels_cannot_be_encoded_is_held_out(
    tmp_path: Path, test_data: Path
) -> None:
    import pydicom

    rg, _ = burn(phantom(12), NAME, org=(30, 160), height=22)
    ds = pydicom.dcmread(test_data / "dicom" / "77654033_CR1_6154.dcm")
    ds.Rows, ds.Columns = rg.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 32, rg.bits_stored, rg.bits_stored - 1
    ds.PhotometricInterpretation, ds.PixelRepresentation = "MONOCHROME2", 0
    ds.PixelData = rg.stored.astype(np.uint32).tobytes()  # 32-bit: pydicom writes 8 or 16
    ds.WindowCenter, ds.WindowWidth = rg.windows[0].center, rg.windows[0].width
    del ds.RescaleSlope, ds.RescaleIntercept
    image = tmp_path / "wide.dcm"
    ds.save_as(image, enforce_file_format=True)
    result = _export_one(tmp_path, image)
    assert len(result.held_out) == 1
    assert result.held_out[0][1].startswith("the pixels could not be masked (cannot encode")
    assert list((result.path / "images").iterdir()) == []
