"""PNG/JPEG/TIFF reading: full depth, luminance, EXIF orientation, registry and typed failures."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageOps

from orthogui.core.radiograph import CorruptFileError, UnsupportedFormatError
from orthogui.io.readers import SUPPORTED_SUFFIXES, can_read, read_radiograph
from orthogui.io.readers._pixels import apply_orientation

FRACATLAS = {  # name -> EXIF orientation of the copied FracAtlas files (CC BY 4.0)
    "IMG0002588.jpg": 3,
    "IMG0002628.jpg": 8,
    "IMG0001268.jpg": 6,
}


def _ramp16(rows: int = 40, cols: int = 30) -> np.ndarray:
    return (np.arange(rows * cols, dtype=np.uint32).reshape(rows, cols) * 53 % 65536).astype(
        np.uint16
    )


def _png(path: Path, arr: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), arr)
    return path


def test_16bit_png_keeps_full_depth(tmp_path: Path) -> None:
    arr = _ramp16()
    rg = read_radiograph(_png(tmp_path / "a.png", arr))
    assert rg.format == "png"
    assert rg.stored.dtype == np.uint16 and rg.bits_stored == 16
    np.testing.assert_array_equal(rg.stored, arr)
    assert len(np.unique(rg.stored)) > 256  # more grey levels than 8 bits can hold


def test_png_sbit_sets_bits_stored(tmp_path: Path) -> None:
    arr = (_ramp16() >> 4).astype(np.uint16)
    data = _png(tmp_path / "raw.png", arr).read_bytes()
    body = b"\x0c"  # sBIT: 12 significant bits
    chunk = struct.pack(">I4s", 1, b"sBIT") + body + struct.pack(">I", zlib.crc32(b"sBIT" + body))
    ihdr_end = 8 + 8 + 13 + 4
    path = tmp_path / "sbit.png"
    path.write_bytes(data[:ihdr_end] + chunk + data[ihdr_end:])
    rg = read_radiograph(path)
    assert rg.bits_stored == 12
    np.testing.assert_array_equal(rg.stored, arr)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_rgb_png_becomes_luminance_at_same_depth(tmp_path: Path, dtype: type) -> None:
    top = np.iinfo(dtype).max
    rgb = np.zeros((4, 3, 3), dtype=dtype)
    rgb[0, :, 0] = top  # red row
    rgb[1, :, 1] = top  # green row
    rgb[2, :, 2] = top  # blue row
    rgb[3] = top  # white row
    rg = read_radiograph(_png(tmp_path / "c.png", rgb[:, :, ::-1].copy()))  # cv2 writes BGR
    assert rg.stored.dtype == dtype
    assert rg.metadata["converted_from"] == "RGB"
    expected = np.rint(np.array([0.299, 0.587, 0.114, 1.0]) * top)
    np.testing.assert_allclose(rg.stored[:, 0], expected, atol=1)


def test_png_with_broken_crc_is_corrupt(tmp_path: Path) -> None:
    data = bytearray(_png(tmp_path / "ok.png", _ramp16()).read_bytes())
    idat = data.index(b"IDAT")
    data[idat + 10] ^= 0xFF  # flip bits inside the compressed data; CRC no longer matches
    path = tmp_path / "crc.png"
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match=r"crc\.png: PNG chunk 'IDAT' .* CRC"):
        read_radiograph(path)


@pytest.mark.parametrize("keep", [0.3, 0.8, 0.99])
def test_truncated_png_is_corrupt(tmp_path: Path, keep: float) -> None:
    data = _png(tmp_path / "ok.png", _ramp16(200, 200)).read_bytes()
    path = tmp_path / "cut.png"
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(CorruptFileError, match=r"cut\.png: truncated PNG"):
        read_radiograph(path)


def test_png_without_iend_is_corrupt(tmp_path: Path) -> None:
    data = _png(tmp_path / "ok.png", _ramp16()).read_bytes()
    path = tmp_path / "noend.png"
    path.write_bytes(data[:-12])  # the IEND chunk is exactly 12 bytes
    with pytest.raises(CorruptFileError, match="before IEND"):
        read_radiograph(path)


@pytest.mark.parametrize(("name", "orientation"), sorted(FRACATLAS.items()))
def test_fracatlas_jpeg_honours_exif_orientation(
    test_data: Path, name: str, orientation: int
) -> None:
    path = test_data / "images" / name
    rg = read_radiograph(path)
    with Image.open(path) as im:
        assert im.getexif().get(274) == orientation
        stored_size = im.size  # (width, height) before rotation
        upright = np.array(ImageOps.exif_transpose(im).convert("L"))
    assert rg.format == "jpeg" and rg.stored.dtype == np.uint8
    assert rg.metadata["exif_orientation"] == orientation
    np.testing.assert_array_equal(rg.stored, upright)
    if orientation in (6, 8):
        assert rg.shape == (stored_size[0], stored_size[1])  # rows = stored width


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matches_pillow(orientation: int) -> None:
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    im = Image.fromarray(arr)
    im.getexif()[274] = orientation
    expected = np.array(ImageOps.exif_transpose(im))
    np.testing.assert_array_equal(apply_orientation(arr, orientation), expected)


def test_truncated_jpeg_is_corrupt(test_data: Path, tmp_path: Path) -> None:
    data = (test_data / "images" / "IMG0002588.jpg").read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError, match=r"cut\.jpg: JPEG cannot be decoded"):
        read_radiograph(path)


def test_tiff_16bit_and_orientation(tmp_path: Path) -> None:
    arr = _ramp16(5, 7)
    path = tmp_path / "a.tif"
    tifffile.imwrite(path, arr, photometric="minisblack", extratags=[(274, "H", 1, 6, True)])
    rg = read_radiograph(path)
    assert rg.format == "tiff" and rg.stored.dtype == np.uint16 and rg.bits_stored == 16
    np.testing.assert_array_equal(rg.stored, np.rot90(arr, -1))  # 6 = rotate 90° clockwise


def test_tiff_miniswhite_is_monochrome1(tmp_path: Path) -> None:
    path = tmp_path / "w.tiff"
    tifffile.imwrite(path, _ramp16(4, 4), photometric="miniswhite")
    assert read_radiograph(path).photometric == "MONOCHROME1"


def test_tiff_rgb_becomes_luminance(tmp_path: Path) -> None:
    rgb = np.zeros((2, 2, 3), np.uint16)
    rgb[..., 1] = 60000
    path = tmp_path / "c.tif"
    tifffile.imwrite(path, rgb, photometric="rgb")
    rg = read_radiograph(path)
    assert rg.stored.dtype == np.uint16 and rg.metadata["converted_from"] == "RGB"
    assert abs(int(rg.stored[0, 0]) - round(0.587 * 60000)) <= 1


def test_planar_rgb_tiff_becomes_luminance(tmp_path: Path) -> None:
    planar = np.zeros((3, 4, 5), np.uint16)
    planar[0] = 1000  # red plane only
    path = tmp_path / "planar.tif"
    tifffile.imwrite(path, planar, photometric="rgb", planarconfig="separate")
    rg = read_radiograph(path)
    assert rg.shape == (4, 5)
    assert abs(int(rg.stored[2, 3]) - round(0.299 * 1000)) <= 1


def test_tiff_stack_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, np.zeros((3, 4, 4), np.uint16), photometric="minisblack")
    with pytest.raises(UnsupportedFormatError, match=r"stack\.tif: TIFF stack"):
        read_radiograph(path)


def test_truncated_tiff_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "t.tif"
    tifffile.imwrite(path, _ramp16(100, 100))
    data = path.read_bytes()
    path.write_bytes(data[:200])
    with pytest.raises(CorruptFileError, match=r"t\.tif: "):
        read_radiograph(path)


def test_registry_picks_reader_by_content_not_suffix(tmp_path: Path) -> None:
    path = _png(tmp_path / "a.png", _ramp16())
    disguised = tmp_path / "scan.dat"
    disguised.write_bytes(path.read_bytes())
    assert can_read(disguised)
    assert read_radiograph(disguised).format == "png"


def test_unknown_content_and_suffix_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    assert not can_read(path)
    assert not can_read(tmp_path)  # a directory
    with pytest.raises(UnsupportedFormatError, match=r"notes\.txt: not a recognised"):
        read_radiograph(path)


def test_supported_suffixes_cover_the_formats() -> None:
    assert {".dcm", ".png", ".jpg", ".jpeg", ".tif", ".tiff"} <= SUPPORTED_SUFFIXES
