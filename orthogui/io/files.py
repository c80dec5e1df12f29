"""Turn chosen or dropped paths into image records (call off the GUI thread: walks, hashes,
reads headers).

Folders are scanned by content (``orthogui.io.folder_scan``: DICOMDIR, magic bytes, suffix);
each file is hashed so the store can skip duplicates. Nothing here touches Qt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from orthogui.core.annotation import new_id
from orthogui.core.project import ImageRecord


def supported_suffixes() -> frozenset[str]:
    from orthogui.io.readers import SUPPORTED_SUFFIXES

    return SUPPORTED_SUFFIXES


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given, plus every radiograph under the folders, found by content whatever its
    name (DICOMDIR order first, then sorted); other files are skipped and counted in the log."""
    from orthogui.io.folder_scan import scan_paths

    return list(scan_paths(paths).files)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def records_for(paths: Iterable[Path]) -> list[ImageRecord]:
    """New image records for the files under ``paths``: id, absolute path, content hash, and
    what the header says (size, pixel spacing and its source, study key; see
    ``orthogui.io.header``), so that lengths in mm are known before an image is opened."""
    from orthogui.io.header import read_header_facts, with_header_facts

    records = []
    for f in expand_paths(paths):
        try:
            digest = file_sha256(f)
        except OSError:
            digest = ""
        record = ImageRecord(id=new_id(), path=str(f.resolve()), sha256=digest)
        records.append(with_header_facts(record, read_header_facts(f)))
    return records
