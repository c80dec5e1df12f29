"""The one COCO loader: read a COCO instances file, decode it and check what every user needs.

``load_coco`` (``check_coco`` for a dict already in memory) checks the top level, the
``images``, ``annotations`` and ``categories`` lists, that ids are unique integers, and that
every annotation's ``image_id`` and ``category_id`` name an existing entry. A file that fails
is a ``CocoError`` naming the file and, for each bad entry, its JSON path and why. What else a
file must hold is up to its user: the importer checks every field (and our
``rejected_annotations``), the training data set the image files, the evaluation the scores.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from orthogui.io.coco import gc_paused
from orthogui.io.importers._base import ImportValidationError
from orthogui.io.importers._fields import MISSING, FieldChecker, type_name


class CocoError(ImportValidationError):
    """A COCO file that cannot be used. ``str()`` is ``"path: entry: why"`` of the first
    problem (and how many more there are); ``problems`` lists every one."""


def load_json(path: Path, *, error: type[ImportValidationError] = ImportValidationError) -> Any:
    """Parse a JSON file; an unreadable file or bad JSON raises ``error`` naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise error.one(path, "", f"not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise error.one(path, "", f"cannot read the file ({exc.strerror or exc})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error.one(
            path, f"line {exc.lineno} column {exc.colno}", f"bad JSON: {exc.msg}"
        ) from exc
    except RecursionError as exc:
        raise error.one(path, "", "bad JSON: nested too deeply") from exc
    except ValueError as exc:  # an integer of more than 4300 digits
        raise error.one(path, "", f"bad JSON: {exc}") from exc


def coco_lists(
    data: Any,
    path: str | Path,
    *,
    required: Sequence[str],
    optional: Sequence[str] = (),
    error: type[ImportValidationError] = ImportValidationError,
) -> dict[str, list[Any]]:
    """The top-level lists of a COCO file by key.

    Each ``required`` key must hold a list; an ``optional`` one a list, or nothing (absent or
    null: left out of the result). Anything else raises ``error`` naming ``path``.
    """
    if not isinstance(data, dict):
        raise error.one(path, "", "a COCO file is a JSON object")
    missing = [k for k in required if not isinstance(data.get(k), list)]
    if missing:
        raise error.one(path, "", f"not COCO instances: no list {missing}")
    lists: dict[str, list[Any]] = {k: data[k] for k in required}
    for key in optional:
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, list):
            raise error.one(path, key, f"must be a list, got {type_name(value)}")
        lists[key] = value
    return lists


class CocoIds:
    """The ids of one COCO file, checked as its entries are met; problems go to ``ck``.

    Ids are integers in ``0..2**63-1``, unique per kind. An annotation's ``image_id`` and
    ``category_id`` must name a category and an image met before: read the categories and the
    images first, then the annotations.
    """

    def __init__(self, ck: FieldChecker) -> None:
        self.ck = ck
        self.categories: set[int] = set()
        self.images: set[int] = set()  # every image id given, even of an entry refused later
        self.annotations: dict[int, str] = {}  # annotation id -> JSON path of its entry

    def category(self, entry: dict[str, Any], where: str) -> int | None:
        """The id of a category entry, or None when it is bad or taken."""
        return self._unique(entry.get("id", MISSING), f"{where}.id", self.categories, "category")

    def image(self, entry: dict[str, Any], where: str) -> int | None:
        """The id of an image entry, or None when it is bad or taken."""
        return self._unique(entry.get("id", MISSING), f"{where}.id", self.images, "image")

    def _unique(self, value: Any, where: str, seen: set[int], kind: str) -> int | None:
        found = self.ck.integer(value, where)
        if found is None:
            return None
        if found in seen:
            self.ck.fail(where, f"duplicate {kind} id {found}")
            return None
        seen.add(found)
        return found

    def annotation(
        self, entry: dict[str, Any], where: str, *, id_required: bool = True
    ) -> tuple[int | None, int | None]:
        """``(image_id, category_id)`` of an annotation entry, each None when bad or unknown.

        The entry's own id must be a unique integer; without ``id_required`` (a results
        file), it may be absent.
        """
        ck = self.ck
        if id_required or entry.get("id") is not None:
            ann_id = ck.integer(entry.get("id", MISSING), f"{where}.id")
            if ann_id is not None and ann_id in self.annotations:
                first = self.annotations[ann_id]
                ck.fail(f"{where}.id", f"duplicate annotation id {ann_id} (also {first})")
            elif ann_id is not None:
                self.annotations[ann_id] = where
        image_id = ck.integer(entry.get("image_id", MISSING), f"{where}.image_id")
        if image_id is not None and image_id not in self.images:
            ck.fail(f"{where}.image_id", f"image id {image_id} is not in images")
            image_id = None
        category_id = ck.integer(entry.get("category_id", MISSING), f"{where}.category_id")
        if category_id is not None and category_id not in self.categories:
            ck.fail(f"{where}.category_id", f"category id {category_id} is missing")
            category_id = None
        return image_id, category_id


def check_coco(data: Any, file: str | Path) -> dict[str, Any]:
    """``data`` if it is a sound COCO instances dict (see the module), else a ``CocoError``.

    Parameters
    ----------
    data
        Parsed JSON.
    file
        Where it came from, named in every problem (e.g. ``"<ground truth>"`` for a dict
        built in memory).

    Raises
    ------
    CocoError
        Listing every bad entry by its JSON path (e.g. ``annotations[3].image_id``).
    """
    lists = coco_lists(
        data, file, required=("images", "annotations", "categories"), error=CocoError
    )
    ck = FieldChecker(str(file))
    ids = CocoIds(ck)
    for key, register in (("categories", ids.category), ("images", ids.image)):
        for i, entry in enumerate(lists[key]):
            where = f"{key}[{i}]"
            found = ck.obj(entry, where)
            if found is not None:
                register(found, where)
    for i, entry in enumerate(lists["annotations"]):
        where = f"annotations[{i}]"
        found = ck.obj(entry, where)
        if found is not None:
            ids.annotation(found, where)
    if ck.problems:
        raise CocoError(ck.problems)
    sound: dict[str, Any] = data
    return sound


def load_coco(path: str | Path) -> dict[str, Any]:
    """Read a COCO instances file and check it (``check_coco``).

    Raises
    ------
    CocoError
        Naming the file: unreadable, not UTF-8, bad JSON (with its line and column), not a
        JSON object, a list missing, or entries whose ids are bad, taken or unknown.
    """
    p = Path(path)
    with gc_paused():
        data = load_json(p, error=CocoError)
    return check_coco(data, p)
