"""Undoable edits of the project model. Each holds ids and before/after values only.

A command is plain data: it can be applied, reverted, merged with a follow-up of the same
gesture, and written to the journal as JSON (``to_json`` / ``command_from_json``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from orthogui.core.annotation import Annotation
from orthogui.core.measurement import Measurement, measurement_from_dict, measurement_to_dict
from orthogui.core.project import ImageRecord, ImageStatus, ProjectModel
from orthogui.core.serialize import (
    annotation_from_dict,
    annotation_to_dict,
    image_from_dict,
    image_to_dict,
)


class Command(ABC):
    """One undoable step."""

    kind: ClassVar[str]
    label: str

    @abstractmethod
    def apply(self, model: ProjectModel) -> None: ...

    @abstractmethod
    def revert(self, model: ProjectModel) -> None: ...

    def merge(self, following: Command) -> Command | None:
        """Return one command doing ``self`` then ``following``, or None if they stay apart."""
        return None

    @abstractmethod
    def annotation_ids(self) -> set[str]:
        """Ids of the annotations this command touches (the store re-writes these rows)."""

    def image_ids(self) -> set[str]:
        """Ids of the image records this command touches."""
        return set()

    def measurement_ids(self) -> set[str]:
        """Ids of the measurements this command touches (the store re-writes these rows)."""
        return set()

    def touched_images(self) -> tuple[str, ...]:
        """Ids of the images this command changes: its image records and the images its
        annotations sit on, in the order the command meets them (no repeats).

        Undo and redo use it to show the image a step changes.

        Returns
        -------
        tuple of str
            Image ids, first touched first.
        """
        return tuple(sorted(self.image_ids()))

    @abstractmethod
    def payload(self) -> dict[str, Any]: ...

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "label": self.label, **self.payload()}


def _anns(items: Sequence[dict[str, Any]]) -> tuple[Annotation, ...]:
    return tuple(annotation_from_dict(d) for d in items)


def _images_of(annotations: Sequence[Annotation]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(a.image_id for a in annotations))


@dataclass(frozen=True)
class AddAnnotations(Command):
    annotations: tuple[Annotation, ...]
    label: str = "Add"
    kind: ClassVar[str] = "add"

    def apply(self, model: ProjectModel) -> None:
        for a in self.annotations:
            model._insert(a)

    def revert(self, model: ProjectModel) -> None:
        for a in reversed(self.annotations):
            model._delete(a.id)

    def annotation_ids(self) -> set[str]:
        return {a.id for a in self.annotations}

    def touched_images(self) -> tuple[str, ...]:
        return _images_of(self.annotations)

    def payload(self) -> dict[str, Any]:
        return {"annotations": [annotation_to_dict(a) for a in self.annotations]}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> AddAnnotations:
        return cls(_anns(data["annotations"]), data.get("label", "Add"))


@dataclass(frozen=True)
class RemoveAnnotations(Command):
    annotations: tuple[Annotation, ...]
    label: str = "Delete"
    kind: ClassVar[str] = "remove"

    def apply(self, model: ProjectModel) -> None:
        for a in self.annotations:
            model._delete(a.id)

    def revert(self, model: ProjectModel) -> None:
        for a in self.annotations:
            model._insert(a)

    def annotation_ids(self) -> set[str]:
        return {a.id for a in self.annotations}

    def touched_images(self) -> tuple[str, ...]:
        return _images_of(self.annotations)

    def payload(self) -> dict[str, Any]:
        return {"annotations": [annotation_to_dict(a) for a in self.annotations]}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> RemoveAnnotations:
        return cls(_anns(data["annotations"]), data.get("label", "Delete"))


@dataclass(frozen=True)
class UpdateAnnotations(Command):
    """Replace annotations by new values (geometry, category, review, attributes).

    ``merge_key`` lets a continuous gesture (a slider, repeated nudges) collapse into one
    step: two updates merge when they carry the same non-empty key and the same ids.
    """

    before: tuple[Annotation, ...]
    after: tuple[Annotation, ...]
    label: str = "Edit"
    merge_key: str = ""
    kind: ClassVar[str] = "update"

    def __post_init__(self) -> None:
        if [a.id for a in self.before] != [a.id for a in self.after]:
            raise ValueError("before and after must list the same annotations in one order")

    def apply(self, model: ProjectModel) -> None:
        for a in self.after:
            model._replace(a)

    def revert(self, model: ProjectModel) -> None:
        for a in self.before:
            model._replace(a)

    def merge(self, following: Command) -> Command | None:
        if (
            isinstance(following, UpdateAnnotations)
            and self.merge_key
            and following.merge_key == self.merge_key
            and [a.id for a in following.before] == [a.id for a in self.after]
        ):
            return UpdateAnnotations(self.before, following.after, self.label, self.merge_key)
        return None

    def annotation_ids(self) -> set[str]:
        return {a.id for a in self.after}

    def touched_images(self) -> tuple[str, ...]:
        return _images_of(self.after)

    def payload(self) -> dict[str, Any]:
        return {
            "before": [annotation_to_dict(a) for a in self.before],
            "after": [annotation_to_dict(a) for a in self.after],
            "merge_key": self.merge_key,
        }

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> UpdateAnnotations:
        return cls(
            _anns(data["before"]),
            _anns(data["after"]),
            data.get("label", "Edit"),
            data.get("merge_key", ""),
        )


@dataclass(frozen=True)
class SetImageStatus(Command):
    image_id: str
    before: ImageRecord
    after: ImageRecord
    label: str = "Set image status"
    kind: ClassVar[str] = "image"

    @classmethod
    def to(cls, model: ProjectModel, image_id: str, status: ImageStatus) -> SetImageStatus:
        before = model.image(image_id)
        return cls(image_id, before, before.evolve(status=status), f"Mark {status.value}")

    # Only the status is undoable: bookkeeping written since (uncertainty, size, attributes)
    # must survive an undo, so the current record is evolved instead of replaced.
    def apply(self, model: ProjectModel) -> None:
        model.put_image(model.image(self.image_id).evolve(status=self.after.status))

    def revert(self, model: ProjectModel) -> None:
        model.put_image(model.image(self.image_id).evolve(status=self.before.status))

    def annotation_ids(self) -> set[str]:
        return set()

    def image_ids(self) -> set[str]:
        return {self.image_id}

    def payload(self) -> dict[str, Any]:
        return {
            "image_id": self.image_id,
            "before": image_to_dict(self.before),
            "after": image_to_dict(self.after),
        }

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> SetImageStatus:
        return cls(
            data["image_id"],
            image_from_dict(data["before"]),
            image_from_dict(data["after"]),
            data.get("label", "Set image status"),
        )


@dataclass(frozen=True)
class CompositeCommand(Command):
    """Several commands as one step (e.g. "accept 14 predictions and approve the image")."""

    children: tuple[Command, ...]
    label: str = "Group"
    kind: ClassVar[str] = "group"

    def apply(self, model: ProjectModel) -> None:
        for c in self.children:
            c.apply(model)

    def revert(self, model: ProjectModel) -> None:
        for c in reversed(self.children):
            c.revert(model)

    def annotation_ids(self) -> set[str]:
        return set().union(*(c.annotation_ids() for c in self.children))

    def image_ids(self) -> set[str]:
        return set().union(*(c.image_ids() for c in self.children))

    def measurement_ids(self) -> set[str]:
        return set().union(*(c.measurement_ids() for c in self.children))

    def touched_images(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(i for c in self.children for i in c.touched_images()))

    def payload(self) -> dict[str, Any]:
        return {"children": [c.to_json() for c in self.children]}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> CompositeCommand:
        return cls(
            tuple(command_from_json(c) for c in data["children"]), data.get("label", "Group")
        )


def _measures(items: Sequence[dict[str, Any]]) -> tuple[Measurement, ...]:
    return tuple(measurement_from_dict(d) for d in items)


@dataclass(frozen=True)
class AddMeasurements(Command):
    """New rulers or angles (one gesture makes one)."""

    measurements: tuple[Measurement, ...]
    label: str = "Add measurement"
    kind: ClassVar[str] = "measure_add"

    def apply(self, model: ProjectModel) -> None:
        for m in self.measurements:
            model._insert_measurement(m)

    def revert(self, model: ProjectModel) -> None:
        for m in reversed(self.measurements):
            model._delete_measurement(m.id)

    def annotation_ids(self) -> set[str]:
        return set()

    def measurement_ids(self) -> set[str]:
        return {m.id for m in self.measurements}

    def touched_images(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.image_id for m in self.measurements))

    def payload(self) -> dict[str, Any]:
        return {"measurements": [measurement_to_dict(m) for m in self.measurements]}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> AddMeasurements:
        return cls(_measures(data["measurements"]), data.get("label", "Add measurement"))


@dataclass(frozen=True)
class RemoveMeasurements(Command):
    measurements: tuple[Measurement, ...]
    label: str = "Delete measurement"
    kind: ClassVar[str] = "measure_remove"

    def apply(self, model: ProjectModel) -> None:
        for m in self.measurements:
            model._delete_measurement(m.id)

    def revert(self, model: ProjectModel) -> None:
        for m in self.measurements:
            model._insert_measurement(m)

    def annotation_ids(self) -> set[str]:
        return set()

    def measurement_ids(self) -> set[str]:
        return {m.id for m in self.measurements}

    def touched_images(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.image_id for m in self.measurements))

    def payload(self) -> dict[str, Any]:
        return {"measurements": [measurement_to_dict(m) for m in self.measurements]}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> RemoveMeasurements:
        return cls(_measures(data["measurements"]), data.get("label", "Delete measurement"))


@dataclass(frozen=True)
class UpdateMeasurements(Command):
    """Replace measurements by new values (a moved endpoint, a new label)."""

    before: tuple[Measurement, ...]
    after: tuple[Measurement, ...]
    label: str = "Move measurement point"
    kind: ClassVar[str] = "measure_update"

    def __post_init__(self) -> None:
        if [m.id for m in self.before] != [m.id for m in self.after]:
            raise ValueError("before and after must list the same measurements in one order")

    def apply(self, model: ProjectModel) -> None:
        for m in self.after:
            model._replace_measurement(m)

    def revert(self, model: ProjectModel) -> None:
        for m in self.before:
            model._replace_measurement(m)

    def annotation_ids(self) -> set[str]:
        return set()

    def measurement_ids(self) -> set[str]:
        return {m.id for m in self.after}

    def touched_images(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.image_id for m in self.after))

    def payload(self) -> dict[str, Any]:
        return {
            "before": [measurement_to_dict(m) for m in self.before],
            "after": [measurement_to_dict(m) for m in self.after],
        }

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> UpdateMeasurements:
        return cls(
            _measures(data["before"]),
            _measures(data["after"]),
            data.get("label", "Move measurement point"),
        )


_REGISTRY: dict[str, Callable[[dict[str, Any]], Command]] = {
    AddAnnotations.kind: AddAnnotations.from_payload,
    RemoveAnnotations.kind: RemoveAnnotations.from_payload,
    UpdateAnnotations.kind: UpdateAnnotations.from_payload,
    SetImageStatus.kind: SetImageStatus.from_payload,
    CompositeCommand.kind: CompositeCommand.from_payload,
    AddMeasurements.kind: AddMeasurements.from_payload,
    RemoveMeasurements.kind: RemoveMeasurements.from_payload,
    UpdateMeasurements.kind: UpdateMeasurements.from_payload,
}


def command_from_json(data: dict[str, Any]) -> Command:
    try:
        factory = _REGISTRY[data["kind"]]
    except KeyError as exc:
        raise ValueError(f"unknown command kind {data.get('kind')!r}") from exc
    return factory(data)
