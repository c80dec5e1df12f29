"""Screw inventory: counts by type and length (mm), rejected excluded, CSV, HTML and PDF."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from orthogui.core.annotation import Annotation, Prediction, ReviewState
from orthogui.core.inventory import build_inventory, to_csv, to_html
from orthogui.core.project import ImageRecord, ProjectModel
from orthogui.core.review import set_state
from orthogui.ui.dialogs.inventory import InventoryDialog
from tests.ui._workbench import screw


def _model() -> ProjectModel:
    m = ProjectModel()
    m.put_image(ImageRecord("a", "/x/a.png", attributes={"pixel_spacing": [0.5, 0.25]}))
    m.put_image(ImageRecord("b", "/x/b.png"))  # no spacing

    def pred(cat: str, length: float, image: str, y: float = 10) -> Annotation:
        p = Prediction(cat, 0.9, screw(10, y, length, 4), "fake", "1")
        return Annotation.from_prediction(p, image_id=image)

    accepted = set_state([pred("cortical_screw", 160, "a")], ReviewState.ACCEPTED, user="t")
    rejected = set_state([pred("cortical_screw", 160, "a", 40)], ReviewState.REJECTED, user="t")
    m.load(
        [],
        [
            accepted.after[0],  # 160 px x 0.25 mm = 40 mm
            pred("cortical_screw", 160, "a", 20),  # proposed, counts as unreviewed
            rejected.after[0],  # excluded
            pred("locking_screw", 200, "a", 30),  # 50 mm
            pred("locking_screw", 90, "b"),  # length unknown
            pred("fracture", 50, "b"),  # not a screw
        ],
    )
    return m


def test_counts_lengths_and_exclusions() -> None:
    inv = build_inventory(_model())
    per = {(r.image, r.screw_type, r.length_mm): (r.count, r.unreviewed) for r in inv.per_image}
    assert per == {
        ("a.png", "cortical_screw", 40): (2, 1),
        ("a.png", "locking_screw", 50): (1, 1),
        ("b.png", "locking_screw", None): (1, 1),
    }
    study = {(r.screw_type, r.length_mm): r.count for r in inv.totals}
    assert study == {
        ("cortical_screw", 40): 2,
        ("locking_screw", 50): 1,
        ("locking_screw", None): 1,
    }
    assert inv.total() == 4 and inv.images_without_spacing == ("b.png",)
    # spacing given by the window (from the loaded radiograph) wins over none
    inv2 = build_inventory(_model(), image_ids=["b"], spacings={"b": (1.0, 1.0)})
    assert [(r.screw_type, r.length_mm) for r in inv2.totals] == [("locking_screw", 90)]


def test_csv_html_and_pdf(qtbot, tmp_path: Path) -> None:
    inv = build_inventory(_model())
    rows = list(csv.DictReader(io.StringIO(to_csv(inv))))
    assert rows[0] == {
        "scope": "image",
        "patient": "Unknown patient",
        "patient_id": "",
        "study": "Unknown study",
        "study_date": "",
        "accession": "",
        "image": "a.png",
        "reviewer": "t",
        "screw_type": "cortical_screw",
        "length_mm": "40",
        "count": "2",
        "unreviewed": "1",
    }
    assert [r["length_mm"] for r in rows if r["scope"] == "all"] == ["40", "50", "unknown"]
    html = to_html(inv, title="Study <1>")
    assert "Study &lt;1&gt;" in html and "Lengths unknown" in html and "b.png" in html

    dlg = InventoryDialog(_model(), title="t", current_image="a", spacings={}, parent=None)
    qtbot.addWidget(dlg)
    assert dlg.table.rowCount() == 3 + 3 + 3  # all-image totals, study totals, per-image rows
    dlg.scope.setCurrentIndex(dlg.scope.findData("image"))
    assert dlg.inventory.total() == 3
    dlg.export_csv(tmp_path / "inv.csv")
    assert (tmp_path / "inv.csv").read_text().startswith("scope,patient,patient_id,study")
    dlg.save_pdf(tmp_path / "inv.pdf")
    data = (tmp_path / "inv.pdf").read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 1000


def test_dicom_spacing_is_stored_at_import_so_unopened_images_have_lengths(
    qtbot, tmp_path: Path
) -> None:
    """DICOMs added to a project give lengths in mm before anyone opens them (header read at
    import, not on first display): dialog, CSV and printable page agree."""
    import shutil

    from orthogui.core.annotation import Annotation
    from orthogui.core.commands import AddAnnotations
    from tests.ui._workbench import screw
    from tests.ui.test_main_window import make_window

    data = Path(__file__).parents[1] / "data" / "dicom"
    folder = tmp_path / "dicom"
    folder.mkdir()
    for name in ("RG2_UNC.dcm", "77654033_CR2_6247.dcm"):  # PixelSpacing 0.2, Imager 0.1
        shutil.copy(data / name, folder / name)
    win = make_window(qtbot, tmp_path / "p.orthogui")
    with qtbot.waitSignal(win.scan.finished, timeout=20000):
        win.add_paths([folder])
    records = {Path(r.path).name: r for r in win.model.images()}
    assert set(records) == {"RG2_UNC.dcm", "77654033_CR2_6247.dcm"}
    unopened = [r.id for r in records.values() if r.id != win.image_id]
    assert len(unopened) == 1  # the scan opened one image; the other is never shown
    for rec in records.values():
        assert rec.attributes["spacing_source"] in ("PixelSpacing", "ImagerPixelSpacing")
        assert rec.width > 0 and rec.height > 0 and rec.study_key
    assert records["RG2_UNC.dcm"].attributes["pixel_spacing"] == [0.2, 0.2]
    assert records["RG2_UNC.dcm"].attributes["spacing_source"] == "PixelSpacing"
    # Draw a 50 px screw on each image directly in the model: neither needs to be shown.
    for rec in records.values():
        ann = Annotation.human(image_id=rec.id, category="cortical_screw", shape=screw(2, 2, 50, 2))
        win.history.push(AddAnnotations((ann,)))
    win._spacings.clear()  # nothing learnt from showing an image: the record alone counts
    dlg = win.show_inventory()
    qtbot.addWidget(dlg)
    dlg.scope.setCurrentIndex(dlg.scope.findData("study"))
    inv = dlg.inventory
    assert inv.images_without_spacing == ()
    lengths = {r.image: r.length_mm for r in inv.per_image}
    assert lengths == {"RG2_UNC.dcm": 10, "77654033_CR2_6247.dcm": 5}
    assert "unknown" not in to_csv(inv) and "Lengths unknown" not in dlg.html()
    assert win.image_id not in unopened
    dlg.close()
    win.close()


def _hospital_model() -> ProjectModel:
    """Jane: two studies (a knee film, a hip film); Richard: one film; reviewed by two people."""
    m = ProjectModel()
    jane = {"PatientName": "DOE^JANE", "PatientID": "P001", "pixel_spacing": [0.25, 0.25]}
    m.put_image(
        ImageRecord(
            "k",
            "/cd/IM1",
            study_key="s1",
            attributes={
                **jane,
                "StudyDate": "20240301",
                "AccessionNumber": "ACC1",
                "StudyDescription": "KNEE",
            },
        )
    )
    m.put_image(
        ImageRecord(
            "h",
            "/cd/IM2",
            study_key="s2",
            attributes={**jane, "StudyDate": "20240415", "AccessionNumber": "ACC2"},
        )
    )
    m.put_image(
        ImageRecord("r", "/cd/IM3", study_key="s3",
                    attributes={"PatientName": "ROE^RICHARD", "PatientID": "P002",
                                "StudyDate": "20230910", "AccessionNumber": "ACC3",
                                "pixel_spacing": [0.25, 0.25]})
    )  # fmt: skip

    def screw_on(image: str, y: float, by: str) -> Annotation:
        p = Prediction("cortical_screw", 0.9, screw(10, y, 160, 4), "fake", "1")
        ann = Annotation.from_prediction(p, image_id=image)
        return set_state([ann], ReviewState.ACCEPTED, user=by).after[0]

    m.load(
        [],
        [
            screw_on("k", 10, "dr_a"),
            screw_on("k", 30, "dr_b"),
            screw_on("h", 10, "dr_a"),
            screw_on("r", 10, "dr_b"),
        ],
    )
    return m


IDENTIFIERS = ("DOE", "JANE", "ROE", "P001", "P002", "2024", "2023", "ACC1", "ACC2", "ACC3")


def test_inventory_per_patient_and_study_with_identifiers_hidden_when_deidentified(
    qtbot, tmp_path: Path
) -> None:
    dlg = InventoryDialog(
        _hospital_model(), title="t", current_image=None, spacings={}, deidentified=False
    )
    qtbot.addWidget(dlg)
    rows = dlg.visible_text()
    assert rows[0][:2] == ["All patients", ""] and rows[0][-2] == "4"  # 4 screws in all
    by_image = {r[5]: r for r in rows if r[5].startswith("IM")}
    assert by_image["IM1"][:7] == [
        "DOE, JANE", "P001", "2024-03-01 · KNEE", "2024-03-01", "ACC1", "IM1", "dr_a, dr_b",
    ]  # fmt: skip
    assert by_image["IM2"][:5] == ["DOE, JANE", "P001", "2024-04-15", "2024-04-15", "ACC2"]
    assert by_image["IM3"][:5] == ["ROE, RICHARD", "P002", "2023-09-10", "2023-09-10", "ACC3"]
    studies = [(r[0], r[2], r[-2]) for r in rows if r[5] == "Study total"]
    assert studies == [
        ("DOE, JANE", "2024-03-01 · KNEE", "2"),
        ("DOE, JANE", "2024-04-15", "1"),
        ("ROE, RICHARD", "2023-09-10", "1"),
    ]
    dlg.export_csv(tmp_path / "named.csv")
    named = list(csv.DictReader(io.StringIO((tmp_path / "named.csv").read_text())))
    assert {(r["scope"], r["patient_id"], r["accession"], r["image"], r["reviewer"])
            for r in named if r["scope"] == "image"} == {
        ("image", "P001", "ACC1", "IM1", "dr_a, dr_b"),
        ("image", "P001", "ACC2", "IM2", "dr_a"),
        ("image", "P002", "ACC3", "IM3", "dr_b"),
    }  # fmt: skip
    assert [r["count"] for r in named if r["scope"] == "study"] == ["2", "1", "1"]
    assert "DOE, JANE" in dlg.html() and "Accession ACC1" in dlg.html()

    dlg.set_deidentified(True)
    shown = dlg.visible_text()
    assert not any(i in cell for row in shown for cell in row for i in IDENTIFIERS)
    assert [r[:2] for r in shown if r[2] == "Study total"] == [  # patient, study, image, ...
        ["Patient 1", "Study 1"], ["Patient 1", "Study 2"], ["Patient 2", "Study 1"],
    ]  # fmt: skip
    assert "dr_a, dr_b" in {r[3] for r in shown}  # the reviewers stay
    dlg.export_csv(tmp_path / "deid.csv")
    text = (tmp_path / "deid.csv").read_text()
    assert not any(i in text for i in IDENTIFIERS)
    deid = list(csv.DictReader(io.StringIO(text)))
    assert {r["patient"] for r in deid} == {"Patient 1", "Patient 2", ""}
    assert not any(i in dlg.html() for i in IDENTIFIERS)
    dlg.save_pdf(tmp_path / "deid.pdf")
    assert (tmp_path / "deid.pdf").read_bytes().startswith(b"%PDF")


def test_the_dialog_follows_the_windows_deidentified_display(qtbot, tmp_path: Path) -> None:
    from tests.ui.test_main_window import make_window

    win = make_window(qtbot, tmp_path / "p.orthogui")
    from orthogui.core.commands import AddAnnotations

    hospital = _hospital_model()
    win.store.add_images(hospital.images())
    anns = [a for r in hospital.images() for a in hospital.annotations(r.id)]
    win.history.push(AddAnnotations(tuple(anns)))
    win.patient.set_deidentified(True)
    dlg = win.show_inventory()
    qtbot.addWidget(dlg)
    assert dlg.is_deidentified()
    assert not any(i in c for r in dlg.visible_text() for c in r for i in IDENTIFIERS)
    win.patient.set_deidentified(False)  # View → De-identified display off: names come back
    assert not dlg.is_deidentified()
    assert any("DOE, JANE" in c for r in dlg.visible_text() for c in r)
    dlg.close()
    win.close()
