"""The app's own folders: settings (config), data (inbox and demo projects) and logs.

``$ORTHOGUI_CONFIG_DIR`` replaces all of them (tests isolate it); otherwise Qt's standard
locations for the application name ``orthogui.app`` sets.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QStandardPaths


def config_dir() -> Path:
    """Settings folder: $ORTHOGUI_CONFIG_DIR, else the OS config place."""
    env = os.environ.get("ORTHOGUI_CONFIG_DIR")
    if env:
        return Path(env)
    loc = QStandardPaths.StandardLocation.AppConfigLocation
    return Path(QStandardPaths.writableLocation(loc) or Path.home() / ".orthogui")


def data_dir() -> Path:
    """Where the app keeps its own projects (inbox, demo) and its logs."""
    env = os.environ.get("ORTHOGUI_CONFIG_DIR")
    if env:
        return Path(env) / "data"
    loc = QStandardPaths.StandardLocation.AppDataLocation
    return Path(QStandardPaths.writableLocation(loc) or Path.home() / ".orthogui")


def log_dir() -> Path:
    """The log folder: ``orthogui.log`` (rotated) and ``faults.log`` (hard crashes)."""
    return data_dir() / "logs"


def user_models_dir() -> Path:
    """Where fine-tuned versions are published: the user's data folder, never the
    installation's models folder (which may be read-only, and is replaced on an update)."""
    return data_dir() / "models"
