"""Turn chosen or dropped paths into image records (call off the GUI thread: walks, hashes).

Folders are walked for readable suffixes; each file is hashed so the store can skip
duplicates. Nothing here touches Qt.
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
    """Files as given, plus every file with a radiograph suffix under the folders, sorted."""
    suffixes = supported_suffixes()
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(
                sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in suffixes)
            )
        elif p.is_file():
            out.append(p)
    return out


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
