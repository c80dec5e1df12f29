"""The demo builder: complete or absent, reused on the next start, readable images."""

from __future__ import annotations

from pathlib import Path

import pytest

from orthogui import demo
from orthogui.io.readers import read_radiograph
from orthogui.io.store import ProjectStore


def test_demo_is_built_once_and_reopens(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    lines: list[str] = []
    project = demo.build_demo_project(folder, progress=lines.append)
    assert lines and project.is_file()
    mtime = project.stat().st_mtime_ns
    assert demo.build_demo_project(folder) == project
    assert project.stat().st_mtime_ns == mtime  # reused, not rebuilt
    with ProjectStore.open(project) as store:
        images = store.model.images()
        assert len(images) == 11
        for rec in images:
            rg = read_radiograph(store.image_path(rec))
            assert (rg.columns, rg.rows) == (rec.width, rec.height)
        dicoms = [r for r in images if r.path.endswith(".dcm")]
        assert dicoms and all(r.attributes["pixel_spacing_mm"][0] > 0 for r in dicoms)
        assert len(store.history) == 1  # the FracAtlas import is one undoable step


def test_a_failed_build_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_a: object, **_k: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(demo, "write_dataset", boom)
    with pytest.raises(OSError, match="No space"):
        demo.build_demo_project(tmp_path / "demo")
    assert list(tmp_path.iterdir()) == []
