"""The PACS round trip over DIMSE against a real Orthanc's DICOM port: C-STORE the DICOM
fixtures, C-FIND them with the right fields, C-GET a study into a project with the same pixels
(as stored), send reviewed findings back as SR and SEG with the CLI and find both series; a
wrong called AE title, a stopped server and a server killed mid-retrieve are one ``PacsError``
naming the server, and leave nothing half-written. Skipped without Orthanc.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from orthogui.cli import main
from orthogui.io.dicom_seg import SEG_SERIES_DESCRIPTION, read_masks
from orthogui.io.dicom_sr import SR_SERIES_DESCRIPTION, read_findings
from orthogui.io.dimse import DimseServer, query_series, query_studies, retrieve_study, store
from orthogui.io.files import records_for
from orthogui.io.pacs import PacsCancelled, PacsError, StudyRow
from orthogui.io.readers import pixel_sha256, read_radiograph
from orthogui.io.store import ProjectStore
from tests.conftest import TEST_DATA
from tests.integration.orthanc_server import AET, Orthanc
from tests.integration.test_pacs_orthanc import _reviewed_project

pytestmark = pytest.mark.pacs

DICOM = TEST_DATA / "dicom"
CR_STUDY = [DICOM / f"77654033_CR{i}.dcm" for i in ("1_6154", "2_6247", "3_6278")]
RG2 = DICOM / "RG2_JPLY_fixed.dcm"  # lossy 12-bit JPEG: any transcoding would change it
CR_PATIENT = "77654033"
RG2_PATIENT = "10RG2"


def _sop(path: Path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def _pixels(path: Path) -> str:
    return pixel_sha256(read_radiograph(path).stored)


def _study(server: DimseServer, source: Path) -> StudyRow:
    """The study of ``source`` as C-FIND by its patient ID finds it (other tests may have
    stored other studies of the same patient)."""
    uid = pydicom.dcmread(source, stop_before_pixels=True).StudyInstanceUID
    patient = pydicom.dcmread(source, stop_before_pixels=True).PatientID
    (row,) = [r for r in query_studies(server, patient_id=patient) if r.study_uid == uid]
    return row


def _digests(folder: Path) -> dict[Path, str]:
    """Every file under ``folder`` (hidden ones too) with its SHA-256."""
    return {
        p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _cli_server(orthanc: Orthanc, *, aet: str = AET) -> list[str]:
    return ["--dimse", f"127.0.0.1:{orthanc.dicom_port}", "--aet", aet, "--name", "dimse-pacs"]


@pytest.fixture(scope="module")
def stored(orthanc: Orthanc) -> dict[str, Path]:
    """The fixtures on the session's Orthanc, sent by C-STORE; by SOP Instance UID."""
    files = [*CR_STUDY, RG2]
    result = store(orthanc.dimse(), [pydicom.dcmread(f) for f in files])
    by_sop = {_sop(f): f for f in files}
    assert sorted(result.stored) == sorted(by_sop)
    return by_sop


def test_c_find_finds_the_studies_with_their_fields(
    orthanc: Orthanc, stored: dict[str, Path]
) -> None:
    server = orthanc.dimse()
    row = _study(server, CR_STUDY[0])
    source = pydicom.dcmread(CR_STUDY[0], stop_before_pixels=True)
    assert row.patient_name == "Doe^Archibald"
    assert row.accession == str(source.AccessionNumber)
    assert row.study_date == "20010101"
    assert row.description == str(source.StudyDescription)
    assert row.modalities == ("CR",)
    assert (row.series_count, row.instance_count) == (3, 3)

    assert row.study_uid in {r.study_uid for r in query_studies(server, patient_name="Doe^Arch*")}
    in_2001 = query_studies(server, patient_id=CR_PATIENT, date_range=("20010101", "20011231"))
    assert row.study_uid in {r.study_uid for r in in_2001}
    assert {r.study_date for r in in_2001} == {"20010101"}
    assert query_studies(server, patient_id=CR_PATIENT, date_range="20020101-") == []
    assert query_studies(server, patient_id=CR_PATIENT, modality="MR") == []
    both = {r.patient_id for r in query_studies(server, modality="CR")}
    assert {CR_PATIENT, RG2_PATIENT} <= both
    assert len(query_studies(server, modality="CR", limit=1)) == 1
    assert query_studies(server, patient_id="no-such-patient") == []

    series = query_series(server, row.study_uid)
    assert {s.description for s in series} == {
        "Cervical LAT",
        "Cervical OBLI 1",
        "Cervical OBLI 2",
    }
    assert {(s.modality, s.instance_count) for s in series} == {("CR", 1)}


def test_c_get_into_a_project_keeps_the_pixels_as_stored(
    orthanc: Orthanc, stored: dict[str, Path], tmp_path: Path
) -> None:
    server = orthanc.dimse()
    seen: list[tuple[int, int]] = []
    for source in (CR_STUDY[0], RG2):
        study = _study(server, source)
        seen.clear()
        paths = retrieve_study(
            server,
            study.study_uid,
            tmp_path / "inbox",
            progress=lambda done, total: seen.append((done, total)),
        )
        total = len(paths)
        assert seen == [(n, total) for n in range(total + 1)]
        images = [p for p in paths if _sop(p) in stored]  # an SR sent by a test may be there
        assert len(images) == (3 if source == CR_STUDY[0] else 1)
        for p in images:
            original = stored[_sop(p)]
            assert p.relative_to(tmp_path / "inbox").parts[0] == study.study_uid
            got = pydicom.dcmread(p, stop_before_pixels=True)
            want = pydicom.dcmread(original, stop_before_pixels=True)
            assert got.file_meta.TransferSyntaxUID == want.file_meta.TransferSyntaxUID
            assert p.parent.name == got.SeriesInstanceUID and p.stem == got.SOPInstanceUID
            assert _pixels(p) == _pixels(original)
            np.testing.assert_array_equal(
                read_radiograph(p).stored, read_radiograph(original).stored
            )
    assert not [p for p in (tmp_path / "inbox").iterdir() if p.name.startswith(".")]

    every = sorted((tmp_path / "inbox").rglob("*.dcm"))
    mine = [p for p in every if _sop(p) in stored]
    with ProjectStore.create(tmp_path / "p.orthogui", user="dr.test") as project:
        report = project.add_images_reporting(records_for(mine))
        assert len(report.added) == 4


def test_cancelled_c_get_leaves_nothing(
    orthanc: Orthanc, stored: dict[str, Path], tmp_path: Path
) -> None:
    cr = _study(orthanc.dimse(), CR_STUDY[0])
    calls = iter([False, False, True, True, True])  # before the GET, 1st instance, 2nd: stop
    dest = tmp_path / "dest"
    with pytest.raises(PacsCancelled, match="cancelled"):
        retrieve_study(orthanc.dimse(), cr.study_uid, dest, cancelled=lambda: next(calls))
    assert not dest.exists()


def test_an_instance_the_server_cannot_send_fails_the_whole_study(
    orthanc: Orthanc, tmp_path: Path
) -> None:
    cr, other = (pydicom.dcmread(f) for f in CR_STUDY[:2])
    study = generate_uid()
    for ds in (cr, other):  # a patient of its own: the session's Orthanc is shared
        ds.PatientID = "DIMSE-UNSENDABLE"
        ds.StudyInstanceUID, ds.SOPInstanceUID = study, generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    other.SOPClassUID = "1.2.840.10008.5.1.4.1.1.12.1"  # X-ray angiography: not asked for
    other.file_meta.MediaStorageSOPClassUID = other.SOPClassUID
    server = orthanc.dimse()
    assert len(store(server, [cr, other]).stored) == 2
    dest = tmp_path / "dest"
    with pytest.raises(PacsError) as info:
        retrieve_study(server, study, dest)
    message = str(info.value)
    assert f"retrieve of study {study} failed: the server did not send " in message
    assert "of 2 instance(s): " in message and "(status 0x" in message
    assert not dest.exists()


def test_unknown_study_writes_nothing(orthanc: Orthanc, tmp_path: Path) -> None:
    with pytest.raises(PacsError) as info:
        retrieve_study(orthanc.dimse(), "1.2.3.4.5.6.7", tmp_path / "dest")
    assert str(info.value).endswith("study 1.2.3.4.5.6.7: not found (no instances)")
    assert not (tmp_path / "dest").exists()


def test_send_sr_and_seg_over_dimse_then_find_both_series(
    orthanc: Orthanc,
    stored: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = orthanc.dimse()
    rg2 = _study(server, RG2)
    jply = _sop(RG2)
    files = [p for p in retrieve_study(server, rg2.study_uid, tmp_path / "in") if p.stem == jply]
    project, image_id = _reviewed_project(tmp_path, files)
    before = {s.series_uid for s in query_series(server, rg2.study_uid)}

    args = ["pacs", "send", *_cli_server(orthanc), "--project", str(project), "--image", image_id]
    rc = main(args)
    out = capsys.readouterr().out
    assert rc == 0, out
    assert f"sent 1 SR and 1 SEG (2 object(s)) to dimse-pacs ({server.address})" in out

    new = {s.modality: s for s in query_series(server, rg2.study_uid) if s.series_uid not in before}
    assert set(new) == {"SR", "SEG"}
    assert new["SR"].description == SR_SERIES_DESCRIPTION
    assert new["SEG"].description == SEG_SERIES_DESCRIPTION
    again = retrieve_study(server, rg2.study_uid, tmp_path / "again")
    (sr_file,) = [p for p in again if p.parent.name == new["SR"].series_uid]
    (seg_file,) = [p for p in again if p.parent.name == new["SEG"].series_uid]
    findings = {f.category: f for f in read_findings(sr_file)}
    assert set(findings) == {"locking_screw", "vertebral_compression_fracture"}
    assert {f.source_sop_instance_uid for f in findings.values()} == {jply}
    with ProjectStore.open(project, read_only=True) as reviewed:
        drawn = {a.category for a in reviewed.model.annotations(image_id)}
    assert set(read_masks(seg_file)) <= drawn and read_masks(seg_file)

    rc = main(["pacs", "query", *_cli_server(orthanc), "--patient-id", RG2_PATIENT, "--series"])
    rc_json = main(
        ["pacs", "query", *_cli_server(orthanc), "--patient-id", RG2_PATIENT, "--series", "--json"]
    )
    printed = capsys.readouterr().out
    assert rc == rc_json == 0
    listed = json.loads(printed[printed.index("[") :])
    (entry,) = [item for item in listed if item["study_uid"] == rg2.study_uid]
    modalities = {s["series_uid"]: s["modality"] for s in entry["series"]}
    assert modalities[new["SR"].series_uid] == "SR"
    assert modalities[new["SEG"].series_uid] == "SEG"


def test_cli_retrieve_over_dimse_into_a_project(
    orthanc: Orthanc,
    stored: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cr = _study(orthanc.dimse(), CR_STUDY[0])
    project = tmp_path / "p.orthogui"
    with ProjectStore.create(project, user="dr.test"):
        pass
    dest = tmp_path / "inbox"
    argv = ["pacs", "retrieve", cr.study_uid, *_cli_server(orthanc), "--dest", str(dest)]
    rc = main([*argv, "--project", str(project)])
    assert rc == 0, capsys.readouterr().err
    assert "retrieved 3 file(s)" in capsys.readouterr().out
    with ProjectStore.open(project, read_only=True) as p:
        assert len(p.model.images()) == 3


@pytest.mark.parametrize("action", ["query", "retrieve", "store"])
def test_wrong_called_aet_is_one_clear_rejection(
    orthanc: Orthanc, tmp_path: Path, action: str
) -> None:
    server = orthanc.dimse(name="main-pacs", called_aet="NOT-ORTHANC")
    with pytest.raises(PacsError) as info:
        if action == "query":
            query_studies(server)
        elif action == "retrieve":
            retrieve_study(server, "1.2.3.4", tmp_path / "dest")
        else:
            store(server, [pydicom.dcmread(CR_STUDY[0])])
    message = str(info.value)
    assert message.startswith(f"PACS main-pacs (NOT-ORTHANC@127.0.0.1:{orthanc.dicom_port}): ")
    assert message.endswith(
        "association rejected: Called AE title not recognised "
        "(is 'NOT-ORTHANC' the server's AE title?)"
    ), message
    assert "\n" not in message
    assert info.value.server is server
    assert not (tmp_path / "dest").exists()


def test_cli_wrong_called_aet_is_one_line(
    orthanc: Orthanc, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["pacs", "query", *_cli_server(orthanc, aet="NOT-ORTHANC")])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.count("\n") == 1 and err.startswith("orthogui pacs: PACS dimse-pacs ")
    assert "association rejected: Called AE title not recognised" in err


def test_http_port_is_an_aborted_association(orthanc: Orthanc) -> None:
    server = orthanc.dimse(port=orthanc.http_port)  # Orthanc's HTTP port, not DICOM
    with pytest.raises(PacsError) as info:
        query_studies(server)
    assert str(info.value).endswith(
        "study query failed: association aborted: the server closed the connection without "
        "accepting it (is the port its DICOM port?)"
    )


def test_stopped_orthanc_is_connection_refused(
    orthanc_factory: Callable[[], Orthanc], tmp_path: Path
) -> None:
    other = orthanc_factory()
    server = other.dimse(name="stopped-orthanc")
    assert query_studies(server) == []
    other.stop()
    for call in (
        lambda: query_studies(server),
        lambda: retrieve_study(server, "1.2.3", tmp_path / "dest"),
        lambda: store(server, [pydicom.dcmread(CR_STUDY[0])]),
    ):
        with pytest.raises(PacsError) as info:
            call()
        assert str(info.value).startswith(f"PACS stopped-orthanc ({server.address}): ")
        assert str(info.value).endswith(
            "connection refused (is the server running, is the port its DICOM port?)"
        )
    assert not (tmp_path / "dest").exists()


def test_orthanc_killed_mid_c_get_leaves_nothing_half_written(
    orthanc_factory: Callable[[], Orthanc], tmp_path: Path
) -> None:
    pacs = orthanc_factory()
    server = pacs.dimse(name="doomed-orthanc")
    store(server, [pydicom.dcmread(f) for f in [DICOM / "RG2_UNC.dcm", *CR_STUDY]])
    inbox = tmp_path / "inbox"
    (rg2,) = query_studies(server, patient_id=RG2_PATIENT)
    earlier = retrieve_study(server, rg2.study_uid, inbox)  # a complete study first
    before = _digests(inbox)
    assert len(before) == 1

    (cr,) = query_studies(server, patient_id=CR_PATIENT)
    seen: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        if done == 1:  # the first instance is in; the server dies before the second
            pacs.kill()

    with pytest.raises(PacsError) as info:
        retrieve_study(server, cr.study_uid, inbox, progress=progress)
    message = str(info.value)
    assert message.startswith(f"PACS doomed-orthanc ({server.address}): ")
    assert f"retrieve of study {cr.study_uid} failed at instance 2 of 3: " in message
    assert "connection lost" in message, message
    assert "\n" not in message
    assert seen == [(0, 3), (1, 3)]

    assert _digests(inbox) == before  # no staging left, no part of the study
    (kept,) = earlier
    assert read_radiograph(kept).stored.shape == (2140, 1760)  # still opens

    with pytest.raises(PacsError, match="connection refused"):
        retrieve_study(server, cr.study_uid, tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--dimse", "pacs:104"], "--dimse needs --aet, the PACS's AE title"),
        (["--dimse", "pacs", "--aet", "PACS"], "--dimse 'pacs': give HOST:PORT, e.g. pacs:104"),
        (["--dimse", "pacs:0", "--aet", "PACS"], "--dimse 'pacs:0': give HOST:PORT, e.g. pacs:104"),
        (
            ["--dimse", "pacs:104", "--aet", "PACS", "--url", "http://pacs/dicom-web"],
            "give --url (DICOMweb) or --dimse (DIMSE), not both",
        ),
    ],
)
def test_cli_dimse_options_are_checked(
    argv: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pacs", "query", *argv]) == 1
    assert capsys.readouterr().err.strip() == f"orthogui pacs: {error}"


def test_dimse_server_label() -> None:
    server = DimseServer("main", "pacs.local", 104, "PACS", calling_aet="OURS")
    assert server.label == "main (PACS@pacs.local:104)"
    assert DimseServer("", "h", 11112, "X").label == "X@h:11112"
