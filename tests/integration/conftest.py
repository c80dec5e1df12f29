"""A real Orthanc (with its DICOMweb plugin) for the PACS tests, on free loopback ports.

``orthanc`` is one server per test session (per xdist worker): a throw-away JSON config with
storage and index under a temporary folder, remote access off, HTTP authentication on with a
test user. ``orthanc_factory`` starts more (e.g. one a test stops). Without the Orthanc binary
or the plugin the tests that use them are skipped with that reason - never mocked
(``scripts/orthanc.sh install`` installs them on Debian).
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from orthogui.io.pacs import PacsServer

PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
USER = "orthogui-test"
PASSWORD = "not-a-secret-3141"
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

    def config(self) -> dict[str, object]:
        return {
            "Name": f"orthogui-test-{self.http_port}",
            "StorageDirectory": str(self.folder / "storage"),
            "IndexDirectory": str(self.folder / "index"),
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "DicomAet": "ORTHOGUITEST",
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

    def log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


def start_orthanc(folder: Path) -> Orthanc:
    """Start an Orthanc in ``folder`` on free ports (three tries: a port may be taken)."""
    binary = orthanc_binary()
    if binary is None:
        pytest.skip("Orthanc is not installed (scripts/orthanc.sh install, or set ORTHANC_BINARY)")
    if not PLUGIN.exists():
        pytest.skip(f"the Orthanc DICOMweb plugin is not installed ({PLUGIN})")
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
    pytest.fail(f"Orthanc did not start in {START_TIMEOUT_S:.0f} s:\n{last.log_tail()}")


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    """One Orthanc for the session; stopped at its end."""
    server = start_orthanc(tmp_path_factory.mktemp("orthanc"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def orthanc_factory(tmp_path: Path) -> Iterator[Callable[[], Orthanc]]:
    """Start extra Orthancs for one test; every one is stopped afterwards."""
    started: list[Orthanc] = []

    def make() -> Orthanc:
        server = start_orthanc(tmp_path / f"orthanc{len(started)}")
        started.append(server)
        return server

    try:
        yield make
    finally:
        for server in started:
            server.stop()
