"""Render docs/demo-first-start.png: the window as a new user sees it after
``python main.py --demo`` on a fresh machine (the demo project built and pre-annotated by the
bundled model, its first film open).

Run: Xvfb :58 -screen 0 1500x900x24 & DISPLAY=:58 .venv/bin/python
docs/screenshots/make_demo_screenshot.py
The app's folders go to a temporary directory (``$ORTHOGUI_CONFIG_DIR``), so the demo is built
from scratch as on first start (about a minute on 2 CPU cores).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ["ORTHOGUI_CONFIG_DIR"] = tempfile.mkdtemp(prefix="orthogui-first-start-")

from orthogui import app  # noqa: E402


def settle(ms: int = 300) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def main() -> int:
    import faulthandler

    faulthandler.dump_traceback_later(600, exit=True)
    qapp = app.create_application(["orthogui"])
    args = app.build_parser().parse_args(["--demo", "--user", "dr.lee"])
    win = app.build_window(args, predictor=app.default_predictor())
    win.resize(1400, 900)
    win.show()
    settle(3000)
    screen = qapp.primaryScreen()
    assert screen is not None
    geo = win.frameGeometry()
    out = ROOT / "docs" / "demo-first-start.png"
    screen.grabWindow(0, geo.x(), geo.y(), geo.width(), geo.height()).save(str(out))
    win.close()
    qapp.processEvents()
    print("wrote", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
