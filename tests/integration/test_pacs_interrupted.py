"""A PACS that dies or refuses in the middle of the work, against a real Orthanc: killed during a
retrieve, or signing in with a wrong password. The user gets one ``PacsError`` naming the server
and the reason; nothing half-written lands in the destination, and a study retrieved before
is still there, byte for byte, and opens. Skipped without Orthanc.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pydicom
import pytest

from orthogui.io.files import records_for
from orthogui.io.pacs import PacsError, query_studies, retrieve_study, store
from orthogui.io.readers import read_radiograph
from orthogui.io.store import ProjectStore
from tests.conftest import TEST_DATA
from tests.integration.orthanc_server import Orthanc

pytestmark = pytest.mark.pacs

DICOM = TEST_DATA / "dicom"
CR_STUDY = [DICOM / f"77654033_CR{i}.dcm" for i in ("1_6154", "2_6247", "3_6278")]  # 3 images
RG2_STUDY = [DICOM / "RG2_UNC.dcm"]


def _digests(folder: Path) -> dict[Path, str]:
    """Every file under ``folder`` (hidden ones too) with its SHA-256."""
    return {
        p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _study(server: Orthanc, patient_id: str) -> str:
    (row,) = query_studies(server.server(), patient_id=patient_id)
    return row.study_uid


@pytest.fixture
def pacs(orthanc_factory: Callable[[], Orthanc]) -> Orthanc:
    """A fresh Orthanc of its own (the test kills it) holding the two studies."""
    server = orthanc_factory()
    store(server.server(name="doomed-orthanc"), [pydicom.dcmread(f) for f in RG2_STUDY + CR_STUDY])
    return server


def test_orthanc_killed_mid_retrieve(pacs: Orthanc, tmp_path: Path) -> None:
    server = pacs.server(name="doomed-orthanc")
    inbox = tmp_path / "inbox"
    earlier = retrieve_study(server, _study(pacs, "10RG2"), inbox)  # a complete study first
    project = tmp_path / "p.orthogui"
    with ProjectStore.create(project, user="dr.test") as p:
        p.add_images_reporting(records_for(earlier))
    before = _digests(inbox)
    assert len(before) == 1

    cr = _study(pacs, "77654033")
    seen: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        if done == 1:  # the first instance is in; the server dies before the second
            pacs.kill()

    with pytest.raises(PacsError) as info:
        retrieve_study(server, cr, inbox, progress=progress)
    message = str(info.value)
    assert message.startswith(f"PACS doomed-orthanc ({server.url}): ")
    assert "connection refused" in message or "connection lost" in message, message
    assert f"retrieve of study {cr} failed at instance 2 of 3" in message  # where it stopped
    assert "\n" not in message
    assert seen[:2] == [(0, 3), (1, 3)] and (3, 3) not in seen

    assert _digests(inbox) == before  # no staging left, no part of the study
    assert sorted(p.name for p in inbox.iterdir()) == [earlier[0].parts[-3]]
    (kept,) = earlier
    assert read_radiograph(kept).stored.shape == (2140, 1760)  # still opens
    with ProjectStore.open(project, read_only=True) as p:
        (rec,) = p.model.images()
        assert p.image_path(rec) == kept

    # into a new folder: the folder the retrieve created goes again
    with pytest.raises(PacsError, match="connection refused"):
        retrieve_study(server, cr, tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()


def test_orthanc_killed_mid_retrieve_into_a_new_folder(pacs: Orthanc, tmp_path: Path) -> None:
    server = pacs.server(name="doomed-orthanc")
    cr = _study(pacs, "77654033")
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("mine")
    dest = work / "new" / "inbox"

    def progress(done: int, total: int) -> None:
        if done == 2:
            pacs.kill()

    with pytest.raises(PacsError, match="failed at instance 3 of 3"):
        retrieve_study(server, cr, dest, progress=progress)
    # the folders the retrieve created go with what it held; what was there stays
    assert [p.name for p in work.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("action", ["query", "retrieve", "store"])
def test_wrong_password_is_one_clear_401(orthanc: Orthanc, tmp_path: Path, action: str) -> None:
    server = orthanc.server(name="main-pacs", password="wrong")
    with pytest.raises(PacsError) as info:
        if action == "query":
            query_studies(server)
        elif action == "retrieve":
            retrieve_study(server, "1.2.3.4", tmp_path / "dest")
        else:
            store(server, [pydicom.dcmread(CR_STUDY[0])])
    message = str(info.value)
    assert message.startswith(f"PACS main-pacs ({orthanc.dicomweb}): ")
    assert message.endswith("401 Unauthorized: wrong user name, password or token"), message
    assert "\n" not in message and "wrong" not in server.label
    assert not (tmp_path / "dest").exists()


def test_wrong_port_is_one_clear_refusal(orthanc: Orthanc, tmp_path: Path) -> None:
    url = orthanc.dicomweb.replace(f":{orthanc.http_port}/", f":{orthanc.dicom_port}/")
    server = orthanc.server(name="main-pacs", url=url)  # Orthanc's DICOM port, not HTTP
    with pytest.raises(PacsError) as info:
        retrieve_study(server, "1.2.3.4", tmp_path / "dest")
    message = str(info.value)
    assert message == (
        f"PACS main-pacs ({url}): instance list of study 1.2.3.4 failed: connection lost: "
        "the server closed it without an answer (did it stop, is the port its HTTP port?)"
    )
    assert not (tmp_path / "dest").exists()
