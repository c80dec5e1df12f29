"""``python -m orthogui import`` (to COCO and into a project) and ``export`` of a project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orthogui.cli import main


def test_import_fracatlas_to_coco(
    test_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.json"
    assert main(["import", "fracatlas", str(test_data / "fracatlas"), "--to-coco", str(out)]) == 0
    coco = json.loads(out.read_text())
    assert len(coco["images"]) == 4 and len(coco["annotations"]) == 3
    assert "EXIF-rotated view" in capsys.readouterr().out
    # Without a mapping, an unknown label is one clear line naming the file.
    assert (
        main(
            [
                "import",
                "coco",
                str(test_data / "fracatlas" / "annotations.json"),
                "--to-coco",
                str(out),
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "annotations.json: labels: labels not in the project's categories: ['fractured']" in err


def test_import_into_project_then_export(test_data: Path, tmp_path: Path) -> None:
    store_mod = pytest.importorskip("orthogui.io.store")
    project = tmp_path / "p.orthogui"
    store_mod.ProjectStore.create(project).close()
    argv = [
        "import",
        "coco",
        str(test_data / "fracatlas" / "annotations.json"),
        "--project",
        str(project),
    ]
    argv += [
        "--images-root",
        str(test_data / "fracatlas" / "images"),
        "--map",
        "fractured=fracture",
    ]
    assert main(argv) == 0
    store = store_mod.ProjectStore.open(project)
    try:
        assert len(store.model.annotations()) == 3 and len(store.history) == 1
    finally:
        store.close()
    snap = tmp_path / "snap"
    export = ["export", str(project), str(snap), "--all-images", "--split", "1,0,0"]
    assert main(export) == 1  # imported files outside the project folder are refused...
    assert main([*export, "--trusted-images", str(test_data / "fracatlas" / "images")]) == 0
    train = json.loads((snap / "annotations" / "train.json").read_text())
    assert len(train["images"]) == 4 and len(train["annotations"]) == 3
    assert len(list((snap / "images").iterdir())) == 4
