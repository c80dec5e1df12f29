"""Typed errors of the project store; each names the project file and the reason."""

from __future__ import annotations

from pathlib import Path


class ProjectStoreError(Exception):
    """A project file could not be opened, created or written. ``str()`` = ``"path: reason"``."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class NotAProjectError(ProjectStoreError):
    """The file is missing, empty, not SQLite, or an SQLite file of another application."""


class SchemaTooNewError(ProjectStoreError):
    """The file was written by a newer OrthoGUI whose schema this version cannot read."""


class CorruptProjectError(ProjectStoreError):
    """The file is ours but damaged: SQLite integrity errors or undecodable rows."""


class StoreWriteError(ProjectStoreError):
    """A write failed (disk full, read-only file, locked database); nothing was half-written."""
