"""Measurements in the project file: saved with every step, reopened, copied; old files open."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from orthogui.core.commands import AddMeasurements, RemoveMeasurements, UpdateMeasurements
from orthogui.core.measurement import Measurement
from orthogui.core.project import ImageRecord
from orthogui.io.store import ProjectStore, schema
from tests.unit.io.test_store_migration import table_layout, write_v1_project


def ruler(image_id: str = "im0", x: float = 10.0) -> Measurement:
    return Measurement.new(image_id=image_id, kind="length", points=[(x, 0), (x, 50)])


def test_measurements_round_trip_with_their_history(tmp_path: Path) -> None:
    path = tmp_path / "p.orthogui"
    with ProjectStore.create(path) as store:
        store.add_images([ImageRecord("im0", "a.png"), ImageRecord("im1", "b.png")])
        a, b = ruler(), ruler("im1")
        angle = Measurement.new(image_id="im0", kind="angle", points=[(0, 9), (0, 0), (9, 0)])
        h = store.history
        h.push(AddMeasurements((a,)))
        h.push(AddMeasurements((b,)))
        h.push(AddMeasurements((angle,)))
        h.push(UpdateMeasurements((a,), (a.with_point(1, 40, 40),)))
        h.push(RemoveMeasurements((b,)))
        h.undo()  # b is back, its removal redoable
        expected = store.model.measurements()
        assert store.model.annotations() == []
    with ProjectStore.open(path) as store:
        assert store.model.measurements() == expected
        assert store.model.measurements("im1") == [b]
        assert store.history.index == 4 and len(store.history) == 5
        store.history.redo()
        assert store.model.measurements("im1") == []
        store.history.undo()
        store.history.undo()  # the moved point goes back
        assert store.model.measurement(a.id) == a
        copy = store.save_copy(tmp_path / "copy.orthogui")
    with ProjectStore.open(copy) as store:
        assert store.model.measurements() == [a, angle, b]


def test_a_project_written_before_measurements_opens_and_takes_them(tmp_path: Path) -> None:
    path = tmp_path / "old.orthogui"
    ids, labels = write_v1_project(path)
    conn = sqlite3.connect(path, isolation_level=None)
    schema.MIGRATIONS[1](conn)  # the layout every OrthoGUI before measurements wrote (v2)
    conn.execute("PRAGMA user_version = 2")
    conn.close()
    with ProjectStore.open(path) as store:
        assert [a.id for a in store.model.annotations()] == ids
        assert [c.label for c in store.history.commands()] == labels
        assert store.model.measurements() == []
        m = ruler()
        store.history.push(AddMeasurements((m,)))
    with ProjectStore.open(path) as store:
        assert store.model.measurements() == [m]
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION == 3
    conn.close()
    assert (tmp_path / "old.orthogui.v2.bak").exists()
    fresh = tmp_path / "fresh.orthogui"
    ProjectStore.create(fresh).close()
    assert table_layout(path) == table_layout(fresh)
