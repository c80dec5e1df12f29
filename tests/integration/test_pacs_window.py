"""The PACS commands of the real window against a real Orthanc (DICOMweb): File → Open from
PACS… searched by typing and clicking, a study retrieved into the project's PACS folder with
the same pixels, a finding drawn and approved, Review → Send results to PACS… and the new
series found on the server; a stopped server, a study gone and Cancel each end in one clear
message, keeping what had arrived. Skipped without Orthanc (``scripts/orthanc.sh install``).
"""

from __future__ import annotations

import base64
import json
import signal
import sys
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox, QTableWidget, QWidget

from orthogui.core.project import ImageStatus
from orthogui.io import dimse
from orthogui.io.pacs import PacsCancelled, PacsError, query_series, query_studies, store
from orthogui.io.readers import pixel_sha256, read_radiograph
from orthogui.io.store import ProjectStore
from orthogui.ui.controllers.pacs import Retrieved, Sent
from orthogui.ui.dialogs.pacs import PacsQueryDialog, PacsSettings, ServerEntry
from orthogui.ui.dialogs.tables import cell_text
from orthogui.ui.main_window import MainWindow
from orthogui.ui.services import Services
from tests.conftest import SHARED_DATA, TEST_DATA
from tests.integration.conftest import PASSWORD, USER, Orthanc
from tests.integration.orthanc_server import AET
from tests.ui import _gestures as g
from tests.ui._workbench import show_window, write_png16

pytestmark = pytest.mark.pacs

K = Qt.Key
LEFT = Qt.MouseButton.LeftButton
CTRL = Qt.KeyboardModifier.ControlModifier
NO_MODS = Qt.KeyboardModifier.NoModifier
RG1_PATIENT = "9RG1"
CR_PATIENT = "77654033"
CR_FILES = [TEST_DATA / "dicom" / f"77654033_CR{i}" for i in (1, 2, 3)]
CR_FILES = [next(TEST_DATA.joinpath("dicom").glob(f"{p.name}_*.dcm")) for p in CR_FILES]
SERVER = "test-orthanc"


def rg1_file() -> Path:
    """A chest CR from the shared data (uncompressed), else the repository's J2K copy."""
    shared = SHARED_DATA / "dicom" / "RG1_UNCR.dcm"
    return shared if shared.is_file() else TEST_DATA / "dicom" / "RG1_J2KR.dcm"


def upload(server: Orthanc, files: list[Path]) -> None:
    result = store(server.server(), [pydicom.dcmread(f) for f in files])
    assert len(result.stored) == len(files)


@pytest.fixture(scope="module")
def uploaded(orthanc: Orthanc) -> Path:
    """The RG1 chest CR and the three tiny CRs on the session's Orthanc; the RG1 file."""
    upload(orthanc, [rg1_file(), *CR_FILES])
    return rg1_file()


@pytest.fixture(autouse=True)
def _no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never the user's keyring: passwords stay in the test session's memory."""
    monkeypatch.setitem(sys.modules, "keyring", None)


def window(qtbot, tmp_path: Path, server: Orthanc | None, name: str = SERVER) -> MainWindow:  # type: ignore[no-untyped-def]
    """A new project in ``tmp_path/project`` with ``server`` known as ``name``."""
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    folder = tmp_path / "project"
    folder.mkdir()
    services = Services(
        ProjectStore.create(folder / "p.orthogui"), user="tester", settings=settings
    )
    url = server.dicomweb if server is not None else "http://127.0.0.1:9/dicom-web"
    PacsSettings.of(services).save([ServerEntry(name, url, "basic", USER)], {name: PASSWORD})
    return show_window(qtbot, MainWindow(services))


def choose(qtbot, win: MainWindow, menu_name: str, action: str) -> None:  # type: ignore[no-untyped-def]
    """Click the menu in the menu bar, then its item (an action's name)."""
    bar = win.menuBar()
    menu = win.findChild(QMenu, menu_name)
    assert menu is not None
    qtbot.mouseClick(bar, LEFT, pos=bar.actionGeometry(menu.menuAction()).center())
    qtbot.waitUntil(menu.isVisible, timeout=5000)
    act = win.action_map[action]
    assert act.isEnabled()
    qtbot.mouseClick(menu, LEFT, pos=menu.actionGeometry(act).center())


def click(qtbot, w: QWidget) -> None:  # type: ignore[no-untyped-def]
    qtbot.mouseClick(w, LEFT, pos=QPoint(w.width() // 2, w.height() // 2))


def type_into(qtbot, edit: QWidget, text: str) -> None:  # type: ignore[no-untyped-def]
    click(qtbot, edit)
    qtbot.keyClicks(edit, text)


def click_row(qtbot, table: QTableWidget, row: int, mods=NO_MODS) -> None:  # type: ignore[no-untyped-def]
    item = table.item(row, 0)
    assert item is not None
    qtbot.mouseClick(table.viewport(), LEFT, mods, table.visualItemRect(item).center())


def open_query(qtbot, win: MainWindow) -> PacsQueryDialog:  # type: ignore[no-untyped-def]
    choose(qtbot, win, "menu_File", "open_pacs")
    qtbot.waitUntil(lambda: win.pacs.query_dialog is not None, timeout=5000)
    dlg = win.pacs.query_dialog
    assert dlg is not None
    qtbot.waitExposed(dlg)
    qtbot.waitUntil(dlg.isActiveWindow, timeout=5000)
    return dlg


def search(qtbot, win: MainWindow, dlg: PacsQueryDialog) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(win.pacs.searched, timeout=30000):
        click(qtbot, dlg.search_button)


def retrieve(qtbot, win: MainWindow, dlg: PacsQueryDialog) -> tuple[Retrieved, object]:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(win.pacs.retrieved, timeout=60000) as blocker:
        click(qtbot, dlg.retrieve_button)
    result, report = blocker.args
    assert isinstance(result, Retrieved)
    return result, report


def messages() -> list[QMessageBox]:
    """The PACS message boxes on screen."""
    return [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, QMessageBox) and w.objectName() == "pacsErrorMessage" and w.isVisible()
    ]


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_search_retrieve_review_and_send(
    qtbot, tmp_path: Path, orthanc: Orthanc, uploaded: Path
) -> None:
    win = window(qtbot, tmp_path, orthanc)
    assert not win.action_map["send_to_pacs"].isEnabled()  # no approved image
    dlg = open_query(qtbot, win)
    assert dlg.server_name() == SERVER
    assert not dlg.retrieve_button.isEnabled()
    type_into(qtbot, dlg.id_edit, RG1_PATIENT)
    search(qtbot, win, dlg)
    assert dlg.table.rowCount() == 1
    row = [cell_text(dlg.table, 0, c) for c in range(dlg.table.columnCount())]
    assert row[:4] == ["CompressedSamples RG1", RG1_PATIENT, "2004-08-26", "exam Number"]
    assert "CR" in row[4].split("/") and row[5] == "THORAX"
    assert "1 study found on test-orthanc" in dlg.message.text()

    seen: list[tuple[int, int, int]] = []
    win.pacs.progress.connect(lambda *a: seen.append(a))
    click_row(qtbot, dlg.table, 0)
    assert dlg.retrieve_button.isEnabled()
    with qtbot.waitSignal(win.loader.loaded, timeout=60000):
        result, report = retrieve(qtbot, win, dlg)
    assert result.stopped is None and len(result.studies) == 1
    (rec,) = report.added  # type: ignore[attr-defined]
    study_uid = str(pydicom.dcmread(uploaded, stop_before_pixels=True).StudyInstanceUID)
    path = win.store.image_path(rec)
    assert path.is_relative_to(tmp_path / "project" / "pacs" / study_uid)
    assert seen and seen[-1][1] == seen[-1][2]  # the bar reached the end
    assert not dlg.progress.isVisible()
    assert "Retrieved 1 study from test-orthanc" in dlg.message.text()
    # In the queue, open, the pixels bit for bit those of the file sent to the PACS.
    assert win.queue_panel.ordered_ids() == [rec.id]
    assert win.image_id == rec.id and win.radiograph is not None
    assert pixel_sha256(win.radiograph.stored) == pixel_sha256(read_radiograph(uploaded).stored)
    click(qtbot, dlg.close_button)
    qtbot.waitUntil(lambda: not dlg.isVisible(), timeout=5000)

    # Draw a box (a finding of the reviewer: accepted), approve with Enter.
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=5000)
    canvas = win.canvas
    qtbot.keyClick(canvas, K.Key_B)
    g.drag(qtbot, canvas, [g.at(canvas, 600, 700), g.at(canvas, 1100, 1000)])
    (finding,) = win.model.annotations(rec.id)
    assert finding.review.state.value == "accepted"
    qtbot.keyClick(win, K.Key_Return)
    qtbot.waitUntil(lambda: win.model.image(rec.id).status is ImageStatus.APPROVED)
    assert win.action_map["send_to_pacs"].isEnabled()

    server = orthanc.server()
    before = {s.series_uid for s in query_series(server, study_uid)}
    choose(qtbot, win, "menu_Review", "send_to_pacs")
    qtbot.waitUntil(lambda: win.pacs.send_dialog is not None, timeout=5000)
    send = win.pacs.send_dialog
    assert send is not None and send.server_combo.currentText() == SERVER
    assert path.name in send.what.text()
    with qtbot.waitSignal(win.pacs.sent, timeout=60000) as blocker:
        click(qtbot, send.send_button)
    sent = blocker.args[0]
    assert isinstance(sent, Sent) and not sent.refused
    assert sent.images == ((path.name, ("SR", "SEG")),)
    status = win.statusBar().currentMessage()
    assert status.startswith("Sent 1 SEG, 1 SR for ") and "test-orthanc (http://127.0.0.1" in status
    assert messages() == []

    # The PACS has the new series in the image's study.
    new = [s for s in query_series(server, study_uid) if s.series_uid not in before]
    assert sorted(s.modality for s in new) == ["SEG", "SR"]
    assert len(sent.stored) == 2
    (study,) = query_studies(server, patient_id=RG1_PATIENT)
    assert {"SR", "SEG"} <= set(study.modalities)
    win.close()


def test_a_dimse_server_searches_retrieves_and_receives_the_results(
    qtbot, tmp_path: Path, orthanc: Orthanc, uploaded: Path
) -> None:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    (tmp_path / "project").mkdir()
    services = Services(
        ProjectStore.create(tmp_path / "project" / "p.orthogui"), user="tester", settings=settings
    )
    copy = pydicom.dcmread(uploaded)  # a study of its own: no results sent to it before
    copy.PatientID = "DIMSE-UI"
    copy.StudyInstanceUID, copy.SeriesInstanceUID = generate_uid(), generate_uid()
    copy.SOPInstanceUID = copy.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    server = orthanc.dimse()
    assert dimse.store(server, [copy]).stored == (copy.SOPInstanceUID,)
    port = str(orthanc.dicom_port)
    entry = ServerEntry("old-pacs", "", protocol="dimse", host="127.0.0.1", port=port)
    PacsSettings.of(services).save([replace(entry, called_aet=AET)], {})
    win = show_window(qtbot, MainWindow(services))
    dlg = open_query(qtbot, win)
    assert dlg.server_name() == "old-pacs"
    type_into(qtbot, dlg.id_edit, "DIMSE-UI")
    search(qtbot, win, dlg)
    assert dlg.table.rowCount() == 1
    assert cell_text(dlg.table, 0, 1) == "DIMSE-UI" and cell_text(dlg.table, 0, 5) == "THORAX"
    click_row(qtbot, dlg.table, 0)
    with qtbot.waitSignal(win.loader.loaded, timeout=60000):
        result, report = retrieve(qtbot, win, dlg)
    assert result.stopped is None and len(result.studies) == 1
    (rec,) = report.added  # type: ignore[attr-defined]
    study_uid = str(copy.StudyInstanceUID)
    path = win.store.image_path(rec)
    assert path.is_relative_to(tmp_path / "project" / "pacs" / study_uid)
    assert win.radiograph is not None
    assert pixel_sha256(win.radiograph.stored) == pixel_sha256(read_radiograph(uploaded).stored)
    assert "Retrieved 1 study from old-pacs" in dlg.message.text()
    click(qtbot, dlg.close_button)
    qtbot.waitUntil(lambda: not dlg.isVisible(), timeout=5000)

    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=5000)
    qtbot.keyClick(win.canvas, K.Key_B)
    g.drag(qtbot, win.canvas, [g.at(win.canvas, 600, 700), g.at(win.canvas, 1100, 1000)])
    qtbot.keyClick(win, K.Key_Return)
    qtbot.waitUntil(lambda: win.model.image(rec.id).status is ImageStatus.APPROVED)
    before = {s.series_uid for s in dimse.query_series(server, study_uid)}
    choose(qtbot, win, "menu_Review", "send_to_pacs")
    qtbot.waitUntil(lambda: win.pacs.send_dialog is not None, timeout=5000)
    send = win.pacs.send_dialog
    assert send is not None and send.server_combo.currentText() == "old-pacs"
    with qtbot.waitSignal(win.pacs.sent, timeout=60000) as blocker:
        click(qtbot, send.send_button)
    sent = blocker.args[0]
    assert isinstance(sent, Sent) and sent.images == ((path.name, ("SR", "SEG")),)
    status = win.statusBar().currentMessage()
    assert f"old-pacs ({AET}@127.0.0.1:{port})" in status and messages() == []
    new = [s for s in dimse.query_series(server, study_uid) if s.series_uid not in before]
    assert sorted(s.modality for s in new) == ["SEG", "SR"]
    win.close()


def test_a_stopped_server_is_one_message_and_adds_nothing(
    qtbot, tmp_path: Path, orthanc_factory: Callable[[], Orthanc]
) -> None:
    other = orthanc_factory()
    upload(other, CR_FILES)
    win = window(qtbot, tmp_path, other, name="ward-pacs")
    dlg = open_query(qtbot, win)
    type_into(qtbot, dlg.id_edit, CR_PATIENT)
    search(qtbot, win, dlg)
    assert dlg.table.rowCount() == 1 and cell_text(dlg.table, 0, 6) == "3"
    click_row(qtbot, dlg.table, 0)
    other.stop()

    with qtbot.waitSignal(win.pacs.failed, timeout=30000) as blocker:
        click(qtbot, dlg.retrieve_button)
    text = blocker.args[0]
    assert text.startswith("PACS ward-pacs (http://127.0.0.1:") and "connection refused" in text
    assert "Nothing was retrieved" in text
    qtbot.waitUntil(lambda: len(messages()) == 1, timeout=5000)
    assert messages()[0].text() == text and dlg.message.text() == text
    assert win.model.images() == [] and files_under(tmp_path / "project" / "pacs") == []
    assert dlg.retrieve_button.isEnabled()  # ready to try again

    # Searching again: still one message (the new one), naming the server.
    with qtbot.waitSignal(win.pacs.failed, timeout=30000):
        click(qtbot, dlg.search_button)
    qtbot.waitUntil(lambda: len(messages()) == 1 and "study query failed" in messages()[0].text())
    assert "ward-pacs" in messages()[0].text()
    win.close()


def _delete_study(server: Orthanc, study_uid: str) -> None:
    """Delete a study through Orthanc's REST API (as an administrator would)."""
    auth = {"Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}
    req = urllib.request.Request(
        server.root + "/tools/lookup", data=study_uid.encode(), headers=auth, method="POST"
    )
    with urllib.request.urlopen(req, timeout=5) as r:
        (found,) = [x for x in json.loads(r.read()) if x["Type"] == "Study"]
    req = urllib.request.Request(
        f"{server.root}/studies/{found['ID']}", headers=auth, method="DELETE"
    )
    urllib.request.urlopen(req, timeout=5).close()


@pytest.fixture
def two_studies(orthanc_factory: Callable[[], Orthanc]) -> Iterator[Orthanc]:
    other = orthanc_factory()
    upload(other, [rg1_file(), *CR_FILES])
    yield other


def test_a_failed_second_study_keeps_the_first(qtbot, tmp_path: Path, two_studies: Orthanc) -> None:
    win = window(qtbot, tmp_path, two_studies, name="ward-pacs")
    dlg = open_query(qtbot, win)
    type_into(qtbot, dlg.from_edit, "2000-01-01")
    search(qtbot, win, dlg)
    assert [cell_text(dlg.table, r, 1) for r in range(2)] == [RG1_PATIENT, CR_PATIENT]
    click_row(qtbot, dlg.table, 0)
    click_row(qtbot, dlg.table, 1, Qt.KeyboardModifier.ShiftModifier)
    assert len(dlg.chosen_rows()) == 2
    _delete_study(two_studies, dlg.chosen_rows()[1].study_uid)  # gone before its turn

    with qtbot.waitSignal(win.pacs.failed, timeout=60000) as blocker:
        result, report = retrieve(qtbot, win, dlg)
    text = blocker.args[0]
    assert text.startswith("PACS ward-pacs (") and "404" in text
    assert "1 study kept: Added 1 image(s)" in text
    assert [r.patient_id for r in result.studies] == [RG1_PATIENT]
    assert isinstance(result.stopped, PacsError)
    (rec,) = report.added  # type: ignore[attr-defined]
    assert [r.id for r in win.model.images()] == [rec.id]
    assert files_under(tmp_path / "project" / "pacs") == [win.store.image_path(rec)]
    qtbot.waitUntil(lambda: len(messages()) == 1, timeout=5000)
    win.close()


def test_cancel_stops_the_retrieve_and_says_so(qtbot, tmp_path: Path, two_studies: Orthanc) -> None:
    win = window(qtbot, tmp_path, two_studies, name="ward-pacs")
    dlg = open_query(qtbot, win)
    type_into(qtbot, dlg.id_edit, CR_PATIENT)
    search(qtbot, win, dlg)
    click_row(qtbot, dlg.table, 0)
    assert two_studies.process is not None
    two_studies.process.send_signal(signal.SIGSTOP)  # the server holds its answer
    try:
        click(qtbot, dlg.retrieve_button)
        assert dlg.cancel_button.isVisible() and not dlg.retrieve_button.isEnabled()
        with qtbot.waitSignal(win.pacs.retrieved, timeout=30000) as blocker:
            click(qtbot, dlg.cancel_button)
            two_studies.process.send_signal(signal.SIGCONT)
    finally:
        two_studies.process.send_signal(signal.SIGCONT)
    result, report = blocker.args
    assert isinstance(result.stopped, PacsCancelled) and report.added == ()
    assert dlg.message.text() == "Retrieve from ward-pacs cancelled. Nothing was retrieved."
    assert messages() == [] and win.model.images() == []
    assert files_under(tmp_path / "project" / "pacs") == []
    assert not dlg.cancel_button.isVisible() and dlg.retrieve_button.isEnabled()
    win.close()


def test_send_is_refused_for_an_image_that_is_not_dicom(qtbot, tmp_path: Path) -> None:
    win = window(qtbot, tmp_path, None)
    png = write_png16(tmp_path / "knee.png")
    with qtbot.waitSignal(win.loader.loaded, timeout=10000):
        win.add_paths([png])
    assert not win.action_map["send_to_pacs"].isEnabled()
    canvas = win.canvas
    qtbot.keyClick(canvas, K.Key_B)
    g.drag(qtbot, canvas, [g.at(canvas, 40, 40), g.at(canvas, 120, 100)])
    qtbot.keyClick(win, K.Key_Return)
    qtbot.waitUntil(lambda: win.action_map["send_to_pacs"].isEnabled(), timeout=5000)
    choose(qtbot, win, "menu_Review", "send_to_pacs")
    qtbot.waitUntil(lambda: win.pacs.send_dialog is not None, timeout=5000)
    send = win.pacs.send_dialog
    assert send is not None
    with qtbot.waitSignal(win.pacs.failed, timeout=30000) as blocker:
        click(qtbot, send.send_button)
    text = blocker.args[0]
    assert text.startswith(f"Nothing sent to {SERVER}: ") and "knee.png" in text
    assert "not a DICOM image" in text
    qtbot.waitUntil(lambda: len(messages()) == 1, timeout=5000)
    assert win.statusBar().currentMessage() == text
    win.close()


def test_the_search_form_says_what_is_missing(qtbot, tmp_path: Path) -> None:
    win = window(qtbot, tmp_path, None)
    dlg = open_query(qtbot, win)
    click(qtbot, dlg.search_button)
    assert "Give a patient name, patient ID, accession number or study date" in dlg.message.text()
    type_into(qtbot, dlg.from_edit, "2024-13-45")
    qtbot.keyClick(dlg.from_edit, K.Key_Return)
    assert "Not searched" in dlg.message.text() and dlg.table.rowCount() == 0
    win.close()
