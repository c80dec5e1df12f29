"""Radiograph readers: a registry of formats found by magic bytes, then by suffix.

``read_radiograph(path)`` returns one full-depth ``Radiograph`` or raises a typed
``RadiographError`` whose ``str()`` is ``"<path>: <reason>"``, also when a native decoder
panics (see ``_guard``); ``can_read`` is cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orthogui.core.radiograph import (
    CorruptFileError,
    Radiograph,
    RadiographError,
    UnsupportedFormatError,
)
from orthogui.io.readers._pixels import pixel_sha256
from orthogui.io.readers.dicom import read_dicom
from orthogui.io.readers.raster import PNG_SIGNATURE, read_jpeg, read_png, read_tiff

__all__ = [
    "READERS",
    "SUPPORTED_SUFFIXES",
    "ReaderSpec",
    "can_read",
    "pixel_sha256",
    "read_radiograph",
    "reader_for",
]


@dataclass(frozen=True)
class ReaderSpec:
    """One format: byte signatures ``(offset, bytes)``, file suffixes and its read function."""

    format: str
    signatures: tuple[tuple[int, bytes], ...]
    suffixes: tuple[str, ...]
    read: Callable[[Path], Radiograph]


READERS: tuple[ReaderSpec, ...] = (
    ReaderSpec("dicom", ((128, b"DICM"),), (".dcm", ".dicom", ".dic", ".ima"), read_dicom),
    ReaderSpec("png", ((0, PNG_SIGNATURE),), (".png",), read_png),
    ReaderSpec("jpeg", ((0, b"\xff\xd8\xff"),), (".jpg", ".jpeg", ".jpe", ".jfif"), read_jpeg),
    ReaderSpec(
        "tiff",
        ((0, b"II*\x00"), (0, b"MM\x00*"), (0, b"II+\x00"), (0, b"MM\x00+")),
        (".tif", ".tiff"),
        read_tiff,
    ),
)

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(s for spec in READERS for s in spec.suffixes)
_HEAD_BYTES = max(off + len(sig) for spec in READERS for off, sig in spec.signatures)


def reader_for(path: Path, head: bytes) -> ReaderSpec | None:
    """The reader whose signature matches ``head`` (the file's first bytes), else by suffix.

    Parameters
    ----------
    path
        The file (only its suffix is used).
    head
        At least the first 132 bytes of the file, fewer if it is shorter.

    Returns
    -------
    ReaderSpec or None
        ``None`` when neither content nor suffix is recognised.
    """
    for spec in READERS:
        if any(head[off : off + len(sig)] == sig for off, sig in spec.signatures):
            return spec
    suffix = path.suffix.lower()
    for spec in READERS:
        if suffix in spec.suffixes:
            return spec
    return None


def _head(path: Path) -> tuple[bytes, int]:
    with path.open("rb") as f:
        return f.read(_HEAD_BYTES), path.stat().st_size


def can_read(path: str | Path) -> bool:
    """Whether a reader claims the file, by magic bytes then suffix (reads ~132 bytes).

    Parameters
    ----------
    path
        Any path; directories and unreadable files give ``False``.

    Returns
    -------
    bool
        ``True`` does not promise the file is intact: ``read_radiograph`` may still refuse it.
    """
    p = Path(path)
    try:
        head, _ = _head(p)
    except OSError:
        return False
    return reader_for(p, head) is not None


def read_radiograph(path: str | Path) -> Radiograph:
    """Read a radiograph (DICOM, PNG, JPEG, TIFF) at full bit depth.

    Parameters
    ----------
    path
        The file to read; the format comes from its first bytes, else its suffix.

    Returns
    -------
    Radiograph
        Stored pixels plus the LUT parameters, spacing and identifiers.

    Raises
    ------
    UnsupportedFormatError
        No reader recognises the file, or the file uses a feature no reader supports.
    CorruptFileError
        Empty, truncated or defective file; a header declaring more decoded pixels than
        ``$ORTHOGUI_MAX_DECODED_BYTES`` (2 GiB); a decoder that failed or panicked.
    NotAnImageError
        A valid file without an image (e.g. a DICOM SR).
    RadiographError
        The file cannot be opened at all (missing, a directory, no permission).
    """
    p = Path(path)
    try:
        head, size = _head(p)
    except OSError as exc:
        raise RadiographError(p, f"cannot open: {exc.strerror or exc}") from exc
    if size == 0:
        raise CorruptFileError(p, "empty file (0 bytes)")
    spec = reader_for(p, head)
    if spec is None:
        raise UnsupportedFormatError(
            p, "not a recognised radiograph (DICOM, PNG, JPEG, TIFF) by content or suffix"
        )
    try:
        return spec.read(p)
    except RadiographError:
        raise
    except MemoryError:
        raise
    except OSError as exc:
        raise RadiographError(p, f"cannot read: {exc.strerror or exc}") from exc
    except Exception as exc:  # a decoder's own error type: still a typed, one-line error
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise CorruptFileError(p, f"cannot read as {spec.format}: {text}") from exc
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # a native panic (pyo3) outside the fences
        text = " ".join(str(exc).split()) or "no message"
        raise CorruptFileError(
            p, f"cannot read as {spec.format}: {type(exc).__name__}: {text}"
        ) from exc
