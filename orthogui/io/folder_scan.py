"""Find the radiographs in a folder by content, whatever the files are called.

Patient CDs and PACS exports name their files ``DICOM/PA0/ST0/SE0/IM000001`` (no suffix) and
index them in a DICOMDIR: a DICOMDIR is read through pydicom's ``FileSet``; every other file is
recognised by its first bytes (the readers' registry), then by suffix. DICOM objects without
pixels (reports, presentation states, the DICOMDIR itself) and other files are skipped, counted.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DICOMDIR = "DICOMDIR"
_PIXEL_TAGS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


@dataclass(frozen=True)
class FolderScan:
    """What a scan found: image files in order, and what it left out."""

    files: tuple[Path, ...]
    skipped: int  # files that are not radiographs (other files, DICOM without pixels)
    from_dicomdir: int  # of ``files``, those a DICOMDIR listed
    missing: tuple[Path, ...] = ()  # listed in a DICOMDIR but not on disk
    others: tuple[Path, ...] = ()  # the files found that are not radiographs (DICOMDIRs aside)


def _dicom_has_pixels(path: Path) -> bool:
    import pydicom

    try:  # large values are deferred, never read: this parses the header only
        ds = pydicom.dcmread(str(path), defer_size=1024, force=path.suffix.lower() == ".dcm")
    except Exception:
        return False
    return any(tag in ds for tag in _PIXEL_TAGS)


def is_radiograph(path: Path) -> bool:
    """Whether a reader claims ``path`` by content (then suffix) and, for DICOM, it has pixels.

    Parameters
    ----------
    path
        Any file.

    Returns
    -------
    bool
        ``True`` does not promise that the pixels decode; opening the image says why not.
    """
    from orthogui.io.readers import reader_for

    try:
        with path.open("rb") as f:
            head = f.read(132)
    except OSError:
        return False
    spec = reader_for(path, head)
    if spec is None:
        return False
    return spec.format != "dicom" or _dicom_has_pixels(path)


def _file_id(value: str | Iterable[object]) -> list[str]:
    """The path components of a ReferencedFileID (one string, or several)."""
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _read_dicomdir(path: Path) -> tuple[list[Path], list[Path], int, set[Path]] | None:
    """(image files, missing files, non-image records, every file it names) or None."""
    import pydicom
    from pydicom.fileset import FileSet

    try:
        index = pydicom.dcmread(str(path))
        with warnings.catch_warnings():  # files it names but lacks: reported below instead
            warnings.simplefilter("ignore")
            fs = FileSet(index)
    except Exception as exc:  # a damaged index: the files are still found by content
        log.warning("%s: DICOMDIR cannot be read (%s); scanning files by content", path, exc)
        return None
    images: list[Path] = []
    others = 0
    named: set[Path] = set()
    missing = [  # FileSet leaves out the instances whose files are gone
        file
        for record in index.get("DirectoryRecordSequence", [])
        if "ReferencedFileID" in record
        and not (file := path.parent.joinpath(*_file_id(record.ReferencedFileID))).is_file()
    ]
    for instance in fs:
        file = Path(instance.path)
        named.add(file.resolve())
        if instance.node.record_type == "IMAGE" and _dicom_has_pixels(file):
            images.append(file)
        else:
            others += 1
    return images, missing, others, named


def scan_folder(root: Path) -> FolderScan:
    """Every radiograph under ``root``: DICOMDIR order first, then the other files sorted.

    Parameters
    ----------
    root
        A folder (a CD, a PACS export, a folder of PNG/JPEG/TIFF files).

    Returns
    -------
    FolderScan
        The image files, how many files were skipped, and DICOMDIR entries that are missing.
    """
    everything = sorted(f for f in root.rglob("*") if f.is_file())
    files: list[Path] = []
    missing: list[Path] = []
    skipped = 0
    done: set[Path] = set()
    for index in (f for f in everything if f.name.upper() == DICOMDIR):
        found = _read_dicomdir(index)
        if found is None:
            continue
        images, lost, others, named = found
        listed = {f.resolve() for f in files}
        files += [f for f in images if f.resolve() not in listed]
        done |= named | {index.resolve()}
        missing += lost
        skipped += others + 1  # the DICOMDIR itself is no image
    from_dicomdir = len(files)
    not_images: list[Path] = []
    for f in everything:
        if f.resolve() in done:
            continue
        if is_radiograph(f):
            files.append(f)
        else:
            skipped += 1
            not_images.append(f)
    if skipped or missing:
        log.info(
            "%s: %d image file(s), %d other file(s) skipped, %d listed but missing",
            root,
            len(files),
            skipped,
            len(missing),
        )
    return FolderScan(tuple(files), skipped, from_dicomdir, tuple(missing), tuple(not_images))


def scan_paths(paths: Iterable[Path]) -> FolderScan:
    """``scan_folder`` over folders; files given by name are taken as they are."""
    files: list[Path] = []
    missing: list[Path] = []
    others: list[Path] = []
    skipped = from_dicomdir = 0
    for p in map(Path, paths):
        if p.is_dir():
            scan = scan_folder(p)
            files += scan.files
            missing += scan.missing
            others += scan.others
            skipped += scan.skipped
            from_dicomdir += scan.from_dicomdir
        elif p.is_file():
            files.append(p)
    return FolderScan(tuple(files), skipped, from_dicomdir, tuple(missing), tuple(others))
