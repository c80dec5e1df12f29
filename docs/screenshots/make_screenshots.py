"""Render docs/workbench.png, docs/queue.png, docs/inventory.png and
docs/approval-dialog.png from the real window.

Run: QT_QPA_PLATFORM=offscreen .venv/bin/python docs/screenshots/make_screenshots.py
Needs ../shared/data/fracatlas (real radiographs with hardware). The findings are placed by
hand on the screws of IMG0000443 and shown as proposals of a model named
"hand-placed-example" (no model is run; the name says so on screen).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from orthogui import app  # noqa: E402
from orthogui.core.annotation import Prediction, ReviewState  # noqa: E402
from orthogui.core.geometry import Box, Polygon  # noqa: E402
from orthogui.io.store import ProjectStore  # noqa: E402
from orthogui.ui.main_window import MainWindow  # noqa: E402

ATLAS = ROOT.parent / "shared" / "data" / "fracatlas" / "images"
NAMES = ["IMG0000443.jpg", "IMG0000092.jpg", "IMG0000453.jpg", "IMG0000454.jpg", "IMG0000455.jpg"]
SCREWS = [  # (category, x0, x1, y_mid, score) on IMG0000443, screws point left from the plate
    ("locking_screw", 155, 172, 210, 0.93),
    ("locking_screw", 156, 175, 230, 0.88),
    ("cortical_screw", 159, 178, 245, 0.61),
    ("locking_screw", 164, 181, 293, 0.90),
    ("cortical_screw", 167, 182, 309, 0.47),
    ("locking_screw", 166, 183, 328, 0.84),
]


def wait(signal, ms: int = 10000) -> None:
    loop = QEventLoop()
    signal.connect(lambda *a: loop.quit())
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def settle(ms: int = 200) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def predictions() -> list[Prediction]:
    out = [
        Prediction(
            c,
            s,
            Polygon([(x0, y - 2.5), (x1, y - 2), (x1, y + 2), (x0, y + 2.5)]),
            "hand-placed-example",
            "no-model",
        )
        for c, x0, x1, y, s in SCREWS
    ]
    out.append(
        Prediction("fracture", 0.58, Box(140, 250, 200, 285), "hand-placed-example", "no-model")
    )
    return out


def main() -> int:
    qapp = app.create_application(["orthogui"])
    tmp = Path(tempfile.mkdtemp())
    store = ProjectStore.create(tmp / "Tibia plate study.orthogui", user="dr.lee")
    win = MainWindow(store, user="dr.lee")
    win.resize(1500, 900)
    win.show()
    win.add_paths([ATLAS / n for n in NAMES])
    wait(win.loader.loaded)
    ids = win.queue_panel.ordered_ids()
    first = next(i for i in ids if win.model.image(i).path.endswith("IMG0000443.jpg"))
    win.predict.apply(first, predictions())
    others = [i for i in ids if i != first]
    for other in others[:2]:
        win.predict.apply(other, predictions()[:2])
    win.review.approve(others[0], resolve=ReviewState.ACCEPTED)
    win.open_image(first)
    wait(win.loader.loaded)
    anns = win.model.annotations(first)
    win.review.accept([anns[0].id, anns[1].id])
    win.review.set_type([anns[2].id], "locking_screw")
    win.review.reject([anns[4].id])
    win.canvas.select([anns[3].id])
    from PySide6.QtCore import QRectF, Qt

    win.canvas.fitInView(QRectF(95, 180, 170, 170), Qt.AspectRatioMode.KeepAspectRatio)
    settle()
    win.canvas.cursorMoved.emit(170.0, 293.0)
    docs = ROOT / "docs"
    win.grab().save(str(docs / "workbench.png"))
    win.queue_panel.grab().save(str(docs / "queue.png"))
    dlg = win.show_inventory()
    dlg.resize(700, 420)
    settle()
    dlg.grab().save(str(docs / "inventory.png"))
    dlg.close()
    win.canvas.select([])
    win.approval.approve_and_next()  # Enter with three findings still proposed
    settle()
    question = win.approval.dialog
    assert question is not None
    question.grab().save(str(docs / "approval-dialog.png"))
    question.reject()
    win.close()
    qapp.processEvents()
    names = ("workbench.png", "queue.png", "inventory.png", "approval-dialog.png")
    print("wrote", [str(docs / n) for n in names])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
