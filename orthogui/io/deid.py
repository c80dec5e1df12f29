"""De-identification for exports: salted hashes for linkage, PHI-free DICOM copies and metadata.

The DICOM rules are a table (tag keyword -> action), after the Basic Application Level
Confidentiality Profile (PS3.15 E.1): remove, blank, or replace a UID by a salted hash.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from typing import Any, Literal

Action = Literal["remove", "blank", "uid"]

PHI_TAGS: dict[str, Action] = {
    "PatientName": "blank",
    "PatientID": "blank",
    "PatientBirthDate": "blank",
    "PatientBirthTime": "remove",
    "PatientSex": "remove",
    "PatientAge": "remove",
    "PatientAddress": "remove",
    "PatientTelephoneNumbers": "remove",
    "PatientMotherBirthName": "remove",
    "PatientComments": "remove",
    "OtherPatientIDs": "remove",
    "OtherPatientIDsSequence": "remove",
    "OtherPatientNames": "remove",
    "IssuerOfPatientID": "remove",
    "MilitaryRank": "remove",
    "EthnicGroup": "remove",
    "AccessionNumber": "blank",
    "StudyID": "blank",
    "StudyDate": "blank",
    "StudyTime": "blank",
    "SeriesDate": "remove",
    "SeriesTime": "remove",
    "AcquisitionDate": "remove",
    "AcquisitionTime": "remove",
    "AcquisitionDateTime": "remove",
    "ContentDate": "remove",
    "ContentTime": "remove",
    "InstanceCreationDate": "remove",
    "InstanceCreationTime": "remove",
    "InstitutionName": "remove",
    "InstitutionAddress": "remove",
    "InstitutionalDepartmentName": "remove",
    "ReferringPhysicianName": "blank",
    "ReferringPhysicianAddress": "remove",
    "ReferringPhysicianTelephoneNumbers": "remove",
    "PerformingPhysicianName": "remove",
    "NameOfPhysiciansReadingStudy": "remove",
    "PhysiciansOfRecord": "remove",
    "OperatorsName": "remove",
    "RequestingPhysician": "remove",
    "StationName": "remove",
    "DeviceSerialNumber": "remove",
    "StudyDescription": "remove",
    "SeriesDescription": "remove",
    "RequestedProcedureDescription": "remove",
    "AdditionalPatientHistory": "remove",
    "ImageComments": "remove",
    "FrameOfReferenceUID": "uid",
    "StudyInstanceUID": "uid",
    "SeriesInstanceUID": "uid",
    "SOPInstanceUID": "uid",
    "MediaStorageSOPInstanceUID": "uid",
}
"""What happens to each identifying DICOM attribute in an exported copy."""

PHI_ATTRIBUTE_KEYS: frozenset[str] = frozenset(
    {
        "patient_name",
        "patient_id",
        "patient_birth_date",
        "birth_date",
        "accession_number",
        "institution_name",
        "referring_physician_name",
        "other_patient_ids",
        "study_instance_uid",
        "series_instance_uid",
        "sop_instance_uid",
        "study_date",
        *(k.lower() for k in PHI_TAGS),
    }
)
"""Image/annotation attribute keys that never leave the project (compared lower-case)."""

_UID_ROOT = "2.25."  # UUID-derived OID root: any integer below 2**128 may follow


def new_salt() -> str:
    """A random salt (hex) for a project or snapshot."""
    return secrets.token_hex(16)


def salted_hash(value: str, *, salt: str, length: int = 16) -> str:
    """Hex digest of ``salt + value``: the same study links, the value cannot be recovered."""
    return hashlib.sha256(f"{salt}\x00{value}".encode()).hexdigest()[:length]


def hashed_uid(uid: str, *, salt: str) -> str:
    """A valid DICOM UID derived from a salted hash of ``uid`` (stable within one salt)."""
    digest = hashlib.sha256(f"{salt}\x00uid\x00{uid}".encode()).digest()
    return _UID_ROOT + str(int.from_bytes(digest[:16], "big"))


def scrub_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """Drop attribute keys that name a person, an identifier or a date of the patient."""
    return {k: v for k, v in attributes.items() if k.lower() not in PHI_ATTRIBUTE_KEYS}


def deidentify_dicom(src: str | Path, dst: str | Path, *, salt: str) -> None:
    """Write a de-identified copy of a DICOM file.

    Parameters
    ----------
    src, dst
        Source file and output path.
    salt
        Salt of the UID hashes (one per snapshot, so studies still link inside it).

    Every attribute of ``PHI_TAGS`` is removed, blanked or given a hashed UID; private tags,
    curves and overlays are removed; ``PatientIdentityRemoved`` is set to ``YES``.
    """
    import pydicom

    ds = pydicom.dcmread(str(src))
    ds.remove_private_tags()
    _walk(ds, salt)
    if hasattr(ds, "file_meta"):
        _apply_table(ds.file_meta, salt)
    # Overlay planes and curves (60xx, 50xx groups) may carry burnt-in text or names.
    for tag in [t for t in list(ds.keys()) if (t.group & 0xFF00) in (0x6000, 0x5000)]:
        del ds[tag]
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "OrthoGUI PS3.15 E.1 basic profile (table in orthogui.io.deid)"
    ds.save_as(str(dst), enforce_file_format=False)


def _walk(ds: Any, salt: str) -> None:
    _apply_table(ds, salt)
    for elem in list(ds):
        if elem.VR == "SQ":
            for item in elem.value:
                _walk(item, salt)


def _apply_table(ds: Any, salt: str) -> None:
    for keyword, action in PHI_TAGS.items():
        if keyword not in ds:
            continue
        if action == "remove":
            delattr(ds, keyword)
        elif action == "blank":
            ds.data_element(keyword).value = ""
        else:
            ds.data_element(keyword).value = hashed_uid(
                str(ds.data_element(keyword).value), salt=salt
            )
