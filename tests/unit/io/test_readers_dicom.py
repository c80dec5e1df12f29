"""DICOM reading: every test-data file, lossless hashes, LUTs, spacing and the typed failures."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from orthogui.core.radiograph import (
    CorruptFileError,
    NotAnImageError,
    RadiographError,
    UnsupportedFormatError,
)
from orthogui.io.readers import can_read, pixel_sha256, read_radiograph

LOSSLESS_RG2 = ("RG2_UNC", "RG2_RLE", "RG2_JPLL", "RG2_JLSL", "RG2_J2KR")
TS = {
    "RG2_UNC": "1.2.840.10008.1.2.1",
    "RG2_RLE": "1.2.840.10008.1.2.5",
    "RG2_JPLL": "1.2.840.10008.1.2.4.70",
    "RG2_JLSL": "1.2.840.10008.1.2.4.80",
    "RG2_J2KR": "1.2.840.10008.1.2.4.90",
    "RG2_JPLY_fixed": "1.2.840.10008.1.2.4.51",
}
CR_STORAGE = "1.2.840.10008.5.1.4.1.1.1"


def make_dicom(path: Path, pixels: np.ndarray | None, **attrs: Any) -> Path:
    """Write a small single-frame DICOM (Explicit VR LE) with ``pixels`` and extra attributes."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = attrs.pop("SOPClassUID", CR_STORAGE)
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "CR"
    ds.PatientID = "TEST1"
    if pixels is not None:
        ds.Rows, ds.Columns = pixels.shape[:2]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = pixels.dtype.itemsize * 8
        ds.BitsStored = pixels.dtype.itemsize * 8
        ds.HighBit = ds.BitsStored - 1
        ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
        ds.PixelData = np.ascontiguousarray(pixels).astype(pixels.dtype.newbyteorder("<")).tobytes()
    for key, value in attrs.items():
        setattr(ds, key, value)
    ds.save_as(path, enforce_file_format=True)
    return path


def test_thumbnail_metadata(test_data: Path) -> None:
    rg = read_radiograph(test_data / "dicom" / "77654033_CR1_6154.dcm")
    assert rg.format == "dicom"
    assert rg.shape == (16, 16)
    assert rg.stored.dtype == np.uint16
    assert rg.bits_stored == 12
    assert rg.photometric == "MONOCHROME1"
    assert rg.rescale_slope == pytest.approx(0.684)
    assert rg.rescale_intercept == pytest.approx(200.0)
    assert [(w.center, w.width) for w in rg.windows] == [(1600.0, 2800.0)]
    assert rg.pixel_spacing == (0.1, 0.1)
    assert rg.spacing_source == "ImagerPixelSpacing"
    assert rg.transfer_syntax == "1.2.840.10008.1.2.1"
    assert rg.modality == "CR"
    assert rg.metadata["PatientID"] == "77654033"
    assert rg.metadata["BodyPartExamined"] == "CSPINE"
    assert rg.metadata["ViewPosition"] == "LL"
    assert rg.metadata["Manufacturer"] == "Agfa-Gevaert AG"
    assert rg.metadata["StudyInstanceUID"].startswith("1.3.6.1.4.1.5962")
    assert (int(rg.stored.min()), int(rg.stored.max())) == (1994, 2802)


@pytest.mark.parametrize("name", [*LOSSLESS_RG2, "RG2_JPLY_fixed"])
def test_rg2_variants_open_with_header(test_data: Path, name: str) -> None:
    rg = read_radiograph(test_data / "dicom" / f"{name}.dcm")
    assert rg.shape == (2140, 1760)
    assert rg.stored.dtype == np.uint16
    assert rg.bits_stored == 10
    assert rg.photometric == "MONOCHROME2"
    assert rg.transfer_syntax == TS[name]
    assert rg.pixel_spacing == (0.2, 0.2)
    assert rg.spacing_source == "PixelSpacing"
    assert rg.metadata["BodyPartExamined"] == "HIP"
    assert rg.metadata["PatientID"] == "10RG2"
    assert int(rg.stored.max()) < 1024  # a 10-bit image: garbage decoding would overflow


def test_lossless_variants_give_identical_pixels(test_data: Path) -> None:
    hashes = {
        n: pixel_sha256(read_radiograph(test_data / "dicom" / f"{n}.dcm").stored)
        for n in LOSSLESS_RG2
    }
    assert len(set(hashes.values())) == 1, hashes
    lossy = pixel_sha256(read_radiograph(test_data / "dicom" / "RG2_JPLY_fixed.dcm").stored)
    assert lossy not in hashes.values()


def test_pixel_sha256_is_little_endian_c_order() -> None:
    arr = np.arange(12, dtype=">u2").reshape(3, 4)
    expected = hashlib.sha256(np.arange(12, dtype="<u2").tobytes()).hexdigest()
    assert pixel_sha256(arr) == expected
    assert pixel_sha256(np.asfortranarray(arr.astype("<u2"))) == expected


def test_rg1_monochrome1_without_valid_pixel_spacing(test_data: Path) -> None:
    rg = read_radiograph(test_data / "dicom" / "RG1_J2KR.dcm")
    assert rg.photometric == "MONOCHROME1"
    assert rg.bits_stored == 15
    assert rg.shape == (1955, 1841)
    # its PixelSpacing is "0\0": not a spacing, and there is no ImagerPixelSpacing
    assert rg.pixel_spacing is None
    assert rg.spacing_source == "none"
    assert (int(rg.stored.min()), int(rg.stored.max())) == (874, 26479)


def test_defective_jpeg_stream_fails_cleanly(test_data: Path) -> None:
    path = test_data / "dicom" / "RG2_JPLY.dcm"
    with pytest.raises(CorruptFileError) as info:
        read_radiograph(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert "JPEG Extended" in message and "\n" not in message


def test_non_image_dicom_is_not_an_image(tmp_path: Path) -> None:
    path = make_dicom(
        tmp_path / "report.dcm",
        None,
        SOPClassUID="1.2.840.10008.5.1.4.1.1.88.11",  # Basic Text SR
        Modality="SR",
    )
    with pytest.raises(NotAnImageError, match=r"report\.dcm: DICOM Basic Text SR Storage"):
        read_radiograph(path)


def test_multi_frame_is_unsupported(tmp_path: Path) -> None:
    path = make_dicom(tmp_path / "cine.dcm", np.zeros((8, 4), np.uint16), NumberOfFrames=2, Rows=4)
    with pytest.raises(UnsupportedFormatError, match=r"cine\.dcm: multi-frame DICOM \(2 frames\)"):
        read_radiograph(path)


def test_single_frame_with_number_of_frames_one_opens(tmp_path: Path) -> None:
    pixels = np.arange(20, dtype=np.uint16).reshape(4, 5)
    rg = read_radiograph(make_dicom(tmp_path / "one.dcm", pixels, NumberOfFrames=1))
    np.testing.assert_array_equal(rg.stored, pixels)


def test_signed_pixels_keep_sign_and_luts(tmp_path: Path) -> None:
    pixels = np.array([[-1000, -1], [0, 2000]], dtype=np.int16)
    voi = Dataset()
    voi.add_new(0x00283002, "US", [4, 65534, 8])  # LUT Descriptor; first mapped -2 as US
    voi.add_new(0x00283006, "US", [0, 10, 200, 255])  # LUT Data
    voi.LUTExplanation = "bone"
    path = make_dicom(
        tmp_path / "signed.dcm",
        pixels,
        RescaleSlope="2",
        RescaleIntercept="-1024",
        WindowCenter=["40", "400"],
        WindowWidth=["400", "2000"],
        WindowCenterWidthExplanation=["SOFT", "BONE"],
        VOILUTFunction="SIGMOID",
        PresentationLUTShape="INVERSE",
        PixelSpacing=["0.15", "0.16"],
        ImagerPixelSpacing=["0.2", "0.2"],
        VOILUTSequence=Sequence([voi]),
    )
    rg = read_radiograph(path)
    assert rg.stored.dtype == np.int16
    np.testing.assert_array_equal(rg.stored, pixels)
    assert (rg.rescale_slope, rg.rescale_intercept) == (2.0, -1024.0)
    assert [(w.center, w.width, w.name) for w in rg.windows] == [
        (40.0, 400.0, "SOFT"),
        (400.0, 2000.0, "BONE"),
    ]
    assert rg.voi_lut_function == "SIGMOID"
    assert rg.presentation_lut_shape == "INVERSE"
    assert rg.pixel_spacing == (0.15, 0.16) and rg.spacing_source == "PixelSpacing"
    assert rg.voi_lut is not None
    assert (rg.voi_lut.first_mapped, rg.voi_lut.bits, rg.voi_lut.name) == (-2, 8, "bone")
    np.testing.assert_array_equal(rg.voi_lut.table, [0, 10, 200, 255])


def test_modality_lut_sequence_is_read(tmp_path: Path) -> None:
    item = Dataset()
    item.add_new(0x00283002, "US", [3, 1, 16])
    item.add_new(0x00283006, "OW", np.array([100, 200, 300], "<u2").tobytes())
    item.ModalityLUTType = "OD"
    path = make_dicom(
        tmp_path / "mlut.dcm",
        np.array([[1, 2, 3]], np.uint16),
        ModalityLUTSequence=Sequence([item]),
    )
    rg = read_radiograph(path)
    assert rg.modality_lut is not None
    assert rg.modality_lut.first_mapped == 1
    np.testing.assert_array_equal(rg.modality_lut.table, [100, 200, 300])


def test_windows_without_explanation_get_readable_names(tmp_path: Path) -> None:
    path = make_dicom(
        tmp_path / "w.dcm", np.zeros((2, 2), np.uint16), WindowCenter="511", WindowWidth="0"
    )
    assert read_radiograph(path).windows == ()  # width 0 is invalid DICOM: skipped
    path = make_dicom(
        tmp_path / "w2.dcm", np.zeros((2, 2), np.uint16), WindowCenter="511", WindowWidth="1024"
    )
    assert read_radiograph(path).windows[0].name == "C 511 / W 1024"


def test_raw_dataset_without_preamble_opens_by_suffix(tmp_path: Path) -> None:
    pixels = np.arange(6, dtype=np.uint16).reshape(2, 3)
    full = make_dicom(tmp_path / "full.dcm", pixels)
    data = full.read_bytes()
    # drop preamble, "DICM" and the group-2 file meta (its length is the first element's value)
    (group_length,) = struct.unpack("<I", data[140:144])
    raw = tmp_path / "raw.dcm"
    raw.write_bytes(data[144 + group_length :])
    assert pydicom.dcmread(raw, force=True).PatientID == "TEST1"
    np.testing.assert_array_equal(read_radiograph(raw).stored, pixels)


@pytest.mark.filterwarnings("ignore:End of file reached before delimiter:UserWarning")
@pytest.mark.parametrize("fraction", [0.02, 0.5, 0.9])
@pytest.mark.parametrize("name", ["RG2_J2KR", "77654033_CR1_6154"])
def test_truncated_dicom_is_corrupt(
    test_data: Path, tmp_path: Path, name: str, fraction: float
) -> None:
    data = (test_data / "dicom" / f"{name}.dcm").read_bytes()
    path = tmp_path / f"{name}.dcm"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(CorruptFileError, match=rf"^{path}: "):
        read_radiograph(path)


def test_zero_byte_file_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "empty.dcm"
    path.write_bytes(b"")
    assert can_read(path)  # by suffix: the error is the reader's to report
    with pytest.raises(CorruptFileError, match=r"empty\.dcm: empty file \(0 bytes\)"):
        read_radiograph(path)


def test_garbage_with_dicom_suffix_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "junk.dcm"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(CorruptFileError, match=r"junk\.dcm: "):
        read_radiograph(path)


def test_missing_file_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(RadiographError, match=r"nothere\.dcm: cannot open"):
        read_radiograph(tmp_path / "nothere.dcm")


@pytest.mark.realdata
def test_every_shared_dicom_matches_its_manifest(shared_data: Path) -> None:
    folder = shared_data / "dicom"
    manifest = json.loads((folder / "manifest.json").read_text())["files"]
    for entry in manifest:
        path = folder / entry["file"]
        if entry["file"] == "RG2_JPLY.dcm":
            with pytest.raises(CorruptFileError):
                read_radiograph(path)
            continue
        rg = read_radiograph(path)
        assert rg.shape == (entry["rows"], entry["cols"]), entry["file"]
        assert rg.photometric == entry["pi"], entry["file"]
        assert rg.transfer_syntax == entry["ts_uid"], entry["file"]
        assert rg.bits_stored == entry["bits_stored"], entry["file"]
        assert hashlib.md5(rg.stored.tobytes()).hexdigest() == entry["pix_md5"], entry["file"]


def test_unknown_transfer_syntax_is_unsupported(tmp_path: Path) -> None:
    from pydicom.encaps import encapsulate

    path = make_dicom(tmp_path / "private.dcm", np.zeros((4, 4), np.uint16))
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = "1.2.826.0.1.3680043.99.1"  # a private, unknown syntax
    ds.PixelData = encapsulate([b"\x00" * 32])
    ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(UnsupportedFormatError, match=r"private\.dcm: no installed decoder"):
        read_radiograph(path)


def test_rgb_dicom_becomes_luminance(tmp_path: Path) -> None:
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[..., 1] = 200  # pure green
    path = make_dicom(
        tmp_path / "rgb.dcm",
        rgb,
        SamplesPerPixel=3,
        PhotometricInterpretation="RGB",
        PlanarConfiguration=0,
    )
    rg = read_radiograph(path)
    assert rg.shape == (2, 3) and rg.stored.dtype == np.uint8
    assert rg.metadata["converted_from"] == "RGB" and rg.photometric == "MONOCHROME2"
    assert abs(int(rg.stored[1, 2]) - round(0.587 * 200)) <= 1
