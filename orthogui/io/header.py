"""Facts about an image read from its header at import, without decoding pixels: size, pixel
spacing and its source (DICOM), a study key that groups the images of one study, and the
patient/study facts the review queue groups and labels images by.

Reading the pixels is left to the viewer; these facts let the screw inventory give lengths
in mm, and the snapshot keep a study in one split, for images never opened.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orthogui.core.patient import DISPLAY_KEYS, display_facts
from orthogui.core.project import SPACING_KEY, ImageRecord
from orthogui.core.radiograph import SpacingSource

log = logging.getLogger(__name__)

SPACING_SOURCE_KEY = "spacing_source"  # ImageRecord.attributes: "PixelSpacing" | ...
STUDY_SALT = "orthogui-study-key"
"""Salt of the study key: the project never stores a Study Instance UID in clear, and every
export hashes the key again with its own salt. The display facts (patient name and ID, birth
date, study date and description) stay in the project for the reviewer's queue; they are kept
under their DICOM keywords, which every export drops."""

_TIFF_ORIENTATION = 274  # EXIF/TIFF tag; 5-8 turn the image by 90 degrees


@dataclass(frozen=True)
class HeaderFacts:
    """What a header says; zero size and ``None`` spacing where it says nothing."""

    width: int = 0
    height: int = 0
    pixel_spacing: tuple[float, float] | None = None  # (row, column) in mm
    spacing_source: SpacingSource = "none"
    study_key: str = ""
    display: dict[str, str] = field(default_factory=dict)  # core.patient.DISPLAY_KEYS


def _study_key(ds: Any) -> str:
    from orthogui.io.deid import salted_hash

    for keyword, kind in (("StudyInstanceUID", "study"), ("PatientID", "patient")):
        value = str(ds.get(keyword, "") or "").strip()
        if value:
            return salted_hash(f"{kind}\x00{value}", salt=STUDY_SALT)
    return ""


def _dicom_facts(path: Path) -> HeaderFacts:
    import pydicom
    from pydicom.errors import InvalidDicomError

    from orthogui.io.readers.dicom import _spacing  # the reader's own rule, not a copy

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except InvalidDicomError:
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    spacing, source = _spacing(ds)
    return HeaderFacts(
        width=int(ds.get("Columns", 0) or 0),
        height=int(ds.get("Rows", 0) or 0),
        pixel_spacing=spacing,
        spacing_source=source,
        study_key=_study_key(ds),
        display=display_facts({k: ds.get(k) for k in DISPLAY_KEYS}),
    )


def _raster_facts(path: Path) -> HeaderFacts:
    from PIL import Image

    with Image.open(path) as im:  # lazy: reads the header, not the pixels
        width, height = im.size
        orientation = int(im.getexif().get(_TIFF_ORIENTATION, 1) or 1)
    if orientation >= 5:  # the reader shows it turned upright
        width, height = height, width
    return HeaderFacts(width=int(width), height=int(height))


_BY_FORMAT = {"dicom": _dicom_facts, "png": _raster_facts, "tiff": _raster_facts}


def read_header_facts(path: Path) -> HeaderFacts:
    """Size, spacing and study of a file from its header alone (milliseconds per file).

    Parameters
    ----------
    path
        A radiograph file. DICOM is parsed up to the pixel data; PNG and TIFF give their size.

    Returns
    -------
    HeaderFacts
        Empty facts for other formats and for files whose header cannot be read: the viewer
        reports those when it opens them.
    """
    from orthogui.io.readers import reader_for

    try:
        with path.open("rb") as f:
            head = f.read(132)
        spec = reader_for(path, head)
        facts = _BY_FORMAT.get(spec.format if spec else "")
        return facts(path) if facts is not None else HeaderFacts()
    except Exception as exc:  # any header a decoder refuses: facts stay unknown
        log.info("%s: header not read at import (%s)", path, exc)
        return HeaderFacts()


def with_header_facts(record: ImageRecord, facts: HeaderFacts) -> ImageRecord:
    """``record`` with the facts it does not hold yet (size, spacing, study key, display facts).

    Parameters
    ----------
    record
        An image record, e.g. a new one from an import.
    facts
        Facts from ``read_header_facts``.

    Returns
    -------
    ImageRecord
        The record; what it already holds wins over the header.
    """
    attrs = {**facts.display, **record.attributes}
    if facts.pixel_spacing is not None and not attrs.get(SPACING_KEY):
        attrs[SPACING_KEY] = list(facts.pixel_spacing)
        attrs[SPACING_SOURCE_KEY] = facts.spacing_source
    return record.evolve(
        width=record.width or facts.width,
        height=record.height or facts.height,
        study_key=record.study_key or facts.study_key,
        attributes=attrs,
    )
