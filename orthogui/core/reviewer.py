"""The review flow as plain logic over the model and its history (no widgets).

Every method is one undo step: accept, reject, change type, accept all remaining, approve
(which decides the findings still proposed in the same step, see ``core.review.approve``).
The main window maps keys to these and moves the selection; this module decides the edits.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from orthogui.core.annotation import Annotation, ReviewState
from orthogui.core.categories import SCREW_GROUP
from orthogui.core.commands import RemoveAnnotations
from orthogui.core.history import History
from orthogui.core.project import ImageRecord, ImageStatus, ProjectModel
from orthogui.core.review import approve, set_category, set_state, unreviewed


class Reviewer:
    """Review edits for one project; ``user`` is stamped on every review state."""

    def __init__(self, model: ProjectModel, history: History, *, user: str) -> None:
        self.model = model
        self.history = history
        self.user = user

    # -- queries ------------------------------------------------------------------------------
    def findings(self, image_id: str, *, include_rejected: bool = True) -> list[Annotation]:
        anns = self.model.annotations(image_id)
        if include_rejected:
            return anns
        return [a for a in anns if a.review.state != ReviewState.REJECTED]

    def proposed(self, image_id: str) -> list[Annotation]:
        return unreviewed(self.model, image_id)

    def _existing(self, ids: Sequence[str]) -> list[Annotation]:
        return [a for a in (self.model.get(i) for i in ids) if a is not None]

    def neighbour(
        self,
        image_id: str,
        current: str | None,
        step: int,
        *,
        include_rejected: bool = True,
        skip: Collection[str] = (),
    ) -> str | None:
        """The finding after (step=+1) or before (-1) ``current`` in list order, wrapping;
        ``skip``: ids out of sight (below the score threshold)."""
        anns = self.findings(image_id, include_rejected=include_rejected)
        ids = [a.id for a in anns if a.id not in skip]
        if not ids:
            return None
        if current not in ids:
            return ids[0] if step > 0 else ids[-1]
        return ids[(ids.index(current) + step) % len(ids)]

    def next_proposed(
        self, image_id: str, after: str | None, *, skip: Collection[str] = ()
    ) -> str | None:
        """The next finding still ``PROPOSED`` after ``after`` (wrapping) and not in ``skip``
        (out of sight), or None."""
        anns = self.model.annotations(image_id)
        ids = [a.id for a in anns]
        start = ids.index(after) + 1 if after in ids else 0
        for a in anns[start:] + anns[:start]:
            if a.review.state == ReviewState.PROPOSED and a.id != after and a.id not in skip:
                return a.id
        return None

    # -- edits (each one History step) ---------------------------------------------------------
    def accept(self, ids: Sequence[str]) -> bool:
        return self._set_state(ids, ReviewState.ACCEPTED)

    def reject(self, ids: Sequence[str]) -> bool:
        return self._set_state(ids, ReviewState.REJECTED)

    def _set_state(self, ids: Sequence[str], state: ReviewState) -> bool:
        anns = [a for a in self._existing(ids) if a.review.state != state]
        if not anns:
            return False
        self.history.push(set_state(anns, state, user=self.user))
        return True

    def accept_all_remaining(self, image_id: str, *, skip: Collection[str] = ()) -> int:
        """Accept the proposals of an image in one step, except ``skip`` (out of sight)."""
        anns = [a for a in self.proposed(image_id) if a.id not in skip]
        if anns:
            self.history.push(set_state(anns, ReviewState.ACCEPTED, user=self.user))
        return len(anns)

    def screw_types(self) -> list[str]:
        return [c.name for c in self.model.categories.group(SCREW_GROUP)]

    def set_type(self, ids: Sequence[str], category: str) -> bool:
        """Change the category of the selected findings of the same group (screw types)."""
        group = self.model.categories.by_name(category).group
        anns = [
            a
            for a in self._existing(ids)
            if a.category != category
            and a.category in self.model.categories
            and self.model.categories.by_name(a.category).group == group
        ]
        if not anns:
            return False
        self.history.push(set_category(anns, category, user=self.user))
        return True

    def delete(self, ids: Sequence[str]) -> bool:
        anns = self._existing(ids)
        if not anns:
            return False
        n = len(anns)
        self.history.push(RemoveAnnotations(tuple(anns), f"Delete {n} finding{'s' * (n != 1)}"))
        return True

    def approve(self, image_id: str, *, resolve: ReviewState | None = None) -> bool:
        """Mark the image approved, deciding the findings still proposed as ``resolve``
        (accepted or rejected) in the same step; False when it was approved already.

        Raises ``UnreviewedFindings`` when findings are still proposed and ``resolve`` is None.
        """
        step = approve(self.model, image_id, user=self.user, resolve=resolve)
        if step is None:
            return False
        self.history.push(step)
        return True

    # -- bookkeeping (not undoable) --------------------------------------------------------------
    def opened_status(self, image_id: str) -> ImageRecord | None:
        """The record to store when an image with proposed findings is opened, else None.

        Opening is not an edit, so the move to ``IN_REVIEW`` is bookkeeping outside the undo
        history (undo never "un-opens" an image).
        """
        rec = self.model.image(image_id)
        if rec.status in (ImageStatus.NEW, ImageStatus.PRE_ANNOTATED) and self.proposed(image_id):
            return rec.evolve(status=ImageStatus.IN_REVIEW)
        return None
