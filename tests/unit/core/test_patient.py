"""Patient banner facts and queue groups from header metadata and image records."""

from __future__ import annotations

from orthogui.core.patient import (
    MISSING,
    banner_facts,
    person_name,
    queue_group,
    with_display_facts,
)
from orthogui.core.project import ImageRecord


def test_banner_facts_read_as_a_person_would_and_mark_what_is_missing() -> None:
    facts = banner_facts(
        {
            "PatientName": "DOE^JANE^Q^DR",
            "PatientID": "P001",
            "PatientBirthDate": "19700102",
            "StudyDate": "2024-03-01",
            "Laterality": "R",
            "ViewPosition": "AP",
        }
    )
    assert [(f.label, f.value) for f in facts] == [
        ("Patient", "DOE, JANE Q"),
        ("ID", "P001"),
        ("Sex", MISSING),
        ("Born", "1970-01-02"),
        ("Study date", "2024-03-01"),
        ("Accession", MISSING),
        ("Laterality", "R"),
        ("View", "AP"),
    ]
    assert banner_facts({"ImageLaterality": "L", "Laterality": "R"})[6].value == "L"
    assert {f.value for f in banner_facts({})} == {MISSING}


def test_person_name_forms() -> None:
    assert person_name("DOE^JANE") == "DOE, JANE"
    assert person_name("DOE") == "DOE"
    assert person_name("^JANE") == "JANE"
    assert person_name("Yamada^Tarou=山田^太郎") == "Yamada, Tarou"


def test_display_facts_complete_attributes_without_overwriting() -> None:
    attrs = with_display_facts(
        {"PatientID": "KEPT", "x": 1},
        {"PatientID": "NEW", "PatientName": " DOE^JANE ", "Modality": "CR"},
    )
    assert attrs == {"PatientID": "KEPT", "x": 1, "PatientName": "DOE^JANE"}


def test_queue_group_keys_and_labels() -> None:
    rec = ImageRecord(
        id="a",
        path="/x/a.dcm",
        study_key="s1",
        attributes={"PatientID": "P1", "PatientName": "DOE^JANE", "StudyDate": "20240301"},
    )
    g = queue_group(rec)
    assert (g.patient_key, g.study_key) == ("id:P1", "s1")
    assert (g.patient_label, g.study_label) == ("DOE, JANE · ID P1", "2024-03-01")
    d = queue_group(rec, deidentified=True)
    assert (d.patient_key, d.patient_label, d.study_label) == ("id:P1", "Patient", "Study")
    by_name = queue_group(rec.evolve(attributes={"PatientName": "ROE^R"}))
    assert by_name.patient_key == "name:ROE^R" and by_name.patient_label == "ROE, R"
    plain = queue_group(ImageRecord(id="b", path="/x/b.png"))
    assert (plain.patient_key, plain.patient_label, plain.study_label) == (
        "",
        "Unknown patient",
        "Unknown study",
    )
