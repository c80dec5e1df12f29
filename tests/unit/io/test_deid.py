"""De-identification: no PHI from a DICOM, its file name or its record leaks into any snapshot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from orthogui.core.annotation import Annotation
from orthogui.core.geometry import Polygon
from orthogui.core.project import ImageRecord, ImageStatus, ProjectModel
from orthogui.io.deid import hashed_uid, salted_hash
from orthogui.io.snapshot import ImageMode, SnapshotOptions, export_snapshot

STUDY_UID = generate_uid()
PHI = {
    "PatientName": "Doe^Johnathan",
    "PatientID": "PID-4711-0815",
    "PatientBirthDate": "19370412",
    "AccessionNumber": "ACC99887766",
    "InstitutionName": "St Elsewhere Hospital",
    "ReferringPhysicianName": "Zhivago^Yuri",
    "OtherPatientIDs": "OTHER-123456",
    "PatientAddress": "12 Acacia Avenue",
    "StudyInstanceUID": STUDY_UID,
}


def _phi_dicom(path: Path) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # DX for presentation
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "DX"
    for key, value in PHI.items():
        setattr(ds, key, value)
    ds.StudyDate = "20240101"
    ds.Rows, ds.Columns = 48, 64
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = (np.arange(48 * 64, dtype=np.uint16).reshape(48, 64) % 4096).tobytes()
    ds.add_new(0x00091010, "LO", "private Doe^Johnathan")
    ds.save_as(str(path), enforce_file_format=True)


def _phi_model(tmp_path: Path) -> ProjectModel:
    src = tmp_path / "Doe_Johnathan_PID-4711-0815.dcm"
    _phi_dicom(src)
    model = ProjectModel()
    rec = ImageRecord(
        id="PID-4711-0815-img",
        path=str(src),
        width=64,
        height=48,
        status=ImageStatus.APPROVED,
        study_key="ACC99887766",
        attributes={"patient_name": "Doe^Johnathan", "body_region": "hip"},
    )
    model.put_image(rec)
    model.load(
        [],
        [
            Annotation.human(
                image_id=rec.id,
                category="cortical_screw",
                shape=Polygon([(1, 1), (20, 2), (21, 30)]),
                attributes={"note": "left hip"},
            )
        ],
    )
    return model


def _needles() -> list[bytes]:
    out = []
    for value in PHI.values():
        out += [value.encode(), value.replace("^", " ").encode()]
    out += [b"Doe", b"Johnathan", b"19370412", b"Acacia", b"Elsewhere"]
    out += [b"Doe_Johnathan", b"ACC99887766"]
    return out


@pytest.mark.parametrize("mode", list(ImageMode))
def test_no_phi_in_any_output_byte(tmp_path: Path, mode: ImageMode) -> None:
    model = _phi_model(tmp_path)
    out = tmp_path / "out" / "snap"
    export_snapshot(
        model,
        out,
        image_path_of=lambda r: Path(r.path),
        options=SnapshotOptions(image_mode=mode, fractions=(1.0, 0.0, 0.0), salt="pepper"),
    )
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) == 4 + (mode is not ImageMode.NONE)
    for f in files:
        blob = f.read_bytes() + str(f.relative_to(out)).encode()
        leaked = [n for n in _needles() if n in blob]
        assert not leaked, f"{f.name} ({mode}) leaks {leaked}"


def test_original_dicom_is_a_deidentified_copy_with_hashed_uids(tmp_path: Path) -> None:
    model = _phi_model(tmp_path)
    out = tmp_path / "snap"
    export_snapshot(
        model,
        out,
        image_path_of=lambda r: Path(r.path),
        options=SnapshotOptions(image_mode=ImageMode.ORIGINAL, salt="pepper"),
    )
    (dcm,) = (out / "images").iterdir()
    assert dcm.suffix == ".dcm"
    ds = pydicom.dcmread(dcm)
    assert str(ds.PatientName) == "" and ds.PatientID == "" and ds.AccessionNumber == ""
    assert "OtherPatientIDs" not in ds
    # X/Z/D in Table E.1-1: the profile's dummy value keeps the IOD valid, the name is gone
    assert ds.get("InstitutionName", "ANONYMIZED") == "ANONYMIZED"
    assert ds.StudyInstanceUID == hashed_uid(STUDY_UID, salt="pepper")
    assert ds.PatientIdentityRemoved == "YES"
    assert len(ds.StudyInstanceUID) <= 64
    np.testing.assert_array_equal(
        ds.pixel_array, np.arange(48 * 64, dtype=np.uint16).reshape(48, 64) % 4096
    )


def test_salted_hash_links_within_a_salt_only() -> None:
    assert salted_hash("ACC1", salt="a") == salted_hash("ACC1", salt="a")
    assert salted_hash("ACC1", salt="a") != salted_hash("ACC1", salt="b")
    assert "ACC1" not in salted_hash("ACC1", salt="a")
