"""Render docs/screenshot-pacs-query.png and docs/screenshot-pacs-servers.png from the real
window talking to a real, throw-away Orthanc.

Run: Xvfb :57 -screen 0 1600x1000x24 & DISPLAY=:57 .venv/bin/python
docs/screenshots/make_pacs_screenshots.py
Needs Orthanc with its DICOMweb plugin (scripts/orthanc.sh install) and ../shared/data/fracatlas:
its radiographs are written as DICOM files of two invented patients (see
make_patient_screenshots.py) and stored on the Orthanc.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pydicom
from PySide6.QtCore import QEventLoop, QItemSelectionModel, QSettings, QTimer

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_patient_screenshots import write_films  # noqa: E402

from orthogui import app  # noqa: E402
from orthogui.io.pacs import store  # noqa: E402
from orthogui.io.store import ProjectStore  # noqa: E402
from orthogui.ui.dialogs.pacs import PacsSettings, ServerEntry  # noqa: E402
from orthogui.ui.main_window import MainWindow  # noqa: E402
from orthogui.ui.services import Services  # noqa: E402
from tests.integration.conftest import PASSWORD, USER, start_orthanc  # noqa: E402


def settle(ms: int = 300) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait(signal, ms: int = 20000) -> None:  # type: ignore[no-untyped-def]
    loop = QEventLoop()
    signal.connect(lambda *a: loop.quit())
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def main() -> int:
    qapp = app.create_application(["orthogui"])
    tmp = Path(tempfile.mkdtemp())
    orthanc = start_orthanc(tmp / "orthanc")
    try:
        for folder in ("films", "clinic"):
            (tmp / folder).mkdir()
        films = write_films(tmp / "films")
        store(orthanc.server(), [pydicom.dcmread(f) for f in films])
        settings = QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)
        project = ProjectStore.create(tmp / "clinic" / "Trauma clinic.orthogui", user="dr.lee")
        services = Services(project, user="dr.lee", settings=settings)
        pacs = PacsSettings.of(services)
        pacs.save(
            [
                ServerEntry("Hospital PACS", orthanc.dicomweb, "basic", USER),
                ServerEntry("Teaching archive", "https://teaching.example/dicom-web", "token"),
            ],
            {"Hospital PACS": PASSWORD},
        )
        win = MainWindow(services)
        win.resize(1400, 880)
        win.show()
        settle()
        docs = ROOT / "docs"

        servers = win.pacs.open_servers()
        settle()
        servers.grab().save(str(docs / "screenshot-pacs-servers.png"))
        servers.reject()
        settle()

        dlg = win.pacs.open_query()
        dlg.from_edit.setText("2023-01-01")
        dlg.search_button.click()
        wait(win.pacs.searched)
        settle()
        select = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        for row in (0, 1):
            dlg.table.selectionModel().select(dlg.table.model().index(row, 0), select)
        settle()
        dlg.grab().save(str(docs / "screenshot-pacs-query.png"))
        qapp.primaryScreen().grabWindow(0).save(str(tmp / "screen.png"))  # as on screen
        dlg.retrieve_button.click()
        wait(win.pacs.retrieved, 60000)
        wait(win.loader.loaded)
        settle(600)
        win.grab().save(str(tmp / "after-retrieve.png"))
        print("wrote", docs / "screenshot-pacs-query.png", docs / "screenshot-pacs-servers.png")
        print(
            "the screen, the window after the retrieve:",
            tmp / "screen.png",
            tmp / "after-retrieve.png",
        )
        dlg.close()
        win.close()
        qapp.processEvents()
    finally:
        orthanc.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
