"""A PHI-laden corpus, exported by ``orthogui export`` in every image mode: no planted value leaves.

The corpus is made here: the small test DICOMs carrying every attribute of PS3.15 Table E.1-1
that can hold identifying text (top level, inside sequences, private), PNG/JPEG/TIFF files with
EXIF, XMP, text chunks and comments, file names, image and finding attributes, reviewer names.
Every byte the snapshot writes is searched, case-insensitively, and DICOM also decoded.
"""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
import pytest
import tifffile
from PIL import Image, PngImagePlugin
from pydicom.datadict import dictionary_has_tag, dictionary_VR, keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from orthogui.cli import main
from orthogui.core.annotation import Annotation
from orthogui.core.commands import AddAnnotations
from orthogui.core.geometry import Box
from orthogui.core.project import ImageRecord, ImageStatus
from orthogui.core.review import ReviewState, set_state
from orthogui.io.deid import basic_profile, date_offset_days, hashed_uid
from orthogui.io.deid_options import CLEAN_DESCRIPTORS
from orthogui.io.readers import read_radiograph
from orthogui.io.snapshot import ImageMode
from orthogui.io.store import ProjectStore

DATA = Path(__file__).parents[2] / "data" / "dicom"
SOURCES = ["77654033_CR1_6154.dcm", "77654033_CR2_6247.dcm", "77654033_CR3_6278.dcm"]
TEXT_VRS = {"PN", "LO", "SH", "LT", "ST", "UT", "UC", "AE", "UR", "CS"}
REVIEWER = "Dr Quillon Vexmarsh"
HARMLESS_INFO = {
    "dpi",
    "jfif",
    "jfif_version",
    "jfif_unit",
    "jfif_density",
    "compression",
    "resolution",
}


@dataclass
class Corpus:
    project: Path
    needles: set[str] = field(default_factory=set)
    burned: Path | None = None


def _token(n: int, kind: str = "") -> str:
    return f"QZ{kind}{n:04d}XJ"


class Planter:
    """Gives each identifying attribute a unique value and remembers it as a needle."""

    def __init__(self, needles: set[str], prefix: int) -> None:
        self.needles = needles
        self.n = prefix * 10000

    def value(self, vr: str) -> object:
        self.n += 1
        if vr == "PN":
            family, given = _token(self.n, "F"), _token(self.n, "G")
            self.needles |= {family, given}
            return f"{family}^{given}"
        if vr in ("DA", "DT"):
            day = f"1937{1 + self.n % 12:02d}{1 + self.n % 27:02d}"
            self.needles.add(day)
            return day + ("101112" if vr == "DT" else "")
        if vr == "UI":
            uid = f"1.2.826.0.1.3680043.10.{4711 + self.n}"
            self.needles.add(uid)
            return uid
        if vr in ("OB", "UN", "OW"):
            text = _token(self.n, "B")
            self.needles.add(text)
            return text.encode() + b"\x00" * (len(text) % 2)
        text = _token(self.n, "C" if vr == "CS" else "T")
        self.needles.add(text)
        if vr == "UR":
            return f"http://{text.lower()}.example.org"
        return text


def _plant_table(ds: Dataset, planter: Planter) -> None:
    """Every Table E.1-1 attribute with a text, date, UID or sequence value (not the Clean
    Descriptors ones: they are kept by that option, cleaned of the identifiers below)."""
    for tag in sorted(basic_profile().exact):
        if tag >> 16 in (0x0002, 0x0000, 0xFFFA, 0xFFFC) or not dictionary_has_tag(tag):
            continue
        vr = dictionary_VR(tag).split(" or ")[0]
        keyword = keyword_for_tag(tag)
        if keyword in CLEAN_DESCRIPTORS or keyword in ("PixelData", "SOPInstanceUID"):
            continue
        if vr == "SQ":
            item = Dataset()
            item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"
            item.ReferencedSOPInstanceUID = planter.value("UI")
            item.PersonName = planter.value("PN")
            ds.add_new(tag, "SQ", Sequence([item]))
        elif vr in TEXT_VRS | {"DA", "DT", "UI"}:
            ds.add_new(tag, vr, planter.value(vr))


def _phi_dicom(src: Path, dst: Path, planter: Planter, *, burned: bool = False) -> Dataset:
    """A copy of ``src`` full of identifiers; its header values are what annotations repeat."""
    ds = pydicom.dcmread(src)
    _plant_table(ds, planter)
    name = str(ds.PatientName)
    family, given = name.split("^")
    pid = ds.PatientID
    # The leaks once measured: requested procedure, physician names and descriptions naming
    # the patient deep inside sequences; weight and size; birth name; e-mail; plate/detector.
    req = Dataset()
    req.RequestedProcedureDescription = f"Hip {given} {family}"
    req.ScheduledProcedureStepDescription = f"{family.lower()}, {given} AP"
    req.RequestingPhysician = planter.value("PN")
    req.RequestedProcedureID = planter.value("SH")
    inner = Dataset()
    inner.ScheduledPerformingPhysicianName = planter.value("PN")
    inner.AccessionNumber = planter.value("SH")
    req.ScheduledProtocolCodeSequence = Sequence([inner])
    ds.RequestAttributesSequence = Sequence([req])
    ds.ProtocolName = f"{name} pelvis"
    ds.StudyDescription = f"PELVIS {family.upper()} {pid}"
    ds.SeriesDescription = (
        f"AP born {ds.PatientBirthDate[:4]}-{ds.PatientBirthDate[4:6]}-{ds.PatientBirthDate[6:]}"
    )
    ds.PerformedProcedureStepDescription = f"x-ray for {given}"
    ds.ImageComments = f"Contact {given.lower()}@clinic.example.org"
    ds.PatientWeight = "83.1729"
    ds.PatientSize = "1.9137"
    ds.PatientTelecomInformation = f"{_token(planter.n + 1, 'M').lower()}@hospital.example.org"
    planter.needles |= {"83.1729", "1.9137", str(ds.PatientTelecomInformation)}
    # An attribute the profile does not name holding identifying ones, two levels down.
    outer = Dataset()
    hidden = Dataset()
    hidden.PatientName = ds.PatientName
    hidden.OtherPatientIDs = planter.value("LO")
    hidden.PatientBirthName = planter.value("PN")
    outer.AnatomicRegionModifierSequence = Sequence([hidden])
    outer.CodeValue, outer.CodingSchemeDesignator, outer.CodeMeaning = "T-15750", "SRT", "Hip"
    ds.AnatomicRegionSequence = Sequence([outer])
    block = ds.private_block(0x0029, "QZ HOSPITAL PACS", create=True)
    block.add_new(0x10, "LO", planter.value("LO"))
    block.add_new(0x11, "LO", f"{name} {pid}")
    ds.add_new(0x60004000, "LT", planter.value("LT"))  # overlay comments
    ds.BurnedInAnnotation = "YES" if burned else "NO"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = planter.value("UI")
    ds.save_as(dst, enforce_file_format=True)
    return ds


def _raster_pixels(seed: int) -> np.ndarray:
    return (np.arange(48 * 64, dtype=np.uint16).reshape(48, 64) * (7 + seed) % 251).astype(np.uint8)


def _exif(planter: Planter, told: list[str]) -> Image.Exif:
    exif = Image.Exif()
    exif[0x013B] = _told(planter, told)  # Artist
    exif[0x010E] = f"Knee of {planter.value('LO')}"  # ImageDescription
    told.append(str(exif[0x010E]))
    exif[0x8298] = _told(planter, told)  # Copyright
    exif[0x0112] = 6  # orientation: the export must keep the upright pixels without it
    return exif


def _told(planter: Planter, told: list[str]) -> str:
    """A planted header value that the image's annotations will repeat."""
    value = str(planter.value("LO"))
    told.append(value)
    return value


def _xmp(planter: Planter, told: list[str]) -> bytes:
    who = _told(planter, told)
    return (
        '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:creator="{who}"/>'
        "</rdf:RDF></x:xmpmeta>"
    ).encode()


def _png(path: Path, planter: Planter) -> list[str]:
    told: list[str] = []
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", _told(planter, told))
    info.add_text("Comment", _told(planter, told), zip=True)  # zTXt
    info.add_itxt("Description", _told(planter, told), lang="en", tkey="Beschreibung")
    Image.fromarray(_raster_pixels(1)).save(path, pnginfo=info, exif=_exif(planter, told))
    return told


def _jpeg(path: Path, planter: Planter) -> list[str]:
    told: list[str] = []
    Image.fromarray(_raster_pixels(2)).save(
        path,
        quality=95,
        exif=_exif(planter, told),
        comment=_told(planter, told).encode(),
        xmp=_xmp(planter, told),
    )
    return told


def _tiff(path: Path, planter: Planter) -> list[str]:
    told: list[str] = []
    tifffile.imwrite(
        path,
        _raster_pixels(3),
        description=_told(planter, told),
        software=_told(planter, told),
        extratags=[(315, "s", 0, _told(planter, told), True)],  # Artist
        metadata=None,
    )
    return told


def _corpus(root: Path) -> Corpus:
    needles: set[str] = set()
    src = root / "hospital"
    src.mkdir(parents=True)
    files: list[tuple[Path, list[str]]] = []
    corpus = Corpus(root / "proj" / "p.orthogui")
    for i, name in enumerate(SOURCES):
        planter = Planter(needles, i + 1)
        tmp = src / "tmp.dcm"
        ds = _phi_dicom(DATA / name, tmp, planter, burned=i == 2)
        patient = str(ds.PatientName).replace("^", "_")
        dst = src / f"{patient}_{ds.PatientID}.dcm"
        shutil.move(tmp, dst)
        told = [
            str(ds.PatientName),
            ds.PatientID,
            ds.PatientBirthDate,
            ds.AccessionNumber,
            str(ds.PatientTelecomInformation),
            "83.1729",
            str(ds.ReferringPhysicianName).split("^")[0],
        ]
        files.append((dst, told))
        if i == 2:
            corpus.burned = dst
    for i, make in enumerate((_png, _jpeg, _tiff)):
        planter = Planter(needles, 10 + i)
        path = src / f"scan_{_token(900 + i, 'N')}.{('png', 'jpg', 'tif')[i]}"
        needles.add(_token(900 + i, "N"))
        told = make(path, planter)
        files.append((path, told * 3))
    needles.add(REVIEWER)
    needles |= {w for w in REVIEWER.split() if len(w) > 3}
    corpus.project.parent.mkdir()
    store = ProjectStore.create(corpus.project)
    try:
        records = []
        anns = []
        for n, (path, some) in enumerate(files):
            rg = read_radiograph(path)
            records.append(
                ImageRecord(
                    f"img{n}",
                    str(path),
                    width=rg.columns,
                    height=rg.rows,
                    study_key=some[0] + "-study",
                    attributes={"patient_name": some[1], "note": f"seen with {some[2]}"},
                )
            )
            anns.append(
                Annotation.human(
                    image_id=f"img{n}",
                    category="fracture",
                    shape=Box(2, 2, 10, 12),
                    attributes={"comment": f"{some[3]} / {some[4].lower()}", "tag": some[5]},
                )
            )
        store.add_images(records)
        reviewed = set_state(anns, ReviewState.ACCEPTED, user=REVIEWER).after
        store.history.push(AddAnnotations(tuple(reviewed)))
        store.update_images([r.evolve(status=ImageStatus.APPROVED) for r in store.model.images()])
    finally:
        store.close()
    corpus.needles = needles
    return corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return _corpus(tmp_path_factory.mktemp("phi"))


def _decoded_dicom(path: Path) -> str:
    ds = pydicom.dcmread(path)
    texts: list[str] = []

    def visit(dataset: Dataset, elem: pydicom.DataElement) -> None:
        if elem.tag != 0x7FE00010:
            texts.append(f"{elem.keyword}={elem.value!s}")

    ds.file_meta.walk(visit)
    ds.walk(visit)
    return "\n".join(texts)


def _leaks(out: Path, needles: set[str]) -> list[str]:
    """``file: value`` for each planted value in a file's bytes, name or decoded content."""
    found = []
    lowered = [(n, n.lower().encode()) for n in needles]
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert files
    for f in files:
        data = f.read_bytes()
        texts = [(data + str(f.relative_to(out)).encode()).lower()]
        if f.suffix == ".dcm":
            texts.append(_decoded_dicom(f).lower().encode())
        if f.suffix == ".json":  # \u escapes decoded
            texts.append(json.dumps(json.loads(data), ensure_ascii=False).lower().encode())
        found += [f"{f.name}: {n}" for n, low in lowered if any(low in t for t in texts)]
    return found


@pytest.mark.parametrize("mode", list(ImageMode))
def test_no_planted_value_leaves_in_any_mode(
    corpus: Corpus, tmp_path: Path, mode: ImageMode
) -> None:
    out = tmp_path / "snap"
    assert (
        main(["export", str(corpus.project), str(out), "--images", mode.value, "--split", "1,0,0"])
        == 0
    )
    manifest = json.loads((out / "manifest.json").read_bytes())
    images = sorted((out / "images").iterdir()) if mode is not ImageMode.NONE else []
    held = manifest["held_out"]
    if mode is ImageMode.NONE:
        assert held == []
        assert manifest["counts"]["train"]["images"] == 6
    else:
        assert [h["reason"] for h in held] == [
            "BurnedInAnnotation is YES: the pixels may show identifying text"
        ]
        assert len(images) == 5 == manifest["counts"]["train"]["images"]
    assert len(corpus.needles) > 700  # the whole table, three times, and the rest
    assert _leaks(out, corpus.needles) == []
    coco = json.loads((out / "annotations" / "train.json").read_bytes())
    assert {a["reviewed_by"] for a in coco["annotations"]} == {
        next(iter({a["reviewed_by"] for a in coco["annotations"]}))
    }
    assert coco["annotations"][0]["reviewed_by"].startswith("reviewer-")
    if mode is ImageMode.ORIGINAL:
        suffixes = sorted(p.suffix for p in images)
        assert suffixes == [".dcm", ".dcm", ".jpg", ".png", ".tif"]
        for p in images:
            if p.suffix == ".dcm":
                ds = pydicom.dcmread(p)
                assert ds.PatientIdentityRemoved == "YES"
                assert [c.CodeValue for c in ds.DeidentificationMethodCodeSequence] == [
                    "113100",
                    "113105",
                    "113107",
                ]
                assert not any(e.tag.is_private for e in ds.iterall())
                assert ds.StudyDescription.startswith("PELVIS")  # cleaned, not removed
            else:
                with Image.open(p) as im:
                    # no text anywhere in the header: only the structure of the pixels
                    assert not im.info.get("exif")
                    assert not [v for v in im.getexif().values() if isinstance(v, str | bytes)]
                    assert set(im.info) <= HARMLESS_INFO, set(im.info)


def test_raster_copies_keep_the_upright_pixels(corpus: Corpus, tmp_path: Path) -> None:
    out = tmp_path / "snap"
    assert main(["export", str(corpus.project), str(out), "--split", "1,0,0"]) == 0
    coco = json.loads((out / "annotations" / "train.json").read_bytes())
    store = ProjectStore.open(corpus.project)
    try:
        sources = {Path(r.path).suffix: Path(r.path) for r in store.model.images()}
    finally:
        store.close()
    for entry in coco["images"]:
        exported = out / entry["file_name"]
        if exported.suffix in (".png", ".tif"):
            src = sources[exported.suffix]
            got = read_radiograph(exported).stored
            np.testing.assert_array_equal(got, read_radiograph(src).stored)
            # PNG: the EXIF orientation 6 applied to the pixels, then dropped with the EXIF
            assert got.shape == ((64, 48) if exported.suffix == ".png" else (48, 64))
            assert (entry["height"], entry["width"]) == got.shape
        if exported.suffix == ".jpg":
            got = read_radiograph(exported).stored.astype(int)
            want = read_radiograph(sources[".jpg"]).stored.astype(int)
            assert got.shape == want.shape and np.abs(got - want).mean() < 2


def test_reviewer_names_only_when_asked(corpus: Corpus, tmp_path: Path) -> None:
    kept = tmp_path / "kept"
    assert (
        main(
            ["export", str(corpus.project), str(kept), "--images", "none", "--keep-reviewer-names"]
        )
        == 0
    )
    names = set()
    for part in (kept / "annotations").iterdir():
        names |= {a["reviewed_by"] for a in json.loads(part.read_bytes())["annotations"]}
    assert names == {REVIEWER}


def _linked_pair(folder: Path) -> tuple[Path, Path, Dataset, Dataset]:
    """Two images of one study; the second refers to the first (source image, reference)."""
    folder.mkdir(parents=True)
    a = pydicom.dcmread(DATA / SOURCES[0])
    b = pydicom.dcmread(DATA / SOURCES[1])
    for ds in (a, b):
        ds.StudyInstanceUID = "1.2.826.0.1.3680043.10.777"
        ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.10.778"
        ds.BurnedInAnnotation = "NO"
    a.StudyDate, b.StudyDate = "20240101", "20240111"
    a.SOPInstanceUID = a.file_meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.10.779"
    b.SOPInstanceUID = b.file_meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.10.780"
    ref = Dataset()
    ref.ReferencedSOPClassUID = a.SOPClassUID
    ref.ReferencedSOPInstanceUID = a.SOPInstanceUID
    b.ReferencedImageSequence = Sequence([ref])
    src = Dataset()
    src.ReferencedSOPClassUID = a.SOPClassUID
    src.ReferencedSOPInstanceUID = a.SOPInstanceUID
    b.SourceImageSequence = Sequence([src])
    pa, pb = folder / "a.dcm", folder / "b.dcm"
    a.save_as(pa, enforce_file_format=True)
    b.save_as(pb, enforce_file_format=True)
    return pa, pb, a, b


def test_references_between_exported_objects_resolve(tmp_path: Path) -> None:
    from orthogui.core.project import ProjectModel
    from orthogui.io.snapshot import SnapshotOptions, export_snapshot

    pa, pb, a, b = _linked_pair(tmp_path / "src")
    model = ProjectModel()
    for i, p in enumerate((pa, pb)):
        model.put_image(
            ImageRecord(f"i{i}", str(p), width=16, height=16, status=ImageStatus.APPROVED)
        )
    result = export_snapshot(
        model,
        tmp_path / "snap",
        image_path_of=lambda r: Path(r.path),
        options=SnapshotOptions(fractions=(1.0, 0.0, 0.0), salt="pepper"),
    )
    coco = json.loads((result.path / "annotations" / "train.json").read_bytes())
    by_id = {e["id"]: e["file_name"] for e in coco["images"]}
    out_a, out_b = (pydicom.dcmread(result.path / by_id[i]) for i in (1, 2))
    assert out_a.SOPInstanceUID not in (a.SOPInstanceUID, b.SOPInstanceUID)
    assert out_a.SOPInstanceUID == hashed_uid(a.SOPInstanceUID, salt="pepper")
    assert out_b.ReferencedImageSequence[0].ReferencedSOPInstanceUID == out_a.SOPInstanceUID
    assert out_b.SourceImageSequence[0].ReferencedSOPInstanceUID == out_a.SOPInstanceUID
    assert out_b.ReferencedImageSequence[0].ReferencedSOPClassUID == a.SOPClassUID
    assert out_a.StudyInstanceUID == out_b.StudyInstanceUID != a.StudyInstanceUID
    assert out_a.FrameOfReferenceUID == out_b.FrameOfReferenceUID != a.FrameOfReferenceUID
    for ds in (out_a, out_b):
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.LongitudinalTemporalInformationModified == "MODIFIED"
    # Retain Longitudinal Temporal Information: shifted dates, the interval kept.
    from datetime import date, timedelta

    shift = timedelta(days=date_offset_days("pepper"))
    assert out_a.StudyDate == (date(2024, 1, 1) + shift).strftime("%Y%m%d")
    assert out_b.StudyDate == (date(2024, 1, 11) + shift).strftime("%Y%m%d")
    # Same pixels: the copy is the image, only the header changed.
    np.testing.assert_array_equal(out_a.pixel_array, a.pixel_array)
    buf = io.BytesIO()
    out_a.save_as(buf)  # still a valid DICOM file
    assert buf.getvalue()[128:132] == b"DICM"
