"""Turn exceptions into the one-line messages the command line prints."""

from __future__ import annotations


def describe(exc: BaseException) -> str:
    """A readable one-line reason; typed errors already name their file."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError)):
        name = getattr(exc, "filename", None)
        reason = getattr(exc, "strerror", None) or text
        return f"{name}: {reason}" if name else text
    return text
