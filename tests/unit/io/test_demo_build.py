"""The demo builder: complete or absent, reused on the next start, readable images."""

from __future__ import annotations

from pathlib import Path

import pytest

from orthogui import demo
from orthogui.core.annotation import Prediction, ReviewState
from orthogui.core.geometry import Polygon
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


class _OneScrew:
    """A predictor that finds one cortical screw in the middle of every image."""

    model_name = "fake-default"

    def __init__(self, version: str = "1") -> None:
        self.model_version = version
        self.calls = 0

    def predict(self, radiograph: object) -> list[Prediction]:
        self.calls += 1
        shape = Polygon(((10.0, 10.0), (60.0, 12.0), (60.0, 20.0), (10.0, 18.0)))
        return [Prediction("cortical_screw", 0.83, shape, self.model_name, self.model_version)]


def test_demo_is_preannotated_by_the_installed_model_and_rebuilt_for_a_new_one(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "demo"
    first = _OneScrew("1")
    project = demo.build_demo_project(folder, predictor=first)
    assert first.calls == 11
    with ProjectStore.open(project) as store:
        anns = store.model.annotations()
        proposals = [a for a in anns if a.provenance.source == "model"]
        assert len(proposals) == 11
        assert {a.review.state for a in proposals} == {ReviewState.PROPOSED}
        assert {a.provenance.model_name for a in proposals} == {"fake-default"}
        assert {a.image_id for a in proposals} == {r.id for r in store.model.images()}
        assert len(store.history) == 1 + 11  # the import, then one step per image
    assert demo.build_demo_project(folder, predictor=first) == project
    assert first.calls == 11  # reused
    second = _OneScrew("2")
    demo.build_demo_project(folder, predictor=second)
    assert second.calls == 11  # another model: the demo is rebuilt and re-annotated
    with ProjectStore.open(project) as store:
        versions = {a.provenance.model_version for a in store.model.annotations()}
        assert "2" in versions and "1" not in versions
