"""The PACS round trip against a real Orthanc (DICOMweb): store the DICOM fixtures, find them by
patient ID, retrieve them into a project with the same pixels, send reviewed findings back as
SR and SEG and find both series; wrong password, unknown study, cancel and a stopped server
fail as one ``PacsError`` naming the server. Skipped without Orthanc
(``scripts/orthanc.sh install``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import generate_uid

from orthogui.cli import main
from orthogui.core.annotation import Annotation, Prediction, Review, ReviewState
from orthogui.core.commands import AddAnnotations
from orthogui.core.geometry import Polygon
from orthogui.core.project import ImageStatus
from orthogui.core.review import approve, set_state
from orthogui.io.dicom_seg import SEG_SERIES_DESCRIPTION, read_masks
from orthogui.io.dicom_sr import SR_SERIES_DESCRIPTION, read_findings
from orthogui.io.files import records_for
from orthogui.io.masks import polygons_to_mask
from orthogui.io.pacs import (
    PacsCancelled,
    PacsError,
    query_series,
    query_studies,
    retrieve_study,
    store,
)
from orthogui.io.readers import pixel_sha256, read_radiograph
from orthogui.io.store import ProjectStore
from tests.conftest import SHARED_DATA, TEST_DATA
from tests.integration.conftest import PASSWORD, USER, Orthanc

pytestmark = pytest.mark.pacs

DICOM = TEST_DATA / "dicom"
# Distinct SOP instances: three tiny CRs of one study, one RG2 (lossy 12-bit JPEG, sent as
# stored; the _fixed copy, whose codestream libjpeg decodes).
FIXTURES = [
    DICOM / "77654033_CR1_6154.dcm",
    DICOM / "77654033_CR2_6247.dcm",
    DICOM / "77654033_CR3_6278.dcm",
    DICOM / "RG2_JPLY_fixed.dcm",
]
SHARED_RG2 = ("RG2_J2KI.dcm", "RG2_JLSN.dcm")  # other SOP instances of the same RG2 study
RG2_PATIENT = "10RG2"
CR_PATIENT = "77654033"
SCREW = Polygon([(100, 100), (600, 150), (595, 180), (95, 130)])


def _fixtures() -> list[Path]:
    extra = [SHARED_DATA / "dicom" / n for n in SHARED_RG2 if (SHARED_DATA / "dicom" / n).is_file()]
    return FIXTURES + extra[:1]


def _sop(path: Path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def _pixels(path: Path) -> str:
    return pixel_sha256(read_radiograph(path).stored)


@pytest.fixture(scope="module")
def stored(orthanc: Orthanc) -> dict[str, Path]:
    """The fixtures on the session's Orthanc, by SOP Instance UID."""
    files = _fixtures()
    result = store(orthanc.server(), [pydicom.dcmread(f) for f in files])
    by_sop = {_sop(f): f for f in files}
    assert set(result.stored) == set(by_sop)
    return by_sop


def test_query_finds_the_stored_studies_by_patient_id(
    orthanc: Orthanc, stored: dict[str, Path]
) -> None:
    rows = query_studies(orthanc.server(), patient_id=CR_PATIENT)
    assert len(rows) == 1
    row = rows[0]
    assert row.patient_id == CR_PATIENT
    assert row.patient_name == "Doe^Archibald"
    assert row.modalities == ("CR",)
    assert row.instance_count == 3
    assert query_studies(orthanc.server(), patient_id="no-such-patient") == []
    by_date = query_studies(orthanc.server(), patient_id=CR_PATIENT, date_range=("20010101", None))
    assert [r.study_uid for r in by_date] == [row.study_uid]


def test_retrieve_into_a_project_keeps_the_pixels(
    orthanc: Orthanc, stored: dict[str, Path], tmp_path: Path
) -> None:
    (rg2,) = query_studies(orthanc.server(), patient_id=RG2_PATIENT)
    seen: list[tuple[int, int]] = []
    paths = retrieve_study(
        orthanc.server(),
        rg2.study_uid,
        tmp_path / "inbox",
        progress=lambda done, total: seen.append((done, total)),
    )
    expected = {sop: f for sop, f in stored.items() if "RG2" in f.name}
    images = [p for p in paths if _sop(p) in expected]  # an SR sent by another test may be there
    assert {_sop(p) for p in images} == set(expected)
    assert seen[0] == (0, len(paths)) and seen[-1] == (len(paths), len(paths))
    assert not [p for p in (tmp_path / "inbox").iterdir() if p.name.startswith(".")]
    for p in images:  # as stored: same transfer syntax, same decoded pixels
        assert _pixels(p) == _pixels(expected[_sop(p)])
    paths = images

    with ProjectStore.create(tmp_path / "p.orthogui", user="dr.test") as project:
        report = project.add_images_reporting(records_for(paths))
        assert len(report.added) == len(paths)
        for rec in project.model.images():
            assert rec.attributes["pixel_spacing"] == [0.2, 0.2]


def test_cancelled_retrieve_leaves_nothing(
    orthanc: Orthanc, stored: dict[str, Path], tmp_path: Path
) -> None:
    (cr,) = query_studies(orthanc.server(), patient_id=CR_PATIENT)
    calls = iter([False, True])  # the second instance is never fetched
    with pytest.raises(PacsCancelled, match="cancelled"):
        retrieve_study(orthanc.server(), cr.study_uid, tmp_path, cancelled=lambda: next(calls))
    assert list(tmp_path.iterdir()) == []


def _reviewed_project(tmp_path: Path, files: list[Path]) -> tuple[Path, str]:
    """A project with the retrieved RG2 image approved: a drawn screw and an accepted
    model fracture (the VCF on it has a level)."""
    path = tmp_path / "review.orthogui"
    with ProjectStore.create(path, user="dr.test") as project:
        (rec,) = project.add_images_reporting(records_for(files)).added
        screw = Annotation.human(image_id=rec.id, category="locking_screw", shape=SCREW).evolve(
            review=Review(ReviewState.ACCEPTED, "dr.test", "2024-05-01T10:00:00Z")
        )
        vcf = Annotation.from_prediction(
            Prediction(
                "vertebral_compression_fracture",
                0.8,
                Polygon([(800, 800), (900, 800), (900, 880), (800, 870)]),
                "orthonet",
                "3.1",
                {"vertebra_level": "L2"},
            ),
            image_id=rec.id,
        )
        project.history.push(AddAnnotations((screw, vcf)))
        project.history.push(set_state([vcf], ReviewState.ACCEPTED, user="dr.test"))
        command = approve(project.model, rec.id, user="dr.test")
        assert command is not None
        project.history.push(command)
        assert project.model.image(rec.id).status is ImageStatus.APPROVED
    return path, rec.id


def test_send_sr_and_seg_then_find_both_series(
    orthanc: Orthanc,
    stored: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = orthanc.server()
    (rg2,) = query_studies(server, patient_id=RG2_PATIENT)
    jply = next(sop for sop, f in stored.items() if f.name == "RG2_JPLY_fixed.dcm")
    files = [p for p in retrieve_study(server, rg2.study_uid, tmp_path / "in") if p.stem == jply]
    project, image_id = _reviewed_project(tmp_path, files)
    before = {s.series_uid for s in query_series(server, rg2.study_uid)}

    monkeypatch.setenv("ORTHOGUI_PACS_PASSWORD", PASSWORD)
    url = ["--url", orthanc.dicomweb, "--user", USER, "--name", "test-orthanc"]
    rc = main(["pacs", "send", *url, "--project", str(project), "--image", image_id])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "sent 1 SR and 1 SEG (2 object(s)) to test-orthanc" in out

    new = {s.modality: s for s in query_series(server, rg2.study_uid) if s.series_uid not in before}
    assert set(new) == {"SR", "SEG"}
    assert new["SR"].description == SR_SERIES_DESCRIPTION
    assert new["SEG"].description == SEG_SERIES_DESCRIPTION
    again = retrieve_study(server, rg2.study_uid, tmp_path / "again")
    (sr_file,) = [p for p in again if p.parent.name == new["SR"].series_uid]
    (seg_file,) = [p for p in again if p.parent.name == new["SEG"].series_uid]

    findings = {f.category: f for f in read_findings(sr_file)}
    assert set(findings) == {"locking_screw", "vertebral_compression_fracture"}
    assert findings["locking_screw"].length_mm == pytest.approx(
        0.2 * SCREW.principal_axis_length(), abs=0.01
    )
    assert findings["vertebral_compression_fracture"].vertebra_level == "L2"
    assert findings["vertebral_compression_fracture"].algorithm == ("orthonet", "3.1")
    assert {f.source_sop_instance_uid for f in findings.values()} == {jply}
    dsrdump = shutil.which("dsrdump")
    if dsrdump is not None:  # dcmtk parses what the PACS gave back
        result = subprocess.run([dsrdump, str(sr_file)], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0 and "E:" not in result.stderr, result.stderr
        assert result.stdout.count('"Measurement Group"') == 2

    seg = hd.seg.segread(seg_file)
    assert seg.get_source_image_uids()[0][2] == jply
    source = pydicom.dcmread(files[0], stop_before_pixels=True)
    shape = (int(source.Rows), int(source.Columns))
    with ProjectStore.open(project, read_only=True) as reviewed:
        expected = {
            a.category: polygons_to_mask([a.shape], shape)
            for a in reviewed.model.annotations(image_id)
            if isinstance(a.shape, Polygon)
        }
    masks = read_masks(seg_file)
    assert set(masks) == set(expected)
    for name, mask in expected.items():
        np.testing.assert_array_equal(masks[name], mask)

    rc = main(["pacs", "query", *url, "--patient-id", RG2_PATIENT, "--series", "--json"])
    listed = json.loads(capsys.readouterr().out)
    assert rc == 0
    modalities = {s["series_uid"]: s["modality"] for s in listed[0]["series"]}
    assert modalities[new["SR"].series_uid] == "SR"
    assert modalities[new["SEG"].series_uid] == "SEG"


def test_a_dataset_made_in_memory_is_stored_as_a_dicom_file(
    orthanc: Orthanc, tmp_path: Path
) -> None:
    ds = pydicom.dcmread(DICOM / "77654033_CR2_6247.dcm")
    made = Dataset()  # no preamble, file meta without its optional parts: not yet a file
    made.update(ds)
    made.file_meta = FileMetaDataset()
    made.file_meta.TransferSyntaxUID = ds.file_meta.TransferSyntaxUID
    made.StudyInstanceUID, made.SeriesInstanceUID = generate_uid(), generate_uid()
    made.SOPInstanceUID = generate_uid()
    assert store(orthanc.server(), [made]).stored == (made.SOPInstanceUID,)
    assert not hasattr(made, "preamble") and list(made.file_meta.keys()) == [0x00020010]

    (path,) = retrieve_study(orthanc.server(), made.StudyInstanceUID, tmp_path)
    raw = path.read_bytes()
    assert raw[128:132] == b"DICM"  # what the PACS kept is a DICOM file
    back = pydicom.dcmread(path)
    assert back.file_meta.MediaStorageSOPInstanceUID == made.SOPInstanceUID
    assert _pixels(path) == _pixels(DICOM / "77654033_CR2_6247.dcm")


def test_wrong_password_is_401_naming_the_server(orthanc: Orthanc) -> None:
    server = orthanc.server(password="wrong")
    with pytest.raises(PacsError) as info:
        query_studies(server, patient_id=CR_PATIENT)
    assert "test-orthanc" in str(info.value) and orthanc.dicomweb in str(info.value)
    assert "401" in str(info.value)


def test_cli_wrong_password_is_one_line(
    orthanc: Orthanc, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ORTHOGUI_PACS_PASSWORD", "wrong")
    rc = main(["pacs", "query", "--url", orthanc.dicomweb, "--user", USER])
    err = capsys.readouterr().err.strip()
    assert rc == 1
    assert err.startswith("orthogui pacs: PACS ") and "401" in err and "\n" not in err


def test_unknown_study_is_404_and_writes_nothing(orthanc: Orthanc, tmp_path: Path) -> None:
    with pytest.raises(PacsError, match="404"):
        retrieve_study(orthanc.server(), "1.2.3.4.5.6.7", tmp_path / "dest")
    assert not (tmp_path / "dest").exists() or list((tmp_path / "dest").iterdir()) == []


def test_stopped_orthanc_is_connection_refused(
    orthanc_factory: Callable[[], Orthanc], tmp_path: Path
) -> None:
    other = orthanc_factory()
    server = other.server(name="stopped-orthanc")
    assert query_studies(server) == []
    other.stop()
    with pytest.raises(PacsError, match="connection refused") as info:
        query_studies(server)
    assert "stopped-orthanc" in str(info.value)
    with pytest.raises(PacsError, match="connection refused"):
        retrieve_study(server, "1.2.3", tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
