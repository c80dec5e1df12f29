"""The crash-safe project store: one SQLite file per project (see ``project_store``)."""

from __future__ import annotations

from orthogui.io.store.errors import (
    CorruptProjectError,
    NotAProjectError,
    ProjectLockedError,
    ProjectReadOnlyError,
    ProjectStoreError,
    SchemaTooNewError,
    StoreWriteError,
)
from orthogui.io.store.lock import check_unlocked, holder_of, lock_path
from orthogui.io.store.project_store import PROJECT_SUFFIX, ProjectStore, Synchronous

__all__ = [
    "PROJECT_SUFFIX",
    "CorruptProjectError",
    "NotAProjectError",
    "ProjectLockedError",
    "ProjectReadOnlyError",
    "ProjectStore",
    "ProjectStoreError",
    "SchemaTooNewError",
    "StoreWriteError",
    "Synchronous",
    "check_unlocked",
    "holder_of",
    "lock_path",
]
