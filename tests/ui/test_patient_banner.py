"""Whose film is open: the banner above the canvas names the patient, study and side of the
image shown (from its DICOM header; "—" for a PNG) and hides the identifying facts in
de-identified display mode (remembered); the queue groups patient → study → image, and real
clicks and PgDown move through the groups."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QTreeWidgetItem

from orthogui.io.store import ProjectStore
from orthogui.ui.main_window import MainWindow
from orthogui.ui.services import Services
from tests.ui._workbench import FakePredictor, show_window, write_png16
from tests.unit.io.test_readers_dicom import make_dicom

K = Qt.Key
JANE = {
    "PatientName": "DOE^JANE",
    "PatientID": "P001",
    "PatientSex": "F",
    "PatientBirthDate": "19700102",
    "AccessionNumber": "ACC123",
}


def film(path: Path, seed: int, **attrs: str) -> Path:
    rng = np.random.default_rng(seed)
    return make_dicom(path, rng.integers(0, 4000, (128, 160), dtype=np.uint16), **attrs)


@pytest.fixture
def films(tmp_path: Path) -> list[Path]:
    """Jane: two studies (knee: 1 film, hip: 2 films); Richard: one study; one PNG."""
    d = tmp_path / "films"
    d.mkdir()
    knee = {**JANE, "StudyInstanceUID": "1.2.3.1", "StudyDate": "20240301"}
    hip = {**JANE, "StudyInstanceUID": "1.2.3.2", "StudyDate": "20240415"}
    rich = {"PatientName": "ROE^RICHARD", "PatientID": "P002", "StudyInstanceUID": "1.2.3.3"}
    return [
        film(d / "a_knee.dcm", 0, **knee, StudyDescription="KNEE", ImageLaterality="L",
             ViewPosition="AP"),
        film(d / "b_hip_ap.dcm", 1, **hip, StudyDescription="HIP", ViewPosition="AP"),
        film(d / "c_hip_lat.dcm", 2, **hip, StudyDescription="HIP", ViewPosition="LAT"),
        film(d / "d_spine.dcm", 3, **rich, StudyDate="20230910", ViewPosition="PA"),
        write_png16(d / "e_plain.png", seed=4),
    ]  # fmt: skip


def make_window(qtbot, project: Path, settings: QSettings) -> MainWindow:  # type: ignore[no-untyped-def]
    store = ProjectStore.open(project) if project.exists() else ProjectStore.create(project)
    win = MainWindow(Services(store, user="tester", settings=settings), predictor=FakePredictor())
    return show_window(qtbot, win)


def click_row(qtbot, win: MainWindow, item: QTreeWidgetItem) -> None:  # type: ignore[no-untyped-def]
    tree = win.queue_panel.tree
    tree.scrollToItem(item)
    rect = tree.visualItemRect(item)
    assert rect.isValid()
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def open_by_click(qtbot, win: MainWindow, name: str) -> None:  # type: ignore[no-untyped-def]
    item = next(
        win.queue_panel._items[r.id] for r in win.model.images() if Path(r.path).name == name
    )
    if win.image_id is not None and shown_name(win) == name:
        click_row(qtbot, win, item)  # the image on screen: nothing to load
    else:
        with qtbot.waitSignal(win.loader.loaded, timeout=10000):
            click_row(qtbot, win, item)
    assert Path(win.model.image(win.image_id).path).name == name


def shown_name(win: MainWindow) -> str:
    assert win.image_id is not None
    return Path(win.model.image(win.image_id).path).name


def tree_text(win: MainWindow) -> list[str]:
    """The visible rows, indented by depth."""
    tree, out = win.queue_panel.tree, []

    def walk(item: QTreeWidgetItem | None, depth: int) -> None:
        if item is not None and not item.isHidden():
            out.append("  " * depth + item.text(0))
            for i in range(item.childCount()):
                walk(item.child(i), depth + 1)

    for i in range(tree.topLevelItemCount()):
        walk(tree.topLevelItem(i), 0)
    return out


def test_banner_names_the_patient_and_hides_them_when_deidentified(
    qtbot, tmp_path: Path, films: list[Path]
) -> None:
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    win = make_window(qtbot, tmp_path / "p.orthogui", settings)
    with qtbot.waitSignal(win.loader.loaded, timeout=10000):
        win.add_paths(films)
    banner = win.patient.banner
    assert banner.isVisible() and banner.geometry().bottom() < win.canvas.geometry().top()
    open_by_click(qtbot, win, "a_knee.dcm")
    assert banner.visible_facts() == {
        "Patient": "DOE, JANE",
        "ID": "P001",
        "Sex": "F",
        "Born": "1970-01-02",
        "Study date": "2024-03-01",
        "Accession": "ACC123",
        "Laterality": "L",
        "View": "AP",
    }
    open_by_click(qtbot, win, "e_plain.png")
    assert set(banner.visible_facts().values()) == {"—"}  # a PNG has none of them
    open_by_click(qtbot, win, "d_spine.dcm")
    facts = banner.visible_facts()
    assert facts["Patient"] == "ROE, RICHARD" and facts["View"] == "PA"
    assert facts["Sex"] == "—" and facts["Laterality"] == "—"

    action = win.findChild(QAction, "action_deidentified")  # in the View menu
    assert action is not None
    action.trigger()
    assert banner.visible_facts() == {"Laterality": "—", "View": "PA"}
    assert banner.note.isVisible()
    qtbot.keyClick(win, K.Key_PageUp)  # paging keeps the mode
    qtbot.waitUntil(lambda: shown_name(win) == "c_hip_lat.dcm", timeout=10000)
    qtbot.waitUntil(lambda: banner.visible_facts().get("View") == "LAT", timeout=10000)
    assert "Patient" not in banner.visible_facts()
    win.close()

    again = make_window(qtbot, tmp_path / "p.orthogui", settings)  # remembered in settings
    assert again.patient.action.isChecked() and again.patient.banner.is_deidentified()
    again.patient.set_deidentified(False)
    assert settings.value("view/deidentified") in (False, "false")


def test_queue_groups_patient_study_image_and_pages_across_groups(
    qtbot, tmp_path: Path, films: list[Path]
) -> None:
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    win = make_window(qtbot, tmp_path / "p.orthogui", settings)
    with qtbot.waitSignal(win.loader.loaded, timeout=10000):
        win.add_paths(films)
    panel = win.queue_panel
    assert not panel.is_grouped() and panel.tree.topLevelItemCount() == 5  # flat by default
    check = panel.group_check
    qtbot.mouseClick(check, Qt.MouseButton.LeftButton, pos=QPoint(8, check.height() // 2))
    assert panel.is_grouped()
    assert tree_text(win) == [
        "DOE, JANE · ID P001 (3)",
        "  2024-03-01 · KNEE (1)",
        "    a_knee.dcm",
        "  2024-04-15 · HIP (2)",
        "    b_hip_ap.dcm",
        "    c_hip_lat.dcm",
        "ROE, RICHARD · ID P002 (1)",
        "  2023-09-10 (1)",
        "    d_spine.dcm",
        "Unknown patient (1)",
        "  Unknown study (1)",
        "    e_plain.png",
    ]
    assert panel.ordered_ids() == [
        r.id for r in sorted(win.model.images(), key=lambda r: Path(r.path).name)
    ]

    opened = win.image_id
    jane = panel.tree.topLevelItem(0)
    assert jane is not None
    click_row(qtbot, win, jane)  # a patient row opens nothing
    assert win.image_id == opened and panel.selected_ids() == []
    open_by_click(qtbot, win, "a_knee.dcm")
    seen = [shown_name(win)]
    for _ in range(4):  # PgDown crosses studies and patients
        qtbot.keyClick(win, K.Key_PageDown)
        last = seen[-1]
        qtbot.waitUntil(lambda last=last: shown_name(win) != last, timeout=10000)
        seen.append(shown_name(win))
    assert seen == ["a_knee.dcm", "b_hip_ap.dcm", "c_hip_lat.dcm", "d_spine.dcm", "e_plain.png"]
    qtbot.keyClick(win, K.Key_PageUp)
    qtbot.waitUntil(lambda: shown_name(win) == "d_spine.dcm", timeout=10000)

    jane.setExpanded(False)  # paging into a collapsed group opens it
    open_by_click(qtbot, win, "d_spine.dcm")
    qtbot.keyClick(win, K.Key_PageUp)
    qtbot.waitUntil(lambda: shown_name(win) == "c_hip_lat.dcm", timeout=10000)
    top = panel.tree.topLevelItem(0)
    assert top is jane and top.isExpanded()

    panel.sort_combo.setCurrentIndex(panel.sort_combo.findData("name"))
    win.patient.set_deidentified(True)  # no names, IDs or dates in the groups
    rows = tree_text(win)
    assert rows[:3] == ["Patient 1 (3)", "  Study 1 (1)", "    a_knee.dcm"]
    assert not any("DOE" in r or "P00" in r or "2024" in r for r in rows)
    win.close()

    again = make_window(qtbot, tmp_path / "p.orthogui", settings)
    assert again.queue_panel.is_grouped()  # remembered
    qtbot.mouseClick(again.queue_panel.group_check, Qt.MouseButton.LeftButton, pos=QPoint(8, 8))
    assert again.queue_panel.tree.topLevelItemCount() == 5
