"""Fenced decoding: panics become typed errors, sizes are capped before allocation, truncated
compressed frames are refused, and a truncated baseline JPEG opens flagged as damaged."""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.encaps import encapsulate, get_frame
from pydicom.uid import RLELossless

from orthogui.cli import main
from orthogui.core.radiograph import CorruptFileError, RadiographError
from orthogui.io.readers import read_radiograph
from orthogui.io.readers._codestreams import StreamError, parse_j2k, parse_jpeg
from orthogui.io.readers._guard import MAX_DECODED_BYTES_ENV, fenced, max_decoded_bytes

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _frame(path: Path) -> tuple[pydicom.Dataset, bytes]:
    ds = pydicom.dcmread(path)
    return ds, bytes(get_frame(ds.PixelData, 0, number_of_frames=1))


def _with_frame(ds: pydicom.Dataset, frame: bytes, out: Path) -> Path:
    ds.PixelData = encapsulate([frame])
    ds.save_as(out, enforce_file_format=True)
    return out


def _no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any attempt to decode pixels fail the test: refusals must come first."""

    def boom(self: pydicom.Dataset) -> None:
        raise AssertionError("the decoder was called")

    monkeypatch.setattr(pydicom.Dataset, "pixel_array", property(boom))


# -- the fence ---------------------------------------------------------------------------------
class FakePanic(BaseException):
    """What ``pyo3_runtime.PanicException`` is: a BaseException, not an Exception."""


def test_fence_turns_base_exceptions_into_typed_errors(tmp_path: Path) -> None:
    expected = r"x\.dcm: RLE decoding failed: FakePanic: boom"
    with (
        pytest.raises(CorruptFileError, match=expected),
        fenced(tmp_path / "x.dcm", "RLE decoding"),
    ):
        raise FakePanic("boom")
    with pytest.raises(CorruptFileError, match="ZeroDivisionError"), fenced(tmp_path, "decoding"):
        _ = 1 // 0


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError])
def test_fence_lets_interrupts_and_memory_errors_through(
    tmp_path: Path, exc: type[BaseException]
) -> None:
    with pytest.raises(exc), fenced(tmp_path / "x.dcm", "decoding"):
        raise exc()


def test_a_panic_in_the_decoder_is_a_typed_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "fake_panic.dcm"
    path.write_bytes(Path("tests/data/dicom/77654033_CR1_6154.dcm").read_bytes())

    def panic(self: pydicom.Dataset) -> None:
        raise FakePanic("index out of bounds")

    monkeypatch.setattr(pydicom.Dataset, "pixel_array", property(panic))
    with pytest.raises(CorruptFileError, match=r"fake_panic\.dcm: decoding .* FakePanic"):
        read_radiograph(path)


def test_a_panic_anywhere_in_a_reader_is_a_typed_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import orthogui.io.readers as readers

    def panicking_reader(path: Path) -> None:
        raise FakePanic("called `Option::unwrap()` on a `None` value")

    fake = readers.ReaderSpec("fake", ((0, b"FAKE"),), (".fake",), panicking_reader)  # type: ignore[arg-type]
    monkeypatch.setattr(readers, "READERS", (fake,))
    path = tmp_path / "x.fake"
    path.write_bytes(b"FAKE data")
    with pytest.raises(CorruptFileError, match=r"x\.fake: cannot read as fake: FakePanic: called"):
        read_radiograph(path)


def _panicking_rle(test_data: Path, out: Path) -> Path:
    """RLE whose first segment decodes past its plane: pylibjpeg-rle indexes out of bounds."""
    ds = pydicom.dcmread(test_data / "dicom" / "77654033_CR1_6154.dcm")
    ds.compress(RLELossless, encoding_plugin="pydicom")
    frame = bytes(get_frame(ds.PixelData, 0, number_of_frames=1))
    n_seg, first, second = struct.unpack("<3I", frame[:12])
    assert n_seg == 2
    seg1 = frame[first:second] + b"\x81\x00" * 4  # four runs of 128 bytes too many
    header = struct.pack("<16I", 2, 64, 64 + len(seg1), *([0] * 13))
    return _with_frame(ds, header + seg1 + frame[second:], out)


def test_rle_that_panics_the_decoder_is_refused_naming_the_file(
    test_data: Path, tmp_path: Path
) -> None:
    path = _panicking_rle(test_data, tmp_path / "panics.dcm")
    try:
        _ = pydicom.dcmread(path).pixel_array
    except Exception:
        pytest.skip("the installed RLE decoder reports this stream with an Exception")
    except BaseException as exc:  # the Rust panic this test is about
        assert type(exc).__name__ == "PanicException"
    else:
        pytest.skip("the installed RLE decoder accepts this stream")
    with pytest.raises(CorruptFileError, match=r"^.*panics\.dcm: decoding RLE .*PanicException"):
        read_radiograph(path)


# -- the size cap ------------------------------------------------------------------------------
def test_dicom_header_claiming_a_huge_image_is_refused_before_decoding(
    test_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = pydicom.dcmread(test_data / "dicom" / "77654033_CR1_6154.dcm")
    ds.Rows, ds.Columns, ds.NumberOfFrames = 65535, 65535, 1
    path = tmp_path / "huge.dcm"
    ds.save_as(path, enforce_file_format=True)
    _no_decoding(monkeypatch)
    with pytest.raises(CorruptFileError, match=r"huge\.dcm: DICOM header declares 65535 x 65535"):
        read_radiograph(path)


def test_png_claiming_100000_by_100000_is_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zlib

    import cv2

    def ihdr_chunk(width: int, height: int) -> bytes:
        body = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
        return (
            struct.pack(">I", 13) + b"IHDR" + body + struct.pack(">I", zlib.crc32(b"IHDR" + body))
        )

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    path = tmp_path / "bomb.png"
    idat = zlib.compress(b"\x00" * 1000)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + ihdr_chunk(100000, 100000)
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )
    monkeypatch.setattr(cv2, "imdecode", lambda *a: pytest.fail("decoded"))
    with pytest.raises(CorruptFileError, match=r"bomb\.png: PNG IHDR declares 100000 x 100000"):
        read_radiograph(path)


def test_j2k_siz_larger_than_the_cap_is_refused_before_decoding(
    test_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds, frame = _frame(test_data / "dicom" / "RG2_J2KR.dcm")
    patched = bytearray(frame)
    patched[8:16] = struct.pack(">II", 0x7FFFFFFF, 0x7FFFFFFF)  # Xsiz, Ysiz
    path = _with_frame(ds, bytes(patched), tmp_path / "siz.dcm")
    _no_decoding(monkeypatch)
    with pytest.raises(CorruptFileError, match=r"siz\.dcm: JPEG 2000 (SIZ|frame)"):
        read_radiograph(path)


def test_the_cap_is_configurable(test_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = test_data / "dicom" / "77654033_CR1_6154.dcm"  # 16 x 16 x 2 bytes = 512
    monkeypatch.setenv(MAX_DECODED_BYTES_ENV, "511")
    assert max_decoded_bytes() == 511
    with pytest.raises(CorruptFileError, match=r"= 512 bytes decoded, above the 511-byte limit"):
        read_radiograph(path)
    monkeypatch.setenv(MAX_DECODED_BYTES_ENV, "512")
    assert read_radiograph(path).shape == (16, 16)
    monkeypatch.setenv(MAX_DECODED_BYTES_ENV, "not a number")
    assert max_decoded_bytes() == 2 * 1024**3


# -- truncated compressed frames ---------------------------------------------------------------
@pytest.mark.parametrize("name", ["RG2_JPLL", "RG2_JLSL", "RG2_JPLY_fixed", "RG2_J2KR"])
@pytest.mark.parametrize("keep", [0.5, 0.98, 0.9995])
def test_truncated_compressed_frame_is_refused(
    test_data: Path, tmp_path: Path, name: str, keep: float
) -> None:
    """Decoders pad such frames with grey and report success; the reader must not."""
    ds, frame = _frame(test_data / "dicom" / f"{name}.dcm")
    path = _with_frame(ds, frame[: int(len(frame) * keep) & ~1], tmp_path / f"{name}_cut.dcm")
    with pytest.raises(CorruptFileError, match=rf"{name}_cut\.dcm: .*(truncated|EOI)"):
        read_radiograph(path)


@pytest.mark.parametrize("name", ["RG2_JPLL", "RG2_JLSL"])
def test_truncated_dicom_file_with_jpeg_frame_is_refused(
    test_data: Path, tmp_path: Path, name: str
) -> None:
    data = (test_data / "dicom" / f"{name}.dcm").read_bytes()
    path = tmp_path / f"{name}.dcm"
    path.write_bytes(data[: len(data) - 3001])
    with pytest.raises(CorruptFileError, match=rf"{name}\.dcm: "):
        read_radiograph(path)


def test_rle_segment_offsets_beyond_the_frame_are_refused(test_data: Path, tmp_path: Path) -> None:
    ds, frame = _frame(test_data / "dicom" / "RG2_RLE.dcm")
    header = bytearray(frame[:64])
    header[8:12] = struct.pack("<I", len(frame) + 100)  # segment 2 starts past the end
    path = _with_frame(ds, bytes(header) + frame[64:], tmp_path / "rle_off.dcm")
    with pytest.raises(CorruptFileError, match=r"rle_off\.dcm: RLE segment 1 offset"):
        read_radiograph(path)
    short = _with_frame(ds, frame[:200_000], tmp_path / "rle_short.dcm")
    with pytest.raises(CorruptFileError, match=r"rle_short\.dcm: RLE segment"):
        read_radiograph(short)


def test_jpeg_frame_disagreeing_with_the_dicom_header_is_refused(
    test_data: Path, tmp_path: Path
) -> None:
    ds, frame = _frame(test_data / "dicom" / "RG2_JPLL.dcm")
    ds.Columns = 1700
    path = _with_frame(ds, frame, tmp_path / "cols.dcm")
    with pytest.raises(CorruptFileError, match=r"declares 2140 x 1760 .* DICOM header 2140 x 1700"):
        read_radiograph(path)


def test_stream_parsers_on_intact_and_cut_streams(test_data: Path) -> None:
    _, jpll = _frame(test_data / "dicom" / "RG2_JPLL.dcm")
    layout = parse_jpeg(jpll)
    assert (layout.sof, layout.rows, layout.columns, layout.components) == (0xC3, 2140, 1760, 1)
    assert layout.eoi > 0 and layout.entropy_bytes > 2140 * 1760 / 8
    assert parse_jpeg(jpll[:100_000]).eoi == -1
    _, j2k = _frame(test_data / "dicom" / "RG2_J2KR.dcm")
    siz = parse_j2k(j2k)
    assert (siz.rows, siz.columns, siz.components, siz.tiles) == (2140, 1760, 1, 1)
    with pytest.raises(StreamError, match="truncated"):
        parse_j2k(j2k[: len(j2k) // 2])


# -- a truncated baseline JPEG -----------------------------------------------------------------
def _baseline_jpeg(tmp_path: Path) -> tuple[bytes, np.ndarray]:
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, 240, dtype=np.float64)[:, None] * np.ones((1, 200))
    pixels = np.clip(ramp + rng.normal(0, 20, ramp.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=90)
    data = buf.getvalue()
    with Image.open(io.BytesIO(data)) as im:
        intact = np.array(im)
    return data, intact


def test_truncated_baseline_jpeg_opens_flagged_damaged(tmp_path: Path) -> None:
    data, intact = _baseline_jpeg(tmp_path)
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: int(len(data) * 0.85)])
    rg = read_radiograph(path)
    missing = rg.metadata["damaged_rows"]
    assert 0 < missing < 0.5 * 240 and missing % 8 == 0  # whole MCU rows of 8 lines
    assert rg.shape == intact.shape
    np.testing.assert_array_equal(rg.stored[: 240 - missing], intact[: 240 - missing])
    assert not rg.stored[240 - missing :].any()  # missing rows are black, not grey
    assert rg.warnings == (f"damaged: {rg.metadata['damaged']}",)
    assert rg.metadata["damaged"].startswith(f"{missing} rows missing (of 240")


def test_info_prints_the_damage_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, _ = _baseline_jpeg(tmp_path)
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: int(len(data) * 0.85)])
    assert main(["info", str(path)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("WARNING: damaged: ") and "rows missing" in text
    assert main(["info", str(path), "--json"]) == 0
    assert '"warnings": [\n    "damaged: ' in capsys.readouterr().out


def test_intact_images_carry_no_warning(test_data: Path) -> None:
    assert read_radiograph(test_data / "images" / "IMG0002588.jpg").warnings == ()
    assert read_radiograph(test_data / "dicom" / "RG2_RLE.dcm").warnings == ()


def test_jpeg_missing_only_its_eoi_loses_no_more_than_its_last_mcu_row(tmp_path: Path) -> None:
    """libjpeg holds the last MCU row back until it sees the end: those 8 lines are unknown."""
    data, intact = _baseline_jpeg(tmp_path)
    path = tmp_path / "noeoi.jpg"
    path.write_bytes(data[:-2])
    rg = read_radiograph(path)
    assert rg.metadata["damaged_rows"] == 8
    np.testing.assert_array_equal(rg.stored[:232], intact[:232])


def test_jpeg_missing_most_rows_is_refused(tmp_path: Path) -> None:
    data, _ = _baseline_jpeg(tmp_path)
    path = tmp_path / "stub.jpg"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(RadiographError, match=r"stub\.jpg: JPEG cannot be decoded: .*rows"):
        read_radiograph(path)


@pytest.mark.realdata
def test_fracatlas_truncated_film_opens_with_its_missing_rows(shared_data: Path) -> None:
    path = shared_data / "fracatlas" / "images" / "IMG0004084.jpg"
    with warnings.catch_warnings():
        rg = read_radiograph(path)
    assert rg.shape == (454, 373)
    assert rg.metadata["damaged_rows"] == 72
    assert rg.warnings[0].startswith("damaged: 72 rows missing")


@pytest.mark.parametrize(("field", "value"), [(24, 1), (28, 16)])  # XTsiz, YTsiz
def test_j2k_with_tiles_that_have_no_data_is_refused(
    test_data: Path, tmp_path: Path, field: int, value: int
) -> None:
    """A damaged tile size: openjpeg used to decode one tile and call the film read."""
    ds, frame = _frame(test_data / "dicom" / "RG2_J2KR.dcm")
    patched = bytearray(frame)
    patched[field : field + 4] = struct.pack(">I", value)
    path = _with_frame(ds, bytes(patched), tmp_path / "tiles.dcm")
    with pytest.raises(CorruptFileError, match=r"tiles\.dcm: JPEG 2000 .*tiles have no tile-part"):
        read_radiograph(path)


def test_jpeg_frame_with_zero_rows_is_refused_before_decoding(
    test_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Height 0 (to come in a DNL marker that never comes) made libjpeg run out of memory."""
    ds, frame = _frame(test_data / "dicom" / "RG2_JPLY_fixed.dcm")
    sof = frame.find(b"\xff\xc1")
    patched = bytearray(frame)
    patched[sof + 5 : sof + 7] = b"\x00\x00"
    path = _with_frame(ds, bytes(patched), tmp_path / "dnl.dcm")
    _no_decoding(monkeypatch)
    with pytest.raises(CorruptFileError, match=r"dnl\.dcm: JPEG frame header declares 0 rows"):
        read_radiograph(path)
