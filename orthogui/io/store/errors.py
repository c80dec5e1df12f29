"""Typed errors of the project store; each names the project file and the reason."""

from __future__ import annotations

from pathlib import Path

from orthogui.core.errors import PathError


class ProjectStoreError(PathError):
    """A project file could not be opened, created or written. ``str()`` = ``"path: reason"``."""


class NotAProjectError(ProjectStoreError):
    """The file is missing, empty, not SQLite, or an SQLite file of another application."""


class SchemaTooNewError(ProjectStoreError):
    """The file was written by a newer OrthoGUI whose schema this version cannot read."""


class CorruptProjectError(ProjectStoreError):
    """The file is ours but damaged: SQLite integrity errors or undecodable rows."""


class StoreWriteError(ProjectStoreError):
    """A write failed (disk full, read-only file, locked database); nothing was half-written."""


class ProjectLockedError(ProjectStoreError):
    """Another window or program has the project open for writing (see ``lock``).

    ``holder`` describes it (``"pid 123 on host ws-7, user ana, since 2024-…"``), or is empty
    when the lock file says nothing readable.
    """

    def __init__(self, path: str | Path, holder: str) -> None:
        self.holder = holder
        who = f"by {holder}" if holder else "by another program"
        super().__init__(
            path,
            f"the project is open for editing {who}: close it there first, or open it read-only",
        )

    def __reduce__(self) -> tuple[type[ProjectLockedError], tuple[str, str]]:
        return (type(self), (self.path, self.holder))


class ProjectReadOnlyError(ProjectStoreError):
    """The project must be written but its file is read-only (permissions or the medium)."""
