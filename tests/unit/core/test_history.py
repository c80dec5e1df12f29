"""History: undo/redo, merging, grouping, and the property that undo-all/redo-all round-trips."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from orthogui.core import review
from orthogui.core.annotation import Annotation, Prediction, ReviewState
from orthogui.core.commands import (
    AddAnnotations,
    RemoveAnnotations,
    SetImageStatus,
    command_from_json,
)
from orthogui.core.geometry import Box, Polygon
from orthogui.core.history import History, HistoryEvent
from orthogui.core.project import ImageRecord, ImageStatus, ProjectModel
from orthogui.core.serialize import annotation_to_dict


def _model() -> ProjectModel:
    m = ProjectModel()
    m.put_image(ImageRecord("img1", "a.png", width=100, height=100))
    return m


def _snapshot(m: ProjectModel) -> tuple[object, ...]:
    anns = sorted((annotation_to_dict(a) for a in m.annotations()), key=lambda d: d["id"])
    return (repr(anns), tuple(sorted((i.id, i.status.value) for i in m.images())))


def _square(x: float) -> Polygon:
    return Polygon([(x, x), (x + 10, x), (x + 10, x + 10), (x, x + 10)])


def test_undo_redo_add_and_edit() -> None:
    m = _model()
    h = History(m)
    a = Annotation.human(image_id="img1", category="cortical_screw", shape=_square(1))
    h.push(AddAnnotations((a,)))
    h.push(review.set_shape(a, a.shape.with_vertex_moved(0, 0, 0), user="dr"))
    assert m.annotation(a.id).shape.points[0].tolist() == [0, 0]
    assert h.undo() and m.annotation(a.id).shape == a.shape
    assert h.undo() and m.annotations("img1") == []
    assert not h.undo()
    assert h.redo() and h.redo() and not h.redo()
    assert m.annotation(a.id).shape.points[0].tolist() == [0, 0]


def test_new_push_drops_redo_branch() -> None:
    m = _model()
    h = History(m)
    a = Annotation.human(image_id="img1", category="fracture", shape=Box(0, 0, 5, 5))
    b = Annotation.human(image_id="img1", category="fracture", shape=Box(1, 1, 6, 6))
    h.push(AddAnnotations((a,)))
    h.undo()
    h.push(AddAnnotations((b,)))
    assert not h.can_redo() and len(h) == 1
    assert [x.id for x in m.annotations("img1")] == [b.id]


def test_merge_collapses_a_gesture_until_closed() -> None:
    m = _model()
    h = History(m)
    a = Annotation.human(image_id="img1", category="fracture", shape=Box(0, 0, 5, 5))
    h.push(AddAnnotations((a,)))
    h.close_merge()
    cur = m.annotation(a.id)
    for i in range(5):
        h.push(review.set_shape(cur, Box(0, 0, 6 + i, 6), user="u", merge_key="slider"))
        cur = m.annotation(a.id)
    assert len(h) == 2
    h.close_merge()
    h.push(review.set_shape(cur, Box(0, 0, 20, 6), user="u", merge_key="slider"))
    assert len(h) == 3
    h.undo()
    h.undo()
    assert m.annotation(a.id).shape == Box(0, 0, 5, 5)


def test_group_is_one_step_and_events_are_emitted() -> None:
    m = _model()
    h = History(m)
    events: list[HistoryEvent] = []
    h.changed.connect(events.append)
    preds = [Prediction("locking_screw", 0.9, _square(i * 12), "m", "1") for i in range(1, 4)]
    anns = [Annotation.from_prediction(p, image_id="img1") for p in preds]
    h.push(AddAnnotations(tuple(anns)))
    with h.group("Accept all and approve"):
        h.push(review.set_state(anns, ReviewState.ACCEPTED, user="dr"))
        h.push(SetImageStatus.to(m, "img1", ImageStatus.APPROVED))
    assert len(h) == 2 and [e.kind for e in events] == ["push", "push"]
    assert events[-1].command.annotation_ids() == {a.id for a in anns}
    assert events[-1].command.image_ids() == {"img1"}
    h.undo()
    assert all(a.review.state is ReviewState.PROPOSED for a in m.annotations("img1"))
    assert m.image("img1").status is ImageStatus.NEW


def test_correcting_a_model_finding_keeps_the_original() -> None:
    m = _model()
    h = History(m)
    ann = Annotation.from_prediction(
        Prediction("cortical_screw", 0.7, _square(3), "m", "1"), image_id="img1"
    )
    h.push(AddAnnotations((ann,)))
    h.push(review.set_category([ann], "cannulated_screw", user="dr"))
    got = m.annotation(ann.id)
    assert got.category == "cannulated_screw" and got.original_category == "cortical_screw"
    assert got.review.state is ReviewState.CORRECTED and got.review.by == "dr"


# --- property test: random command sequences ----------------------------------------------

_op = st.one_of(
    st.tuples(st.just("add"), st.floats(0, 80), st.booleans()),
    st.tuples(st.just("move"), st.integers(0, 50), st.floats(-5, 5)),
    st.tuples(st.just("remove"), st.integers(0, 50), st.just(0.0)),
    st.tuples(st.just("accept"), st.integers(0, 50), st.just(0.0)),
    st.tuples(st.just("type"), st.integers(0, 50), st.just(0.0)),
    st.tuples(st.just("status"), st.integers(0, 3), st.just(0.0)),
    st.tuples(st.just("undo"), st.just(0), st.just(0.0)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_op, min_size=1, max_size=30))
def test_undo_all_gives_start_and_redo_all_gives_end(ops: list[tuple[str, float, object]]) -> None:
    m = _model()
    h = History(m)
    start = _snapshot(m)
    for name, a, b in ops:
        anns = m.annotations("img1")
        pick = anns[int(a) % len(anns)] if anns else None
        if name == "add":
            shape = Box(a, a, a + 4, a + 4) if b else _square(a)
            h.push(
                AddAnnotations(
                    (Annotation.human(image_id="img1", category="fracture", shape=shape),)
                )
            )
        elif name == "move" and pick is not None:
            h.push(
                review.set_shape(
                    pick, pick.shape.translated(float(b), 1.0), user="u", merge_key="drag"
                )
            )
        elif name == "remove" and pick is not None:
            h.push(RemoveAnnotations((pick,)))
        elif name == "accept" and pick is not None:
            h.push(review.set_state([pick], ReviewState.ACCEPTED, user="u"))
        elif name == "type" and pick is not None:
            h.push(review.set_category([pick], "locking_screw", user="u"))
        elif name == "status":
            h.push(SetImageStatus.to(m, "img1", list(ImageStatus)[int(a)]))
        elif name == "undo":
            h.undo()
        if name != "move":
            h.close_merge()
    while h.redo():  # the end state is the whole stack applied
        pass
    end = _snapshot(m)
    while h.undo():
        pass
    assert _snapshot(m) == start
    while h.redo():
        pass
    assert _snapshot(m) == end
    # and the journal form of every step round-trips
    for cmd in h.commands():
        assert command_from_json(cmd.to_json()).to_json() == cmd.to_json()


def test_undoing_a_status_change_keeps_bookkeeping_written_since() -> None:
    m = _model()
    h = History(m)
    h.push(SetImageStatus.to(m, "img1", ImageStatus.PRE_ANNOTATED))
    m.put_image(m.image("img1").evolve(uncertainty=0.7))  # a score stored after the step
    h.undo()
    assert m.image("img1").status is ImageStatus.NEW
    assert m.image("img1").uncertainty == 0.7
    h.redo()
    assert m.image("img1").status is ImageStatus.PRE_ANNOTATED
    assert m.image("img1").uncertainty == 0.7


def test_preannotation_replaces_unreviewed_proposals_in_one_step() -> None:
    m = _model()
    h = History(m)
    first = [Prediction("cortical_screw", 0.9, _square(i * 12), "m", "1") for i in (1, 2)]
    h.push(review.preannotation(m, "img1", first, label="Pre-annotate"))
    assert m.image("img1").status is ImageStatus.PRE_ANNOTATED and len(h) == 1
    kept = m.annotations("img1")[0]
    h.push(review.set_state([kept], ReviewState.ACCEPTED, user="dr"))
    again = [Prediction("locking_screw", 0.8, _square(40), "m", "2")]
    h.push(review.preannotation(m, "img1", again, label="Pre-annotate"))
    cats = sorted(a.category for a in m.annotations("img1"))
    assert cats == ["cortical_screw", "locking_screw"]  # the accepted one stays
    assert review.preannotation(m, "img1", [], label="x") is not None  # removes the proposal
    h.undo()
    assert len(m.annotations("img1")) == 2
    m2 = _model()
    m2.put_image(m2.image("img1").evolve(status=ImageStatus.APPROVED))
    assert review.preannotation(m2, "img1", [], label="x") is None  # nothing to change


def test_touched_images_name_the_images_a_step_changes_in_order() -> None:
    """Undo/redo show the image a step changes: commands name it from their own ids."""
    from orthogui.core.commands import CompositeCommand, UpdateAnnotations

    model = ProjectModel()
    for i in ("a", "b", "c"):
        model.put_image(ImageRecord(i, f"{i}.png"))
    on_b = Annotation.human(image_id="b", category="fracture", shape=Box(0, 0, 5, 5))
    on_a = Annotation.human(image_id="a", category="fracture", shape=Box(1, 1, 5, 5))
    add = AddAnnotations((on_b, on_a))
    assert add.touched_images() == ("b", "a")
    assert RemoveAnnotations((on_a,)).touched_images() == ("a",)
    moved = on_b.evolve(category="cortical_screw")
    assert UpdateAnnotations((on_b,), (moved,)).touched_images() == ("b",)
    status = SetImageStatus.to(model, "c", ImageStatus.APPROVED)
    assert status.touched_images() == ("c",)
    group = CompositeCommand((status, add, RemoveAnnotations((on_b,))))
    assert group.touched_images() == ("c", "b", "a")
    history = History(model)
    history.push(group)
    assert history.undo_command() is group and history.redo_command() is None
    history.undo()
    assert history.undo_command() is None and history.redo_command() is group
