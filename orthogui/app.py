"""Composition root of the desktop app: arguments, settings, logs, project, model, main window.

``main()`` imports torch before PySide6 (Windows DLL order, pytorch#166628), then builds the
QApplication with the shipped style sheet (``orthogui.paths``), logs to the data folder's
``logs/`` (uncaught exceptions: logged, then a dialog naming the file) and opens one project.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from orthogui import __version__
from orthogui.paths import resource

APP_NAME = "OrthoGUI"


def _preload_torch() -> None:
    with contextlib.suppress(ImportError, OSError):
        import torch  # noqa: F401  (DLL order on Windows: torch before Qt)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="orthogui", description="Review and correct AI findings on radiographs."
    )
    p.add_argument("paths", nargs="*", type=Path, help="radiograph files or folders to add")
    p.add_argument("--project", type=Path, help="project file to open (created if missing)")
    p.add_argument("--demo", action="store_true", help="open the bundled demo project")
    p.add_argument("--user", default=None, help="reviewer name (default: the OS user)")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def config_dir() -> Path:
    """Settings folder: $ORTHOGUI_CONFIG_DIR (tests isolate it), else the OS config place."""
    from orthogui.ui.locations import config_dir as folder

    return folder()


def data_dir() -> Path:
    """Where the app keeps its own projects (inbox, demo) and ``logs/``."""
    from orthogui.ui.locations import data_dir as folder

    return folder()


def install_logs() -> Any:
    """Log to ``<data folder>/logs`` and route uncaught exceptions there, then to a dialog.

    Returns the ``orthogui.io.applog.AppLog`` (None when the folder cannot be written: the app
    still starts, logging to stderr only).
    """
    from orthogui.io.applog import install_excepthook, install_logging
    from orthogui.ui.controllers.logs import show_crash_dialog
    from orthogui.ui.locations import log_dir

    try:
        log = install_logging(log_dir())
    except OSError as exc:
        print(f"orthogui: no log file ({exc})", file=sys.stderr)
        return None
    install_excepthook(log.log_file, notify=show_crash_dialog)
    return log


def make_settings() -> Any:
    from PySide6.QtCore import QSettings

    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return QSettings(str(folder / "orthogui.ini"), QSettings.Format.IniFormat)


def open_or_create(path: Path, *, user: str) -> Any:
    from orthogui.io.store import ProjectStore

    if path.exists():
        from orthogui.ui.controllers.store_health import open_project

        # In use by another window or program: the user may open it read-only, or cancel.
        store = open_project(None, path)
        if store is None:
            raise SystemExit(0)
        return store
    path.parent.mkdir(parents=True, exist_ok=True)
    return ProjectStore.create(path, user=user)


def demo_project(*, user: str, predictor: Any = None) -> tuple[Any, list[Path]]:
    """The demo project (built on first start, pre-annotated by ``predictor`` when a model is
    installed; about 15 s on a CPU) and no extra paths to add."""
    from orthogui.demo import build_demo_project

    folder = data_dir() / "demo"
    path = build_demo_project(
        folder,
        user=user,
        progress=lambda line: print(line, file=sys.stderr),
        predictor=predictor,
    )
    return open_or_create(path, user=user), []


def default_predictor() -> Any:
    """The installed model used for pre-annotation, or None (the Model menu then says so)."""
    from orthogui.ml.defaults import default_predictor as load_default

    try:
        return load_default()
    except Exception as exc:  # a broken model must not stop the app from starting
        logging.getLogger("orthogui").warning("no model loaded: %s", exc)
        print(f"orthogui: no model loaded: {exc}", file=sys.stderr)
        return None


def build_window(args: argparse.Namespace, *, predictor: Any = None) -> Any:
    """The main window for parsed arguments (the QApplication must exist)."""
    from orthogui.ui.main_window import MainWindow

    settings = make_settings()
    user = args.user or getpass.getuser() or "reviewer"
    extra: list[Path] = []
    if args.demo:
        store, extra = demo_project(user=user, predictor=predictor)
    elif args.project is not None:
        store = open_or_create(args.project, user=user)
    else:
        last = settings.value("main/last_project")
        path = Path(str(last)) if last and Path(str(last)).exists() else None
        store = open_or_create(path or data_dir() / "inbox.orthogui", user=user)
    from orthogui.ml.predictor import MaskRCNNPredictor
    from orthogui.ui.services import Services

    services = Services(store, user, settings=settings, model_loader=MaskRCNNPredictor.from_card)
    window = MainWindow(services, predictor=predictor)
    paths = [*extra, *args.paths]
    if paths:
        window.add_paths(paths)
    elif store.model.images():
        window.session.resume()  # the image the reviewer was on, else the first
    return window


def set_app_icon(app: Any) -> bool:
    """The window and task-bar icon, and the desktop entry's name (Wayland finds the icon
    through it; ``orthogui-cli desktop`` installs that entry). False when the icon is missing."""
    from PySide6.QtGui import QIcon

    app.setDesktopFileName("orthogui")
    icon = QIcon(str(resource("icons", "orthogui.svg")))
    if icon.isNull():  # a broken install: the app works with the platform's default icon
        logging.getLogger("orthogui").warning("app icon missing: %s", resource("icons"))
        return False
    app.setWindowIcon(icon)
    return True


def create_application(argv: Sequence[str]) -> Any:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(list(argv))
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationVersion(__version__)
    set_app_icon(app)
    qss = resource("style.qss")
    if qss.is_file():
        app.setStyleSheet(qss.read_text(encoding="utf-8"))  # type: ignore[attr-defined]
    else:  # a broken install: the app works, unthemed
        logging.getLogger("orthogui").warning("style sheet missing: %s", qss)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    _preload_torch()  # after parsing: --help and --version answer without loading torch
    app = create_application([sys.argv[0]])
    install_logs()
    try:
        window = build_window(args, predictor=default_predictor())
    except Exception as exc:  # e.g. a damaged project file: one clear line, no traceback
        logging.getLogger("orthogui").exception("could not open the window")
        print(f"orthogui: {exc}", file=sys.stderr)
        return 1
    window.show()
    return int(app.exec())
