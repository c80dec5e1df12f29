"""Patient/study display facts are read from a DICOM header at import, kept in the image
record's attributes, and dropped by the export's attribute scrubbing."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from orthogui.core.project import ImageRecord
from orthogui.io.deid import scrub_attributes
from orthogui.io.header import read_header_facts, with_header_facts
from tests.unit.io.test_readers_dicom import make_dicom

PLANTED = {
    "PatientName": "DOE^JANE",
    "PatientID": "P001",
    "PatientBirthDate": "19700102",
    "StudyDate": "20240301",
    "StudyDescription": "KNEE",
}


def test_display_facts_at_import_stay_out_of_exports(tmp_path: Path) -> None:
    path = make_dicom(
        tmp_path / "a.dcm",
        np.zeros((8, 8), np.uint16),
        StudyInstanceUID="1.2.3",
        ViewPosition="AP",
        **PLANTED,
    )
    facts = read_header_facts(path)
    assert facts.display == PLANTED
    rec = with_header_facts(
        ImageRecord(id="a", path=str(path), attributes={"PatientID": "edited"}), facts
    )
    assert rec.attributes == {**PLANTED, "PatientID": "edited"}  # the record's own value wins
    assert rec.study_key and "1.2.3" not in rec.study_key
    assert scrub_attributes(rec.attributes) == {}


def test_plain_images_have_no_display_facts(tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "a.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(path)
    facts = read_header_facts(path)
    assert (
        facts.display == {}
        and with_header_facts(ImageRecord(id="a", path=str(path)), facts).attributes == {}
    )
