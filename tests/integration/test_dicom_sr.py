"""Reviewed findings as a DICOM SR (TID 1500): every finding, type, level and length comes back
when highdicom reads the file, dcmtk's ``dsrdump`` parses it, and what is not reviewed or not
approved stays out. No server needed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import highdicom.sr as hsr
import numpy as np
import pydicom
import pytest
from pydicom.sr.codedict import codes

from orthogui.core.annotation import Annotation, Prediction, Provenance, Review, ReviewState
from orthogui.core.commands import AddAnnotations
from orthogui.core.geometry import Box, Polygon
from orthogui.core.review import approve
from orthogui.io.dicom_sr import (
    PRIVATE_SCHEME,
    SrRefused,
    build_measurement_report,
    read_findings,
    sr_for_image,
)
from orthogui.io.files import records_for
from orthogui.io.store import ProjectStore
from tests.conftest import TEST_DATA

SOURCE = TEST_DATA / "dicom" / "RG2_UNC.dcm"  # PixelSpacing 0.2 mm
NO_SPACING = TEST_DATA / "dicom" / "RG1_J2KR.dcm"  # PixelSpacing 0\0: unknown
SCREWS = (
    "cortical_screw",
    "cancellous_screw",
    "locking_screw",
    "cannulated_screw",
    "compression_screw",
)


def _review(state: ReviewState = ReviewState.ACCEPTED) -> Review:
    return Review(state, "dr.sr", "2024-05-01T10:00:00Z")


def _findings() -> list[Annotation]:
    out = []
    for i, name in enumerate(SCREWS):
        x = 100 + 150 * i
        shape = Polygon(
            [(x, 100), (x + 20, 100), (x + 25, 100 + 40 * (i + 1)), (x, 100 + 40 * (i + 1))]
        )
        out.append(Annotation(f"screw{i}", "img", name, shape, review=_review()))
    model = Provenance("model", "orthonet", "3.1", 0.91)
    out.append(Annotation("frac", "img", "fracture", Box(300, 400, 420, 500), model, _review()))
    out.append(
        Annotation(
            "vcf",
            "img",
            "vertebral_compression_fracture",
            Polygon([(800, 800), (900, 800), (900, 880), (800, 870)]),
            review=_review(ReviewState.CORRECTED),
            attributes={"vertebra_level": "T12"},
        )
    )
    box = Box(1, 1, 50, 50)
    out.append(Annotation("rej", "img", "fracture", box, review=_review(ReviewState.REJECTED)))
    out.append(Annotation("new", "img", "fracture", box, review=Review(ReviewState.PROPOSED)))
    return out


def _length_mm(shape: Polygon, spacing: float) -> float:
    return float(Polygon(shape.points * spacing).principal_axis_length())


@pytest.fixture(scope="module")
def sr_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = pydicom.dcmread(SOURCE, stop_before_pixels=True)
    sr = build_measurement_report(source, _findings(), reviewer="Who^Doctor")
    out = tmp_path_factory.mktemp("sr") / "findings.dcm"
    sr.save_as(out, enforce_file_format=True)
    return out


def test_round_trip_gives_every_finding_type_level_and_length(sr_file: Path) -> None:
    source = pydicom.dcmread(SOURCE, stop_before_pixels=True)
    by_id = {f.tracking_id: f for f in read_findings(sr_file)}
    assert set(by_id) == {f"screw{i}" for i in range(5)} | {"frac", "vcf"}  # reviewed only
    findings = {a.id: a for a in _findings()}
    for i, name in enumerate(SCREWS):
        got = by_id[f"screw{i}"]
        assert got.category == name
        assert got.finding_type == ("SCT", "68183006", "Bone screw")
        shape = findings[got.tracking_id].shape
        assert isinstance(shape, Polygon)
        assert got.length_mm == pytest.approx(_length_mm(shape, 0.2), abs=0.01)
        np.testing.assert_allclose(got.points[:-1], shape.points, atol=1e-3)
        assert got.points[0] == got.points[-1]  # closed POLYLINE
    assert by_id["frac"].finding_type == ("SCT", "125605004", "Fracture of bone")
    assert by_id["frac"].category == "fracture"
    assert by_id["frac"].length_mm is None  # lengths are for screws
    assert by_id["frac"].points[:4] == ((300, 400), (420, 400), (420, 500), (300, 500))
    assert by_id["frac"].algorithm == ("orthonet", "3.1")
    vcf = by_id["vcf"]
    assert (
        vcf.finding_type[0] == PRIVATE_SCHEME and vcf.category == "vertebral_compression_fracture"
    )
    assert vcf.vertebra_level == "T12"
    assert {f.source_sop_instance_uid for f in by_id.values()} == {str(source.SOPInstanceUID)}
    assert {f.graphic_type for f in by_id.values()} == {"POLYLINE"}
    assert len({f.tracking_uid for f in by_id.values()}) == 7


def test_sr_joins_the_study_with_reviewer_and_model_as_observers(sr_file: Path) -> None:
    ds = pydicom.dcmread(sr_file)
    source = pydicom.dcmread(SOURCE, stop_before_pixels=True)
    assert ds.Modality == "SR"
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR Storage
    assert ds.StudyInstanceUID == source.StudyInstanceUID
    assert ds.PatientID == source.PatientID
    assert ds.SeriesInstanceUID != source.SeriesInstanceUID
    assert ds.CompletionFlag == "COMPLETE"
    doc = hsr.Comprehensive3DSR.from_dataset(ds)
    person = doc.content.get_observer_contexts(observer_type=codes.DCM.Person)
    device = doc.content.get_observer_contexts(observer_type=codes.DCM.Device)
    assert str(person[0].observer_identifying_attributes.name) == "Who^Doctor"
    assert device[0].observer_identifying_attributes.name == "orthonet"
    assert device[0].observer_identifying_attributes.model_name == "orthonet 3.1"
    evidence = ds.CurrentRequestedProcedureEvidenceSequence[0]
    refs = evidence.ReferencedSeriesSequence[0].ReferencedSOPSequence
    assert refs[0].ReferencedSOPInstanceUID == source.SOPInstanceUID


def test_dsrdump_parses_the_sr(sr_file: Path) -> None:
    exe = shutil.which("dsrdump")
    if exe is None:
        pytest.skip("dcmtk's dsrdump is not installed (scripts/orthanc.sh install)")
    result = subprocess.run([exe, str(sr_file)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "E:" not in result.stderr and "W:" not in result.stderr, result.stderr
    assert "Imaging Measurement Report" in result.stdout
    assert result.stdout.count('"Measurement Group"') == 7
    assert '(SCRW-LOCKING,99ORTHOGUI,"Locking screw")' in result.stdout
    assert '(23215003,SCT,"T12 vertebra")' in result.stdout


def test_no_length_without_pixel_spacing() -> None:
    source = pydicom.dcmread(NO_SPACING, stop_before_pixels=True)
    (screw,) = [a for a in _findings() if a.id == "screw0"]
    found = read_findings(build_measurement_report(source, [screw], reviewer="x"))
    assert found[0].category == "cortical_screw" and found[0].length_mm is None


def test_nothing_reviewed_is_refused() -> None:
    source = pydicom.dcmread(SOURCE, stop_before_pixels=True)
    proposed = [a for a in _findings() if a.review.state is ReviewState.PROPOSED]
    with pytest.raises(SrRefused, match="no accepted or corrected finding"):
        build_measurement_report(source, proposed, reviewer="x")


def test_sr_for_image_needs_an_approved_dicom_image(tmp_path: Path) -> None:
    png = TEST_DATA / "images"
    raster = sorted(p for p in png.iterdir() if p.suffix.lower() in (".png", ".jpg"))[0]
    with ProjectStore.create(tmp_path / "p.orthogui", user="dr.sr") as project:
        dicom_rec, raster_rec = project.add_images_reporting(records_for([SOURCE, raster])).added
        for rec in (dicom_rec, raster_rec):
            pred = Prediction("fracture", 0.9, Box(10, 10, 60, 60), "orthonet", "3.1")
            ann = Annotation.from_prediction(pred, image_id=rec.id)
            project.history.push(AddAnnotations((ann,)))
        with pytest.raises(SrRefused, match="not approved"):
            sr_for_image(project, dicom_rec.id)
        for rec in (dicom_rec, raster_rec):
            command = approve(project.model, rec.id, user="dr.sr", resolve=ReviewState.ACCEPTED)
            assert command is not None
            project.history.push(command)
        with pytest.raises(SrRefused, match="not a DICOM image") as info:
            sr_for_image(project, raster_rec.id)
        assert raster.name in str(info.value)
        sr = sr_for_image(project, dicom_rec.id)
        (finding,) = read_findings(sr)
        assert finding.category == "fracture" and finding.algorithm == ("orthonet", "3.1")
        doc = hsr.Comprehensive3DSR.from_dataset(sr)
        person = doc.content.get_observer_contexts(observer_type=codes.DCM.Person)
        assert str(person[0].observer_identifying_attributes.name) == "dr.sr^"
