"""Durable file operations: the one atomic write, the one atomic copy, the one content hash.

A write goes to a temporary file beside the target, is flushed and fsynced, then renamed over
the target; the folder is fsynced too (POSIX) so the rename itself survives a power cut. A
reader therefore sees the old file or the new one, never half of either; when the write fails
(disk full, permission, a killed process) the target is untouched and the temporary file is
removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def fsync_dir(folder: Path) -> None:
    """Make renames and new entries in ``folder`` durable (no-op where the OS cannot)."""
    if not hasattr(os, "O_DIRECTORY"):  # Windows: directory handles cannot be fsynced
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """Flush an already written file to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> Path:
    """Write ``path`` all or nothing: ``write(f)`` fills a temporary binary file beside it,
    which is fsynced and renamed over ``path``; the folder is fsynced after the rename.

    Parent folders are created. Any exception from ``write`` or the OS leaves ``path`` as it
    was, removes the temporary file and propagates.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # per process and thread: two writers of one path never share a temporary file
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)
    return path


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """``atomic_write`` of ``data``."""
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: Path, text: str, *, encoding: str = "utf-8") -> Path:
    """``atomic_write`` of ``text`` (newlines as given, no platform translation)."""
    return atomic_write_bytes(path, text.encode(encoding))


def atomic_copy(src: Path, dst: Path) -> Path:
    """Copy ``src`` to ``dst`` all or nothing (contents only, like ``shutil.copyfile``)."""
    with open(src, "rb") as source:
        return atomic_write(dst, lambda f: shutil.copyfileobj(source, f, 1 << 20))


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes as 64 hex digits, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
