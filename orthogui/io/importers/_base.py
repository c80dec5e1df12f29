"""What every importer shares: the result value, typed validation errors and label mapping.

Importers only read and validate; ``merge_into`` adds a validated result to a project as one
undoable step, so a bad file never leaves a project half-imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, Self

import numpy as np

from orthogui.core.annotation import Annotation, Provenance, Review, ReviewState, new_id
from orthogui.core.categories import CategorySet
from orthogui.core.commands import AddAnnotations, Command
from orthogui.core.errors import PathError
from orthogui.core.geometry import Shape
from orthogui.core.history import History
from orthogui.core.project import ImageRecord, ProjectModel
from orthogui.io.coco import gc_paused


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one entry of one file."""

    file: str
    entry: str  # "annotation id 7", "shape 2", "line 5", "" for the file as a whole
    problem: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.entry}: " if self.entry else f"{self.file}: "
        return where + self.problem


class ImportValidationError(PathError, ValueError):
    """A file cannot be imported. ``problems`` lists every entry found wrong (file, entry, why).

    ``path`` is the file of the first problem and ``reason`` the rest of ``str()``: its entry,
    its problem and how many more there are.
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        first = self.problems[0] if self.problems else Problem("", "", "invalid import")
        more = len(self.problems) - 1
        reason = f"{first.entry}: {first.problem}" if first.entry else first.problem
        super().__init__(
            first.file, reason + (f" (and {more} more problem{'s' * (more != 1)})" if more else "")
        )
        if not self.problems:
            self.args = (reason,)

    def __reduce__(self) -> tuple[type[ImportValidationError], tuple[Any, ...]]:
        return (type(self), (self.problems,))

    @classmethod
    def one(cls, file: str | Path, entry: str, problem: str) -> Self:
        """The error of one problem (``entry`` "" for the file as a whole)."""
        return cls([Problem(str(file), entry, problem)])


@dataclass(frozen=True)
class ImportResult:
    """Plain data read from a file: new image records and their annotations, plus warnings.

    Image records carry fresh ids and ``path`` as the file names them (resolved against the
    images root when one was given).
    """

    images: tuple[ImageRecord, ...]
    annotations: tuple[Annotation, ...]
    warnings: tuple[Problem, ...] = ()
    source: str = ""
    categories: CategorySet | None = None  # the file's own categories, where it defines them

    def __post_init__(self) -> None:
        ids = {im.id for im in self.images}
        stray = [a.id for a in self.annotations if a.image_id not in ids]
        if stray:
            raise ValueError(f"annotations {stray[:5]} refer to images not in the result")


@dataclass
class LabelMap:
    """Source label -> project category name; identity for names the project already has.

    ``drop`` lists source labels to skip on purpose (e.g. an "ignore" class);
    ``drop_unknown`` skips every label that maps to no category instead of refusing the file
    (a reader that wants some categories of a file, not all).
    """

    categories: CategorySet
    mapping: Mapping[str, str] = field(default_factory=dict)
    drop: frozenset[str] = frozenset()
    drop_unknown: bool = False

    def resolve(self, labels: Iterable[str], *, file: str | Path) -> dict[str, str | None]:
        """Map every label or raise one error listing all unknown ones."""
        out: dict[str, str | None] = {}
        unknown = []
        names = set(self.categories.names())
        for label in sorted(set(labels)):
            if label in self.drop:
                out[label] = None
                continue
            target = self.mapping.get(label, label)
            if target not in names:
                if self.drop_unknown:
                    out[label] = None
                else:
                    unknown.append(label if target == label else f"{label} -> {target}")
                continue
            out[label] = target
        if unknown:
            raise ImportValidationError.one(
                file,
                "labels",
                f"labels not in the project's categories: {unknown}; give a mapping "
                f"(e.g. --map {unknown[0].split(' ')[0]}=<category>) to one of {sorted(names)}",
            )
        return out


def new_ids(n: int) -> list[str]:
    """``n`` fresh ids in the form of ``new_id`` (uuid4 hex), from one ``os.urandom`` call.

    ``uuid.uuid4()`` costs about 10 us each, a tenth of a big import; this is ~30 times less.
    """
    if n <= 0:
        return []
    raw = np.frombuffer(os.urandom(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    text = raw.tobytes().hex()
    return [text[i : i + 32] for i in range(0, 32 * n, 32)]


def resolve_image_path(file_name: str, images_root: Path | None) -> str:
    if images_root is None:
        return file_name
    return str(images_root / file_name)


Commit = Callable[[list[ImageRecord], Command], object]
"""Adds new images and pushes one command together, all or nothing (e.g.
``ProjectStore.add_images_and_push``)."""


def merge_into(
    model: ProjectModel,
    result: ImportResult,
    *,
    history: History | None = None,
    add_images: Callable[[list[ImageRecord]], object] | None = None,
    commit: Commit | None = None,
    label: str = "Import",
) -> dict[str, str]:
    """Add an import to a project: new images, then all annotations as one undo step.

    Parameters
    ----------
    model
        The project model.
    result
        A validated import.
    history
        Where the annotations are pushed (default: applied to ``model`` directly).
    add_images
        How new images are added before the annotations (e.g. ``ProjectStore.add_images``;
        default: ``model.put_image``).
    commit
        Instead of ``add_images`` and ``history``: one call that adds the new images and
        pushes the command in one transaction, so that a failure leaves the project as it
        was (``ProjectStore.add_images_and_push``).
    label
        Start of the undo step's label.

    Returns
    -------
    dict[str, str]
        Result image id -> project image id. Images whose path (or, failing that, file name)
        matches an existing image are reused; an image the result lists twice is added once.
    """
    by_path = {im.path: im.id for im in model.images()}
    by_name: dict[str, str] = {}
    for im in model.images():
        by_name.setdefault(PurePath(im.path).name, im.id)
    id_map: dict[str, str] = {}
    new: list[ImageRecord] = []
    new_by_path: dict[str, str] = {}
    for im in result.images:
        found = by_path.get(im.path) or by_name.get(PurePath(im.path).name)
        if found is None:
            key = os.path.normpath(im.path)
            found = new_by_path.get(key)
            if found is None:
                new.append(im)
                found = new_by_path[key] = im.id
        id_map[im.id] = found
    anns = tuple(
        a if id_map[a.image_id] == a.image_id else a.evolve(image_id=id_map[a.image_id])
        for a in result.annotations
    )
    taken = [a.id for a in anns if model.get(a.id) is not None]
    if taken:
        raise ImportValidationError.one(
            result.source, f"annotation {taken[0]}", "an annotation with this id exists already"
        )
    cmd = AddAnnotations(anns, f"{label} {len(anns)} finding{'s' * (len(anns) != 1)}")
    if commit is not None:
        with gc_paused():
            commit(new, cmd)
        return id_map
    if new:
        if add_images is not None:
            add_images(new)
        else:
            for im in new:
                model.put_image(im)
    with gc_paused():
        if history is not None:
            history.push(cmd)
        else:
            cmd.apply(model)
    return id_map


def note_known_images(result: ImportResult, known: list[ImageRecord]) -> ImportResult:
    """``result`` with a warning naming the images the project held already (reused)."""
    if not known:
        return result
    from dataclasses import replace

    names = ", ".join(PurePath(im.path).name for im in known[:3]) + (", …" * (len(known) > 3))
    note = f"{len(known)} already in the project (findings added to them): {names}"
    return replace(result, warnings=(*result.warnings, Problem(result.source, "images", note)))


def human_label(
    *, image_id: str, category: str, shape: Shape, attributes: dict[str, Any] | None = None
) -> Annotation:
    """An annotation read from a foreign labelling tool: made by people, so accepted."""
    return Annotation(
        id=new_id(),
        image_id=image_id,
        category=category,
        shape=shape,
        provenance=Provenance("import"),
        review=Review(ReviewState.ACCEPTED),
        attributes=dict(attributes or {}),
    )
