"""Reviewed findings as a binary DICOM SEG: highdicom reads back one frame per category equal to
the project's own rasterised masks, on the source image's grid, referring to the source
instance; codes and algorithm follow the SR; what is not reviewed stays out; the CLI saves SR
and SEG. No server needed.
"""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from orthogui.cli import main
from orthogui.core.annotation import Annotation, Prediction, Provenance, Review, ReviewState
from orthogui.core.commands import AddAnnotations
from orthogui.core.geometry import Box, Polygon
from orthogui.core.review import approve
from orthogui.io.dicom_seg import (
    SEG_SERIES_DESCRIPTION,
    SegRefused,
    build_segmentation,
    read_masks,
    seg_for_image,
)
from orthogui.io.dicom_sr import PRIVATE_SCHEME, SrRefused, read_findings
from orthogui.io.files import records_for
from orthogui.io.masks import polygons_to_mask
from orthogui.io.pacs_results import results_for_image
from orthogui.io.store import ProjectStore
from tests.conftest import TEST_DATA

SOURCE = TEST_DATA / "dicom" / "RG2_UNC.dcm"  # CR 2140x1760, PixelSpacing, no Frame of Reference
TINY = TEST_DATA / "dicom" / "77654033_CR1_6154.dcm"  # CR 16x16
SEG_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
MODEL = Provenance("model", "orthonet", "3.1", 0.9)


def _review(state: ReviewState = ReviewState.ACCEPTED) -> Review:
    return Review(state, "dr.seg", "2024-05-01T10:00:00Z")


def _findings() -> list[Annotation]:
    """Two locking screws (one overlapping the image edge), a cortical screw, a model fracture
    box (corrected) and a drawn one, a VCF; plus a rejected and a proposed finding."""
    screw_a = Polygon([(100, 100), (600, 150), (595, 180), (95, 130)])
    screw_b = Polygon([(1700, 2000), (1800, 2100), (1790, 2200), (1690, 2100)])  # past col 1760
    cortical = Polygon([(300.5, 700.2), (340.7, 700.9), (345.1, 900.4), (299.9, 899.6)])
    vcf = Polygon([(800, 800), (900, 800), (900, 880), (800, 870)])
    corrected = Annotation(
        "frac-model", "img", "fracture", Box(1000, 400, 1120, 500), MODEL, _review()
    ).evolve(review=_review(ReviewState.CORRECTED))
    return [
        Annotation("s1", "img", "locking_screw", screw_a, review=_review()),
        Annotation("s2", "img", "locking_screw", screw_b, review=_review()),
        Annotation("c1", "img", "cortical_screw", cortical, review=_review()),
        corrected,
        Annotation("frac-drawn", "img", "fracture", Box(1100, 450, 1300, 520), review=_review()),
        Annotation("vcf", "img", "vertebral_compression_fracture", vcf, review=_review()),
        Annotation(
            "rej",
            "img",
            "cancellous_screw",
            Box(10, 10, 80, 80),
            MODEL,
            _review(ReviewState.REJECTED),
        ),
        Annotation("new", "img", "fracture", Box(10, 10, 80, 80), MODEL, Review()),
    ]


def _expected(shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """The project's masks per category, straight from its rasteriser."""
    out: dict[str, list[Polygon]] = {}
    for a in _findings():
        if a.review.state in (ReviewState.ACCEPTED, ReviewState.CORRECTED):
            poly = a.shape.to_polygon() if isinstance(a.shape, Box) else a.shape
            out.setdefault(a.category, []).append(poly)
    return {name: polygons_to_mask(polys, shape) for name, polys in out.items()}


@pytest.fixture(scope="module")
def seg_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = pydicom.dcmread(SOURCE, stop_before_pixels=True)
    seg = build_segmentation(source, _findings(), reviewer="Who^Doctor")
    out = tmp_path_factory.mktemp("seg") / "masks.dcm"
    seg.save_as(out, enforce_file_format=True)
    return out


def test_frames_read_by_highdicom_equal_the_project_masks(seg_file: Path) -> None:
    source = pydicom.dcmread(SOURCE, stop_before_pixels=True)
    expected = _expected((source.Rows, source.Columns))
    assert set(expected) == {
        "locking_screw",
        "cortical_screw",
        "fracture",
        "vertebral_compression_fracture",
    }
    seg = hd.seg.segread(seg_file)
    assert seg.segmentation_type == hd.seg.SegmentationTypeValues.BINARY
    assert seg.number_of_frames == len(expected)  # one frame per category
    labels = {n: seg.get_segment_description(n).segment_label for n in seg.segment_numbers}
    assert sorted(labels.values()) == sorted(expected)
    pixels = seg.get_pixels_by_source_instance(
        [source.SOPInstanceUID], segment_numbers=list(labels), combine_segments=False
    )
    assert pixels.shape == (1, source.Rows, source.Columns, len(expected))
    for index, number in enumerate(labels):
        np.testing.assert_array_equal(pixels[0, ..., index], expected[labels[number]])
    assert expected["locking_screw"].sum() > 0 and expected["locking_screw"][:, -1].any()
    got = read_masks(seg_file)  # our reader maps the codes back to the categories
    assert list(got) == [
        "cortical_screw",
        "locking_screw",
        "fracture",
        "vertebral_compression_fracture",
    ]  # the category set's order
    for name, mask in expected.items():
        np.testing.assert_array_equal(got[name], mask)


def test_seg_refers_to_the_source_in_its_study(seg_file: Path) -> None:
    ds = pydicom.dcmread(seg_file)
    source = pydicom.dcmread(SOURCE, stop_before_pixels=True)
    assert ds.Modality == "SEG" and ds.SOPClassUID == SEG_STORAGE
    assert ds.StudyInstanceUID == source.StudyInstanceUID
    assert ds.PatientID == source.PatientID
    assert ds.SeriesInstanceUID != source.SeriesInstanceUID
    assert ds.SeriesDescription == SEG_SERIES_DESCRIPTION
    assert ds.Rows == source.Rows and ds.Columns == source.Columns
    refs = ds.ReferencedSeriesSequence[0]
    assert refs.SeriesInstanceUID == source.SeriesInstanceUID
    assert refs.ReferencedInstanceSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    for frame in ds.PerFrameFunctionalGroupsSequence:
        derived = frame.DerivationImageSequence[0].SourceImageSequence[0]
        assert derived.ReferencedSOPInstanceUID == source.SOPInstanceUID
        assert derived.SpatialLocationsPreserved == "YES"
    seg = hd.seg.Segmentation.from_dataset(ds)
    assert seg.get_source_image_uids() == [
        (source.StudyInstanceUID, source.SeriesInstanceUID, source.SOPInstanceUID)
    ]
    assert str(ds.ContentCreatorName) == "Who^Doctor"


def test_codes_and_algorithm_per_segment(seg_file: Path) -> None:
    seg = hd.seg.segread(seg_file)
    by_label = {
        d.segment_label: d for d in (seg.get_segment_description(n) for n in seg.segment_numbers)
    }
    screw = by_label["locking_screw"]
    assert (
        screw.segmented_property_type.scheme_designator,
        screw.segmented_property_type.value,
    ) == (
        "SCT",
        "68183006",
    )
    assert screw.segmented_property_category.value == "260787004"  # Physical object
    modifier = screw.SegmentedPropertyTypeCodeSequence[0].SegmentedPropertyTypeModifierCodeSequence
    assert (modifier[0].CodingSchemeDesignator, modifier[0].CodeValue) == (
        PRIVATE_SCHEME,
        "SCRW-LOCKING",
    )
    assert screw.algorithm_type == hd.seg.SegmentAlgorithmTypeValues.MANUAL
    assert screw.algorithm_identification is None
    fracture = by_label["fracture"]
    assert fracture.segmented_property_type.value == "125605004"  # SCT Fracture of bone
    assert fracture.segmented_property_category.value == "49755003"  # abnormal structure
    assert fracture.algorithm_type == hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC
    algorithm = fracture.algorithm_identification[0]
    assert (algorithm.AlgorithmName, algorithm.AlgorithmVersion) == ("orthonet", "3.1")
    assert algorithm.AlgorithmFamilyCodeSequence[0].CodeValue == "123110"  # AI
    vcf = by_label["vertebral_compression_fracture"]
    assert (vcf.segmented_property_type.scheme_designator, vcf.segmented_property_type.value) == (
        PRIVATE_SCHEME,
        "VCF",
    )
    assert vcf.algorithm_type == hd.seg.SegmentAlgorithmTypeValues.MANUAL
    assert "cancellous_screw" not in by_label  # rejected only


def test_tiny_image_and_box_rasterise_like_the_project() -> None:
    source = pydicom.dcmread(TINY, stop_before_pixels=True)
    box = Annotation("b", "img", "fracture", Box(2.5, 3, 9, 14.2), MODEL, _review())
    seg = build_segmentation(source, [box], reviewer="x")
    expected = polygons_to_mask([box.shape.to_polygon()], (16, 16))
    assert 0 < expected.sum() < 256
    np.testing.assert_array_equal(read_masks(seg)["fracture"], expected)


def test_radiograph_with_a_frame_of_reference_reads_back() -> None:
    source = pydicom.dcmread(SOURCE, stop_before_pixels=True)
    source.FrameOfReferenceUID = generate_uid()  # as some DX files carry, with no geometry
    seg = build_segmentation(source, _findings(), reviewer="x")
    assert "FrameOfReferenceUID" not in seg
    assert "PixelMeasuresSequence" not in seg.SharedFunctionalGroupsSequence[0]
    assert "FrameOfReferenceUID" in source  # the caller's header is left as it is
    got = read_masks(seg)
    for name, mask in _expected((source.Rows, source.Columns)).items():
        np.testing.assert_array_equal(got[name], mask)


def test_nothing_reviewed_or_nothing_inside_is_refused() -> None:
    source = pydicom.dcmread(SOURCE, stop_before_pixels=True)
    undecided = [a for a in _findings() if a.id in ("rej", "new")]
    with pytest.raises(SegRefused, match="no accepted or corrected finding"):
        build_segmentation(source, undecided, reviewer="x")
    outside = Annotation("o", "img", "fracture", Box(5000, 5000, 5100, 5100), review=_review())
    with pytest.raises(SegRefused, match="outside the image"):
        build_segmentation(source, [outside], reviewer="x")


def _approved_project(path: Path, findings: list[Annotation]) -> tuple[str, str]:
    """A project with RG2 (approved, with ``findings``) and a raster image (approved too)."""
    raster = sorted((TEST_DATA / "images").glob("*.jpg"))[0]
    with ProjectStore.create(path, user="dr.seg") as project:
        dicom_rec, raster_rec = project.add_images_reporting(records_for([SOURCE, raster])).added
        if findings:
            project.history.push(
                AddAnnotations(tuple(a.evolve(image_id=dicom_rec.id) for a in findings))
            )
        for rec in (dicom_rec, raster_rec):
            pred = Prediction("fracture", 0.9, Box(10, 10, 60, 60), "orthonet", "3.1")
            project.history.push(
                AddAnnotations((Annotation.from_prediction(pred, image_id=rec.id),))
            )
            command = approve(project.model, rec.id, user="dr.seg", resolve=ReviewState.REJECTED)
            assert command is not None
            project.history.push(command)
    return dicom_rec.id, raster_rec.id


def test_results_for_image_are_sr_then_seg_or_a_refusal_naming_the_file(tmp_path: Path) -> None:
    reviewed_id, raster_id = _approved_project(tmp_path / "a.orthogui", _findings())
    with ProjectStore.open(tmp_path / "a.orthogui", read_only=True) as project:
        sr, seg = results_for_image(project, reviewed_id, reviewer="Dr^Who")
        with pytest.raises(SrRefused, match="not a DICOM image, no SR") as info:
            results_for_image(project, raster_id)
        assert Path(project.image_path(project.model.image(raster_id))).name in str(info.value)
        with pytest.raises(SegRefused, match="no SEG"):
            seg_for_image(project, raster_id)
    assert (sr.Modality, seg.Modality) == ("SR", "SEG")
    assert sr.StudyInstanceUID == seg.StudyInstanceUID
    assert sr.SeriesInstanceUID != seg.SeriesInstanceUID
    source_uid = pydicom.dcmread(SOURCE, stop_before_pixels=True).SOPInstanceUID
    assert {f.source_sop_instance_uid for f in read_findings(sr)} == {source_uid}
    assert set(read_masks(seg)) == {f.category for f in read_findings(sr)}
    assert str(seg.ContentCreatorName) == "Dr^Who"

    only_rejected, _ = _approved_project(tmp_path / "b.orthogui", [])
    with ProjectStore.open(tmp_path / "b.orthogui", read_only=True) as project:
        with pytest.raises(SrRefused, match="no accepted or corrected finding") as info:
            results_for_image(project, only_rejected)
        assert SOURCE.name in str(info.value)
        with pytest.raises(SegRefused, match="no accepted or corrected finding") as seg_info:
            seg_for_image(project, only_rejected)
        assert SOURCE.name in str(seg_info.value)


def test_cli_dry_run_saves_sr_and_seg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image_id, _ = _approved_project(tmp_path / "p.orthogui", _findings())
    args = ["pacs", "send", "--project", str(tmp_path / "p.orthogui"), "--dry-run"]
    assert main([*args, "--save", str(tmp_path / "all")]) == 0
    printed = capsys.readouterr()
    assert "built 1 SR and 1 SEG; not sent" in printed.out
    assert "skipped:" in printed.err  # the approved JPEG
    out = tmp_path / "one"
    assert main([*args, "--image", image_id, "--save", str(out)]) == 0
    saved = {pydicom.dcmread(p).Modality: p for p in out.iterdir()}
    assert set(saved) == {"SR", "SEG"} and len(list(out.iterdir())) == 2
    source = pydicom.dcmread(SOURCE, stop_before_pixels=True)
    expected = _expected((source.Rows, source.Columns))
    got = read_masks(saved["SEG"])
    assert set(got) == set(expected)
    for name, mask in expected.items():
        np.testing.assert_array_equal(got[name], mask)
    assert main([*args, "--image", "no-such-image"]) == 1
