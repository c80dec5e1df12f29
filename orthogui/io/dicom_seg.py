"""Reviewed findings of one DICOM image as a DICOM Segmentation (binary SEG, highdicom), and the
masks read back from such a SEG.

One segment per category among the image's accepted or corrected findings: the union of their
outlines (a box as its rectangle) rasterised at the source image's size by the project's one
rasteriser, ``orthogui.io.masks.polygons_to_mask`` (the COCO export's rule). Each segment is
one frame on the source's pixel grid, derived from the source instance (spatial locations
preserved); the SEG joins the source's study and patient in a new series.

Codes are the SR's (``orthogui.io.dicom_sr.finding_codes``): the segmented property type is
the finding type - SCT "Bone screw" with the private screw type as its type modifier, SCT
"Fracture of bone", else the private ``99ORTHOGUI`` code; the property category is SCT
"Physical object" for screws, SCT "Morphologically abnormal structure" for fractures, else the
private ``FINDING``. A segment is SEMIAUTOMATIC, with the model (name, version) as algorithm
identification, when a model proposed any of its findings, else MANUAL. The reviewer is the
content creator.

The SEG of a projection radiograph lies on the source's own pixel grid (which carries the
spacing), without a Frame of Reference or Pixel Measures: a radiograph has no patient-space
geometry (no image orientation, no slice thickness), and highdicom would otherwise copy the
source's Pixel Spacing without a Slice Thickness - which the standard allows only without a
Frame of Reference, and which highdicom's own reader refuses either way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from orthogui.core.annotation import Annotation
from orthogui.core.categories import DEFAULT_CATEGORIES, SCREW_GROUP, CategorySet
from orthogui.core.geometry import Box, Polygon
from orthogui.io.dicom_sr import (
    ORTHOGUI_CODES,
    PRIVATE_SCHEME,
    STANDARD_CODES,
    SrRefused,
    approved_source,
    category_of,
    default_reviewer,
    finding_codes,
    person_name,
    reviewed,
)

if TYPE_CHECKING:
    from highdicom.seg import Segmentation, SegmentDescription
    from highdicom.sr import CodedConcept
    from pydicom.dataset import Dataset

    from orthogui.io.store import ProjectStore

SEG_SERIES_NUMBER = 9002
SEG_SERIES_DESCRIPTION = "OrthoGUI reviewed findings (masks)"
_PHYSICAL_OBJECT = ("SCT", "260787004", "Physical object")
_ABNORMAL_STRUCTURE = ("SCT", "49755003", "Morphologically abnormal structure")
_FRACTURE = "fracture"  # the group or supercategory of fracture-like categories


class SegRefused(SrRefused):
    """The image cannot be given a SEG (not approved, not DICOM, nothing reviewed, nothing
    inside the image); an ``SrRefused`` so that one ``except`` covers both results."""


# -- masks ------------------------------------------------------------------------------------
def category_masks(
    annotations: Sequence[Annotation],
    shape: tuple[int, int],
    *,
    categories: CategorySet = DEFAULT_CATEGORIES,
) -> dict[str, NDArray[np.uint8]]:
    """The 0/1 mask of each category among the reviewed findings, in the category set's order
    (categories it does not know after, by name).

    Parameters
    ----------
    annotations
        An image's annotations; only accepted and corrected ones count.
    shape
        (rows, columns) of the image.
    categories
        The project's category set (the order).

    Returns
    -------
    dict[str, numpy.ndarray]
        ``uint8`` masks of ``shape``; a category whose findings all lie outside the image has
        an all-zero mask.
    """
    from orthogui.io.masks import polygons_to_mask

    outlines: dict[str, list[Polygon]] = {}
    for ann in reviewed(annotations):
        poly = ann.shape.to_polygon() if isinstance(ann.shape, Box) else ann.shape
        outlines.setdefault(ann.category, []).append(poly)
    known = categories.names()
    order = sorted(outlines, key=lambda n: (0, known.index(n), "") if n in known else (1, 0, n))
    return {name: polygons_to_mask(outlines[name], shape) for name in order}


# -- codes ------------------------------------------------------------------------------------
def _concept(scheme: str, value: str, meaning: str) -> CodedConcept:
    from highdicom.sr import CodedConcept

    return CodedConcept(value=value, scheme_designator=scheme, meaning=meaning)


def property_category(category: str, *, group: str = "", supercategory: str = "") -> CodedConcept:
    """The segmented property category of a category: screws are physical objects, fractures
    morphologically abnormal structures, others the private ``FINDING``."""
    if group == SCREW_GROUP or supercategory == SCREW_GROUP:
        return _concept(*_PHYSICAL_OBJECT)
    if _FRACTURE in (category, group, supercategory):
        return _concept(*_ABNORMAL_STRUCTURE)
    value, meaning = ORTHOGUI_CODES["finding"]
    return _concept(PRIVATE_SCHEME, value, meaning)


def _model_of(findings: Sequence[Annotation]) -> tuple[str, str] | None:
    """(name, version) of the model that proposed most of ``findings``, or None."""
    models = Counter(
        (a.provenance.model_name, a.provenance.model_version or "unknown")
        for a in findings
        if a.provenance.is_model and a.provenance.model_name
    )
    return models.most_common(1)[0][0] if models else None


def _segment(
    number: int, category: str, findings: Sequence[Annotation], categories: CategorySet
) -> SegmentDescription:
    import highdicom as hd
    from pydicom.sr.codedict import codes

    known = categories.by_name(category) if category in categories else None
    group = known.group if known is not None else ""
    finding_type, screw_type = finding_codes(category, group=group)
    model = _model_of(findings)
    algorithm = None
    if model is not None:
        algorithm = hd.AlgorithmIdentificationSequence(
            name=model[0], family=codes.DCM.ArtificialIntelligence, version=model[1]
        )
    colour = None
    if known is not None and len(known.color) == 7 and known.color.startswith("#"):
        rgb = [int(known.color[i : i + 2], 16) for i in (1, 3, 5)]
        colour = hd.color.CIELabColor.from_rgb(*rgb)
    description = hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=category,
        segmented_property_category=property_category(
            category, group=group, supercategory=known.supercategory if known else ""
        ),
        segmented_property_type=finding_type,
        algorithm_type="SEMIAUTOMATIC" if model is not None else "MANUAL",
        algorithm_identification=algorithm,
        display_color=colour,
    )
    if screw_type is not None:  # the screw type qualifies "Bone screw", as in the SR
        description.SegmentedPropertyTypeCodeSequence[
            0
        ].SegmentedPropertyTypeModifierCodeSequence = [screw_type]
    return description


# -- building ---------------------------------------------------------------------------------
def _image_shape(source: Dataset) -> tuple[int, int]:
    frames = int(source.get("NumberOfFrames", 1) or 1)
    if frames != 1:
        raise SegRefused(f"a SEG of a {frames}-frame image is not supported (radiographs have 1)")
    rows, cols = source.get("Rows"), source.get("Columns")
    if not rows or not cols:
        raise SegRefused("the DICOM file has no image size (Rows, Columns)")
    return int(rows), int(cols)


def build_segmentation(
    source: Dataset,
    annotations: Sequence[Annotation],
    *,
    reviewer: str,
    categories: CategorySet = DEFAULT_CATEGORIES,
) -> Segmentation:
    """A binary DICOM SEG of the reviewed findings on one image, one segment per category.

    Parameters
    ----------
    source
        The image's DICOM dataset (pixels not needed); the SEG joins its study and patient.
    annotations
        The image's annotations; only accepted and corrected ones are segmented.
    reviewer
        The content creator (e.g. the reviewer's name).
    categories
        The project's category set (segment order, screws, colours).

    Returns
    -------
    highdicom.seg.Segmentation
        A new instance in a new series (SOP, series UIDs random); save with ``save_as``.

    Raises
    ------
    SegRefused
        No finding is reviewed, every reviewed finding lies outside the image, or the source
        is not a single-frame image highdicom can derive from.
    """
    import highdicom as hd
    from pydicom.uid import generate_uid

    from orthogui import __version__

    findings = reviewed(annotations)
    if not findings:
        raise SegRefused("no accepted or corrected finding to segment")
    shape = _image_shape(source)
    masks = {
        name: mask
        for name, mask in category_masks(findings, shape, categories=categories).items()
        if mask.any()  # a segment needs pixels
    }
    if not masks:
        raise SegRefused(f"every reviewed finding lies outside the image ({shape[1]}x{shape[0]})")
    segments = [
        _segment(i, name, [a for a in findings if a.category == name], categories)
        for i, name in enumerate(masks, start=1)
    ]
    pixels = np.stack(list(masks.values()), axis=-1)[np.newaxis]  # (1, rows, cols, segments)
    try:
        seg = hd.seg.Segmentation(
            source_images=[_pixel_grid_only(source)],
            pixel_array=pixels,
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=segments,
            series_instance_uid=generate_uid(),
            series_number=SEG_SERIES_NUMBER,
            sop_instance_uid=generate_uid(),
            instance_number=1,
            manufacturer="OrthoGUI",
            manufacturer_model_name="OrthoGUI",
            software_versions=__version__,
            device_serial_number=__version__,
            series_description=SEG_SERIES_DESCRIPTION,
            content_description="Reviewed findings",
            content_creator_name=person_name(reviewer or "unknown reviewer"),
            content_label="FINDINGS",
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise SegRefused(f"highdicom cannot derive a SEG from it: {exc}") from exc
    shared: Any = seg.SharedFunctionalGroupsSequence[0]
    measures = shared.get("PixelMeasuresSequence")
    no_space = "FrameOfReferenceUID" not in seg
    if measures is not None and no_space and "SliceThickness" not in measures[0]:
        del shared.PixelMeasuresSequence
    return seg


def _pixel_grid_only(source: Dataset) -> Dataset:
    """The source header as highdicom should see it: a projection radiograph (no Image
    Orientation (Patient)) loses its Frame of Reference UID, so that its SEG is one on the
    source's pixel grid and not one in patient space that would need a slice thickness and
    plane positions a projection does not have. ``source`` itself is left as it is."""
    from pydicom.dataset import Dataset

    if "FrameOfReferenceUID" not in source or "ImageOrientationPatient" in source:
        return source
    header = Dataset()
    header.update(source)  # its own element dict; the elements are shared, none is changed
    del header.FrameOfReferenceUID
    return header


def seg_for_image(
    store: ProjectStore, image_id: str, *, reviewer: str | None = None
) -> Segmentation:
    """The SEG of an approved DICOM image of a project.

    Parameters
    ----------
    store
        The open project.
    image_id
        The image's id.
    reviewer
        The content creator; default: who reviewed most of the image's findings, else the
        project's user.

    Raises
    ------
    SegRefused
        The image is not approved, its file is not DICOM, or nothing on it is reviewed or
        inside it (the message names the file).
    """
    try:
        path, source = approved_source(store, image_id, what="SEG")
    except SrRefused as exc:
        raise SegRefused(str(exc)) from exc
    annotations = store.model.annotations(image_id)
    if reviewer is None:
        reviewer = default_reviewer(store, annotations)
    try:
        return build_segmentation(
            source, annotations, reviewer=reviewer, categories=store.model.categories
        )
    except SegRefused as exc:
        raise SegRefused(f"{path}: {exc}") from exc


# -- reading back -----------------------------------------------------------------------------
def read_masks(seg_dataset: Dataset | str | Path) -> dict[str, NDArray[np.uint8]]:
    """The segments of a binary SEG of one single-frame image, as 0/1 masks of its size.

    Parameters
    ----------
    seg_dataset
        The SEG as a dataset or a file.

    Returns
    -------
    dict[str, numpy.ndarray]
        ``uint8`` masks by category name (ours from the codes; another's by segment label),
        in segment order.

    Raises
    ------
    ValueError
        Not a SEG, or a SEG of several source images.
    """
    import highdicom as hd
    import pydicom

    ds = pydicom.dcmread(seg_dataset) if isinstance(seg_dataset, (str, Path)) else seg_dataset
    seg = hd.seg.Segmentation.from_dataset(ds, copy=True)
    sources = {uid for _study, _series, uid in seg.get_source_image_uids()}
    if len(sources) != 1:
        raise ValueError(f"a SEG of {len(sources)} source images; one expected")
    numbers = list(seg.segment_numbers)
    pixels = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=[sources.pop()],
        segment_numbers=numbers,
        combine_segments=False,
    )
    out: dict[str, NDArray[np.uint8]] = {}
    for index, number in enumerate(numbers):
        desc = seg.get_segment_description(number)
        kind = desc.segmented_property_type
        finding_type = (str(kind.scheme_designator), str(kind.value), str(kind.meaning))
        modifiers = desc.SegmentedPropertyTypeCodeSequence[0].get(
            "SegmentedPropertyTypeModifierCodeSequence", None
        )
        screw = None
        if modifiers and finding_type[:2] == STANDARD_CODES["screw"][:2]:
            screw = (str(modifiers[0].CodeValue), str(modifiers[0].CodeMeaning))
        name = category_of(finding_type, screw)
        out[name or str(desc.segment_label)] = np.asarray(pixels[0, ..., index], dtype=np.uint8)
    return out
