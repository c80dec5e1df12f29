"""Fences around native decoders: panics become typed errors, and sizes are checked before allocation.

Native decoders (Rust via pyo3, C via cffi/Cython) can raise ``BaseException`` subclasses such as
``pyo3_runtime.PanicException`` that slip past ``except Exception``; they can also allocate
whatever a damaged header asks for. ``fenced`` turns the first into ``CorruptFileError`` naming
the file; ``check_decoded_size`` refuses the second from header fields, before any allocation.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orthogui.core.radiograph import CorruptFileError, RadiographError

__all__ = [
    "DEFAULT_MAX_DECODED_BYTES",
    "MAX_DECODED_BYTES_ENV",
    "check_decoded_size",
    "fenced",
    "max_decoded_bytes",
    "one_line",
]

DEFAULT_MAX_DECODED_BYTES = 2 * 1024**3
"""Largest decoded pixel buffer a reader will allocate for one file (2 GiB)."""

MAX_DECODED_BYTES_ENV = "ORTHOGUI_MAX_DECODED_BYTES"
"""Environment variable that overrides ``DEFAULT_MAX_DECODED_BYTES`` (a positive integer)."""

# What must never be swallowed: typed errors, memory exhaustion (the caller's decision), the
# user's Ctrl-C, an interpreter exit, a generator being closed.
_PASS_THROUGH = (RadiographError, MemoryError, KeyboardInterrupt, SystemExit, GeneratorExit)


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) collapsed to one space."""
    return re.sub(r"\s+", " ", text).strip()


def max_decoded_bytes() -> int:
    """The decoded-size cap in bytes: ``$ORTHOGUI_MAX_DECODED_BYTES`` if set and valid, else 2 GiB.

    Returns
    -------
    int
        A positive number of bytes; an unparsable or non-positive setting is ignored.
    """
    raw = os.environ.get(MAX_DECODED_BYTES_ENV, "").strip()
    try:
        value = int(raw)
    except ValueError:
        return DEFAULT_MAX_DECODED_BYTES
    return value if value > 0 else DEFAULT_MAX_DECODED_BYTES


def check_decoded_size(
    path: Path,
    *,
    rows: int,
    columns: int,
    frames: int = 1,
    samples: int = 1,
    bytes_per_sample: int,
    source: str,
) -> int:
    """Refuse a file whose header asks for more decoded pixels than the cap allows.

    Parameters
    ----------
    path
        The file, named in the error.
    rows, columns, frames, samples, bytes_per_sample
        What the header declares; each must be positive.
    source
        Which header said so (e.g. ``"DICOM header"``, ``"JPEG 2000 SIZ"``), for the message.

    Returns
    -------
    int
        The decoded size in bytes.

    Raises
    ------
    CorruptFileError
        A zero or negative dimension, or a product above ``max_decoded_bytes()``.
    """
    dims = {
        "rows": rows,
        "columns": columns,
        "frames": frames,
        "samples": samples,
        "bytes per sample": bytes_per_sample,
    }
    bad = [f"{name} = {value}" for name, value in dims.items() if value <= 0]
    if bad:
        raise CorruptFileError(path, f"{source} declares an empty image ({', '.join(bad)})")
    size = rows * columns * frames * samples * bytes_per_sample
    cap = max_decoded_bytes()
    if size > cap:
        raise CorruptFileError(
            path,
            f"{source} declares {rows} x {columns} pixels x {frames} frame(s) x {samples} "
            f"sample(s) x {bytes_per_sample} byte(s) = {size:,} bytes decoded, above the "
            f"{cap:,}-byte limit (${MAX_DECODED_BYTES_ENV})",
        )
    return size


@contextmanager
def fenced(path: Path, what: str) -> Iterator[None]:
    """Run a native decode; anything it raises except a typed error becomes ``CorruptFileError``.

    ``RadiographError`` and ``MemoryError`` pass unchanged, as do ``KeyboardInterrupt``,
    ``SystemExit`` and ``GeneratorExit``. Every other exception, including ``BaseException``
    subclasses that native extensions raise (a Rust panic), is reported as
    ``"<path>: <what> failed: <type>: <message>"``.

    Parameters
    ----------
    path
        The file being decoded.
    what
        What the fenced code does, e.g. ``"JPEG 2000 decoding"``.
    """
    try:
        yield
    except _PASS_THROUGH:
        raise
    except BaseException as exc:
        text = one_line(str(exc)) or "no message"
        raise CorruptFileError(path, f"{what} failed: {type(exc).__name__}: {text}") from exc
