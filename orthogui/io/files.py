"""Turn chosen or dropped paths into image records (call off the GUI thread: walks, hashes,
reads headers).

Folders are scanned by content (``orthogui.io.folder_scan``: DICOMDIR, magic bytes, suffix);
each file is hashed so the store can skip duplicates. Nothing here touches Qt.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from orthogui.core.annotation import new_id
from orthogui.core.project import ImageRecord
from orthogui.io.fileops import file_sha256
from orthogui.io.folder_scan import (
    CancelFn,
    FolderScan,
    ProgressFn,
    ScanCancelled,
    ScanProgress,
    scan_paths,
)


def supported_suffixes() -> frozenset[str]:
    from orthogui.io.readers import SUPPORTED_SUFFIXES

    return SUPPORTED_SUFFIXES


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given, plus every radiograph under the folders, found by content whatever its
    name (DICOMDIR order first, then sorted); other files are skipped and counted in the log."""
    return list(scan_paths(paths).files)


@dataclass(frozen=True)
class ScannedRecords:
    """New image records for the images a scan found, and the scan (what it skipped)."""

    records: list[ImageRecord]
    scan: FolderScan


def scan_records(
    paths: Iterable[Path],
    *,
    progress: ProgressFn | None = None,
    cancelled: CancelFn | None = None,
) -> ScannedRecords:
    """Scan ``paths`` (see ``orthogui.io.folder_scan.scan_paths``) and make a record of every
    image found: id, absolute path, content hash, and what the header says (size, pixel
    spacing and its source, study key, display facts; see ``orthogui.io.header``).

    Parameters
    ----------
    paths
        Files and folders, e.g. as chosen in a dialog or dropped on the window.
    progress
        Called from this thread with a ``ScanProgress``: the scan's stages, then
        ``importing`` (images hashed and read of the total).
    cancelled
        Polled between files; True stops the work with ``ScanCancelled``.

    Returns
    -------
    ScannedRecords
        The records in scan order and the scan itself.
    """
    from orthogui.io.header import read_header_facts, with_header_facts

    scan = scan_paths(paths, progress=progress, cancelled=cancelled)
    records = []
    total = len(scan.files)
    for n, f in enumerate(scan.files):
        if cancelled is not None and cancelled():
            raise ScanCancelled(scan.looked_at)
        if progress is not None:
            progress(ScanProgress("importing", n, total))
        try:
            digest = file_sha256(f)
        except OSError:
            digest = ""
        record = ImageRecord(id=new_id(), path=str(f.resolve()), sha256=digest)
        records.append(with_header_facts(record, read_header_facts(f)))
    if progress is not None:
        progress(ScanProgress("importing", total, total))
    return ScannedRecords(records, scan)


def records_for(paths: Iterable[Path]) -> list[ImageRecord]:
    """New image records for the files under ``paths``: id, absolute path, content hash, and
    what the header says (size, pixel spacing and its source, study key; see
    ``orthogui.io.header``), so that lengths in mm are known before an image is opened."""
    return scan_records(paths).records
