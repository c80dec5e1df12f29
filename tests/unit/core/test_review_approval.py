"""Approval means reviewed: an image is approved only with every finding decided, and the
decision about the rest plus the approval is one undo step."""

from __future__ import annotations

import json

import pytest

from orthogui.core import review
from orthogui.core.annotation import Annotation, Prediction, ReviewState
from orthogui.core.commands import CompositeCommand, SetImageStatus, command_from_json
from orthogui.core.geometry import Polygon
from orthogui.core.history import History
from orthogui.core.project import ImageRecord, ImageStatus, ProjectModel


def _square(x: float) -> Polygon:
    return Polygon([(x, x), (x + 10, x), (x + 10, x + 10), (x, x + 10)])


def _project() -> tuple[ProjectModel, History, list[str]]:
    """img1 in review: three model proposals, the first accepted, and a human finding."""
    m = ProjectModel()
    m.put_image(ImageRecord("img1", "a.png", width=100, height=100, status=ImageStatus.IN_REVIEW))
    preds = [Prediction("cortical_screw", 0.9, _square(i * 12), "m", "1") for i in (1, 2, 3)]
    anns = [Annotation.from_prediction(p, image_id="img1") for p in preds]
    anns[0] = review.set_state(anns[:1], ReviewState.ACCEPTED, user="dr").after[0]
    human = Annotation.human(image_id="img1", category="fracture", shape=_square(60))
    m.load([], [*anns, human])
    return m, History(m), [a.id for a in anns]


def _states(m: ProjectModel) -> list[str]:
    return [a.review.state.value for a in m.annotations("img1")]


def test_unreviewed_lists_the_proposals_only() -> None:
    m, _h, ids = _project()
    assert [a.id for a in review.unreviewed(m, "img1")] == ids[1:]
    assert review.approved_unreviewed(m) == {}  # not approved: nothing inconsistent
    m.put_image(m.image("img1").evolve(status=ImageStatus.APPROVED))
    assert [a.id for a in review.approved_unreviewed(m)["img1"]] == ids[1:]


def test_approving_with_proposals_left_needs_a_decision() -> None:
    m, h, ids = _project()
    with pytest.raises(review.UnreviewedFindings, match="img1: 2 findings still proposed") as e:
        review.approve(m, "img1", user="dr")
    assert e.value.ids == tuple(ids[1:])
    with pytest.raises(ValueError, match="not corrected"):
        review.approve(m, "img1", user="dr", resolve=ReviewState.CORRECTED)
    assert m.image("img1").status is ImageStatus.IN_REVIEW and len(h) == 0


@pytest.mark.parametrize("resolve", [ReviewState.ACCEPTED, ReviewState.REJECTED])
def test_decide_the_rest_and_approve_is_one_step(resolve: ReviewState) -> None:
    m, h, _ids = _project()
    before = _states(m)
    step = review.approve(m, "img1", user="dr", resolve=resolve, at="2025-01-01T00:00:00+00:00")
    assert isinstance(step, CompositeCommand)
    verb = "Accept" if resolve is ReviewState.ACCEPTED else "Reject"
    assert step.label == f"{verb} 2 findings and approve"
    h.push(step)
    assert len(h) == 1 and m.image("img1").status is ImageStatus.APPROVED
    assert _states(m) == ["accepted", resolve.value, resolve.value, "accepted"]
    assert {a.review.by for a in m.annotations("img1")[1:3]} == {"dr"}
    # The journal form round-trips to the same step.
    assert command_from_json(json.loads(json.dumps(step.to_json()))) == step
    h.undo()
    assert _states(m) == before and m.image("img1").status is ImageStatus.IN_REVIEW
    h.redo()
    assert m.image("img1").status is ImageStatus.APPROVED
    assert review.approve(m, "img1", user="dr") is None  # approved already: no step


def test_a_fully_reviewed_image_is_approved_by_a_plain_status_step() -> None:
    m, h, ids = _project()
    h.push(review.set_state([m.annotation(i) for i in ids[1:]], ReviewState.REJECTED, user="dr"))
    step = review.approve(m, "img1", user="dr", resolve=ReviewState.ACCEPTED)
    assert isinstance(step, SetImageStatus) and step.label == "Mark approved"
    h.push(step)
    assert _states(m) == ["accepted", "rejected", "rejected", "accepted"]


def test_new_proposals_on_an_approved_image_send_it_back_to_review() -> None:
    m, h, _ids = _project()
    h.push(review.approve(m, "img1", user="dr", resolve=ReviewState.ACCEPTED))  # type: ignore[arg-type]
    again = [Prediction("locking_screw", 0.8, _square(80), "m", "2")]
    h.push(review.preannotation(m, "img1", again, label="Pre-annotate"))  # type: ignore[arg-type]
    assert m.image("img1").status is ImageStatus.IN_REVIEW
    assert review.approved_unreviewed(m) == {}
    h.undo()  # one step: the proposals and the status go together
    assert m.image("img1").status is ImageStatus.APPROVED
    assert len(m.annotations("img1")) == 4
