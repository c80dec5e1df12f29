"""The desktop app's log folder: a rotating log file, ``faulthandler`` output for hard crashes,
and an exception hook that writes every uncaught exception there before telling the user.

Qt-free: the app (``orthogui.app``) passes the dialog that tells the user as ``notify``.
"""

from __future__ import annotations

import faulthandler
import logging
import logging.handlers
import platform
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

from orthogui import __version__

LOG_FILE = "orthogui.log"
FAULT_FILE = "faults.log"  # faulthandler's tracebacks (segfaults, aborts): written by C code
MAX_BYTES = 1_000_000
BACKUPS = 5
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"

logger = logging.getLogger("orthogui")

Notify = Callable[[Path, BaseException], object]
ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], None]


@dataclass
class AppLog:
    """What ``install_logging`` set up; ``close()`` undoes it (tests, a second install)."""

    folder: Path
    log_file: Path
    fault_file: Path
    handler: logging.Handler
    _faults: IO[str] | None = field(default=None, repr=False)
    _previous_level: int = logging.NOTSET
    _faulthandler_was_on: bool = False

    def close(self) -> None:
        """Detach the log file and stop writing fault tracebacks to the folder."""
        root = logging.getLogger()
        root.removeHandler(self.handler)
        root.setLevel(self._previous_level)
        self.handler.close()
        if self._faults is not None:
            faulthandler.disable()
            self._faults.close()
            self._faults = None
            if self._faulthandler_was_on and sys.__stderr__ is not None:
                faulthandler.enable(file=sys.__stderr__, all_threads=True)  # e.g. pytest's


def install_logging(folder: str | Path, *, level: int = logging.INFO) -> AppLog:
    """Log to ``folder/orthogui.log`` (rotated at 1 MB, five old files kept) and let
    ``faulthandler`` write hard crashes to ``folder/faults.log``.

    Parameters
    ----------
    folder
        The app's log folder (created if missing), e.g. ``<data folder>/logs``.
    level
        Lowest level written to the file.

    Returns
    -------
    AppLog
        The paths and the handler; ``close()`` detaches them.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    log_file, fault_file = out / LOG_FILE, out / FAULT_FILE
    handler = logging.handlers.RotatingFileHandler(
        log_file, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
    )
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    was_on = faulthandler.is_enabled()
    faults = fault_file.open("a", encoding="utf-8")  # kept open: faulthandler writes to its fd
    faulthandler.enable(file=faults, all_threads=True)
    logger.info(
        "OrthoGUI %s started (Python %s, %s)", __version__, platform.python_version(), sys.platform
    )
    return AppLog(out, log_file, fault_file, handler, faults, previous, was_on)


def make_excepthook(log_file: Path, *, notify: Notify | None = None) -> ExceptHook:
    """A ``sys.excepthook`` that writes the exception and its traceback to the log, then calls
    ``notify(log_file, exc)`` (the app shows a dialog naming the log file).

    ``KeyboardInterrupt`` goes to Python's default hook. The hook never raises: a failing
    ``notify`` is logged too.
    """

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        logger.critical("Uncaught exception", exc_info=(exc_type, exc, tb))
        for handler in logging.getLogger().handlers:
            handler.flush()
        if notify is None:
            return
        try:
            notify(log_file, exc)
        except Exception:
            logger.exception("Could not show the error to the user")

    return hook


def install_excepthook(log_file: Path, *, notify: Notify | None = None) -> ExceptHook:
    """Route uncaught exceptions of the main thread (``sys.excepthook``, which is also where
    Qt slots' exceptions go) and of other threads (``threading.excepthook``, logged only)
    through ``make_excepthook``; returns the main-thread hook."""
    hook = make_excepthook(log_file, notify=notify)
    quiet = make_excepthook(log_file)  # no dialog from a worker thread: Qt is GUI-thread only

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            quiet(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = hook
    threading.excepthook = thread_hook
    return hook
