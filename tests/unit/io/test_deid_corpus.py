"""A PHI-laden corpus, exported by ``orthogui export`` in every image mode: no planted value leaves.

The corpus is made here: the small test DICOMs carrying every attribute of PS3.15 Table E.1-1
that can hold identifying text (top level, inside sequences, private), PNG/JPEG/TIFF files with
EXIF, XMP, text chunks and comments, file names, image and finding attributes, reviewer names,
and five films (two DICOM, PNG, JPEG, TIFF) with the patient's name and ID burned into the
pixels. Every byte the snapshot writes is searched, case-insensitively, and DICOM also decoded;
with Tesseract installed (``scripts/ocr.sh install``), every exported image is read by OCR too.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
import tifffile
from PIL import Image, PngImagePlugin
from pydicom.datadict import dictionary_has_tag, dictionary_VR, keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import RLELossless

from orthogui.cli import main
from orthogui.core.annotation import Annotation
from orthogui.core.commands import AddAnnotations
from orthogui.core.geometry import Box
from orthogui.core.project import ImageRecord, ImageStatus
from orthogui.core.review import ReviewState, set_state
from orthogui.io.burned_in import tesseract_path
from orthogui.io.deid import basic_profile, date_offset_days, hashed_uid
from orthogui.io.deid_options import CLEAN_DESCRIPTORS
from orthogui.io.display import render
from orthogui.io.readers import read_radiograph
from orthogui.io.snapshot import (
    BURNED_IN,
    NOTHING_MASKED,
    TEXT_FOUND,
    BurnedInText,
    ImageMode,
)
from orthogui.io.store import ProjectStore
from orthogui.synth.scenes import SceneSpec, synthesize

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


NEEDS_OCR = pytest.mark.skipif(
    tesseract_path() is None,
    reason="tesseract with English data is not installed (scripts/ocr.sh install)",
)
FILMS = (  # family, given name, ID: burned into the pixels of the five films
    ("TARNOWSKA", "BRELINDE", "4471902"),
    ("OKAFOR", "WENDELIN", "5830617"),
    ("HALVORSEN", "KESTRA", "6294835"),
    ("PIETRANGELI", "MORWENNA", "7305149"),
    ("ZAUNBRECHER", "ISOLDE", "8152764"),
)


@dataclass
class Corpus:
    project: Path
    needles: set[str] = field(default_factory=set)
    burned: Path | None = None
    films: list[Path] = field(default_factory=list)


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


def _phi_dicom(
    src: Path,
    dst: Path,
    planter: Planter,
    *,
    burned: bool = False,
    patient: tuple[str, str, str] | None = None,
) -> Dataset:
    """A copy of ``src`` full of identifiers; its header values are what annotations repeat.
    ``patient`` (family, given, ID) names the patient instead of planted tokens."""
    ds = pydicom.dcmread(src)
    _plant_table(ds, planter)
    if patient is not None:
        ds.PatientName, ds.PatientID = f"{patient[0]}^{patient[1]}", patient[2]
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


def _exif(planter: Planter, told: list[str], *, upright: bool = False) -> Image.Exif:
    exif = Image.Exif()
    exif[0x013B] = _told(planter, told)  # Artist
    exif[0x010E] = f"Knee of {planter.value('LO')}"  # ImageDescription
    told.append(str(exif[0x010E]))
    exif[0x8298] = _told(planter, told)  # Copyright
    exif[0x0112] = 1 if upright else 6  # 6: the export must keep the upright pixels without it
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


def _png(path: Path, planter: Planter, pixels: np.ndarray | None = None) -> list[str]:
    told: list[str] = []
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", _told(planter, told))
    info.add_text("Comment", _told(planter, told), zip=True)  # zTXt
    info.add_itxt("Description", _told(planter, told), lang="en", tkey="Beschreibung")
    image = Image.fromarray(_raster_pixels(1) if pixels is None else pixels)
    image.save(path, pnginfo=info, exif=_exif(planter, told, upright=pixels is not None))
    return told


def _jpeg(path: Path, planter: Planter, pixels: np.ndarray | None = None) -> list[str]:
    told: list[str] = []
    Image.fromarray(_raster_pixels(2) if pixels is None else pixels).save(
        path,
        quality=95,
        exif=_exif(planter, told, upright=pixels is not None),
        comment=_told(planter, told).encode(),
        xmp=_xmp(planter, told),
    )
    return told


def _tiff(path: Path, planter: Planter, pixels: np.ndarray | None = None) -> list[str]:
    told: list[str] = []
    tifffile.imwrite(
        path,
        _raster_pixels(3) if pixels is None else pixels,
        description=_told(planter, told),
        software=_told(planter, told),
        extratags=[(315, "s", 0, _told(planter, told), True)],  # Artist
        metadata=None,
    )
    return told


def _film(k: int) -> tuple[np.ndarray, int, tuple[float, float]]:
    """A limb phantom (512 px, a lead side marker) with FILMS[k]'s name and ID burned in at the
    top code, as a console prints them: stored pixels, bits, window (centre, width)."""
    img = synthesize(SceneSpec("limb", size=512), np.random.default_rng(20 + k))
    stored = img.stored.copy()
    family, given, pid = FILMS[k]
    ink = np.zeros(stored.shape, dtype=np.uint8)
    for j, line in enumerate((f"{family}, {given}", f"ID {pid}")):
        org = (60 + 25 * k, 190 + 40 * k + 26 * j)
        cv2.putText(ink, line, org, cv2.FONT_HERSHEY_SIMPLEX, 0.6, 255, 2, cv2.LINE_AA)
    stored[ink > 96] = (1 << img.exposure.bits) - 1
    window = img.windows[0]
    return stored, img.exposure.bits, (window.center, window.width)


def _film_dicom(folder: Path, k: int, planter: Planter, *, burned: bool) -> tuple[Path, Dataset]:
    """FILMS[k] as a PHI-laden DICOM; odd ones MONOCHROME1 (the text at the bottom code,
    showing white) and RLE compressed; ``burned``: its header says BurnedInAnnotation YES."""
    stored, bits, (centre, width) = _film(k)
    ds = pydicom.dcmread(DATA / SOURCES[0])
    inverse = k % 2 == 1
    top = (1 << bits) - 1
    pixels = (top - stored if inverse else stored).astype(np.uint16)
    ds.set_pixel_data(
        pixels, "MONOCHROME1" if inverse else "MONOCHROME2", bits, generate_instance_uid=False
    )
    del ds.RescaleSlope, ds.RescaleIntercept
    ds.WindowCenter, ds.WindowWidth = (top - centre if inverse else centre), width
    if inverse:
        ds.compress(RLELossless, encoding_plugin="pydicom")
    tmp = folder / "film.dcm"
    ds.save_as(tmp, enforce_file_format=True)
    phi = _phi_dicom(tmp, tmp, planter, burned=burned, patient=FILMS[k])
    dst = folder / f"{FILMS[k][0]}_{FILMS[k][1]}_{FILMS[k][2]}.dcm"
    shutil.move(tmp, dst)
    assert phi.PatientName == f"{FILMS[k][0]}^{FILMS[k][1]}"
    return dst, phi


def _film_raster(folder: Path, k: int, planter: Planter) -> tuple[Path, list[str]]:
    """FILMS[k] as PNG (8-bit, as displayed), JPEG (8-bit) or TIFF (16-bit stored)."""
    stored, bits, _ = _film(k)
    eight = np.clip(stored.astype(np.float64) / ((1 << bits) - 1) * 255, 0, 255).astype(np.uint8)
    suffix, make, pixels = {
        2: ("png", _png, eight),
        3: ("jpg", _jpeg, eight),
        4: ("tif", _tiff, stored),
    }[k]
    path = folder / f"{FILMS[k][0].lower()}_{FILMS[k][2]}.{suffix}"
    return path, make(path, planter, pixels)


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
    for k, (family, given, pid) in enumerate(FILMS):
        planter = Planter(needles, 20 + k)
        needles |= {family, given, pid, f"{family}, {given}"}
        if k < 2:
            path, ds = _film_dicom(src, k, planter, burned=k == 0)
            told = [
                str(ds.PatientName),
                pid,
                ds.PatientBirthDate,
                ds.AccessionNumber,
                str(ds.PatientTelecomInformation),
                "83.1729",
            ]
        else:
            path, told = _film_raster(src, k, planter)
            told = told * 3
        files.append((path, told))
        corpus.films.append(path)
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


_EXPORTS: dict[tuple[str, str, str], Path] = {}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, corpus: Corpus):  # type: ignore[no-untyped-def]
    """``exported(mode, policy)``: the corpus exported by ``orthogui export`` once per module."""

    def export(mode: ImageMode, policy: str = "mask") -> Path:
        key = (str(corpus.project), mode.value, policy)
        if key not in _EXPORTS:
            out = tmp_path_factory.mktemp("snap") / "snap"
            argv = ["export", str(corpus.project), str(out), "--images", mode.value]
            assert main([*argv, "--split", "1,0,0", "--burned-in-text", policy]) == 0
            _EXPORTS[key] = out
        return _EXPORTS[key]

    return export


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
        # UIDs the exporter minted (2.25. + a salted hash, ``deid.hashed_uid``) are ~39 random
        # digits: a planted date may turn up inside one by chance, which leaks nothing
        texts = [_MINTED_UID.sub(b"2.25.", t) for t in texts]
        found += [f"{f.name}: {n}" for n, low in lowered if any(low in t for t in texts)]
    return found


_MINTED_UID = re.compile(rb"2\.25\.\d+")


# -- OCR of the pixels, independent of the exporter's own detector ------------------------------
@cache
def _ocr(path: Path) -> str:
    """Everything Tesseract reads in an image's default display rendering, enlarged twice:
    the strokes that stand out from their surroundings (a top-hat), bright and dark ones, as
    black on white; upper-case letters and digits only."""
    gray = render(read_radiograph(path))
    if min(gray.shape) < 32:  # no legible line fits
        return ""
    big = cv2.resize(gray, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    exe = tesseract_path()
    assert exe is not None
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (25, 25))
    text = ""
    for img in (big, 255 - big):
        strokes = cv2.morphologyEx(img, cv2.MORPH_TOPHAT, kernel)
        ink = np.where(strokes > 40, 0, 255).astype(np.uint8)
        run = subprocess.run(
            [exe, "stdin", "stdout", "-l", "eng", "--psm", "11"],
            input=cv2.imencode(".png", ink)[1].tobytes(),
            capture_output=True,
            timeout=120,
            check=True,
        )
        text += " " + run.stdout.decode("utf-8", "replace")
    return re.sub(r"[^0-9A-Z]", "", text.upper())


def _near(word: str, text: str) -> bool:
    """``word`` in ``text`` with at most one character read wrong, left out or added."""
    n = len(word)
    for size in (n - 1, n, n + 1):
        for i in range(max(len(text) - size + 1, 0)):
            if _distance(word, text[i : i + size]) <= 1:
                return True
    return False


def _distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def _ocr_finds(path: Path) -> list[str]:
    """The planted names and IDs OCR reads in an image (one character may be wrong)."""
    text = _ocr(path)
    return [w for film in FILMS for w in film if _near(w, text)]


@pytest.mark.parametrize("mode", list(ImageMode))
def test_no_planted_value_leaves_in_any_mode(corpus: Corpus, exported, mode: ImageMode) -> None:  # type: ignore[no-untyped-def]
    out = exported(mode)
    manifest = json.loads((out / "manifest.json").read_bytes())
    images = sorted((out / "images").iterdir()) if mode is not ImageMode.NONE else []
    held = manifest["held_out"]
    if mode is ImageMode.NONE:
        assert held == []
        assert manifest["counts"]["train"]["images"] == 11
        assert manifest["burned_in_text"]["images_masked"] == 0
    else:
        # the thumbnail whose header says burned-in text, and has none to mask, stays out
        assert [h["reason"] for h in held] == [NOTHING_MASKED]
        assert len(images) == 10 == manifest["counts"]["train"]["images"]
        # every film masked, whatever its header says; nothing else
        masked = manifest["burned_in_text"]["masked"]
        assert len(masked) == 5 and all(m["regions"] >= 2 for m in masked)
        assert manifest["burned_in_text"]["regions_masked"] == sum(m["regions"] for m in masked)
        assert {m["file"] for m in masked} <= {f"images/{p.name}" for p in images}
    assert len(corpus.needles) > 700  # the whole table, three times, and the rest
    assert _leaks(out, corpus.needles) == []
    coco = json.loads((out / "annotations" / "train.json").read_bytes())
    assert {a["reviewed_by"] for a in coco["annotations"]} == {
        next(iter({a["reviewed_by"] for a in coco["annotations"]}))
    }
    assert coco["annotations"][0]["reviewed_by"].startswith("reviewer-")
    if mode is ImageMode.ORIGINAL:
        suffixes = sorted(p.suffix for p in images)
        assert suffixes == [".dcm"] * 4 + [".jpg", ".jpg", ".png", ".png", ".tif", ".tif"]
        masked_files = {m["file"] for m in manifest["burned_in_text"]["masked"]}
        for p in images:
            if p.suffix == ".dcm":
                ds = pydicom.dcmread(p)
                assert ds.PatientIdentityRemoved == "YES"
                clean_pixels = ["113101"] if f"images/{p.name}" in masked_files else []
                assert [c.CodeValue for c in ds.DeidentificationMethodCodeSequence] == [
                    "113100",
                    "113105",
                    "113107",
                    *clean_pixels,
                ]
                assert not any(e.tag.is_private for e in ds.iterall())
                assert ds.StudyDescription.startswith("PELVIS")  # cleaned, not removed
            else:
                with Image.open(p) as im:
                    # no text anywhere in the header: only the structure of the pixels
                    assert not im.info.get("exif")
                    assert not [v for v in im.getexif().values() if isinstance(v, str | bytes)]
                    assert set(im.info) <= HARMLESS_INFO, set(im.info)


@NEEDS_OCR
def test_ocr_reads_the_planted_names_in_the_sources(corpus: Corpus) -> None:
    """The check below can fail: OCR reads the burned-in names and IDs before export."""
    for k, path in enumerate(corpus.films):
        family, given, pid = FILMS[k]
        found = _ocr_finds(path)
        assert pid in found and (family in found or given in found), (path.name, found)


@NEEDS_OCR
@pytest.mark.parametrize("mode", [ImageMode.ORIGINAL, ImageMode.PNG16, ImageMode.PNG8])
def test_ocr_reads_no_planted_name_in_any_exported_image(
    corpus: Corpus,
    exported,  # type: ignore[no-untyped-def]
    mode: ImageMode,
) -> None:
    out = exported(mode)
    images = sorted((out / "images").iterdir())
    assert len(images) == 10
    assert {p.name: _ocr_finds(p) for p in images} == {p.name: [] for p in images}


@NEEDS_OCR
def test_without_the_search_ocr_reads_the_names_in_the_export(corpus: Corpus, exported) -> None:  # type: ignore[no-untyped-def]
    out = exported(ImageMode.PNG8, "off")
    manifest = json.loads((out / "manifest.json").read_bytes())
    assert [h["reason"] for h in manifest["held_out"]] == [BURNED_IN, BURNED_IN]  # by header
    assert manifest["burned_in_text"] == {
        "mode": "off",
        "detector": "",
        "images_masked": 0,
        "regions_masked": 0,
        "masked": [],
    }
    read = {w for p in (out / "images").iterdir() for w in _ocr_finds(p)}
    assert {f[2] for f in FILMS[1:]} <= read  # the films not held out by their header


def test_hold_out_lists_each_image_with_text_and_its_reason(corpus: Corpus, exported) -> None:  # type: ignore[no-untyped-def]
    out = exported(ImageMode.ORIGINAL, "hold-out")
    manifest = json.loads((out / "manifest.json").read_bytes())
    reasons = sorted(h["reason"] for h in manifest["held_out"])
    # the thumbnail and the first film by their headers; the other films by their pixels
    found = re.escape(TEXT_FOUND).replace(r"\{n\}", r"\d+").replace(r"\{s\}", "s?")
    assert reasons[:2] == [BURNED_IN, BURNED_IN]
    assert len(reasons) == 6 and all(re.fullmatch(found, r) for r in reasons[2:]), reasons
    assert len(list((out / "images").iterdir())) == 5 == manifest["counts"]["train"]["images"]
    assert manifest["burned_in_text"]["mode"] == BurnedInText.HOLD_OUT.value
    assert manifest["burned_in_text"]["images_masked"] == 0
    assert _leaks(out, corpus.needles) == []


def test_raster_copies_keep_the_upright_pixels_and_mask_only_the_text(
    corpus: Corpus,
    exported,  # type: ignore[no-untyped-def]
) -> None:
    out = exported(ImageMode.ORIGINAL)
    coco = json.loads((out / "annotations" / "train.json").read_bytes())
    boxes = {
        m["file"]: m["boxes"]
        for m in json.loads((out / "manifest.json").read_bytes())["burned_in_text"]["masked"]
    }
    store = ProjectStore.open(corpus.project)
    try:
        sources = {
            (Path(r.path).suffix, Path(r.path) in corpus.films): Path(r.path)
            for r in store.model.images()
        }
    finally:
        store.close()
    for entry in coco["images"]:
        exported_file = out / entry["file_name"]
        film = entry["file_name"] in boxes
        suffix = exported_file.suffix
        if suffix == ".dcm":
            continue
        got = read_radiograph(exported_file).stored.astype(np.int64)
        want = read_radiograph(sources[suffix, film]).stored.astype(np.int64)
        assert got.shape == want.shape == (entry["height"], entry["width"])
        inside = np.zeros(got.shape, dtype=bool)
        for x, y, w, h in boxes.get(entry["file_name"], []):
            inside[y : y + h, x : x + w] = True
        assert bool(0 < inside.mean() < 0.1) == film  # a few lines of text, not the film
        if suffix == ".jpg":  # encoded again: close, the text black
            assert np.abs(got - want)[~inside].mean() < 2
            assert not film or np.median(got[inside]) <= want.min() + 2
            continue
        np.testing.assert_array_equal(got[~inside], want[~inside])
        if film:
            assert set(np.unique(got[inside]).tolist()) == {int(want.min())}  # black
        else:  # PNG: the EXIF orientation 6 applied to the pixels, then dropped
            assert got.shape == ((64, 48) if suffix == ".png" else (48, 64))


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
