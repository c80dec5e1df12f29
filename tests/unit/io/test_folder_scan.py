"""Opening a folder finds radiographs by content: a patient CD with a DICOMDIR, a PACS export
without suffixes, images with wrong or no suffixes; other files are skipped and counted."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.fileset import FileSet
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from orthogui.io.files import expand_paths, records_for
from orthogui.io.folder_scan import is_radiograph, scan_folder
from orthogui.io.readers import read_radiograph

DATA = Path(__file__).parents[2] / "data" / "dicom"
SOURCES = ["77654033_CR1_6154.dcm", "77654033_CR2_6247.dcm", "77654033_CR3_6278.dcm"]


def _for_fileset(path: Path, *, study: str, series: str, number: int) -> Dataset:
    ds = pydicom.dcmread(path)
    ds.PatientID, ds.PatientName = "CD-PATIENT", "Cd^Patient"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyDate, ds.StudyTime, ds.StudyID = "20240101", "101010", "1"
    ds.AccessionNumber, ds.SeriesNumber, ds.InstanceNumber = "", 1, number
    return ds


def _report(study: str) -> Dataset:
    """A DICOM object without pixels (a basic text SR) on the same CD."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = (
        meta.MediaStorageSOPClassUID,
        meta.MediaStorageSOPInstanceUID,
    )
    ds.PatientID, ds.PatientName = "CD-PATIENT", "Cd^Patient"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, generate_uid()
    ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20240101", "101010", "1", ""
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "SR", 2, 1
    ds.CompletionFlag, ds.VerificationFlag = "COMPLETE", "UNVERIFIED"
    ds.ContentDate, ds.ContentTime = "20240101", "101010"
    title = Dataset()
    title.CodeValue, title.CodingSchemeDesignator, title.CodeMeaning = "18748-4", "LN", "Report"
    ds.ConceptNameCodeSequence = [title]
    return ds


def _patient_cd(root: Path) -> Path:
    """A CD as a hospital burns it: DICOMDIR and suffix-less files in PT*/ST*/SE* folders."""
    study, series = generate_uid(), generate_uid()
    fs = FileSet()
    for n, name in enumerate(SOURCES, start=1):
        fs.add(_for_fileset(DATA / name, study=study, series=series, number=n))
    fs.add(_report(study))
    fs.write(root / "cd")
    (root / "cd" / "README.TXT").write_text("Viewer: run autorun.exe\n")
    (root / "cd" / "AUTORUN.INF").write_text("[autorun]\nopen=viewer.exe\n")
    return root / "cd"


def test_patient_cd_with_dicomdir_finds_every_image(tmp_path: Path) -> None:
    cd = _patient_cd(tmp_path)
    names = sorted(p.relative_to(cd).as_posix() for p in cd.rglob("*") if p.is_file())
    assert "DICOMDIR" in names
    assert all("." not in Path(n).name for n in names if n.startswith("PT"))  # no suffixes
    scan = scan_folder(cd)
    assert len(scan.files) == 3 == scan.from_dicomdir
    assert scan.skipped == 4  # the SR, the DICOMDIR, README.TXT, AUTORUN.INF
    assert scan.missing == ()
    numbers = [int(pydicom.dcmread(f, stop_before_pixels=True).InstanceNumber) for f in scan.files]
    assert numbers == [1, 2, 3]
    for f in scan.files:
        assert read_radiograph(f).stored.shape == (16, 16)
    assert [Path(r.path) for r in records_for([cd])] == [f.resolve() for f in scan.files]


def test_dicomdir_entry_missing_on_disk_is_reported(tmp_path: Path) -> None:
    cd = _patient_cd(tmp_path)
    first = scan_folder(cd).files[0]
    first.unlink()
    scan = scan_folder(cd)
    assert len(scan.files) == 2
    assert [p.resolve() for p in scan.missing] == [first.resolve()]


def test_pacs_export_without_suffixes_or_dicomdir(tmp_path: Path) -> None:
    for n, name in enumerate(SOURCES, start=1):
        dst = tmp_path / "DICOM" / "PA0" / "ST0" / "SE0" / f"IM{n:06d}"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(DATA / name, dst)
    jpeg = tmp_path / "photos" / "scan0001"  # a JPEG without its suffix
    jpeg.parent.mkdir()
    ok, buf = cv2.imencode(".jpg", np.full((20, 30), 128, np.uint8))
    assert ok
    jpeg.write_bytes(buf.tobytes())
    assert cv2.imwrite(str(tmp_path / "photos" / "knee.png"), np.zeros((8, 8), np.uint8))
    (tmp_path / "photos" / "notes.txt").write_text("not an image")
    (tmp_path / "photos" / "Thumbs.db").write_bytes(b"\x00" * 300)
    found = expand_paths([tmp_path])
    assert {p.relative_to(tmp_path).as_posix() for p in found} == {
        "DICOM/PA0/ST0/SE0/IM000001",
        "DICOM/PA0/ST0/SE0/IM000002",
        "DICOM/PA0/ST0/SE0/IM000003",
        "photos/scan0001",
        "photos/knee.png",
    }
    assert scan_folder(tmp_path).skipped == 2
    assert read_radiograph(jpeg).stored.shape == (20, 30)


def test_a_dicom_without_pixels_is_not_a_radiograph(tmp_path: Path) -> None:
    report = _report(generate_uid())
    path = tmp_path / "IM000009"
    report.save_as(path, enforce_file_format=True)
    assert not is_radiograph(path)
    assert is_radiograph(DATA / SOURCES[0])


def test_a_segmentation_with_pixels_is_not_a_radiograph(tmp_path: Path) -> None:
    """Results sent to a PACS (DICOM SEG) come back with a study: they are not images to
    review, by their SOP class, although they carry pixel data."""
    import pydicom
    import pytest

    from orthogui.core.radiograph import NotAnImageError

    ds = pydicom.dcmread(DATA / SOURCES[0])
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.66.4"  # Segmentation Storage
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    path = tmp_path / "seg.dcm"
    ds.save_as(path, enforce_file_format=True)
    assert "PixelData" in pydicom.dcmread(path) and not is_radiograph(path)
    assert scan_folder(tmp_path).files == () and scan_folder(tmp_path).skipped == 1
    with pytest.raises(NotAnImageError, match=r"seg.dcm: DICOM .*Segmentation.* not a radiograph"):
        read_radiograph(path)
