"""The desktop entry: a valid freedesktop file that starts this installation's app."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from orthogui.io.desktop import desktop_text, install_desktop_entry, uninstall_desktop_entry


def parse(path: Path) -> configparser.SectionProxy:
    cp = configparser.ConfigParser(interpolation=None, strict=True)
    cp.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    cp.read(path, encoding="utf-8")
    return cp["Desktop Entry"]


def test_entry_starts_this_installations_app_and_opens_radiographs(tmp_path: Path) -> None:
    entry = install_desktop_entry(tmp_path)
    fields = parse(entry.desktop_file)
    assert entry.desktop_file == tmp_path / "applications" / "orthogui.desktop"
    program, arg = fields["Exec"].rsplit(" ", 1)
    assert arg == "%F" and Path(program) == entry.program
    assert entry.program.is_file() and os.access(entry.program, os.X_OK)
    assert "application/dicom" in fields["MimeType"].split(";")
    assert fields["Icon"] == "orthogui" and fields["Terminal"] == "false"
    root = ET.parse(entry.icon_file).getroot()
    assert root.tag.endswith("svg") and entry.icon_file.parent.name == "apps"
    validate = shutil.which("desktop-file-validate")
    if validate is not None:
        run = subprocess.run([validate, str(entry.desktop_file)], capture_output=True, text=True)
        assert run.returncode == 0 and not run.stdout.strip(), run.stdout + run.stderr
    assert uninstall_desktop_entry(tmp_path) == [entry.desktop_file, entry.icon_file]
    assert not entry.desktop_file.exists() and not entry.icon_file.exists()


def test_a_program_path_with_spaces_is_quoted() -> None:
    text = desktop_text(Path("/opt/Ortho GUI/orthogui"))
    assert 'Exec="/opt/Ortho GUI/orthogui" %F' in text.splitlines()


def test_command_line_installs_into_the_given_data_folder(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "orthogui", "desktop", "--data-home", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "applications" / "orthogui.desktop").is_file()
    assert str(tmp_path / "icons/hicolor/scalable/apps/orthogui.svg") in run.stdout


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils")
def test_validator_rejects_a_broken_entry(tmp_path: Path) -> None:
    """The validator the first test relies on does fail on a bad file."""
    bad = tmp_path / "bad.desktop"
    bad.write_text("[Desktop Entry]\nName=x\n", encoding="utf-8")
    run = subprocess.run(["desktop-file-validate", str(bad)], capture_output=True, text=True)
    assert run.returncode != 0
