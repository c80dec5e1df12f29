"""Qt-free ``TrainingRun``: spawn the worker process, read its events on a thread, stop it;
``AttachedRun``: follow a worker started by an earlier GUI session through its events file.

The worker gets its own session (it survives the GUI closing); stop is terminate now, then
wait -> kill of the whole process group on a background thread; an exit without
``finished``/``failed`` becomes a ``failed`` event of kind ``crashed``. A ``RunRecord`` file
names the running worker so a restarted GUI can re-attach. torch-free: the GUI imports this.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from orthogui.io.fileops import atomic_write_text
from orthogui.training.protocol import Event, Failed, FailureKind, ProtocolError, from_json

OnEvent = Callable[[Event], None]
STDERR_LINES = 20
RECORD_FORMAT = "orthogui-training-run/1"


class RunHandle(Protocol):
    """What a GUI needs of a run, started here (``TrainingRun``) or re-attached
    (``AttachedRun``)."""

    on_event: OnEvent
    last_event: Event | None

    @property
    def running(self) -> bool: ...

    @property
    def stopping(self) -> bool: ...

    def request_stop(self, *, timeout: float = 30.0) -> threading.Thread | None: ...

    def detach(self) -> None: ...

    def wait(self, timeout: float | None = None) -> bool: ...


def worker_command(job: str | Path, *, python: str | None = None) -> list[str]:
    """The command line that runs the worker on ``job``."""
    return [python or sys.executable, "-m", "orthogui.training.worker", str(job)]


class TrainingRun:
    """One worker process and the thread that turns its stdout into events.

    Parameters
    ----------
    job
        The job file.
    on_event
        Called on the reader thread for every event, in order; the last one is always
        ``Finished`` or ``Failed``. A GUI must hop to its own thread before touching widgets.
    command
        Override the worker command line (tests, torchrun); default ``worker_command(job)``.
    env
        Extra environment variables for the worker.
    """

    def __init__(
        self,
        job: str | Path,
        *,
        on_event: OnEvent,
        command: Sequence[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.job = Path(job)
        self.on_event = on_event
        self.command = list(command) if command is not None else worker_command(self.job)
        self.env = env or {}
        self.process: subprocess.Popen[str] | None = None
        self.last_event: Event | None = None
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
        self._reader: threading.Thread | None = None
        self._stderr_reader: threading.Thread | None = None
        self._done = threading.Event()
        self._stopping = False

    @property
    def running(self) -> bool:
        return self.process is not None and not self._done.is_set()

    @property
    def pid(self) -> int | None:
        """The worker's process id (its process group and session id too), once started."""
        return self.process.pid if self.process is not None else None

    def start(self) -> None:
        """Spawn the worker (never fork: a fresh interpreter) and start reading its events."""
        if self.process is not None:
            raise RuntimeError("this run was already started")
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        kwargs: dict[str, object] = {}
        if os.name == "nt":
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
        else:
            kwargs["start_new_session"] = True
        self.process = subprocess.Popen(  # type: ignore[call-overload]
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
            env=env,
            **kwargs,
        )
        self._stderr_reader = threading.Thread(
            target=self._read_stderr, name="training-stderr", daemon=True
        )
        self._stderr_reader.start()
        self._reader = threading.Thread(target=self._read, name="training-events", daemon=True)
        self._reader.start()

    def _read_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        for line in self.process.stderr:
            if line.strip():
                self.stderr_tail.append(line.rstrip())

    def _deliver(self, event: Event) -> None:
        self.last_event = event
        try:
            self.on_event(event)
        except Exception:  # a broken callback must not kill the reader (and hang the GUI)
            import logging

            logging.getLogger(__name__).exception("training event callback failed")

    def _read(self) -> None:
        proc = self.process
        assert proc is not None and proc.stdout is not None
        terminal = False
        for line in proc.stdout:
            if not line.strip():
                continue
            try:
                event = from_json(line)
            except ProtocolError:
                self.stderr_tail.append(line.rstrip())  # stray print: keep it for the reason
                continue
            terminal = terminal or event.terminal
            self._deliver(event)
        code = proc.wait()
        if self._stderr_reader is not None:
            self._stderr_reader.join(timeout=5)
        if not terminal:
            why: FailureKind = "stopped" if self._stopping else "crashed"
            detail = self.stderr_tail[-1] if self.stderr_tail else "no output"
            self._deliver(
                Failed(
                    reason=f"worker exited with code {code} without finishing: {detail}",
                    kind=why,
                )
            )
        self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the worker ended and its last event was delivered; False on timeout."""
        return self._done.wait(timeout)

    def _signal_group(self, sig: int) -> None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.name == "nt":
                proc.terminate() if sig == signal.SIGTERM else proc.kill()
            else:
                os.killpg(proc.pid, sig)

    @property
    def stopping(self) -> bool:
        """A stop was requested and the worker has not ended yet."""
        return self._stopping and not self._done.is_set()

    def request_stop(self, *, timeout: float = 30.0) -> threading.Thread | None:
        """Ask the worker to checkpoint and stop (SIGTERM now) without waiting for it.

        A background thread waits up to ``timeout`` seconds, then kills the process group; the
        reader thread delivers the last event (the worker's ``failed`` of kind ``stopped`` with
        its checkpoint, or one made here when it had to be killed). Returns that thread, or
        None when there was nothing to stop.
        """
        proc = self.process
        if proc is None or self._done.is_set():
            return None
        self._stopping = True
        self._signal_group(signal.SIGTERM)
        waiter = threading.Thread(
            target=self._wait_or_kill, args=(proc, timeout), name="training-stop", daemon=True
        )
        waiter.start()
        return waiter

    def _wait_or_kill(self, proc: subprocess.Popen[str], timeout: float) -> None:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL if os.name != "nt" else signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)

    def stop(self, *, timeout: float = 30.0) -> None:
        """``request_stop`` and wait for the end (scripts and tests; a GUI calls
        ``request_stop``). The worker answers with ``failed`` of kind ``stopped`` and its
        checkpoint path."""
        waiter = self.request_stop(timeout=timeout)
        if waiter is not None:
            waiter.join(timeout + 15)
        self._done.wait(10)

    def kill(self) -> None:
        """Kill the worker's process tree at once (no checkpoint)."""
        self._signal_group(signal.SIGKILL if os.name != "nt" else signal.SIGTERM)

    def detach(self) -> None:
        """Stop listening but leave the worker running (the GUI is closing); events keep going
        to ``<output>/events.jsonl``."""
        self.on_event = lambda event: None


@dataclass(frozen=True)
class RunRecord:
    """A worker a GUI started: enough to find it again after the GUI restarts.

    ``events_offset`` is the size of the events file when the run started: earlier lines
    belong to an earlier run in the same output folder.
    """

    pid: int
    job: Path
    events: Path
    events_offset: int = 0
    started_at: str = ""

    def to_json(self) -> dict[str, Any]:
        """The JSON object of the record (paths as strings)."""
        return {
            "format": RECORD_FORMAT,
            "pid": self.pid,
            "job": str(self.job),
            "events": str(self.events),
            "events_offset": self.events_offset,
            "started_at": self.started_at,
        }


def save_record(record: RunRecord, path: str | Path) -> Path:
    """Write ``record`` atomically (``orthogui.io.fileops``); returns the path."""
    return atomic_write_text(Path(path), json.dumps(record.to_json(), indent=2) + "\n")


def load_record(path: str | Path) -> RunRecord | None:
    """The record at ``path``, or None when there is none.

    Raises
    ------
    ValueError
        The file is not a run record; the message names the file and the reason.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ValueError(f"{p}: cannot read the run record ({exc.strerror or exc})") from exc
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{p}: the run record is not valid JSON ({exc.msg})") from exc
    if not isinstance(obj, dict) or obj.get("format") != RECORD_FORMAT:
        raise ValueError(f"{p}: not a training run record (format {RECORD_FORMAT!r})")
    try:
        pid, offset = obj["pid"], obj.get("events_offset", 0)
        if not isinstance(pid, int) or not isinstance(offset, int) or pid <= 0 or offset < 0:
            raise ValueError("pid and events_offset must be non-negative integers")
        return RunRecord(
            pid=pid,
            job=Path(str(obj["job"])),
            events=Path(str(obj["events"])),
            events_offset=offset,
            started_at=str(obj.get("started_at", "")),
        )
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{p}: bad run record field ({exc})") from exc


def process_alive(pid: int, *, marker: str | None = None) -> bool:
    """Whether process ``pid`` runs (a zombie does not); with ``marker``, also whether its
    command line contains it (where the OS shows command lines), so a reused pid is not taken
    for the worker."""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        return _alive_windows(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    proc = Path(f"/proc/{pid}")
    if not proc.is_dir():  # no procfs (macOS): the signal said it exists
        return True
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        if state in ("Z", "X"):
            return False
        if marker:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
            return marker in cmdline.decode("utf-8", "replace")
    except (OSError, IndexError):
        return False  # it ended while we looked
    return True


if sys.platform == "win32":

    def _alive_windows(pid: int) -> bool:
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        try:
            code = ctypes.c_ulong()
            ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
            return bool(ok) and code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)


class AttachedRun:
    """Follow a worker that an earlier GUI session started, by tailing its events file.

    Events from ``record.events_offset`` on are delivered in order on a thread (the file is
    read from the start, so the curve is complete). The last event is always ``Finished`` or
    ``Failed``: a worker that is gone without one gives ``failed`` of kind ``crashed`` (or
    ``stopped`` after ``request_stop``).

    Parameters
    ----------
    record
        The run to follow.
    on_event
        Called on the tail thread for every event.
    poll_s
        How often the file and the process are looked at.
    """

    def __init__(self, record: RunRecord, *, on_event: OnEvent, poll_s: float = 0.2) -> None:
        self.record = record
        self.on_event = on_event
        self.poll_s = poll_s
        self.last_event: Event | None = None
        self._marker = str(record.job)
        self._done = threading.Event()
        self._wake = threading.Event()
        self._detached = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    @property
    def pid(self) -> int:
        return self.record.pid

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._done.is_set()

    @property
    def stopping(self) -> bool:
        return self._stopping and not self._done.is_set()

    def alive(self) -> bool:
        """Whether the worker process still runs."""
        return process_alive(self.record.pid, marker=self._marker)

    def start(self) -> None:
        """Start tailing the events file."""
        if self._thread is not None:
            raise RuntimeError("this run is already followed")
        self._thread = threading.Thread(target=self._tail, name="training-tail", daemon=True)
        self._thread.start()

    def _deliver(self, event: Event) -> None:
        self.last_event = event
        try:
            self.on_event(event)
        except Exception:  # a broken callback must not kill the tail thread
            import logging

            logging.getLogger(__name__).exception("training event callback failed")

    def _read_from(self, offset: int) -> bytes:
        try:
            with open(self.record.events, "rb") as f:
                f.seek(offset)
                return f.read()
        except FileNotFoundError:
            return b""

    def _tail(self) -> None:
        offset, partial = self.record.events_offset, b""
        last_look = False
        while not self._detached:
            chunk = self._read_from(offset)
            offset += len(chunk)
            lines = (partial + chunk).split(b"\n")
            partial = lines.pop()
            if last_look and partial.strip():  # the worker is gone: no newline will follow
                lines, partial = [*lines, partial], b""
            for line in lines:
                if not line.strip():
                    continue
                try:
                    event = from_json(line)
                except ProtocolError:
                    continue  # a torn or foreign line: the protocol's lines are whole
                self._deliver(event)
                if event.terminal:
                    self._done.set()
                    return
            if last_look:
                why: FailureKind = "stopped" if self._stopping else "crashed"
                self._deliver(
                    Failed(
                        reason=f"worker (pid {self.record.pid}) ended without a final event "
                        f"in {self.record.events}",
                        kind=why,
                    )
                )
                break
            if not chunk and not self.alive():
                last_look = True  # read once more: its last lines may have landed meanwhile
                continue
            self._wake.wait(self.poll_s)
        self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the last event was delivered (or the run was detached)."""
        return self._done.wait(timeout)

    def _signal(self, sig: int) -> None:
        pid = self.record.pid
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if sys.platform == "win32":
                os.kill(pid, signal.SIGTERM)  # TerminateProcess: no checkpoint on Windows
            elif os.getpgid(pid) == pid:  # a session leader: its whole tree
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)

    def request_stop(self, *, timeout: float = 30.0) -> threading.Thread | None:
        """SIGTERM now; a background thread kills the process group after ``timeout`` s."""
        if self._done.is_set():
            return None
        self._stopping = True
        self._signal(signal.SIGTERM)
        waiter = threading.Thread(
            target=self._wait_or_kill, args=(timeout,), name="training-stop", daemon=True
        )
        waiter.start()
        return waiter

    def _wait_or_kill(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                return
            time.sleep(0.1)
        if sys.platform != "win32":
            self._signal(signal.SIGKILL)

    def detach(self) -> None:
        """Stop following; the worker goes on."""
        self.on_event = lambda event: None
        self._detached = True
        self._wake.set()
