"""The PS3.15 E.1-1 profile in detail: nested items, options, UIDs, text scrubbing, pseudonyms."""

from __future__ import annotations

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from orthogui.io.deid import (
    Scrubber,
    basic_profile,
    date_offset_days,
    deidentify_dataset,
    dicom_phi_terms,
    hashed_uid,
    reviewer_pseudonym,
    scrub_attributes,
)
from orthogui.io.deid_options import CLEAN_DESCRIPTORS
from tests.unit.io.test_deid_corpus import DATA, SOURCES, Planter, _plant_table


def test_the_table_is_the_standard_s_whole_basic_profile() -> None:
    table = basic_profile()
    assert len(table.exact) > 600  # Table E.1-1 lists about 620 attributes
    assert table.code(0x00100010) == "Z"  # PatientName
    assert table.code(0x00400275) == "X"  # RequestAttributesSequence
    assert table.code(0x00081155) == "U"  # ReferencedSOPInstanceUID
    assert table.code(0x60024000) == "X"  # overlay comments, any overlay group
    assert table.code(0x00280010) is None  # Rows: kept


def test_every_attribute_goes_however_deep_it_is_nested() -> None:
    needles: set[str] = set()
    ds = pydicom.dcmread(DATA / SOURCES[0])
    inner = Dataset()
    _plant_table(inner, Planter(needles, 5))
    middle = Dataset()
    middle.AnatomicRegionModifierSequence = Sequence([inner])  # not in the table: walked
    ds.AnatomicRegionSequence = Sequence([middle])
    deidentify_dataset(ds, salt="s")
    texts: list[str] = []
    ds.walk(lambda _d, e: texts.append(str(e.value)) if e.tag != 0x7FE00010 else None)
    blob = "\n".join(texts).lower()
    assert len(needles) > 500
    assert [n for n in needles if n.lower() in blob] == []


def test_clean_descriptors_keep_the_description_without_the_patient() -> None:
    ds = pydicom.dcmread(DATA / SOURCES[0])
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = "Quorra^Ilse", "MRN-0042177", "19510203"
    ds.StudyDescription = "Hip QUORRA ilse MRN-0042177"
    ds.SeriesDescription = "AP, born 03.02.1951, call +41 44 123 45 67"
    ds.ProtocolName = "Pelvis (quorra.ilse@example.org)"
    ds.PatientComments = "Hip pain"  # patient free text: removed, not cleaned
    deidentify_dataset(ds, salt="s")
    assert ds.StudyDescription == "Hip"
    assert ds.SeriesDescription == "AP, born , call"
    assert ds.ProtocolName == "Pelvis ()"
    assert "PatientComments" not in ds
    assert set(CLEAN_DESCRIPTORS) >= {"StudyDescription", "SeriesDescription", "ProtocolName"}


def test_dates_shift_by_one_offset_times_stay_birth_date_goes() -> None:
    ds = pydicom.dcmread(DATA / SOURCES[0])
    ds.StudyDate, ds.StudyTime, ds.PatientBirthDate = "20240229", "101112", "19510203"
    ds.AcquisitionDateTime = "20240229101112.5+0100"
    deidentify_dataset(ds, salt="pepper")
    days = date_offset_days("pepper")
    assert -4015 < days <= -365
    from datetime import date, timedelta

    shifted = (date(2024, 2, 29) + timedelta(days=days)).strftime("%Y%m%d")
    assert ds.StudyDate == shifted and ds.StudyTime == "101112"
    assert ds.AcquisitionDateTime == shifted + "101112.5+0100"
    assert ds.PatientBirthDate == ""
    assert date_offset_days("pepper") != date_offset_days("salt")


def test_uids_are_hashed_the_same_in_every_object_and_meta() -> None:
    ds = pydicom.dcmread(DATA / SOURCES[0])
    old = ds.SOPInstanceUID
    ref = Dataset()
    ref.ReferencedSOPClassUID = ds.SOPClassUID
    ref.ReferencedSOPInstanceUID = old
    ds.ReferencedImageSequence = Sequence([ref])
    deidentify_dataset(ds, salt="s")
    assert ds.SOPInstanceUID == hashed_uid(old, salt="s") == ds.file_meta.MediaStorageSOPInstanceUID
    assert ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID == ds.SOPInstanceUID
    assert ds.SOPClassUID == ref.ReferencedSOPClassUID  # class UIDs are not identifying
    assert ds.PatientIdentityRemoved == "YES" and len(ds.DeidentificationMethod) <= 64


def test_header_terms_include_name_parts_and_written_dates() -> None:
    ds = Dataset()
    ds.PatientName = "Li^Wei Ming"
    ds.PatientBirthDate = "19510203"
    ds.PatientWeight = "72.5"  # too short to be told from a measurement: not a term
    terms = dicom_phi_terms(ds)
    assert {"Li^Wei Ming", "Li", "Wei", "Ming", "1951-02-03", "03.02.1951"} <= terms
    assert "72.5" not in terms


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("seen by Li on ward", "seen by on ward"),
        ("Clinical finding", "Clinical finding"),  # a term only as a whole word
        ("mail li.wei@example.org now", "mail now"),
        ("LI WEI", ""),
    ],
)
def test_scrubber_removes_whole_words_case_insensitively(text: str, want: str) -> None:
    assert Scrubber({"Li", "Wei"}).text(text) == want


def test_attributes_lose_phi_keys_and_values_nested() -> None:
    scrub = Scrubber({"Quorra^Ilse", "MRN-0042177"})
    got = scrub_attributes(
        {
            "PatientName": "x",
            "level": "L3",
            "note": "Quorra^Ilse, MRN-0042177 left",
            "extra": {"patient_id": "1", "who": ["MRN-0042177"]},
        },
        scrub,
    )
    assert got == {"level": "L3", "note": "left", "extra": {"who": [""]}}


def test_reviewer_pseudonyms_are_stable_and_idempotent() -> None:
    p = reviewer_pseudonym("Dr Smith", salt="a")
    assert p.startswith("reviewer-") and "Smith" not in p
    assert p == reviewer_pseudonym("Dr Smith", salt="a") != reviewer_pseudonym("Dr Smith", salt="b")
    assert reviewer_pseudonym(p, salt="b") == p
    assert reviewer_pseudonym("", salt="a") == ""
