"""``orthogui-cli desktop [--uninstall] [--data-home DIR]``: add OrthoGUI to the desktop's
application menu (a freedesktop entry and the icon in the user's data folder)."""

from __future__ import annotations

import argparse
from pathlib import Path

COMMAND = "desktop"
HELP = "Add OrthoGUI (icon and menu entry, opens DICOM/PNG/JPEG/TIFF) to the desktop menu."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``--uninstall`` and ``--data-home``."""
    parser.add_argument("--uninstall", action="store_true", help="remove the entry and icon")
    parser.add_argument(
        "--data-home",
        type=Path,
        default=None,
        help="data folder to write into (default: $XDG_DATA_HOME or ~/.local/share)",
    )


def run(args: argparse.Namespace) -> int:
    from orthogui.io.desktop import install_desktop_entry, uninstall_desktop_entry

    if args.uninstall:
        removed = uninstall_desktop_entry(args.data_home)
        print("\n".join(f"removed {p}" for p in removed) or "nothing to remove")
        return 0
    entry = install_desktop_entry(args.data_home)
    print(f"menu entry {entry.desktop_file}\nicon {entry.icon_file}\nstarts {entry.program}")
    return 0
