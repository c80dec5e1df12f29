"""Review rules: how accepting, rejecting and correcting a finding change its state.

Each function returns a command to push on the ``History``; none mutates anything itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from orthogui.core.annotation import Annotation, Prediction, Review, ReviewState
from orthogui.core.commands import (
    AddAnnotations,
    Command,
    CompositeCommand,
    RemoveAnnotations,
    SetImageStatus,
    UpdateAnnotations,
)
from orthogui.core.geometry import Shape
from orthogui.core.project import ImageStatus, ProjectModel


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _reviewed(ann: Annotation, state: ReviewState, user: str, at: str) -> Annotation:
    return ann.evolve(review=Review(state, user, at))


def set_state(
    annotations: Sequence[Annotation], state: ReviewState, *, user: str, at: str | None = None
) -> UpdateAnnotations:
    """Accept or reject (or reopen) findings as one step."""
    stamp = at or now_iso()
    after = tuple(_reviewed(a, state, user, stamp) for a in annotations)
    verb = {ReviewState.ACCEPTED: "Accept", ReviewState.REJECTED: "Reject"}.get(state, "Reopen")
    n = len(after)
    return UpdateAnnotations(tuple(annotations), after, f"{verb} {n} finding{'s' * (n != 1)}")


def _corrected(ann: Annotation, user: str, at: str, **changes: Any) -> Annotation:
    # A human's own shape stays "accepted"; a model's finding that the expert changes is
    # "corrected", so the model's original answer and the correction stay side by side.
    state = ReviewState.CORRECTED if ann.provenance.is_model else ReviewState.ACCEPTED
    return ann.evolve(review=Review(state, user, at), **changes)


def set_shape(
    ann: Annotation, shape: Shape, *, user: str, label: str = "Edit shape", merge_key: str = ""
) -> UpdateAnnotations:
    return UpdateAnnotations(
        (ann,), (_corrected(ann, user, now_iso(), shape=shape),), label, merge_key
    )


def set_category(
    annotations: Sequence[Annotation], category: str, *, user: str
) -> UpdateAnnotations:
    stamp = now_iso()
    after = tuple(_corrected(a, user, stamp, category=category) for a in annotations)
    return UpdateAnnotations(tuple(annotations), after, f"Set type {category}")


def set_attributes(ann: Annotation, attributes: dict[str, Any], *, user: str) -> UpdateAnnotations:
    merged = {**ann.attributes, **attributes}
    return UpdateAnnotations(
        (ann,), (_corrected(ann, user, now_iso(), attributes=merged),), "Set attributes"
    )


def preannotation(
    model: ProjectModel, image_id: str, predictions: Sequence[Prediction], *, label: str
) -> Command | None:
    """One undo step that replaces the image's unreviewed model proposals by ``predictions``
    and marks a NEW image pre-annotated; None when it would change nothing.

    The app, the ``predict --project`` command and the demo builder all pre-annotate this way.
    """
    stale = tuple(
        a
        for a in model.annotations(image_id)
        if a.provenance.is_model and a.review.state == ReviewState.PROPOSED
    )
    fresh = tuple(Annotation.from_prediction(p, image_id=image_id) for p in predictions)
    children: list[Command] = []
    if stale:
        children.append(RemoveAnnotations(stale, "Remove old proposals"))
    if fresh:
        children.append(AddAnnotations(fresh, "Add proposals"))
    if model.image(image_id).status == ImageStatus.NEW:
        children.append(SetImageStatus.to(model, image_id, ImageStatus.PRE_ANNOTATED))
    if not children:
        return None
    return CompositeCommand(tuple(children), label)
