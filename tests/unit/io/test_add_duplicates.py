"""Adding images a project holds already: skipped, and reported (store, import CLI)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from orthogui.cli import main
from orthogui.core.project import ImageRecord, sort_additions
from orthogui.io.files import records_for
from orthogui.io.store import ProjectStore


def test_sort_additions_by_content_then_path_and_within_the_batch() -> None:
    known = [ImageRecord("a", "x/a.png", sha256="h1"), ImageRecord("b", "x/b.png")]
    offered = [
        ImageRecord("c", "y/copy.png", sha256="h1"),  # same content elsewhere
        ImageRecord("d", "x/b.png"),  # same path, no hash
        ImageRecord("e", "y/new.png", sha256="h2"),
        ImageRecord("f", "y/new again.png", sha256="h2"),  # twice in one batch
    ]
    report = sort_additions(known, offered)
    assert [r.id for r in report.added] == ["e"]
    assert [(d.offered, d.existing.id) for d in report.duplicates] == [
        ("y/copy.png", "a"),
        ("x/b.png", "b"),
        ("y/new again.png", "e"),
    ]
    assert report.summary() == "1 added, 3 already in the project: copy.png, b.png, new again.png"
    assert report.summary(names=1) == "1 added, 3 already in the project: copy.png, …"
    assert sort_additions([], offered[2:3]).summary() == "Added 1 image(s)"
    with pytest.raises(ValueError, match="already used"):
        sort_additions(known, [ImageRecord("a", "z.png", sha256="h9")])


def test_store_reports_what_it_skipped(tmp_path: Path, test_data: Path) -> None:
    src = next((test_data / "fracatlas" / "images").iterdir())
    a = shutil.copyfile(src, tmp_path / "a.jpg")
    b = shutil.copyfile(src, tmp_path / "b.jpg")  # same content, other name
    store = ProjectStore.create(tmp_path / "p.orthogui")
    try:
        first = store.add_images_reporting(records_for([a]))
        assert len(first.added) == 1 and first.duplicates == ()
        again = store.add_images_reporting(records_for([a, b]))
        assert again.added == () and len(store.model.images()) == 1
        assert again.summary() == "0 added, 2 already in the project: a.jpg, b.jpg"
        assert store.add_images(records_for([b])) == []  # the old call still answers a list
    finally:
        store.close()


def test_import_cli_names_the_images_already_in_the_project(
    tmp_path: Path, test_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "p.orthogui"
    ProjectStore.create(project).close()
    argv = ["import", "coco", str(test_data / "fracatlas" / "annotations.json")]
    argv += ["--project", str(project), "--images-root", str(test_data / "fracatlas" / "images")]
    argv += ["--map", "fractured=fracture"]
    assert main(argv) == 0
    assert "already in the project" not in capsys.readouterr().out
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "images: 4 already in the project (findings added to them): " in out
    assert out.count(".jpg") == 3 and ", …" in out
