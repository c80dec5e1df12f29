"""Render docs/patient-banner.png and docs/queue-grouped.png from the real window.

Run: QT_QPA_PLATFORM=offscreen .venv/bin/python docs/screenshots/make_patient_screenshots.py
Needs ../shared/data/fracatlas: its radiographs are written as DICOM files of two invented
patients (DOE^JANE, ROE^RICHARD) with invented IDs, dates and accession numbers.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QEventLoop, QTimer

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from orthogui import app  # noqa: E402
from orthogui.io.dicom_writer import DicomImageInfo, write_dicom  # noqa: E402
from orthogui.io.store import ProjectStore  # noqa: E402
from orthogui.ui.main_window import MainWindow  # noqa: E402

ATLAS = ROOT.parent / "shared" / "data" / "fracatlas" / "images"
JANE = {"PatientName": "DOE^JANE", "PatientID": "MRN-004711", "PatientSex": "F"}
JANE |= {"PatientBirthDate": "19580314"}
RICHARD = {"PatientName": "ROE^RICHARD", "PatientID": "MRN-008150", "PatientSex": "M"}
RICHARD |= {"PatientBirthDate": "19710922"}
FILMS = [  # file, patient, study (uid, date, description, accession), view, laterality
    ("IMG0000443.jpg", JANE, ("1.2.826.0.1.99.1", "20240302", "LOWER LEG", "ACC-2024-0311"), "AP", "L"),
    ("IMG0000453.jpg", JANE, ("1.2.826.0.1.99.1", "20240302", "LOWER LEG", "ACC-2024-0311"), "LAT", "L"),
    ("IMG0000092.jpg", JANE, ("1.2.826.0.1.99.2", "20240611", "ANKLE", "ACC-2024-0982"), "AP", "L"),
    ("IMG0000008.jpg", RICHARD, ("1.2.826.0.1.99.3", "20231120", "HAND", "ACC-2023-4410"), "PA", "R"),
    ("IMG0000019.jpg", RICHARD, ("1.2.826.0.1.99.3", "20231120", "HAND", "ACC-2023-4410"), "OBL", "R"),
]  # fmt: skip


def settle(ms: int = 300) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait(signal, ms: int = 10000) -> None:  # type: ignore[no-untyped-def]
    loop = QEventLoop()
    signal.connect(lambda *a: loop.quit())
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def write_films(folder: Path) -> list[Path]:
    import pydicom

    out = []
    for i, (name, patient, (uid, date, desc, acc), view, side) in enumerate(FILMS):
        grey = np.asarray(Image.open(ATLAS / name).convert("L"), dtype=np.uint16) * 16
        info = DicomImageInfo(
            bits_stored=12, pixel_spacing_mm=0.15, view_position=view, laterality=side
        )
        path = write_dicom(folder / f"{i}_{Path(name).stem}.dcm", grey, info, uid_seed=name)
        ds = pydicom.dcmread(path)
        for key, value in patient.items():
            setattr(ds, key, value)
        ds.StudyInstanceUID, ds.StudyDate, ds.StudyDescription = uid, date, desc
        ds.AccessionNumber = acc
        del ds.PatientIdentityRemoved
        ds.save_as(path)
        out.append(path)
    return out


def main() -> int:
    qapp = app.create_application(["orthogui"])
    tmp = Path(tempfile.mkdtemp())
    films = write_films(tmp)
    store = ProjectStore.create(tmp / "Trauma clinic.orthogui", user="dr.lee")
    win = MainWindow(store, user="dr.lee")
    win.resize(1500, 900)
    win.show()
    win.add_paths(films)
    wait(win.loader.loaded)
    win.queue_panel.group_check.setChecked(True)
    settle()
    docs = ROOT / "docs"
    win.grab().save(str(docs / "patient-banner.png"))
    win.queue_panel.grab().save(str(docs / "queue-grouped.png"))
    win.close()
    qapp.processEvents()
    print("wrote", [str(docs / n) for n in ("patient-banner.png", "queue-grouped.png")])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
