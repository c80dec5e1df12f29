"""The project lock: one writer per project file, across windows, processes and the CLI.

A lock file beside the project (``p.orthogui.lock``) is held with an OS file lock for as long
as the project is open for writing; it names the holder (pid, host, user, since). The OS drops
the lock when the holder dies, so a lock left by a crashed or killed process is simply taken
over. Projects must live on a local disk (as SQLite's WAL mode requires).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from orthogui.io.store.errors import ProjectLockedError, ProjectStoreError

LOCK_SUFFIX = ".lock"
_INFO_BYTES = 4096  # the holder's JSON; on Windows the lock byte lies after it


def lock_path(project: Path) -> Path:
    """The lock file of a project: ``<project file name>.lock`` in the same folder.

    Parameters
    ----------
    project
        The project file.

    Returns
    -------
    Path
        The lock file's path (it exists only while the project is open for writing).
    """
    return project.with_name(project.name + LOCK_SUFFIX)


@dataclass(frozen=True)
class LockHolder:
    """Who holds a project lock, as written in the lock file."""

    pid: int
    host: str
    user: str
    since: str

    def describe(self) -> str:
        """One line for messages, e.g. ``"OrthoGUI (pid 4711) on host ws-7, user ana"``."""
        same = self.pid == os.getpid() and self.host == socket.gethostname()
        where = "another window of this OrthoGUI" if same else f"OrthoGUI (pid {self.pid})"
        return f"{where} on host {self.host}, user {self.user}, since {self.since}"


class ProjectLock:
    """An exclusive lock on one project; release it with ``release`` (or a ``with`` block)."""

    def __init__(self, project: Path, fd: int) -> None:
        self.project = project
        self.path = lock_path(project)
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, project: Path) -> ProjectLock:
        """Take the lock of ``project`` or refuse at once.

        Parameters
        ----------
        project
            The project file.

        Returns
        -------
        ProjectLock
            The held lock; its file names this process.

        Raises
        ------
        ProjectLockedError
            Another open store (this process or another) holds it; the error names the holder.
        ProjectStoreError
            The lock file cannot be created (e.g. a read-only folder).
        """
        path = lock_path(project)
        for _attempt in range(5):
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise ProjectStoreError(
                    project, f"cannot create the lock file {path.name}: {exc.strerror}"
                ) from exc
            try:
                if not _try_lock(fd):
                    raise ProjectLockedError(project, _describe(_read_info(fd)))
                # The previous holder may have deleted the file between our open and our lock:
                # then we hold a lock on a name that is gone, so start again.
                if not _same_file(fd, path):
                    os.close(fd)
                    continue
                _write_info(fd)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.close(fd)
                raise
            return cls(project, fd)
        raise ProjectStoreError(
            project, f"cannot take the lock file {path.name}: it keeps changing"
        )

    def release(self) -> None:
        """Delete the lock file and let go of the lock (a second call does nothing)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):  # Windows cannot delete an open file: left behind
            self.path.unlink()
        with contextlib.suppress(OSError):
            os.close(self._fd)  # closing drops the OS lock
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> ProjectLock:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def check_unlocked(project: Path) -> None:
    """Refuse early when another store holds ``project`` (the CLI, before loading a model).

    Parameters
    ----------
    project
        The project file; a missing file or folder passes (opening it reports that).

    Raises
    ------
    ProjectLockedError
        The project is open for writing elsewhere; the error names the holder.
    """
    path = lock_path(project)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # no lock file: nobody holds the project
    try:
        if not _try_lock(fd, shared=True):
            raise ProjectLockedError(project, _describe(_read_info(fd)))
    finally:
        os.close(fd)


def holder_of(project: Path) -> LockHolder | None:
    """The holder named in the lock file, or None (no lock file, or unreadable).

    Parameters
    ----------
    project
        The project file.

    Returns
    -------
    LockHolder | None
        What the lock file says; it may name a process that died (the lock is then free).
    """
    try:
        fd = os.open(lock_path(project), os.O_RDONLY)
    except OSError:
        return None
    try:
        return _read_info(fd)
    finally:
        os.close(fd)


# -- the OS lock ----------------------------------------------------------------------------
def _try_lock(fd: int, *, shared: bool = False) -> bool:
    """Lock ``fd`` without waiting; True when held (a shared probe is released at close)."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        os.lseek(fd, _INFO_BYTES, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        if shared:
            os.lseek(fd, _INFO_BYTES, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return True
    import fcntl

    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _write_info(fd: int) -> None:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (containers)
        user = str(os.getuid()) if hasattr(os, "getuid") else "?"
    info = {
        "app": "OrthoGUI",
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "user": user,
        "since": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    data = json.dumps(info).encode()[: _INFO_BYTES - 1]
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, data.ljust(_INFO_BYTES - 1, b" ") + b"\n")


def _read_info(fd: int) -> LockHolder | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        raw = json.loads(os.read(fd, _INFO_BYTES).decode() or "null")
        return LockHolder(
            pid=int(raw["pid"]),
            host=str(raw["host"]),
            user=str(raw["user"]),
            since=str(raw["since"]),
        )
    except (OSError, ValueError, TypeError, KeyError):
        return None  # being written, or not ours


def _describe(holder: LockHolder | None) -> str:
    return holder.describe() if holder is not None else ""
