"""app.py: arguments, isolated settings, project opened or created, paths added."""

from __future__ import annotations

from pathlib import Path

from orthogui import app
from tests.ui._workbench import write_png16


def test_build_window_creates_project_adds_paths_and_remembers_it(qtbot, tmp_path: Path) -> None:
    img = write_png16(tmp_path / "x.png")
    args = app.build_parser().parse_args(
        ["--project", str(tmp_path / "n.orthogui"), "--user", "dr", str(img)]
    )
    qapp = app.create_application(["orthogui"])
    assert "QMainWindow" in qapp.styleSheet()
    win = app.build_window(args)
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.loader.loaded, timeout=10000):
        pass
    assert win.user == "dr" and len(win.model.images()) == 1
    win.close()
    ini = Path(app.config_dir()) / "orthogui.ini"
    assert ini.is_file() and "n.orthogui" in ini.read_text()
    # no --project: the last project opens again, and its first image with it
    again = app.build_window(app.build_parser().parse_args([]))
    qtbot.addWidget(again)
    assert Path(again.store.path).name == "n.orthogui" and again.image_id is not None
    again.close()


def test_demo_opens_with_its_studies_in_the_queue(qtbot) -> None:
    win = app.build_window(app.build_parser().parse_args(["--demo", "--user", "dr"]))
    qtbot.addWidget(win)
    images = win.model.images()
    assert len(images) == 11  # 4 synthetic PNG + 3 synthetic DICOM + 4 FracAtlas
    assert {Path(i.path).suffix for i in images} == {".png", ".dcm", ".jpg"}
    outlines = win.model.annotations()
    assert outlines and all(a.category == "fracture" for a in outlines)
    assert all(a.provenance.source != "model" for a in outlines)  # expert labels, not a model
    qtbot.waitUntil(lambda: win.canvas.radiograph() is not None, timeout=20000)
    win.close()
