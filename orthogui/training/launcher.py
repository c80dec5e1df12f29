"""Qt-free ``TrainingRun``: spawn the worker process, read its events on a thread, stop it.

The worker gets its own session (it survives the GUI closing); stop is terminate -> wait ->
kill of the whole process group; an exit without ``finished``/``failed`` becomes a ``failed``
event of kind ``crashed``. torch-free: the GUI imports this.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from orthogui.training.protocol import Event, Failed, FailureKind, ProtocolError, from_json

OnEvent = Callable[[Event], None]
STDERR_LINES = 20


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

    def stop(self, *, timeout: float = 30.0) -> None:
        """Ask the worker to checkpoint and stop (SIGTERM), wait, then kill the process tree.

        The worker answers with ``failed`` of kind ``stopped`` and its checkpoint path.
        """
        if self.process is None:
            return
        self._stopping = True
        self._signal_group(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL if os.name != "nt" else signal.SIGTERM)
            self.process.wait(10)
        self._done.wait(10)

    def kill(self) -> None:
        """Kill the worker's process tree at once (no checkpoint)."""
        self._signal_group(signal.SIGKILL if os.name != "nt" else signal.SIGTERM)

    def detach(self) -> None:
        """Stop listening but leave the worker running (the GUI is closing); events keep going
        to ``<output>/events.jsonl``."""
        self.on_event = lambda event: None
