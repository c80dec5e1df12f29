"""De-identification for exports: DICOM after PS3.15 Annex E, salted hashes, scrubbed free text.

DICOM copies follow the Basic Application Level Confidentiality Profile (Table E.1-1, as kept by
``dicom-anonymizer`` for each edition of the standard) in every nested sequence item, with the
Retain Longitudinal Temporal Information with Modified Dates option (one date offset per salt)
and the Clean Descriptors option. UIDs become salted hashes: references between the objects of
one export still resolve, and none leads back to the source.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any

from orthogui.io.deid_options import CLEAN_DESCRIPTORS

PROFILE_EDITION = "dicomfields_2026c"
"""The edition of Table E.1-1 in ``dicom-anonymizer`` that the basic profile is taken from."""

DEID_METHOD = "PS3.15 E.1-1 basic, modified dates, clean descriptors"
"""``DeidentificationMethod`` (LO, at most 64 characters); the codes say it in full."""

DEID_SUMMARY = (
    "DICOM PS3.15 E.1-1 Basic Application Confidentiality Profile (table "
    f"{PROFILE_EDITION}), Retain Longitudinal Temporal Information with Modified Dates, "
    "Clean Descriptors; UIDs salted-hashed; private tags, overlays and curves removed"
)
"""The DICOM de-identification in words, for a snapshot's manifest."""

METHOD_CODES: tuple[tuple[str, str], ...] = (
    ("113100", "Basic Application Confidentiality Profile"),
    ("113105", "Clean Descriptors Option"),
    ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
)
"""``DeidentificationMethodCodeSequence`` items (DCM codes of CID 7050)."""

# Date and time attributes of Table E.1-1 without "C" under Retain Longitudinal Temporal
# Information with Modified Dates: they keep the basic profile action instead of a shift.
_UNSHIFTED = frozenset({"PatientBirthDate", "PatientBirthTime", "GPSTimeStamp"})
# Clean Descriptors attributes about the patient or the visit are removed nonetheless: their
# free text (history, allergies, occupation, comments) is where unrecorded identifiers live.
_NOT_CLEANED_GROUPS = frozenset({0x0010, 0x0038})
_NOT_CLEANED = frozenset({"IdentifyingComments"})
_TEXT_VRS = frozenset({"AE", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"})
_SCRUBBED_VRS = _TEXT_VRS | {"CS"}
_TERM_VRS = _TEXT_VRS | {"DA", "DT", "UI", "OB", "UN", "DS", "IS", "AS"}
_EMPTY_STRING_VRS = _SCRUBBED_VRS | {"UI", "DA", "DT", "TM", "AS", "DS", "IS"}
_CATEGORY_CODES = {
    "D_TAGS": "D",
    "Z_TAGS": "Z",
    "X_TAGS": "X",
    "U_TAGS": "U",
    "Z_D_TAGS": "Z/D",
    "X_Z_TAGS": "X/Z",
    "X_D_TAGS": "X/D",
    "X_Z_D_TAGS": "X/Z/D",
    "X_Z_U_STAR_TAGS": "X/Z/U*",
}
_PSEUDONYM = re.compile(r"reviewer-[0-9a-f]{10}")
_UID_ROOT = "2.25."  # UUID-derived OID root: any integer below 2**128 may follow
_SNAKE_KEYS = frozenset(
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
    }
)
# Identifiers that need no header to be recognised: e-mail addresses, long digit runs (record
# numbers, telephone numbers) and written-out dates.
_GENERIC_PHI = (
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
    r"\+?\d[\d ()/.-]{6,}\d",
)


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


def reviewer_pseudonym(name: str, *, salt: str) -> str:
    """A stable pseudonym for a reviewer (``reviewer-`` + salted hash).

    Empty stays empty, and a pseudonym stays itself, so a snapshot imported and exported
    again names its reviewers as before.
    """
    if not name or _PSEUDONYM.fullmatch(name):
        return name
    return f"reviewer-{salted_hash('reviewer' + chr(0) + name, salt=salt, length=10)}"


def date_offset_days(salt: str) -> int:
    """The shift of every date exported under ``salt``: 365 to 4014 days back, from the salt.

    One offset per salt keeps the intervals between the studies of a patient; the salt is never
    written out, so the offset cannot be undone from the export.
    """
    digest = hashlib.sha256(f"{salt}\x00date-offset".encode()).digest()
    return -(365 + int.from_bytes(digest[:4], "big") % 3650)


@cache
def phi_attribute_keys() -> frozenset[str]:
    """Image/annotation attribute keys that never leave the project (compared lower-case):
    every keyword of Table E.1-1 and the snake-case names the readers use."""
    from pydicom.datadict import dictionary_has_tag, keyword_for_tag

    keywords = {
        keyword_for_tag(tag).lower()
        for tag in basic_profile().exact
        if dictionary_has_tag(tag) and keyword_for_tag(tag)
    }
    return frozenset(_SNAKE_KEYS | keywords)


class Scrubber:
    """Removes known identifiers (and e-mail addresses, long numbers) from free text.

    Terms match case-insensitively and only as whole words, so ``Li`` is removed from
    ``Li^Wei`` but not from ``Clinical``.
    """

    def __init__(self, terms: Iterable[str] = (), *, generic: bool = True) -> None:
        self.terms = frozenset(t for t in terms if t.strip())
        words = sorted(self.terms, key=lambda t: (-len(t), t))
        # generic patterns first: an e-mail address goes whole, not just the name in it
        alternatives = (list(_GENERIC_PHI) if generic else []) + [re.escape(t) for t in words]
        self._pattern = (
            re.compile(
                r"(?<![0-9A-Za-z])(?:" + "|".join(alternatives) + r")(?![0-9A-Za-z])",
                re.IGNORECASE,
            )
            if alternatives
            else None
        )

    def text(self, value: str) -> str:
        """``value`` without the identifiers, runs of blanks closed up."""
        if self._pattern is None:
            return value
        cleaned = self._pattern.sub("", value)
        if cleaned == value:
            return value
        return re.sub(r"[ \t]{2,}", " ", cleaned).strip(" \t,;^")

    def value(self, value: Any) -> Any:
        """Strings scrubbed inside dicts (keys too), lists and tuples; anything else as is."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value


def scrub_attributes(
    attributes: Mapping[str, Any], scrubber: Scrubber | None = None
) -> dict[str, Any]:
    """Drop keys that name a person, an identifier or a date of the patient; scrub the rest.

    Parameters
    ----------
    attributes
        Image or annotation attributes.
    scrubber
        Removes the identifiers known for the image (see ``dicom_phi_terms``) from the values.

    Returns
    -------
    dict
        A new dict; nested dicts lose their PHI keys too.
    """
    keys = phi_attribute_keys()
    scrub = scrubber or Scrubber()
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        if str(key).lower() in keys:
            continue
        if isinstance(value, Mapping):
            value = scrub_attributes(value, scrub)
        out[scrub.text(str(key))] = scrub.value(value)
    return out


@dataclass(frozen=True)
class ProfileTable:
    """Table E.1-1 as action codes (``X``, ``Z``, ``D``, ``U``, ``X/Z``, ``X/Z/U*``...)."""

    exact: Mapping[int, str]
    masked: tuple[tuple[int, int, int, int, str], ...]  # group, element, their masks, code

    def code(self, tag: int) -> str | None:
        """The action code for ``tag``, ``None`` for attributes the profile keeps."""
        found = self.exact.get(tag)
        if found is not None:
            return found
        group, element = tag >> 16, tag & 0xFFFF
        for g, e, gmask, emask, code in self.masked:
            if group & gmask == g & gmask and element & emask == e & emask:
                return code
        return None


@cache
def basic_profile() -> ProfileTable:
    """Table E.1-1 of edition ``PROFILE_EDITION``, from ``dicom-anonymizer``."""
    from dicomanonymizer.dicomfields_selector import dicom_anonymization_database_selector

    database = dicom_anonymization_database_selector(PROFILE_EDITION)
    exact: dict[int, str] = {}
    masked: list[tuple[int, int, int, int, str]] = []
    for category, code in _CATEGORY_CODES.items():
        for tag in database[category]:
            if len(tag) == 2:
                exact[(tag[0] << 16) | tag[1]] = code
            else:
                masked.append((tag[0], tag[1], tag[2], tag[3], code))
    return ProfileTable(exact, tuple(masked))


def _date_forms(value: str) -> list[str]:
    if not re.fullmatch(r"\d{8}", value):
        return [value]
    y, m, d = value[:4], value[4:6], value[6:]
    return [value, f"{y}-{m}-{d}", f"{d}.{m}.{y}", f"{d}/{m}/{y}", f"{m}/{d}/{y}"]


def _element_terms(elem: Any) -> Iterator[str]:
    values = elem.value if elem.VM > 1 else [elem.value]
    for raw in values:
        if isinstance(raw, bytes):
            raw = raw.decode("latin-1").strip("\x00 ")
            if not raw.isprintable():
                continue
        text = str(raw).strip()
        if elem.VR in ("DA", "DT"):
            yield from _date_forms(text[:8])
            continue
        if elem.VR in ("DS", "IS"):  # a weight of 83.1729, never a bare 0.5 or 2
            if sum(c.isdigit() for c in text) >= 4:
                yield text
            continue
        if len(text) >= 3:
            yield text
        for part in re.split(r"[\^=,;\r\n]+", text):
            part = part.strip()
            if len(part) >= 3:
                yield part
            if elem.VR == "PN":
                yield from (w for w in re.split(r"[\s.]+", part) if len(w) >= 2)


def dicom_phi_terms(ds: Any) -> frozenset[str]:
    """The identifying text values of a DICOM dataset (before it is de-identified).

    Parameters
    ----------
    ds
        A pydicom ``Dataset`` (its ``file_meta`` too, when present).

    Returns
    -------
    frozenset
        Values of every Table E.1-1 attribute and private element in any sequence, except
        coded strings and the descriptors the Clean Descriptors option keeps; person names
        also by component, dates in common written forms.
    """
    table = basic_profile()
    terms: set[str] = set()

    def visit(dataset: Any) -> None:
        for elem in dataset:
            if elem.VR == "SQ":
                for item in elem.value or ():
                    visit(item)
                continue
            if elem.VR in ("CS", "SQ") or elem.keyword in CLEAN_DESCRIPTORS:
                continue
            if not (elem.tag.is_private or table.code(elem.tag) is not None):
                continue
            if elem.VR in _TERM_VRS and elem.value not in (
                None,
                "",
            ):
                terms.update(_element_terms(elem))

    visit(ds)
    if getattr(ds, "file_meta", None) is not None:
        visit(ds.file_meta)
    return frozenset(terms)


def _shift(value: str, vr: str, days: int) -> str | None:
    text = value.strip()
    if vr == "TM":
        return text  # whole-day offsets keep the time of day
    legacy = re.fullmatch(r"(\d{4})\.(\d{2})\.(\d{2})", text)
    if legacy:
        text = "".join(legacy.groups())
    if not re.match(r"\d{8}", text) or (vr == "DA" and len(text) != 8):
        return None
    try:
        shifted = date(int(text[:4]), int(text[4:6]), int(text[6:8])) + timedelta(days=days)
    except (ValueError, OverflowError):
        return None
    return f"{shifted.year:04d}{shifted.month:02d}{shifted.day:02d}{text[8:]}"


class _Deidentifier:
    """One pass of the profile over a dataset and its sequences."""

    def __init__(self, *, salt: str, scrubber: Scrubber) -> None:
        self.salt = salt
        self.days = date_offset_days(salt)
        self.scrubber = scrubber
        self.table = basic_profile()

    def uid(self, value: Any) -> Any:
        if isinstance(value, str):
            return hashed_uid(value, salt=self.salt) if value else value
        return [hashed_uid(str(v), salt=self.salt) for v in value]

    def dataset(self, ds: Any) -> None:
        for elem in list(ds):
            if elem.tag.is_private or (elem.tag >> 16) & 0xFF00 in (0x5000, 0x6000):
                del ds[elem.tag]  # overlays and curves may carry burnt-in names
                continue
            self.element(ds, elem)

    def element(self, ds: Any, elem: Any) -> None:
        code = self.table.code(elem.tag)
        vr = elem.VR
        if elem.keyword in CLEAN_DESCRIPTORS and vr in _SCRUBBED_VRS and self._cleanable(elem):
            self.scrub(elem)
        elif code is None:
            if vr == "SQ":
                self.items(elem)
            elif vr == "PN":
                elem.value = ""  # a person's name outside the table: empty all the same
        elif vr in ("DA", "DT", "TM") and elem.keyword not in _UNSHIFTED:
            self.shift(ds, elem)
        elif code == "X":
            del ds[elem.tag]
        elif self._empties(code, vr):
            elem.value = [] if vr == "SQ" else ("" if vr in _EMPTY_STRING_VRS else None)
        elif vr == "UI" or code == "U":
            elem.value = self.uid(elem.value)
        elif code == "X/Z/U*" and vr != "SQ":
            del ds[elem.tag]
        elif code == "X/Z/U*":
            self.items(elem)  # kept, its instance UIDs replaced (the "U*")
        elif vr == "SQ":
            self.dummy_items(elem)
        else:
            self.dummy(ds, elem)

    @staticmethod
    def _empties(code: str, vr: str) -> bool:
        # Z/D: Z (zero length) for text, which every module allows as Type 2; D only where a
        # value of the VR must stand. Unshifted dates are never given a dummy date.
        return (
            code in ("Z", "X/Z")
            or (code == "Z/D" and vr in _TEXT_VRS)
            or (vr in ("DA", "DT", "TM") and code != "D")
        )

    @staticmethod
    def _cleanable(elem: Any) -> bool:
        return elem.tag >> 16 not in _NOT_CLEANED_GROUPS and elem.keyword not in _NOT_CLEANED

    def scrub(self, elem: Any) -> None:
        if elem.VM > 1:
            elem.value = [self.scrubber.text(str(v)) for v in elem.value]
        elif isinstance(elem.value, str):
            elem.value = self.scrubber.text(elem.value)

    def shift(self, ds: Any, elem: Any) -> None:
        values = [str(v) for v in elem.value] if elem.VM > 1 else [str(elem.value or "")]
        shifted = [_shift(v, elem.VR, self.days) if v else "" for v in values]
        if any(s is None for s in shifted):
            del ds[elem.tag]  # not a date we can shift: it cannot go out as it is
        else:
            elem.value = shifted if len(shifted) > 1 else shifted[0]

    def items(self, elem: Any) -> None:
        for item in elem.value or ():
            self.dataset(item)

    def dummy(self, ds: Any, elem: Any) -> None:
        from dicomanonymizer.simpledicomanonymizer import replace_element

        try:
            replace_element(elem)  # the profile's dummy value for the VR ("ANONYMIZED", 0...)
        except NotImplementedError:
            del ds[elem.tag]

    def dummy_items(self, elem: Any) -> None:
        for item in elem.value or ():
            for sub in list(item):
                if sub.tag.is_private:
                    del item[sub.tag]
                elif sub.VR == "SQ":
                    self.dummy_items(sub)
                elif sub.VR == "UI":
                    sub.value = self.uid(sub.value)
                else:
                    self.dummy(item, sub)

    def leftovers(self, ds: Any) -> None:
        """Known identifiers scrubbed from whatever text the profile keeps (terms only: the
        generic patterns would hit software versions and the like)."""
        known = Scrubber(self.scrubber.terms, generic=False)

        def visit(dataset: Any, elem: Any) -> None:
            if elem.VR in _SCRUBBED_VRS and elem.value not in (None, ""):
                if elem.VM > 1:
                    elem.value = [known.text(str(v)) for v in elem.value]
                elif isinstance(elem.value, str):
                    elem.value = known.text(elem.value)

        ds.walk(visit)


def _method_codes() -> Any:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    items = []
    for value, meaning in METHOD_CODES:
        item = Dataset()
        item.CodeValue = value
        item.CodingSchemeDesignator = "DCM"
        item.CodeMeaning = meaning
        items.append(item)
    return Sequence(items)


def deidentify_dataset(ds: Any, *, salt: str, terms: Iterable[str] | None = None) -> None:
    """De-identify a pydicom dataset in place (see the module docstring for the profile).

    Parameters
    ----------
    ds
        The dataset, with ``file_meta`` when read from a file.
    salt
        Salt of the UID hashes and the date offset (one per snapshot or project).
    terms
        Identifying values to remove from the text that is kept; default those of ``ds``
        itself (``dicom_phi_terms``).
    """
    scrubber = Scrubber(dicom_phi_terms(ds) if terms is None else terms)
    worker = _Deidentifier(salt=salt, scrubber=scrubber)
    worker.dataset(ds)
    worker.leftovers(ds)
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        for elem in list(meta):
            if worker.table.code(elem.tag) is not None:
                worker.element(meta, elem)
        if "SOPInstanceUID" in ds:
            meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientIdentityRemoved = "YES"
    ds.LongitudinalTemporalInformationModified = "MODIFIED"
    ds.DeidentificationMethod = DEID_METHOD
    ds.DeidentificationMethodCodeSequence = _method_codes()
