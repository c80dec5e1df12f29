"""The desktop entry: a freedesktop ``.desktop`` file and the app icon in the user's data
folders, so that OrthoGUI appears in the application menu and opens radiographs from a file
manager (Linux and other XDG desktops).

``install_desktop_entry`` writes ``applications/orthogui.desktop`` and
``icons/hicolor/scalable/apps/orthogui.svg`` under ``$XDG_DATA_HOME`` (default
``~/.local/share``); ``Exec`` is the absolute path of the installed ``orthogui`` program (the
venv's script or the frozen app's executable), so the entry works without a shell ``PATH``.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from orthogui.core.errors import PathError
from orthogui.io.fileops import atomic_copy, atomic_write_text
from orthogui.paths import resource

APP_ID = "orthogui"
MIME_TYPES = ("application/dicom", "image/png", "image/jpeg", "image/tiff")
CATEGORIES = ("Science", "MedicalSoftware")  # one main category, so one menu place


@dataclass(frozen=True)
class DesktopEntry:
    """Where the entry and its icon were written."""

    desktop_file: Path
    icon_file: Path
    program: Path


def data_home() -> Path:
    """``$XDG_DATA_HOME``, else ``~/.local/share``."""
    env = os.environ.get("XDG_DATA_HOME")
    return Path(env) if env else Path.home() / ".local" / "share"


def gui_program() -> Path:
    """The ``orthogui`` program of this installation: beside the frozen executable, else the
    script beside this interpreter (a venv's ``bin``), else the one on ``PATH``."""
    here = Path(sys.executable).parent
    names = ("orthogui.exe", "orthogui") if os.name == "nt" else ("orthogui",)
    for name in names:
        if (here / name).is_file():
            return here / name
    found = shutil.which("orthogui")
    if found is None:
        raise PathError(here / "orthogui", "the orthogui program is not installed here")
    return Path(found)


def _quote(path: Path) -> str:
    """A path as one ``Exec`` argument (the spec's quoting rules)."""
    text = str(path)
    if not any(c in text for c in " \t\n\"'\\><~|&;$*?#()`"):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$", "\\$")
    return f'"{escaped}"'


def desktop_text(program: Path, icon: str = APP_ID) -> str:
    """The ``.desktop`` file for ``program`` (Desktop Entry Specification 1.4)."""
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.4",
        "Name=OrthoGUI",
        "GenericName=Radiograph review",
        "Comment=Review and correct AI findings on X-rays: screws, fractures, vertebrae",
        f"Exec={_quote(program)} %F",
        f"TryExec={program}",
        f"Icon={icon}",
        "Terminal=false",
        "StartupNotify=true",
        f"StartupWMClass={APP_ID}",
        "MimeType=" + ";".join(MIME_TYPES) + ";",
        "Categories=" + ";".join(CATEGORIES) + ";",
        "Keywords=DICOM;X-ray;radiograph;annotation;orthopaedic;",
    ]
    return "\n".join(lines) + "\n"


def install_desktop_entry(
    folder: Path | None = None, *, program: Path | None = None
) -> DesktopEntry:
    """Write the entry and the icon under ``folder`` (default ``data_home()``)."""
    root = folder if folder is not None else data_home()
    exe = program if program is not None else gui_program()
    icon = atomic_copy(
        resource("icons", "orthogui.svg"), root / "icons/hicolor/scalable/apps/orthogui.svg"
    )
    entry = atomic_write_text(root / "applications" / f"{APP_ID}.desktop", desktop_text(exe))
    return DesktopEntry(entry, icon, exe)


def uninstall_desktop_entry(folder: Path | None = None) -> list[Path]:
    """Remove what ``install_desktop_entry`` wrote; returns the files removed."""
    root = folder if folder is not None else data_home()
    removed = []
    for path in (
        root / "applications" / f"{APP_ID}.desktop",
        root / "icons/hicolor/scalable/apps/orthogui.svg",
    ):
        if path.is_file():
            path.unlink()
            removed.append(path)
    return removed
