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


def test_demo_hook_uses_resources_demo(qtbot, monkeypatch, tmp_path: Path) -> None:
    demo_images = tmp_path / "demo"
    demo_images.mkdir()
    write_png16(demo_images / "d.png")
    monkeypatch.setattr(app, "DEMO_IMAGES", demo_images)
    store, images = app.demo_project(user="u")
    assert images == [demo_images / "d.png"] and store.path.name.endswith(".orthogui")
    store.close()
