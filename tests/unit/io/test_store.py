"""Project store round trips: images, annotations, review states, categories, settings, undo."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from orthogui.core.annotation import Annotation, Prediction, ReviewState
from orthogui.core.categories import Category, CategorySet, ShapeKind
from orthogui.core.commands import AddAnnotations, RemoveAnnotations, SetImageStatus
from orthogui.core.geometry import Box, Polygon
from orthogui.core.project import ImageRecord, ImageStatus
from orthogui.core.review import set_shape, set_state
from orthogui.io.store import ProjectStore, ProjectStoreError, schema


def ring(n: int, *, r: float = 50.0, cx: float = 100.0, cy: float = 100.0) -> Polygon:
    """A regular ``n``-gon: polygons of realistic vertex counts for the edits."""
    return Polygon(
        [
            (cx + r * math.cos(2 * math.pi * k / n), cy + r * math.sin(2 * math.pi * k / n))
            for k in range(n)
        ]
    )


def image(i: int, folder: Path, **kw: object) -> ImageRecord:
    return ImageRecord(f"im{i}", str(folder / f"img{i}.png"), f"sha{i}", 512, 256, **kw)  # type: ignore[arg-type]


def screw(image_id: str, n: int = 12) -> Annotation:
    return Annotation.from_prediction(
        Prediction("locking_screw", 0.83, ring(n), "maskrcnn", "1.2.0"), image_id=image_id
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ProjectStore]:
    s = ProjectStore.create(tmp_path / "p.orthogui", user="dr.a")
    s.add_images([image(0, tmp_path), image(1, tmp_path)])
    yield s
    s.close()


def reopen(store: ProjectStore) -> ProjectStore:
    path = store.path
    store.close()
    return ProjectStore.open(path)


def test_create_refuses_an_existing_file(tmp_path: Path) -> None:
    ProjectStore.create(tmp_path / "p.orthogui").close()
    with pytest.raises(ProjectStoreError, match=r"p\.orthogui: .*exists"):
        ProjectStore.create(tmp_path / "p.orthogui")


def test_create_needs_an_existing_folder(tmp_path: Path) -> None:
    with pytest.raises(ProjectStoreError, match="folder does not exist"):
        ProjectStore.create(tmp_path / "missing" / "p.orthogui")


def test_file_is_wal_and_stamped(store: ProjectStore) -> None:
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x4F475549
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    conn.close()


def test_round_trip_of_images_annotations_reviews_and_history(store: ProjectStore) -> None:
    a, b, c = screw("im0"), screw("im0", 30), screw("im1")
    h = store.history
    h.push(AddAnnotations((a, b, c)))
    h.push(set_state([a], ReviewState.ACCEPTED, user="dr.a", at="2026-01-02T03:04:05+00:00"))
    h.push(set_state([b], ReviewState.REJECTED, user="dr.a"))
    moved = ring(12, cx=140.0)
    h.push(set_shape(store.model.annotation(c.id), moved, user="dr.b"))
    h.push(SetImageStatus.to(store.model, "im1", ImageStatus.APPROVED))
    final = {x.id: x for x in store.model.annotations()}
    images = store.model.images()
    order = [x.id for x in store.model.annotations("im0")]

    store = reopen(store)
    assert {x.id: x for x in store.model.annotations()} == final
    assert store.model.images() == images
    assert [x.id for x in store.model.annotations("im0")] == order
    assert store.model.annotation(c.id).review.state is ReviewState.CORRECTED
    assert store.model.annotation(c.id).original_shape == ring(12)
    assert store.model.annotation(a.id).review.at == "2026-01-02T03:04:05+00:00"
    assert store.model.image("im1").status is ImageStatus.APPROVED
    assert (len(store.history), store.history.index) == (5, 5)

    # Undo everything after the reopen, back to the very first edit ...
    while store.history.undo():
        pass
    assert store.model.annotations() == []
    assert store.model.image("im1").status is ImageStatus.NEW
    store = reopen(store)  # ... the undone state survives a reopen too ...
    assert store.model.annotations() == []
    assert (len(store.history), store.history.index) == (5, 0)
    while store.history.redo():  # ... and redo runs forward to the end again.
        pass
    assert {x.id: x for x in store.model.annotations()} == final
    store = reopen(store)
    assert {x.id: x for x in store.model.annotations()} == final
    assert store.model.image("im1").status is ImageStatus.APPROVED
    store.close()


def test_a_push_after_undo_drops_the_redo_branch_on_disk(store: ProjectStore) -> None:
    a, b = screw("im0"), screw("im0")
    store.history.push(AddAnnotations((a,)))
    store.history.push(RemoveAnnotations((a,)))
    store.history.undo()
    store.history.push(AddAnnotations((b,)))
    store = reopen(store)
    assert [x.id for x in store.model.annotations()] == [a.id, b.id]
    assert (len(store.history), store.history.index) == (2, 2)
    assert not store.history.can_redo()
    store.close()


def test_merged_gesture_is_one_step_after_reopen(store: ProjectStore) -> None:
    a = screw("im0")
    store.history.push(AddAnnotations((a,)))
    store.history.close_merge()
    for dx in range(1, 6):  # a drag: five updates with one merge key = one undo step
        current = store.model.annotation(a.id)
        store.history.push(set_shape(current, ring(12, cx=100.0 + dx), user="u", merge_key="drag"))
    assert len(store.history) == 2
    store = reopen(store)
    assert len(store.history) == 2
    assert store.model.annotation(a.id).shape == ring(12, cx=105.0)
    store.history.undo()
    assert store.model.annotation(a.id) == a
    store.close()


def test_group_is_one_step_after_reopen(store: ProjectStore) -> None:
    anns = [screw("im0") for _ in range(14)]
    store.history.push(AddAnnotations(tuple(anns)))
    with store.history.group("Accept all and approve"):
        store.history.push(set_state(anns, ReviewState.ACCEPTED, user="u"))
        store.history.push(SetImageStatus.to(store.model, "im0", ImageStatus.APPROVED))
    store = reopen(store)
    assert (len(store.history), store.history.undo_label()) == (2, "Accept all and approve")
    assert {x.review.state for x in store.model.annotations()} == {ReviewState.ACCEPTED}
    store.history.undo()
    assert {x.review.state for x in store.model.annotations()} == {ReviewState.PROPOSED}
    assert store.model.image("im0").status is ImageStatus.NEW
    store.close()


def test_indexed_columns_follow_the_annotation(store: ProjectStore) -> None:
    a = screw("im0")
    store.history.push(AddAnnotations((a,)))
    store.history.push(set_state([a], ReviewState.REJECTED, user="u"))
    conn = sqlite3.connect(store.path)
    row = conn.execute("SELECT category, review_state FROM annotations").fetchone()
    assert row == ("locking_screw", "rejected")
    store.history.undo()
    store.history.undo()
    assert conn.execute("SELECT count(*) FROM annotations").fetchone()[0] == 0
    conn.close()


def test_duplicate_images_are_skipped_by_hash(store: ProjectStore, tmp_path: Path) -> None:
    again = ImageRecord("other", str(tmp_path / "copy.png"), "sha0")
    new = ImageRecord("im2", str(tmp_path / "img2.png"), "sha2")
    same_batch = ImageRecord("im3", str(tmp_path / "img3.png"), "sha2")
    assert store.add_images([again, new, same_batch]) == [new.evolve(path="img2.png")]
    store = reopen(store)
    assert [im.id for im in store.model.images()] == ["im0", "im1", "im2"]
    store.close()


def test_an_image_id_cannot_be_reused(store: ProjectStore, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="im0"):
        store.add_images([ImageRecord("im0", str(tmp_path / "x.png"), "different")])


def test_paths_are_relative_inside_the_project_folder(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    outside = tmp_path / "elsewhere" / "x.dcm"
    with ProjectStore.create(project / "p.orthogui") as store:
        added = store.add_images(
            [
                ImageRecord("a", str(project / "images" / "a.png"), "1"),
                ImageRecord("b", str(outside), "2"),
            ]
        )
        assert [r.path for r in added] == ["images/a.png", str(outside)]
    moved = tmp_path / "moved"
    project.rename(moved)
    with ProjectStore.open(moved / "p.orthogui") as store:
        a, b = store.model.images()
        assert store.image_path(a) == moved / "images" / "a.png"
        assert store.image_path(b) == outside


def test_update_images_persists_bookkeeping(store: ProjectStore) -> None:
    rec = store.model.image("im0").evolve(uncertainty=0.42, study_key="s1", attributes={"v": 1})
    seen: list[ImageRecord] = []
    store.model.image_changed.connect(seen.append)
    store.update_images([rec])
    assert seen == [rec]
    store = reopen(store)
    assert store.model.image("im0") == rec
    assert len(store.history) == 0  # bookkeeping is not undoable
    with pytest.raises(KeyError, match="nope"):
        store.update_images([rec.evolve(id="nope")])
    store.close()


def test_settings_and_categories(tmp_path: Path) -> None:
    own = CategorySet((Category(9, "plate", ShapeKind.BOX, "#123456", "implant", "P"),))
    with ProjectStore.create(tmp_path / "p.orthogui", categories=own, user="dr.b") as store:
        assert store.get_setting("missing", 7) == 7
        store.set_setting("window", {"center": 40, "width": [400, 1.5]})
        store.set_setting("window", {"center": 50})
        with pytest.raises(ValueError, match="'bad' is not plain JSON"):
            store.set_setting("bad", float("nan"))
        with pytest.raises(ValueError, match="'bad' is not plain JSON"):
            store.set_setting("bad", object())
        assert store.get_setting("bad") is None
    with ProjectStore.open(tmp_path / "p.orthogui") as store:
        assert store.get_setting("window") == {"center": 50}
        assert store.user == "dr.b"
        assert store.model.categories == own


def test_box_and_model_provenance_survive(store: ProjectStore) -> None:
    frac = Annotation.from_prediction(
        Prediction("fracture", 0.5, Box(1.5, 2, 30, 40.25), "m", "v"), image_id="im1"
    )
    vcf = Annotation.human(
        image_id="im1",
        category="vertebral_compression_fracture",
        shape=ring(5),
        attributes={"vertebra_level": "L1"},
    )
    store.history.push(AddAnnotations((frac, vcf)))
    store = reopen(store)
    assert store.model.annotation(frac.id) == frac
    assert store.model.annotation(vcf.id) == vcf
    store.close()


def test_closed_store_refuses_io_and_stops_listening(store: ProjectStore) -> None:
    store.close()
    store.close()
    assert store.closed
    store.history.push(AddAnnotations((screw("im0"),)))  # no longer persisted, no error
    with pytest.raises(ProjectStoreError, match="closed"):
        store.get_setting("x")
    with ProjectStore.open(store.path) as again:
        assert again.model.annotations() == []


def test_opened_on_a_worker_thread_then_edited_on_this_one(store: ProjectStore) -> None:
    path = store.path
    store.close()
    with ThreadPoolExecutor(1) as pool:
        opened = pool.submit(ProjectStore.open, path).result()
    with opened:
        opened.history.push(AddAnnotations((screw("im0"),)))
    with ProjectStore.open(path) as again:
        assert len(again.model.annotations()) == 1


def test_drawing_order_per_image_survives_reopen(store: ProjectStore) -> None:
    anns = [screw("im0") for _ in range(20)]  # random ids: sorted order != insertion order
    store.history.push(AddAnnotations(tuple(anns)))
    store.history.push(RemoveAnnotations(tuple(anns[5:10])))
    store.history.undo()  # the five come back on top, in the command's order
    order = [a.id for a in store.model.annotations("im0")]
    assert order != [a.id for a in anns]
    store = reopen(store)
    assert [a.id for a in store.model.annotations("im0")] == order
    store.close()
