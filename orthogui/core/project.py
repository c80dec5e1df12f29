"""The project model in memory: images, their review status and their annotations.

The model is the single source of truth that the canvas projects and the store persists.
It changes only through commands (see ``commands``) and announces each change by signals.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import PurePath
from typing import Any

from psygnal import Signal

from orthogui.core.annotation import Annotation
from orthogui.core.categories import DEFAULT_CATEGORIES, CategorySet
from orthogui.core.measurement import Measurement


class ImageStatus(StrEnum):
    """Where an image stands in the review queue."""

    NEW = "new"
    PRE_ANNOTATED = "pre_annotated"
    IN_REVIEW = "in_review"
    APPROVED = "approved"


SPACING_KEY = "pixel_spacing"
"""``ImageRecord.attributes`` key of the image's pixel spacing: ``[row, column]`` in mm."""


@dataclass(frozen=True)
class ImageRecord:
    """One image of a project. ``path`` is absolute or relative to the project file."""

    id: str
    path: str
    sha256: str = ""
    width: int = 0
    height: int = 0
    status: ImageStatus = ImageStatus.NEW
    uncertainty: float | None = None
    study_key: str = ""  # groups images of one patient/study (salted hash, never PHI)
    attributes: dict[str, Any] = field(default_factory=dict)

    def evolve(self, **changes: Any) -> ImageRecord:
        return replace(self, **changes)


@dataclass(frozen=True)
class Duplicate:
    """An image offered to a project that holds it already (same content, else same path)."""

    offered: str  # the path as offered
    existing: ImageRecord  # the project's image (or an earlier one of the same batch)


@dataclass(frozen=True)
class ImageAddition:
    """What adding images did: the records added, and those skipped as already present."""

    added: tuple[ImageRecord, ...] = ()
    duplicates: tuple[Duplicate, ...] = ()

    def summary(self, *, names: int = 3) -> str:
        """One line for a person: ``"12 added, 3 already in the project: a.dcm, b.dcm, …"``.

        Parameters
        ----------
        names
            How many skipped files to name before an ellipsis.

        Returns
        -------
        str
            The line (``"Added 12 image(s)"`` when nothing was skipped).
        """
        if not self.duplicates:
            return f"Added {len(self.added)} image(s)"
        shown = [PurePath(d.offered).name for d in self.duplicates[:names]]
        more = ", …" if len(self.duplicates) > names else ""
        n = len(self.duplicates)
        return f"{len(self.added)} added, {n} already in the project: {', '.join(shown)}{more}"


def sort_additions(
    existing: Iterable[ImageRecord], offered: Iterable[ImageRecord]
) -> ImageAddition:
    """Split ``offered`` into new images and duplicates of ``existing`` or of each other.

    An image is a duplicate when its ``sha256`` is known already; without a hash, when its
    path is. Paths must be in the same form on both sides (e.g. as a store keeps them).

    Parameters
    ----------
    existing
        The project's images.
    offered
        Images to add, in order (the first of two equal ones is the one added).

    Returns
    -------
    ImageAddition
        The records to add, and one ``Duplicate`` for each record skipped.

    Raises
    ------
    ValueError
        A record reuses the id of a different image.
    """
    by_hash: dict[str, ImageRecord] = {}
    by_path: dict[str, ImageRecord] = {}
    ids: set[str] = set()
    for im in existing:
        by_path.setdefault(im.path, im)
        ids.add(im.id)
        if im.sha256:
            by_hash.setdefault(im.sha256, im)
    added: list[ImageRecord] = []
    duplicates: list[Duplicate] = []
    for record in offered:
        known = by_hash.get(record.sha256) if record.sha256 else by_path.get(record.path)
        if known is not None:
            duplicates.append(Duplicate(record.path, known))
            continue
        if record.id in ids:
            raise ValueError(f"image id {record.id} is already used by another image")
        added.append(record)
        ids.add(record.id)
        by_path.setdefault(record.path, record)
        if record.sha256:
            by_hash[record.sha256] = record
    return ImageAddition(tuple(added), tuple(duplicates))


class ProjectModel:
    """Images and annotations, keyed by id. Mutated only by commands."""

    annotation_added = Signal(Annotation)
    annotation_changed = Signal(Annotation, Annotation)  # before, after
    annotation_removed = Signal(Annotation)
    image_changed = Signal(ImageRecord)
    image_removed = Signal(str)  # image id
    measurement_added = Signal(Measurement)
    measurement_changed = Signal(Measurement, Measurement)  # before, after
    measurement_removed = Signal(Measurement)

    def __init__(self, categories: CategorySet = DEFAULT_CATEGORIES) -> None:
        self.categories = categories
        self._images: dict[str, ImageRecord] = {}
        self._annotations: dict[str, Annotation] = {}
        self._by_image: dict[str, dict[str, None]] = {}  # ordered set per image
        # Measurements (rulers, angles) per image, in drawing order; not findings.
        self._measurements: dict[str, Measurement] = {}

    # -- images -----------------------------------------------------------------------
    def images(self) -> list[ImageRecord]:
        return list(self._images.values())

    def image(self, image_id: str) -> ImageRecord:
        return self._images[image_id]

    def has_image(self, image_id: str) -> bool:
        return image_id in self._images

    def put_image(self, record: ImageRecord) -> None:
        """Add or replace an image record (image bookkeeping is not undoable history)."""
        self._images[record.id] = record
        self._by_image.setdefault(record.id, {})
        self.image_changed.emit(record)

    def remove_image(self, image_id: str) -> None:
        """Forget an image record without annotations (an import taken back); not undoable.

        Raises
        ------
        ValueError
            The image still has annotations.
        """
        if self._by_image.get(image_id):
            raise ValueError(f"image {image_id} still has annotations")
        if self._images.pop(image_id, None) is not None:
            self._by_image.pop(image_id, None)
            self.image_removed.emit(image_id)

    # -- annotations --------------------------------------------------------------------
    def annotation(self, annotation_id: str) -> Annotation:
        return self._annotations[annotation_id]

    def get(self, annotation_id: str) -> Annotation | None:
        return self._annotations.get(annotation_id)

    def annotations(self, image_id: str | None = None) -> list[Annotation]:
        if image_id is None:
            return list(self._annotations.values())
        return [self._annotations[i] for i in self._by_image.get(image_id, {})]

    def _insert(self, ann: Annotation) -> None:
        if ann.id in self._annotations:
            raise KeyError(f"annotation {ann.id} exists already")
        if ann.image_id not in self._images:
            raise KeyError(f"annotation {ann.id} refers to unknown image {ann.image_id}")
        self._annotations[ann.id] = ann
        self._by_image.setdefault(ann.image_id, {})[ann.id] = None
        self.annotation_added.emit(ann)

    def _replace(self, ann: Annotation) -> None:
        before = self._annotations[ann.id]
        if before.image_id != ann.image_id:
            raise ValueError("an annotation cannot move to another image")
        self._annotations[ann.id] = ann
        self.annotation_changed.emit(before, ann)

    def _delete(self, annotation_id: str) -> None:
        ann = self._annotations.pop(annotation_id)
        self._by_image[ann.image_id].pop(annotation_id, None)
        self.annotation_removed.emit(ann)

    # -- measurements ---------------------------------------------------------------------
    def measurement(self, measurement_id: str) -> Measurement:
        return self._measurements[measurement_id]

    def get_measurement(self, measurement_id: str) -> Measurement | None:
        return self._measurements.get(measurement_id)

    def measurements(self, image_id: str | None = None) -> list[Measurement]:
        """The measurements of one image (or all), in the order they were made."""
        return [m for m in self._measurements.values() if image_id in (None, m.image_id)]

    def _insert_measurement(self, m: Measurement) -> None:
        if m.id in self._measurements:
            raise KeyError(f"measurement {m.id} exists already")
        if m.image_id not in self._images:
            raise KeyError(f"measurement {m.id} refers to unknown image {m.image_id}")
        self._measurements[m.id] = m
        self.measurement_added.emit(m)

    def _replace_measurement(self, m: Measurement) -> None:
        before = self._measurements[m.id]
        if before.image_id != m.image_id:
            raise ValueError("a measurement cannot move to another image")
        self._measurements[m.id] = m
        self.measurement_changed.emit(before, m)

    def _delete_measurement(self, measurement_id: str) -> None:
        m = self._measurements.pop(measurement_id)
        self.measurement_removed.emit(m)

    def load(
        self,
        images: Iterable[ImageRecord],
        annotations: Iterable[Annotation],
        measurements: Iterable[Measurement] = (),
    ) -> None:
        """Bulk-fill from the store, without signals per item (callers re-sync once)."""
        for im in images:
            self._images[im.id] = im
            self._by_image.setdefault(im.id, {})
        for ann in annotations:
            self._annotations[ann.id] = ann
            self._by_image.setdefault(ann.image_id, {})[ann.id] = None
        for m in measurements:
            self._measurements[m.id] = m
