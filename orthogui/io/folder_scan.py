"""Find the radiographs in a folder by content, whatever the files are called.

Patient CDs and PACS exports name their files ``DICOM/PA0/ST0/SE0/IM000001`` (no suffix) and
index them in a DICOMDIR: a DICOMDIR is read through pydicom's ``FileSet``; every other file is
recognised by its first bytes (the readers' registry), then by suffix. DICOM objects without
pixels (reports, presentation states, the DICOMDIR itself) and other files are skipped, counted.
A scan reports its progress and can be cancelled (it runs on a worker thread of the GUI).
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

DICOMDIR = "DICOMDIR"
_PIXEL_TAGS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")

Stage = Literal["walking", "reading", "importing"]


@dataclass(frozen=True)
class ScanProgress:
    """Where a scan is: ``walking`` counts files found (``total`` 0: not known yet),
    ``reading`` the files looked at of ``total``, ``importing`` the images hashed of ``total``."""

    stage: Stage
    done: int
    total: int = 0


ProgressFn = Callable[[ScanProgress], None]
CancelFn = Callable[[], bool]


class ScanCancelled(Exception):
    """The scan was cancelled; ``looked_at`` files had been looked at."""

    def __init__(self, looked_at: int) -> None:
        super().__init__(f"Scan cancelled after {looked_at} file(s)")
        self.looked_at = looked_at


class _Reporter:
    """Calls ``progress`` at most every ``interval`` seconds (and at the end of a stage), and
    raises ``ScanCancelled`` as soon as ``cancelled()`` says so."""

    def __init__(
        self, progress: ProgressFn | None, cancelled: CancelFn | None, interval: float = 0.1
    ) -> None:
        self._progress, self._cancelled, self._interval = progress, cancelled, interval
        self._last = 0.0
        self.looked_at = 0

    def __call__(self, stage: Stage, done: int, total: int = 0, *, final: bool = False) -> None:
        if self._cancelled is not None and self._cancelled():
            raise ScanCancelled(self.looked_at)
        if self._progress is None:
            return
        now = time.monotonic()
        if final or now - self._last >= self._interval:
            self._last = now
            self._progress(ScanProgress(stage, done, total))


@dataclass(frozen=True)
class FolderScan:
    """What a scan found: image files in order, and what it left out."""

    files: tuple[Path, ...]
    skipped: int  # files that are not radiographs (other files, DICOM without pixels)
    from_dicomdir: int  # of ``files``, those a DICOMDIR listed
    missing: tuple[Path, ...] = ()  # listed in a DICOMDIR but not on disk
    others: tuple[Path, ...] = ()  # the files found that are not radiographs (DICOMDIRs aside)
    looked_at: int = 0  # files found under the folders (the DICOMDIRs included)

    def summary(self) -> str:
        """What was left out, for a person: ``"3 other file(s) skipped"``; "" when nothing."""
        parts = []
        if self.skipped:
            parts.append(f"{self.skipped} other file(s) skipped (not images)")
        if self.missing:
            parts.append(f"{len(self.missing)} listed in a DICOMDIR but missing")
        return ", ".join(parts)


def _dicom_has_pixels(path: Path) -> bool:
    import pydicom

    try:  # large values are deferred, never read: this parses the header only
        ds = pydicom.dcmread(str(path), defer_size=1024, force=path.suffix.lower() == ".dcm")
    except Exception:
        return False
    from orthogui.io.readers.dicom import DERIVED_PIXEL_CLASSES

    if str(ds.get("SOPClassUID", "")) in DERIVED_PIXEL_CLASSES:
        return False  # a segmentation or map made from an image, not a radiograph
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


def _walk(root: Path, report: _Reporter) -> list[Path]:
    """Every file under ``root``, sorted (``os.scandir`` underneath: no stat per file)."""
    found: list[Path] = []
    for folder, _dirs, names in os.walk(root):
        base = Path(folder)
        for name in names:
            found.append(base / name)
            if len(found) % 64 == 0:
                report("walking", len(found))
    report("walking", len(found), final=True)
    return sorted(found)


def scan_folder(
    root: Path, *, progress: ProgressFn | None = None, cancelled: CancelFn | None = None
) -> FolderScan:
    """Every radiograph under ``root``: DICOMDIR order first, then the other files sorted.

    Parameters
    ----------
    root
        A folder (a CD, a PACS export, a folder of PNG/JPEG/TIFF files).
    progress
        Called (from the scanning thread, about ten times a second at most) with a
        ``ScanProgress``: files found while walking, then files looked at of the total.
    cancelled
        Polled before every file; when it returns True the scan stops with ``ScanCancelled``.

    Returns
    -------
    FolderScan
        The image files, how many files were skipped, and DICOMDIR entries that are missing.

    Raises
    ------
    ScanCancelled
        ``cancelled()`` returned True.
    """
    report = _Reporter(progress, cancelled)
    everything = [f for f in _walk(Path(root), report) if f.is_file()]
    total = len(everything)
    files: list[Path] = []
    missing: list[Path] = []
    skipped = 0
    done: set[Path] = set()
    for index in (f for f in everything if f.name.upper() == DICOMDIR):
        report("reading", report.looked_at, total)
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
    for n, f in enumerate(everything):
        report.looked_at = n
        report("reading", n, total)
        if done and f.resolve() in done:
            continue
        if is_radiograph(f):
            files.append(f)
        else:
            skipped += 1
            not_images.append(f)
    report.looked_at = total
    report("reading", total, total, final=True)
    if skipped or missing:
        log.info(
            "%s: %d image file(s), %d other file(s) skipped, %d listed but missing",
            root,
            len(files),
            skipped,
            len(missing),
        )
    return FolderScan(
        tuple(files), skipped, from_dicomdir, tuple(missing), tuple(not_images), total
    )


def scan_dicomdir(path: Path) -> FolderScan:
    """The images a DICOMDIR file references (a DICOMDIR opened as a file, not a folder).

    Parameters
    ----------
    path
        A DICOMDIR file.

    Returns
    -------
    FolderScan
        Its images in DICOMDIR order; an unreadable index is one skipped file.
    """
    found = _read_dicomdir(Path(path))
    if found is None:
        return FolderScan((), 1, 0, looked_at=1)
    images, lost, others, named = found
    return FolderScan(tuple(images), others, len(images), tuple(lost), (), len(named) + 1)


def scan_paths(
    paths: Iterable[Path],
    *,
    progress: ProgressFn | None = None,
    cancelled: CancelFn | None = None,
) -> FolderScan:
    """``scan_folder`` over folders; a DICOMDIR file adds the images it references; other
    files given by name are taken as they are. ``progress`` and ``cancelled`` as for
    ``scan_folder``."""
    files: list[Path] = []
    missing: list[Path] = []
    others: list[Path] = []
    skipped = from_dicomdir = looked_at = 0
    for p in map(Path, paths):
        if p.is_dir():
            scan = scan_folder(p, progress=progress, cancelled=cancelled)
        elif p.is_file() and p.name.upper() == DICOMDIR:
            scan = scan_dicomdir(p)
        elif p.is_file():
            files.append(p)
            looked_at += 1
            continue
        else:
            continue
        files += scan.files
        missing += scan.missing
        others += scan.others
        skipped += scan.skipped
        from_dicomdir += scan.from_dicomdir
        looked_at += scan.looked_at
    return FolderScan(
        tuple(files), skipped, from_dicomdir, tuple(missing), tuple(others), looked_at
    )
