"""A patient CD as hospitals burn it, for the tests and the folder-scan benchmark: a DICOMDIR
(written with pydicom's ``FileSet``) indexing ``DICOM/PA0/ST0/SE0/IM000001`` files without
suffixes, made from the small fixtures in ``tests/data/dicom`` with new identifiers, beside
the non-images a CD carries (README, autorun.inf, a viewer .exe)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.fileset import FileSet
from pydicom.uid import generate_uid

DATA = Path(__file__).parent / "data" / "dicom"
SOURCES = ("77654033_CR1_6154.dcm", "77654033_CR2_6247.dcm", "77654033_CR3_6278.dcm")
NON_IMAGES = ("README.TXT", "AUTORUN.INF", "VIEWER/VIEWER.EXE")


@dataclass(frozen=True)
class CdPatient:
    name: str  # DICOM person name
    patient_id: str
    studies: tuple[tuple[str, str, str, int], ...]  # (date, description, accession, images)


PATIENTS = (
    CdPatient("DOE^JANE", "P001", (("20240301", "KNEE", "ACC1", 2), ("20240415", "HIP", "ACC2", 3))),
    CdPatient("ROE^RICHARD", "P002", (("20230910", "SPINE", "ACC3", 2), ("20231001", "HAND", "ACC4", 2))),
)  # fmt: skip


def cd_image(source: Path, **facts: object) -> Dataset:
    """A copy of ``source`` with new UIDs and the given header facts (DICOM keywords)."""
    ds = pydicom.dcmread(source)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    for keyword, value in facts.items():
        setattr(ds, keyword, value)
    return ds


def write_patient_cd(root: Path, patients: tuple[CdPatient, ...] = PATIENTS) -> Path:
    """Write the CD under ``root`` (created); return ``root``. Image n of a study is made
    from ``SOURCES[n % 3]`` and numbered from 1."""
    fs = FileSet()
    for p in patients:
        for date, desc, accession, n_images in p.studies:
            study, series = generate_uid(), generate_uid()
            for n in range(n_images):
                fs.add(
                    cd_image(
                        DATA / SOURCES[n % len(SOURCES)],
                        PatientName=p.name,
                        PatientID=p.patient_id,
                        StudyInstanceUID=study,
                        SeriesInstanceUID=series,
                        StudyDate=date,
                        StudyTime="101010",
                        StudyID="1",
                        StudyDescription=desc,
                        AccessionNumber=accession,
                        SeriesNumber=1,
                        InstanceNumber=n + 1,
                    )
                )
    fs.write(root)
    _relayout(root)
    for name in NON_IMAGES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / "README.TXT").write_text("Images of your examination. Run VIEWER\\VIEWER.EXE.\n")
    (root / "AUTORUN.INF").write_text("[autorun]\nopen=VIEWER\\VIEWER.EXE\n")
    (root / "VIEWER" / "VIEWER.EXE").write_bytes(b"MZ\x90\x00" + b"\x00" * 252)
    return root


def _relayout(root: Path) -> None:
    """Move pydicom's ``PT000000/ST000000/SE000000/IM000000`` to the ``DICOM/PA0/ST0/SE0/
    IM000001`` names CD burners use, and rewrite the DICOMDIR's File IDs (and offsets)."""
    fs = FileSet(root / "DICOMDIR")
    for inst in fs:
        series = inst.node.parent
        study = series.parent
        patient = study.parent
        parts = [
            "DICOM",
            f"PA{patient.index}",
            f"ST{study.index}",
            f"SE{series.index}",
            f"IM{inst.node.index + 1:06d}",
        ]
        new = root.joinpath(*parts)
        new.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(inst.path, new)
        inst.node._record.ReferencedFileID = parts
    fs._stage["^"] = True  # File IDs changed: write the DICOMDIR again, offsets recomputed
    fs.write(use_existing=True)
    for old in root.glob("PT*"):
        shutil.rmtree(old)
