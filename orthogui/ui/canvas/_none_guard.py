"""Work around PySide6 6.12.0 on Python 3.11: every void Qt call drops one reference to None.

Measured here: ``widget.resize()``, ``painter.setPen()`` and each Python ``paint()`` override
call lose one ``None`` reference, so a painting canvas aborts with ``none_dealloc`` after ~5,000
calls. Python 3.12+ has an immortal None and is unaffected; on 3.11 we give None a reference
count that cannot run out (what 3.12 does). Remove once PySide6 is fixed or Python >= 3.12.
"""

from __future__ import annotations

import ctypes
import sys

_PINNED = 1 << 40


def pin_none() -> None:
    """Make ``None``'s reference count effectively immortal (CPython < 3.12 only, once)."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return
    if getattr(pin_none, "_done", False):
        return
    ctypes.c_ssize_t.from_address(id(None)).value += _PINNED
    pin_none._done = True  # type: ignore[attr-defined]


pin_none()
