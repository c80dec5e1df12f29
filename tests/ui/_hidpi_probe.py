"""Run in a fresh process (``QT_SCALE_FACTOR`` applies only before the application starts):
show a 1-px checkerboard at one image pixel per device pixel and print the contrast the
screen gets, as JSON."""

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
    print(json.dumps({"ratio": ratio, "shot": [w, h], "std": float(centre.std())}))
    view.close()


if __name__ == "__main__":
    main()
