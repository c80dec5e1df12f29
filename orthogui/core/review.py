"""Review rules: how accepting, rejecting and correcting a finding change its state, and
when an image may be approved (every finding reviewed: accepted, corrected or rejected).

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
    status = model.image(image_id).status
    if status == ImageStatus.NEW:
        children.append(SetImageStatus.to(model, image_id, ImageStatus.PRE_ANNOTATED))
    elif status == ImageStatus.APPROVED and fresh:
        # New proposals on an approved image are unreviewed: it goes back to review.
        children.append(SetImageStatus.to(model, image_id, ImageStatus.IN_REVIEW))
    if not children:
        return None
    return CompositeCommand(tuple(children), label)


class UnreviewedFindings(ValueError):
    """An image cannot be approved: findings on it are still ``PROPOSED``.

    ``str()`` names the image and how many findings wait; ``ids`` lists them.
    """

    def __init__(self, image_id: str, ids: Sequence[str]) -> None:
        n = len(ids)
        super().__init__(
            f"image {image_id}: {n} finding{'s' * (n != 1)} still proposed (not reviewed)"
        )
        self.image_id = image_id
        self.ids = tuple(ids)


def unreviewed(model: ProjectModel, image_id: str) -> list[Annotation]:
    """The findings of an image nobody has accepted, corrected or rejected yet.

    Parameters
    ----------
    model
        The project model.
    image_id
        The image.

    Returns
    -------
    list[Annotation]
        Its ``PROPOSED`` findings, in the image's finding order.
    """
    return [a for a in model.annotations(image_id) if a.review.state == ReviewState.PROPOSED]


def approved_unreviewed(model: ProjectModel) -> dict[str, list[Annotation]]:
    """Approved images that still hold proposed findings (approved before every finding was
    reviewed, or by an older version of the app).

    Returns
    -------
    dict
        Image id -> its proposed findings; empty when every approved image is fully reviewed.
    """
    out: dict[str, list[Annotation]] = {}
    for rec in model.images():
        if rec.status is ImageStatus.APPROVED:
            rest = unreviewed(model, rec.id)
            if rest:
                out[rec.id] = rest
    return out


RESOLUTIONS: tuple[ReviewState, ...] = (ReviewState.ACCEPTED, ReviewState.REJECTED)
"""How the findings still proposed may be decided together with an approval."""


def approve(
    model: ProjectModel,
    image_id: str,
    *,
    user: str,
    resolve: ReviewState | None = None,
    at: str | None = None,
) -> Command | None:
    """The one undo step that approves an image, deciding its remaining proposals first.

    Parameters
    ----------
    model
        The project model.
    image_id
        The image to approve.
    user
        Reviewer stamped on the findings ``resolve`` decides.
    resolve
        ``ACCEPTED`` or ``REJECTED``: what the findings still proposed become, in the same
        step as the approval. None: there must be none.
    at
        Time stamp of those reviews (default: now).

    Returns
    -------
    Command or None
        ``SetImageStatus`` when every finding is reviewed already, a ``CompositeCommand``
        (decide the rest, then approve) otherwise; None when the image is approved already.

    Raises
    ------
    UnreviewedFindings
        Findings are still proposed and ``resolve`` is None.
    ValueError
        ``resolve`` is neither ``ACCEPTED`` nor ``REJECTED``.
    """
    if resolve is not None and resolve not in RESOLUTIONS:
        raise ValueError(f"remaining findings can be accepted or rejected, not {resolve.value}")
    if model.image(image_id).status == ImageStatus.APPROVED:
        return None
    rest = unreviewed(model, image_id)
    mark = SetImageStatus.to(model, image_id, ImageStatus.APPROVED)
    if not rest:
        return mark
    if resolve is None:
        raise UnreviewedFindings(image_id, [a.id for a in rest])
    decide = set_state(rest, resolve, user=user, at=at)
    return CompositeCommand((decide, mark), f"{decide.label} and approve")
