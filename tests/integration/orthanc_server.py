"""A real Orthanc (with its DICOMweb plugin) on free loopback ports, started and stopped by the
caller: a throw-away JSON config with storage and index under a given folder, remote access
off, HTTP authentication on with a test user, DIMSE (C-ECHO/FIND/GET/STORE) open to any
calling AE title that calls Orthanc by its own. The PACS tests (``conftest.py``) and
``bench/pacs_throughput.py`` share it; nothing here is mocked.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from orthogui.io.dimse import DimseServer
from orthogui.io.pacs import PacsServer

PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
USER = "orthogui-test"
PASSWORD = "not-a-secret-3141"
AET = "ORTHOGUITEST"  # Orthanc's own AE title; it rejects associations called otherwise
START_TIMEOUT_S = 30.0


def orthanc_binary() -> str | None:
    """``$ORTHANC_BINARY`` when set (a path; anything else means none), else Orthanc on PATH
    or Debian's /usr/sbin/Orthanc."""
    chosen = os.environ.get("ORTHANC_BINARY")
    if chosen is not None:
        return chosen if Path(chosen).is_file() else None
    found = shutil.which("Orthanc")
    if found:
        return found
    return "/usr/sbin/Orthanc" if Path("/usr/sbin/Orthanc").is_file() else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Orthanc:
    """A running Orthanc: where it answers, how to sign in, and how to stop it."""

    folder: Path
    http_port: int
    dicom_port: int
    process: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.folder / "orthanc.log"

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb(self) -> str:
        return f"{self.root}/dicom-web"

    def server(self, **changes: object) -> PacsServer:
        """A ``PacsServer`` for this Orthanc (test user), with ``changes`` applied."""
        fields: dict[str, object] = {
            "name": "test-orthanc",
            "url": self.dicomweb,
            "user": USER,
            "password": PASSWORD,
            "timeout_s": 10.0,
        }
        fields.update(changes)
        return PacsServer(**fields)  # type: ignore[arg-type]

    def dimse(self, **changes: object) -> DimseServer:
        """A ``DimseServer`` for this Orthanc's DICOM port, with ``changes`` applied."""
        fields: dict[str, object] = {
            "name": "test-orthanc",
            "host": "127.0.0.1",
            "port": self.dicom_port,
            "called_aet": AET,
            "calling_aet": "ORTHOGUI",
            "timeout_s": 10.0,
        }
        fields.update(changes)
        return DimseServer(**fields)  # type: ignore[arg-type]

    def config(self) -> dict[str, object]:
        return {
            "Name": f"orthogui-test-{self.http_port}",
            "StorageDirectory": str(self.folder / "storage"),
            "IndexDirectory": str(self.folder / "index"),
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "DicomAet": AET,
            # DIMSE from any calling AE (no modality to declare: C-GET answers on the same
            # association), but only when called by Orthanc's own AE title.
            "DicomCheckCalledAet": True,
            "DicomAlwaysAllowEcho": True,
            "DicomAlwaysAllowFind": True,
            "DicomAlwaysAllowGet": True,
            "DicomAlwaysAllowStore": True,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": True,
            "RegisteredUsers": {USER: PASSWORD},
            "Plugins": [str(PLUGIN)],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
            "StableAge": 1,
            "HttpCompressionEnabled": False,
        }

    def start(self, binary: str) -> None:
        cfg = self.folder / "orthanc.json"
        cfg.write_text(json.dumps(self.config(), indent=2), encoding="utf-8")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [binary, str(cfg)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,  # same process group: a Ctrl-C stops it too
            )

    def get(self, path: str) -> bytes:
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        req = urllib.request.Request(self.root + path, headers={"Authorization": f"Basic {token}"})
        with urllib.request.urlopen(req, timeout=2) as r:
            return bytes(r.read())

    def wait_ready(self) -> bool:
        """True once ``/system`` answers; False if the process ended (e.g. port taken)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                json.loads(self.get("/system"))
                return True
            except (OSError, urllib.error.URLError, ValueError):
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        """SIGTERM (Orthanc closes its index cleanly), then SIGKILL after 10 s."""
        p, self.process = self.process, None
        if p is None or p.poll() is not None:
            return
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL, as a crash or a power cut would end it: no clean shutdown, sockets reset."""
        p, self.process = self.process, None
        if p is None or p.poll() is not None:
            return
        p.kill()
        p.wait(timeout=10)

    def log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


class OrthancUnavailable(RuntimeError):
    """Orthanc or its DICOMweb plugin is not installed."""


class OrthancDidNotStart(RuntimeError):
    """Orthanc was there but did not answer in time (the message holds its log's tail)."""


def start_orthanc(folder: Path) -> Orthanc:
    """Start an Orthanc in ``folder`` on free ports (three tries: a port may be taken).

    Raises
    ------
    OrthancUnavailable
        No Orthanc binary or no DICOMweb plugin.
    OrthancDidNotStart
        It did not answer within ``START_TIMEOUT_S`` on any try.
    """
    binary = orthanc_binary()
    if binary is None:
        raise OrthancUnavailable(
            "Orthanc is not installed (scripts/orthanc.sh install, or set ORTHANC_BINARY)"
        )
    if not PLUGIN.exists():
        raise OrthancUnavailable(f"the Orthanc DICOMweb plugin is not installed ({PLUGIN})")
    last: Orthanc | None = None
    for attempt in range(3):
        sub = folder / f"try{attempt}"
        sub.mkdir(parents=True)
        last = Orthanc(sub, _free_port(), _free_port())
        last.start(binary)
        if last.wait_ready():
            return last
        last.stop()
    assert last is not None
    raise OrthancDidNotStart(
        f"Orthanc did not start in {START_TIMEOUT_S:.0f} s:\n{last.log_tail()}"
    )


@contextmanager
def running_orthanc(folder: Path) -> Iterator[Orthanc]:
    """An Orthanc for the ``with`` block; stopped at its end, whatever happens."""
    server = start_orthanc(folder)
    try:
        yield server
    finally:
        server.stop()
