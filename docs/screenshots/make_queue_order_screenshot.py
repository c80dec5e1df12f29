"""Render docs/queue-order.png (the workbench with View → Uncertainty order open) and
docs/queue-summed.png (the review queue sorted by the summed doubt that the bundled model gives
eight FracAtlas implant films).

Run: Xvfb :58 -screen 0 1500x900x24 & DISPLAY=:58 .venv/bin/python
docs/screenshots/make_queue_order_screenshot.py
Needs ../shared/data/fracatlas. The scores are the bundled model's, computed here on the CPU
as the workbench computes them in the background (about 2 s per film).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer
from PySide6.QtWidgets import QMenu

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from orthogui import app  # noqa: E402
from orthogui.io.readers import read_radiograph  # noqa: E402
from orthogui.io.store import ProjectStore  # noqa: E402
from orthogui.ml.defaults import default_predictor  # noqa: E402
from orthogui.ml.scoring import SUMMED  # noqa: E402
from orthogui.ml.service import with_uncertainty  # noqa: E402
from orthogui.ui.main_window import MainWindow  # noqa: E402
from orthogui.ui.services import Services  # noqa: E402

ATLAS = ROOT.parent / "shared" / "data" / "fracatlas" / "images"
NAMES = [
    "IMG0000443.jpg", "IMG0000092.jpg", "IMG0000453.jpg", "IMG0000454.jpg",
    "IMG0000455.jpg", "IMG0002399.jpg", "IMG0002509.jpg", "IMG0004113.jpg",
]  # fmt: skip


def settle(ms: int = 300) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def main() -> int:
    import faulthandler

    faulthandler.dump_traceback_later(280, exit=True)
    qapp = app.create_application(["orthogui"])
    tmp = Path(tempfile.mkdtemp())
    settings = QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)
    store = ProjectStore.create(tmp / "Implant films.orthogui", user="dr.lee")
    win = MainWindow(Services(store, user="dr.lee", settings=settings))
    win.resize(1500, 900)
    win.show()
    win.add_paths([ATLAS / n for n in NAMES if (ATLAS / n).is_file()])
    while len(win.model.images()) < 2:
        settle()
    predictor = default_predictor(device="cpu")
    assert predictor is not None, "no model installed"
    for rec in win.model.images():
        scored = predictor.explained_uncertainty(read_radiograph(store.image_path(rec)))
        store.update_images([with_uncertainty(rec, scored, predictor)])
        win.queue_panel.update_record(win.model.image(rec.id))
    win.queue_order.actions[SUMMED].trigger()
    settle()
    view = win.findChild(QMenu, "menu_View")
    sub = win.findChild(QMenu, "menu_uncertainty_order")
    assert view is not None and sub is not None
    bar = win.menuBar()
    view.popup(win.mapToGlobal(bar.actionGeometry(view.menuAction()).bottomLeft()))
    settle()
    view.setActiveAction(sub.menuAction())
    sub.popup(view.mapToGlobal(view.actionGeometry(sub.menuAction()).topRight()))
    sub.setActiveAction(win.queue_order.actions[SUMMED])
    settle(600)
    screen = qapp.primaryScreen()
    assert screen is not None
    geo = win.frameGeometry()
    shot = screen.grabWindow(0, geo.x(), geo.y(), geo.width(), geo.height())
    out = ROOT / "docs" / "queue-order.png"
    shot.save(str(out))
    sub.close()
    view.close()
    settle()
    panel = win.queue_panel
    win.resizeDocks([panel], [640], Qt.Orientation.Horizontal)
    panel.tree.setColumnWidth(0, 150)
    panel.tree.setColumnWidth(4, 330)
    settle()
    panel.grab().save(str(ROOT / "docs" / "queue-summed.png"))
    win.close()
    qapp.processEvents()
    print("wrote", out, ROOT / "docs" / "queue-summed.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
