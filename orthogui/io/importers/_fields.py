"""Typed checks of the fields of a parsed JSON file, each refusal named by its JSON path.

The importers validate a whole file with a ``FieldChecker`` before building anything, so a
file either imports whole or is refused with every bad field listed (file, path, reason).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any, Final

from orthogui.io.importers._base import ImportValidationError, Problem

MAX_SIDE: Final = 1_000_000
"""Largest image side (px) an importer accepts; also bounds every coordinate."""
MAX_PIXELS: Final = 1 << 27
"""Largest RLE mask (height x width) decoded on import (~134 million pixels)."""
MAX_ID: Final = (1 << 63) - 1
"""Largest id (SQLite's INTEGER range)."""
MAX_DEPTH: Final = 32
"""Deepest nesting accepted in free-form attributes."""


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Final = _Missing()
"""Stands for an absent key: ``checker.integer(obj.get("id", MISSING), ...)``."""


def type_name(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages."""
    if value is MISSING:
        return "nothing"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def is_number(value: Any) -> bool:
    """A JSON number (booleans are not numbers here)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def finite(value: Any, *, bound: float = MAX_SIDE) -> bool:
    """A number whose magnitude is at most ``bound`` (so never NaN, infinite or huge)."""
    if not is_number(value):
        return False
    if isinstance(value, int):
        return -bound <= value <= bound
    return math.isfinite(value) and -bound <= value <= bound


def unsafe_path_reason(name: str) -> str | None:
    """Why an image file name from a file must not be used, or None when it is a plain
    relative path that stays inside the images root (``a/../b.png`` is fine, ``../b.png``
    and ``/etc/b.png`` are not)."""
    if not name.strip():
        return "empty file name"
    if "\x00" in name:
        return "file name contains a NUL character"
    windows = PureWindowsPath(name)
    if PurePosixPath(name).is_absolute() or windows.drive or windows.root:
        return f"absolute path {name!r}: image files must lie under the images root"
    depth = 0
    for part in name.replace("\\", "/").split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return f"{name!r} leaves the images root (../)"
        elif part not in ("", "."):
            depth += 1
    if depth == 0:
        return f"{name!r} names the images root itself, not a file"
    return None


class FieldChecker:
    """Collects the problems of one file; each check returns the value, or None when bad.

    Parameters
    ----------
    file
        The file the values come from (named in every problem).
    """

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def fail(self, where: str, why: str) -> None:
        """Record one problem at JSON path ``where``."""
        self.problems.append(Problem(self.file, where, why))

    def raise_if_any(self) -> None:
        """Raise ``ImportValidationError`` listing every recorded problem, if there is one."""
        if self.problems:
            raise ImportValidationError(self.problems)

    def _wrong(self, value: Any, where: str, wanted: str) -> None:
        if value is MISSING:
            self.fail(where, f"missing (needs {wanted})")
        else:
            self.fail(where, f"must be {wanted}, got {type_name(value)}")

    def obj(self, value: Any, where: str) -> dict[str, Any] | None:
        """A JSON object."""
        if isinstance(value, dict):
            return value
        self._wrong(value, where, "an object")
        return None

    def array(self, value: Any, where: str) -> list[Any] | None:
        """A JSON list."""
        if isinstance(value, list):
            return value
        self._wrong(value, where, "a list")
        return None

    def integer(self, value: Any, where: str, *, low: int = 0, high: int = MAX_ID) -> int | None:
        """An integer in ``low..high`` (a float with an integral value counts)."""
        if type(value) is int and low <= value <= high:  # the usual case, first
            return value
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            self._wrong(value, where, "an integer")
            return None
        if not low <= value <= high:
            self.fail(where, f"{_short(value)} is outside {low}..{high}")
            return None
        return value

    def number(
        self, value: Any, where: str, *, low: float = -MAX_SIDE, high: float = MAX_SIDE
    ) -> float | None:
        """A finite number in ``low..high``."""
        kind = type(value)
        if (kind is float or kind is int) and low <= value <= high:  # NaN fails the test
            return float(value)
        if not is_number(value):
            self._wrong(value, where, "a number")
            return None
        if not finite(value, bound=math.inf) or not low <= value <= high:
            self.fail(where, f"{_short(value)} is not a finite number in {low:g}..{high:g}")
            return None
        return float(value)

    def numbers(self, value: Any, where: str, *, count: int) -> list[float] | None:
        """A list of exactly ``count`` finite numbers (each within +-``MAX_SIDE``)."""
        if type(value) is list and len(value) == count and all(map(_plain_number, value)):
            return [float(v) for v in value]
        items = self.array(value, where)
        if items is None:
            return None
        if len(items) != count:
            self.fail(where, f"needs {count} numbers, got {len(items)}")
            return None
        out = [self.number(v, f"{where}[{k}]") for k, v in enumerate(items)]
        return None if any(v is None for v in out) else [v for v in out if v is not None]

    def text(self, value: Any, where: str, *, empty: bool = True) -> str | None:
        """A string (non-empty unless ``empty``)."""
        if type(value) is str and (empty or value.strip()):
            return value
        if not isinstance(value, str):
            self._wrong(value, where, "a string")
            return None
        if not empty and not value.strip():
            self.fail(where, "must not be empty")
            return None
        return value

    def choice(self, value: Any, where: str, choices: tuple[str, ...]) -> str | None:
        """One of ``choices``."""
        text = self.text(value, where)
        if text is not None and text not in choices:
            self.fail(where, f"{_short(text)} is not one of {list(choices)}")
            return None
        return text

    def plain(self, value: Any, where: str) -> bool:
        """Free-form data a project can store: objects with string keys, lists, strings,
        booleans, null and finite numbers, nested at most ``MAX_DEPTH`` deep."""
        stack: list[tuple[Any, str, int]] = [(value, where, 0)]
        while stack:
            item, at, depth = stack.pop()
            if depth > MAX_DEPTH:
                self.fail(at, f"nested deeper than {MAX_DEPTH} levels")
                return False
            if isinstance(item, dict):
                stack.extend((v, f"{at}.{k}", depth + 1) for k, v in item.items())
            elif isinstance(item, list):
                stack.extend((v, f"{at}[{k}]", depth + 1) for k, v in enumerate(item))
            elif is_number(item) and not finite(item, bound=float(MAX_ID)):
                self.fail(at, f"{_short(item)} is not a finite number")
                return False
        return True

    def attributes(self, value: Any, where: str) -> dict[str, Any] | None:
        """An optional free-form object (absent or null: empty)."""
        if value is MISSING or value is None:
            return {}
        if type(value) is dict and not value:
            return value
        found = self.obj(value, where)
        if found is None or not self.plain(found, where):
            return None
        return found

    def file_name(self, value: Any, where: str) -> str | None:
        """A relative image file name that stays inside the images root."""
        name = self.text(value, where)
        if name is None:
            return None
        reason = unsafe_path_reason(name)
        if reason:
            self.fail(where, reason)
            return None
        return name


def optional(obj: Mapping[str, Any], key: str) -> Any:
    """``obj[key]``, or ``MISSING`` when the key is absent or null."""
    value = obj.get(key)
    return MISSING if value is None else value


def _plain_number(value: Any) -> bool:
    kind = type(value)
    return (kind is float or kind is int) and -MAX_SIDE <= value <= MAX_SIDE


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
