"""Run in a fresh process (``QT_SCALE_FACTOR`` applies only before the application starts):
show a 1-px checkerboard at one image pixel per device pixel and print the contrast the
screen gets, then a finding's outline over a flat film and how it reaches the screen, as
JSON."""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["QT_SCALE_FACTOR"] = sys.argv[1]

from PySide6.QtGui import QTransform
from PySide6.QtWidgets import QApplication

from orthogui.core.radiograph import Radiograph, WindowPreset


def main() -> None:
    app = QApplication([])
    from orthogui.ui.canvas import CanvasView

    yy, xx = np.mgrid[0:256, 0:256]
    stored = np.where((yy + xx) % 2 == 0, 0, 4095).astype(np.uint16)
    rg = Radiograph(
        path="checker.png",
        format="png",
        stored=stored,
        bits_stored=12,
        windows=(WindowPreset(2047.5, 4096.0, "full"),),
    )
    view = CanvasView()
    view.resize(300, 300)
    view.show()
    view.set_image(rg)
    ratio = float(view.viewport().devicePixelRatioF())
    view.setTransform(QTransform.fromScale(1.0 / ratio, 1.0 / ratio))  # 1 image px : 1 device px
    view.centerOn(128.0, 128.0)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:  # the full-resolution rendering lands on a worker
        app.processEvents()
        time.sleep(0.02)
    view.viewport().repaint()
    app.processEvents()
    shot = view.viewport().grab().toImage()
    w, h = shot.width(), shot.height()
    ptr = shot.constBits()
    rgba = np.frombuffer(ptr, np.uint8).reshape(h, shot.bytesPerLine())[:, : w * 4]
    grey = rgba.reshape(h, w, 4)[..., 1].astype(np.float64)
    centre = grey[h // 2 - 40 : h // 2 + 40, w // 2 - 40 : w // 2 + 40]
    result = {"ratio": ratio, "shot": [w, h], "std": float(centre.std())}
    result.update(outline(app, view, ratio))
    print(json.dumps(result))
    view.close()


def grab(view: object) -> np.ndarray:
    shot = view.viewport().grab().toImage()  # type: ignore[attr-defined]
    w, h = shot.width(), shot.height()
    rgba = np.frombuffer(shot.constBits(), np.uint8).reshape(h, shot.bytesPerLine())[:, : w * 4]
    return rgba.reshape(h, w, 4)[..., :3].astype(np.float64)


def settle(app: QApplication, seconds: float = 1.5) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)


def outline(app: QApplication, view: object, ratio: float) -> dict[str, object]:
    """A box finding on a black film at 4 logical px per image px: the overlay image's
    plan, and the outline's profile across its top edge in device pixels."""
    from orthogui.core.annotation import Annotation
    from orthogui.core.geometry import Box
    from orthogui.core.history import History
    from orthogui.core.project import ImageRecord, ProjectModel

    rg = Radiograph(
        path="flat.png",
        format="png",
        stored=np.zeros((64, 64), np.uint16),
        bits_stored=12,
        windows=(WindowPreset(2047.5, 4096.0, "full"),),
    )
    model = ProjectModel()
    model.put_image(ImageRecord("flat", rg.path, width=64, height=64))
    box = Annotation.human(image_id="flat", category="fracture", shape=Box(10.3, 20.3, 50.3, 40.3))
    model.load([], [box])
    view.attach(model, History(model), user="probe")  # type: ignore[attr-defined]
    view.set_image(rg)  # type: ignore[attr-defined]
    view.show_annotations_of("flat")  # type: ignore[attr-defined]
    view.setTransform(QTransform.fromScale(4.0, 4.0))  # type: ignore[attr-defined]
    view.centerOn(30.0, 30.0)  # type: ignore[attr-defined]
    settle(app)
    view.viewport().repaint()  # type: ignore[attr-defined]
    app.processEvents()
    rgb = grab(view)
    lum = rgb.max(axis=2)  # the outline's colour on black
    overlay = view.scene_.overlay.cache  # type: ignore[attr-defined]
    plan = overlay.plan()
    # A column through the middle of the top edge: the device pixels the outline lights
    # above the box's translucent fill (the fill's own level is the mode below the edge).
    h, w = lum.shape
    col = lum[: h // 2, w // 2]
    peak = int(np.argmax(col))
    fill = float(np.median(col[peak + 4 : peak + 20]))
    run = col[max(peak - 4, 0) : peak + 4]
    return {
        "overlay_ratio": None if plan is None else plan.ratio,
        "outline_lit": [int(v) for v in run if v > fill + 12],
    }


if __name__ == "__main__":
    main()
