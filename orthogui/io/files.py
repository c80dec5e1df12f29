"""Turn chosen or dropped paths into image records (call off the GUI thread: walks, hashes).

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
    """New image records (id, absolute path, content hash) for the files under ``paths``."""
    records = []
    for f in expand_paths(paths):
        try:
            digest = file_sha256(f)
        except OSError:
            digest = ""
        records.append(ImageRecord(id=new_id(), path=str(f.resolve()), sha256=digest))
    return records
