"""Whose film is this: the patient banner's facts and the review queue's patient/study groups,
from a radiograph's header metadata or the display facts an image record keeps.

Display facts are stored in ``ImageRecord.attributes`` under their DICOM keywords, which every
export drops (they are identifiers of the de-identification profile).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orthogui.core.project import ImageRecord

MISSING = "—"
"""Shown for a fact the file does not hold (PNG, JPEG, TIFF, or a sparse DICOM header)."""

DISPLAY_KEYS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "StudyDate",
    "StudyDescription",
    "AccessionNumber",
)
"""Header facts an image record keeps for the queue's groups and the inventory (never
exported)."""

_BANNER = (
    ("Patient", ("PatientName",)),
    ("ID", ("PatientID",)),
    ("Sex", ("PatientSex",)),
    ("Born", ("PatientBirthDate",)),
    ("Study date", ("StudyDate",)),
    ("Accession", ("AccessionNumber",)),
    ("Laterality", ("ImageLaterality", "Laterality")),
    ("View", ("ViewPosition",)),
)
_DATE_KEYS = frozenset({"PatientBirthDate", "StudyDate"})


@dataclass(frozen=True)
class BannerFact:
    """One labelled fact of the patient banner; ``value`` is ``MISSING`` when unknown."""

    label: str
    value: str


def person_name(value: str) -> str:
    """A DICOM person name (``DOE^JANE^^DR``) as it reads: ``DOE, JANE``."""
    parts = [p.strip() for p in value.split("=")[0].split("^")]
    family, given = [*parts, "", ""][:2]
    middle = parts[2] if len(parts) > 2 else ""
    rest = " ".join(p for p in (given, middle) if p)
    return f"{family}, {rest}" if family and rest else family or rest


def dicom_date(value: str) -> str:
    """``YYYYMMDD`` as ``YYYY-MM-DD``; anything else unchanged."""
    v = value.strip()
    return f"{v[:4]}-{v[4:6]}-{v[6:8]}" if len(v) == 8 and v.isdigit() else v


def _text(metadata: Mapping[str, Any], key: str) -> str:
    value = metadata.get(key)
    text = "" if value is None else str(value).strip()
    if not text:
        return ""
    if key == "PatientName":
        return person_name(text)
    return dicom_date(text) if key in _DATE_KEYS else text


def banner_facts(metadata: Mapping[str, Any]) -> list[BannerFact]:
    """The banner's facts in order: patient name, ID, sex, birth date, study date, accession
    number, laterality (ImageLaterality, else Laterality) and view position.

    Parameters
    ----------
    metadata
        ``Radiograph.metadata`` (DICOM keywords as keys) or any mapping like it.

    Returns
    -------
    list of BannerFact
        ``MISSING`` as the value of every fact the metadata lacks.
    """
    out = []
    for label, keys in _BANNER:
        value = next((t for t in (_text(metadata, k) for k in keys) if t), "")
        out.append(BannerFact(label, value or MISSING))
    return out


def display_facts(metadata: Mapping[str, Any]) -> dict[str, str]:
    """The ``DISPLAY_KEYS`` a header holds, as stripped strings (e.g. from a pydicom dataset).

    Parameters
    ----------
    metadata
        Any mapping from DICOM keyword to value (``Radiograph.metadata``, a dict built from a
        dataset).

    Returns
    -------
    dict
        Only the keys with a non-empty value.
    """
    out = {}
    for key in DISPLAY_KEYS:
        value = metadata.get(key)
        text = "" if value is None else str(value).strip()
        if text:
            out[key] = text
    return out


def with_display_facts(
    attributes: Mapping[str, Any], metadata: Mapping[str, Any]
) -> dict[str, Any]:
    """``attributes`` completed with the display facts of ``metadata`` they lack."""
    out = dict(attributes)
    for key, value in display_facts(metadata).items():
        out.setdefault(key, value)
    return out


@dataclass(frozen=True)
class QueueGroup:
    """Where an image sits in the grouped queue: its patient and its study (keys and labels)."""

    patient_key: str
    patient_label: str
    study_key: str
    study_label: str
    study_sort: str


def queue_group(rec: ImageRecord, *, deidentified: bool = False) -> QueueGroup:
    """The patient and study of an image record, for the grouped review queue.

    Parameters
    ----------
    rec
        The image; its display facts (``DISPLAY_KEYS`` in its attributes) and ``study_key``.
    deidentified
        Labels without name, ID or dates (the keys stay, so the groups do not change).

    Returns
    -------
    QueueGroup
        Images without a patient ID or name share the empty patient key ("Unknown patient");
        images without a study key share the empty study key of their patient.
    """
    attrs = rec.attributes
    pid, name = str(attrs.get("PatientID", "")), str(attrs.get("PatientName", ""))
    patient_key = f"id:{pid}" if pid else (f"name:{name}" if name else "")
    date = _text(attrs, "StudyDate")
    desc = str(attrs.get("StudyDescription", "")).strip()
    if not patient_key:
        patient_label = "Unknown patient"
    elif deidentified:
        patient_label = "Patient"
    else:
        shown = person_name(name) if name else MISSING
        patient_label = f"{shown} · ID {pid}" if pid else shown
    if deidentified:
        study_label = "Study" if rec.study_key else "Unknown study"
    else:
        parts = [p for p in (date, desc) if p]
        study_label = (
            " · ".join(parts) if parts else ("Study" if rec.study_key else "Unknown study")
        )
    return QueueGroup(patient_key, patient_label, rec.study_key, study_label, date)
