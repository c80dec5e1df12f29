"""Reviewed findings of one DICOM image as a DICOM SR (TID 1500 Measurement Report, highdicom),
and the findings read back from such an SR.

One measurement group (TID 1411) per finding: tracking identifier (the annotation id) and UID,
finding type, the region as SCOORD on the source image, screw length in mm where the pixel
spacing is known, vertebra level as finding site; the reviewer is the person observer and the
model (name, version) the device observer. Codes are SNOMED CT / DCM where one exists, else the
private coding scheme ``99ORTHOGUI`` (``ORTHOGUI_CODES`` below is its documentation).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from orthogui.core.annotation import Annotation, ReviewState
from orthogui.core.categories import DEFAULT_CATEGORIES, SCREW_GROUP, CategorySet
from orthogui.core.geometry import Box, length_mm
from orthogui.core.project import ImageStatus

if TYPE_CHECKING:
    from highdicom.sr import CodedConcept, Comprehensive3DSR
    from pydicom.dataset import Dataset
    from pydicom.sr.coding import Code

    from orthogui.io.store import ProjectStore

PRIVATE_SCHEME = "99ORTHOGUI"
"""Coding scheme of the concepts that have no SNOMED CT or DCM code (PS3.16 8.2: a private
scheme designator starts with "99")."""

#: The private codes, (code value, meaning) by category name or concept. Screw types have no
#: SNOMED CT concept: the finding type of a screw is SCT 68183006 "Bone screw" and its type is a
#: qualitative evaluation "Screw type" (99ORTHOGUI SCREW-TYPE) whose value is one of these.
#: A vertebral compression fracture has no verified SNOMED CT code here, so it is private too.
#: A category of a project's own set becomes ``CAT-<name>`` with its display name.
ORTHOGUI_CODES: dict[str, tuple[str, str]] = {
    "screw_type": ("SCREW-TYPE", "Screw type"),
    "cortical_screw": ("SCRW-CORTICAL", "Cortical screw"),
    "cancellous_screw": ("SCRW-CANCELLOUS", "Cancellous screw"),
    "locking_screw": ("SCRW-LOCKING", "Locking screw"),
    "cannulated_screw": ("SCRW-CANNULATED", "Cannulated screw"),
    "compression_screw": ("SCRW-COMPRESSION", "Compression screw"),
    "vertebral_compression_fracture": ("VCF", "Vertebral compression fracture"),
    # The segmented property category (DICOM SEG) of a project's own category that is neither
    # a screw (SCT "Physical object") nor a fracture (SCT "Morphologically abnormal structure").
    "finding": ("FINDING", "Finding"),
}
#: Standard codes: (scheme, value, meaning) by category name or concept.
STANDARD_CODES: dict[str, tuple[str, str, str]] = {
    "screw": ("SCT", "68183006", "Bone screw"),
    "fracture": ("SCT", "125605004", "Fracture of bone"),
}
# Vertebra levels -> pydicom's SNOMED CT concept names (C1..L5, all of CID 7602).
_LEVEL_CONCEPTS = {
    **{f"C{i}": f"C{i}Vertebra" for i in range(1, 8)},
    **{f"T{i}": f"T{i}Vertebra" for i in range(1, 13)},
    **{f"L{i}": f"L{i}Vertebra" for i in range(1, 6)},
}
LEVEL_KEY = "vertebra_level"  # Annotation.attributes
_REVIEWED = (ReviewState.ACCEPTED, ReviewState.CORRECTED)
_ALGORITHM_CODES = {"111001": "name", "111003": "version"}  # DCM Algorithm Name / Version
SR_SERIES_NUMBER = 9001
SR_SERIES_DESCRIPTION = "OrthoGUI reviewed findings"


class SrRefused(ValueError):
    """The image cannot be reported as an SR (not approved, not DICOM, nothing reviewed)."""


@dataclass(frozen=True)
class SrFinding:
    """One finding as an SR tells it (read back by ``read_findings``)."""

    tracking_id: str
    tracking_uid: str
    category: str  # the OrthoGUI category name ("" when the codes are not ours)
    finding_type: tuple[str, str, str]  # (scheme, value, meaning)
    graphic_type: str  # "POLYLINE"
    points: tuple[tuple[float, float], ...]  # (column, row), closed (last = first)
    source_sop_instance_uid: str
    length_mm: float | None = None
    vertebra_level: str | None = None
    algorithm: tuple[str, str] | None = None  # (name, version) of the model that proposed it


# -- codes ------------------------------------------------------------------------------------
def _code(scheme: str, value: str, meaning: str) -> CodedConcept:
    from highdicom.sr import CodedConcept

    return CodedConcept(value=value, scheme_designator=scheme, meaning=meaning)


def _private(key: str, fallback_meaning: str = "") -> CodedConcept:
    value, meaning = ORTHOGUI_CODES.get(key, (f"CAT-{key}", fallback_meaning or key))
    return _code(PRIVATE_SCHEME, value, meaning)


def finding_codes(category: str, *, group: str = "") -> tuple[CodedConcept, CodedConcept | None]:
    """(finding type, screw type or None) of a category.

    Parameters
    ----------
    category
        Category name, e.g. ``"locking_screw"``.
    group
        The category's group (``"screw"`` for screws).

    Returns
    -------
    tuple
        Screws: SCT "Bone screw" and their private type code; fractures: SCT "Fracture of
        bone"; others: their private code.
    """
    if group == SCREW_GROUP:
        return _code(*STANDARD_CODES["screw"]), _private(category, category.replace("_", " "))
    if category in STANDARD_CODES:
        return _code(*STANDARD_CODES[category]), None
    return _private(category, category.replace("_", " ")), None


def category_of(finding_type: tuple[str, str, str], screw_type: tuple[str, str] | None) -> str:
    """Back from codes to a category name ("" when not ours).

    ``finding_type`` is (scheme, value, meaning); ``screw_type`` the (value, meaning) of the
    private screw-type code, or None.
    """
    scheme, value, _ = finding_type
    if screw_type is not None:
        value, scheme = screw_type[0], PRIVATE_SCHEME
    for name, (s, v, _m) in STANDARD_CODES.items():
        if (s, v) == (scheme, value) and name != "screw":
            return name
    if scheme != PRIVATE_SCHEME:
        return ""
    for name, (v, _m) in ORTHOGUI_CODES.items():
        if v == value:
            return name
    return value[4:] if value.startswith("CAT-") else ""


def _level_code(level: str) -> Code | None:
    from pydicom.sr.codedict import codes

    concept = _LEVEL_CONCEPTS.get(level.strip().upper())
    return getattr(codes.SCT, concept) if concept else None


def _level_of(code_value: str) -> str | None:
    from pydicom.sr.codedict import codes

    for level, concept in _LEVEL_CONCEPTS.items():
        if getattr(codes.SCT, concept).value == code_value:
            return level
    return None


# -- geometry ---------------------------------------------------------------------------------
def _closed_outline(ann: Annotation) -> np.ndarray:
    """The region as (column, row) points, closed; our pixel coordinates are SCOORD's."""
    shape = ann.shape
    poly = shape.to_polygon() if isinstance(shape, Box) else shape
    pts = np.asarray(poly.points, dtype=np.float64)
    return np.vstack([pts, pts[:1]]).astype(np.float32)


def source_spacing(source: Dataset) -> tuple[float, float] | None:
    """The pixel spacing the reader uses (PixelSpacing, else ImagerPixelSpacing), or None."""
    from orthogui.io.readers.dicom import _spacing  # the reader's own rule, not a copy

    spacing, _source = _spacing(source)
    return spacing


# -- building ---------------------------------------------------------------------------------
def reviewed(annotations: Sequence[Annotation]) -> list[Annotation]:
    """The findings an SR reports: accepted or corrected (not proposed, not rejected)."""
    return [a for a in annotations if a.review.state in _REVIEWED]


def person_name(name: str) -> str:
    """A DICOM PN: a login such as ``jdoe`` becomes the family name ``jdoe^`` (one component)."""
    return name if "^" in name or "=" in name else f"{name}^"


def _observers(findings: Sequence[Annotation], reviewer: str) -> Any:
    import highdicom.sr as sr
    from pydicom.sr.codedict import codes
    from pydicom.uid import generate_uid

    person = sr.ObserverContext(
        observer_type=codes.DCM.Person,
        observer_identifying_attributes=sr.PersonObserverIdentifyingAttributes(
            name=person_name(reviewer)
        ),
    )
    models = Counter(
        (a.provenance.model_name, a.provenance.model_version)
        for a in findings
        if a.provenance.is_model and a.provenance.model_name
    )
    device = None
    if models:
        (name, version), _ = models.most_common(1)[0]
        uid = generate_uid(entropy_srcs=["orthogui-model", name, version])
        device = sr.ObserverContext(
            observer_type=codes.DCM.Device,
            observer_identifying_attributes=sr.DeviceObserverIdentifyingAttributes(
                uid=uid,
                name=name,
                manufacturer_name="OrthoGUI",
                model_name=f"{name} {version}".strip(),
            ),
        )
    return sr.ObservationContext(observer_person_context=person, observer_device_context=device)


def _group(
    ann: Annotation,
    source: Dataset,
    categories: CategorySet,
    spacing: tuple[float, float] | None,
) -> Any:
    import highdicom.sr as sr
    from pydicom.sr.codedict import codes
    from pydicom.uid import generate_uid

    group = categories.by_name(ann.category).group if ann.category in categories else ""
    finding_type, screw_type = finding_codes(ann.category, group=group)
    region = sr.ImageRegion(
        graphic_type=sr.GraphicTypeValues.POLYLINE,
        graphic_data=_closed_outline(ann),
        source_image=sr.SourceImageForRegion(
            referenced_sop_class_uid=source.SOPClassUID,
            referenced_sop_instance_uid=source.SOPInstanceUID,
        ),
    )
    measurements = []
    mm = length_mm(ann.shape, spacing) if group == SCREW_GROUP else None
    if mm is not None:
        measurements.append(
            sr.Measurement(name=codes.SCT.Length, value=round(mm, 2), unit=codes.UCUM.Millimeter)
        )
    evaluations = []
    if screw_type is not None:
        evaluations.append(sr.QualitativeEvaluation(name=_private("screw_type"), value=screw_type))
    sites = []
    level = str(ann.attributes.get(LEVEL_KEY) or "")
    level_code = _level_code(level) if level else None
    if level_code is not None:
        sites.append(sr.FindingSite(anatomic_location=level_code))
    algorithm = None
    if ann.provenance.is_model and ann.provenance.model_name:
        algorithm = sr.AlgorithmIdentification(
            name=ann.provenance.model_name, version=ann.provenance.model_version or "unknown"
        )
    return sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=sr.TrackingIdentifier(
            uid=generate_uid(entropy_srcs=["orthogui-finding", ann.id]), identifier=ann.id
        ),
        referenced_region=region,
        finding_type=finding_type,
        algorithm_id=algorithm,
        finding_sites=sites or None,
        measurements=measurements or None,
        qualitative_evaluations=evaluations or None,
    )


def build_measurement_report(
    source: Dataset,
    annotations: Sequence[Annotation],
    *,
    reviewer: str,
    categories: CategorySet = DEFAULT_CATEGORIES,
    spacing: tuple[float, float] | None = None,
) -> Comprehensive3DSR:
    """A Comprehensive 3D SR (TID 1500) of the reviewed findings on one image.

    Parameters
    ----------
    source
        The image's DICOM dataset (pixels not needed); the SR joins its study and patient.
    annotations
        The image's annotations; only accepted and corrected ones are reported.
    reviewer
        The person observer (e.g. the reviewer's name).
    categories
        The project's category set (which categories are screws).
    spacing
        (row, column) mm per pixel; default: the source's PixelSpacing, else its
        ImagerPixelSpacing. Without one, screws carry no length.

    Returns
    -------
    highdicom.sr.Comprehensive3DSR
        A new instance in a new series (SOP, series UIDs random); save with ``save_as``.

    Raises
    ------
    SrRefused
        No finding is reviewed.
    """
    import highdicom.sr as sr
    from pydicom.sr.codedict import codes
    from pydicom.uid import generate_uid

    from orthogui import __version__

    findings = reviewed(annotations)
    if not findings:
        raise SrRefused("no accepted or corrected finding to report")
    if spacing is None:
        spacing = source_spacing(source)
    report = sr.MeasurementReport(
        observation_context=_observers(findings, reviewer or "unknown reviewer"),
        procedure_reported=codes.SCT.PlainRadiography,
        imaging_measurements=[_group(a, source, categories, spacing) for a in findings],
        title=codes.DCM.ImagingMeasurementReport,
    )
    return sr.Comprehensive3DSR(
        evidence=[source],
        content=report,
        series_instance_uid=generate_uid(),
        series_number=SR_SERIES_NUMBER,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="OrthoGUI",
        is_complete=True,
        is_final=True,
        series_description=SR_SERIES_DESCRIPTION,
        software_versions=__version__,
    )


def sr_for_image(
    store: ProjectStore, image_id: str, *, reviewer: str | None = None
) -> Comprehensive3DSR:
    """The SR of an approved DICOM image of a project.

    Parameters
    ----------
    store
        The open project.
    image_id
        The image's id.
    reviewer
        The person observer; default: who reviewed most of the image's findings, else the
        project's user.

    Raises
    ------
    SrRefused
        The image is not approved, its file is not DICOM, or nothing on it is reviewed (the
        message names the file).
    """
    path, source = approved_source(store, image_id, what="SR")
    annotations = store.model.annotations(image_id)
    if reviewer is None:
        reviewer = default_reviewer(store, annotations)
    try:
        return build_measurement_report(
            source, annotations, reviewer=reviewer, categories=store.model.categories
        )
    except SrRefused as exc:
        raise SrRefused(f"{path}: {exc}") from exc


def approved_source(store: ProjectStore, image_id: str, *, what: str) -> tuple[Path, Dataset]:
    """The file and DICOM header (no pixels) of an approved DICOM image of a project.

    Raises
    ------
    SrRefused
        The image is not approved or its file is not DICOM (the message names the file and
        ``what`` could not be made, e.g. ``"SR"``).
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    record = store.model.image(image_id)
    path = store.image_path(record)
    if record.status is not ImageStatus.APPROVED:
        raise SrRefused(f"{path}: the image is not approved ({record.status.value})")
    try:
        source = pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError) as exc:
        raise SrRefused(f"{path}: not a DICOM image, no {what} can refer to it ({exc})") from exc
    return path, source


def default_reviewer(store: ProjectStore, annotations: Sequence[Annotation]) -> str:
    """Who reviewed most of the reviewed findings, else the project's user."""
    names = Counter(a.review.by for a in reviewed(annotations) if a.review.by)
    return names.most_common(1)[0][0] if names else store.user


# -- reading back -----------------------------------------------------------------------------
def read_findings(sr_dataset: Dataset | str | Path) -> list[SrFinding]:
    """The planar findings of a TID 1500 SR (ours or another's), in document order.

    Parameters
    ----------
    sr_dataset
        The SR as a dataset or a file.

    Returns
    -------
    list[SrFinding]
        One per planar measurement group (TID 1410/1411).

    Raises
    ------
    ValueError
        The SR is not a TID 1500 Measurement Report.
    """
    import highdicom.sr as sr
    import pydicom
    from pydicom.sr.codedict import codes

    ds = pydicom.dcmread(sr_dataset) if isinstance(sr_dataset, (str, Path)) else sr_dataset
    doc = sr.Comprehensive3DSR.from_dataset(ds, copy=True)
    report: Any = doc.content  # a MeasurementReport for a TID 1500 document
    if not hasattr(report, "get_planar_roi_measurement_groups"):
        raise ValueError("not a TID 1500 Measurement Report: no measurement groups to read")
    out = []
    for g in report.get_planar_roi_measurement_groups():
        ft = g.finding_type
        finding_type = (
            (ft.scheme_designator, ft.value, ft.meaning) if ft is not None else ("", "", "")
        )
        screw = None
        for ev in g.get_qualitative_evaluations():
            if ev.name.value == ORTHOGUI_CODES["screw_type"][0]:
                screw = (ev.value.value, ev.value.meaning)
        lengths = g.get_measurements(name=codes.SCT.Length)
        level = None
        for site in g.finding_sites:
            level = _level_of(site.value.value) or level
        roi = g.roi
        points = tuple((float(x), float(y)) for x, y in roi.value) if roi is not None else ()
        alg = _algorithm(g)
        out.append(
            SrFinding(
                tracking_id=str(g.tracking_identifier or ""),
                tracking_uid=str(g.tracking_uid or ""),
                category=category_of(finding_type, screw),
                finding_type=finding_type,
                graphic_type=str(roi.graphic_type.value) if roi is not None else "",
                points=points,
                source_sop_instance_uid=_referenced_sop(roi),
                length_mm=float(lengths[0].value) if lengths else None,
                vertebra_level=level,
                algorithm=alg,
            )
        )
    return out


def _referenced_sop(roi: Any) -> str:
    """The SOP Instance UID of the image a region is ``SELECTED FROM``."""
    for item in getattr(roi, "ContentSequence", None) or []:
        for ref in item.get("ReferencedSOPSequence", None) or []:
            return str(ref.ReferencedSOPInstanceUID)
    return ""


def _algorithm(group: Any) -> tuple[str, str] | None:
    """(name, version) of a group's TID 4019 Algorithm Identification, if it has one."""
    found: dict[str, str] = {}
    container = group[0] if len(group) else None  # a template is a sequence: its container
    for item in getattr(container, "ContentSequence", None) or []:
        names = item.get("ConceptNameCodeSequence", None) or []
        if names and names[0].CodeValue in _ALGORITHM_CODES:
            found[_ALGORITHM_CODES[names[0].CodeValue]] = str(item.get("TextValue", ""))
    return (found["name"], found.get("version", "")) if "name" in found else None
