"""The project model in memory: images, their review status and their annotations.

The model is the single source of truth that the canvas projects and the store persists.
It changes only through commands (see ``commands``) and announces each change by signals.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from psygnal import Signal

from orthogui.core.annotation import Annotation
from orthogui.core.categories import DEFAULT_CATEGORIES, CategorySet


class ImageStatus(StrEnum):
    """Where an image stands in the review queue."""

    NEW = "new"
    PRE_ANNOTATED = "pre_annotated"
    IN_REVIEW = "in_review"
    APPROVED = "approved"


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


class ProjectModel:
    """Images and annotations, keyed by id. Mutated only by commands."""

    annotation_added = Signal(Annotation)
    annotation_changed = Signal(Annotation, Annotation)  # before, after
    annotation_removed = Signal(Annotation)
    image_changed = Signal(ImageRecord)
    image_removed = Signal(str)  # image id

    def __init__(self, categories: CategorySet = DEFAULT_CATEGORIES) -> None:
        self.categories = categories
        self._images: dict[str, ImageRecord] = {}
        self._annotations: dict[str, Annotation] = {}
        self._by_image: dict[str, dict[str, None]] = {}  # ordered set per image

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

    def load(self, images: Iterable[ImageRecord], annotations: Iterable[Annotation]) -> None:
        """Bulk-fill from the store, without signals per item (callers re-sync once)."""
        for im in images:
            self._images[im.id] = im
            self._by_image.setdefault(im.id, {})
        for ann in annotations:
            self._annotations[ann.id] = ann
            self._by_image.setdefault(ann.image_id, {})[ann.id] = None
