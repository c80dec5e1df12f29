"""PACS failures that need no PACS: a closed port, a server that never answers, one that hangs
up in the middle of an answer, a missing URL. Each is one ``PacsError`` (or one CLI line) naming
the server and the reason, and a failed retrieve leaves nothing behind."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pydicom
import pytest

from orthogui.cli import main
from orthogui.io.pacs import PacsError, PacsServer, query_studies, retrieve_study, store
from tests.conftest import TEST_DATA


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield f"http://127.0.0.1:{s.getsockname()[1]}/dicom-web"


def test_closed_port_is_connection_refused(tmp_path: Path) -> None:
    server = PacsServer("nowhere", f"http://127.0.0.1:{_closed_port()}/dicom-web")
    with pytest.raises(PacsError, match="connection refused") as info:
        query_studies(server, patient_id="1")
    assert str(info.value).startswith(f"PACS nowhere ({server.url}): study query failed:")
    assert info.value.server is server
    with pytest.raises(PacsError, match="connection refused"):
        retrieve_study(server, "1.2.3", tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
    with pytest.raises(PacsError, match="store failed: connection refused"):
        store(server, [pydicom.dcmread(TEST_DATA / "dicom" / "77654033_CR1_6154.dcm")])


def test_silent_server_is_a_timeout(silent_server: str) -> None:
    server = PacsServer("silent", silent_server, timeout_s=0.3)
    with pytest.raises(PacsError, match="timeout") as info:
        query_studies(server)
    assert "silent" in str(info.value)


def test_password_and_token_stay_out_of_repr() -> None:
    server = PacsServer("p", "http://x", user="u", password="hunter2", token="tok")
    assert "hunter2" not in repr(server) and "tok" not in repr(server)


def test_cli_without_url_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ORTHOGUI_PACS_URL", raising=False)
    assert main(["pacs", "query", "--patient-id", "1"]) == 1
    assert capsys.readouterr().err.strip() == (
        "orthogui pacs: no PACS given: pass --url or set ORTHOGUI_PACS_URL"
    )


def test_cli_refused_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/dicom-web"
    rc = main(
        ["pacs", "retrieve", "1.2.3", "--url", url, "--name", "main-pacs", "--dest", str(tmp_path)]
    )
    err = capsys.readouterr().err
    assert rc == 1
    assert err.count("\n") == 1 and "main-pacs" in err and "connection refused" in err


class _HangingUp(BaseHTTPRequestHandler):
    """Lists two instances of study 1.2.3; then, per ``mode``, cuts the first instance's body
    short, closes the connection without answering, or sends something that is not DICOM."""

    protocol_version = "HTTP/1.1"
    mode = "truncate"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path.endswith("/instances"):  # QIDO-RS: one page, then an empty one
            first_page = int(parse_qs(url.query).get("offset", ["0"])[0]) == 0
            items = [
                {
                    "0020000E": {"vr": "UI", "Value": ["1.2.3.1"]},
                    "00080018": {"vr": "UI", "Value": [uid]},
                }
                for uid in (["1.2.3.1.1", "1.2.3.1.2"] if first_page else [])
            ]
            body = json.dumps(items).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/dicom+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.mode == "garbage":  # WADO-RS: a complete answer whose part is not DICOM
            body = b"--B\r\nContent-Type: application/dicom\r\n\r\nnot a DICOM file\r\n--B--\r\n"
            self.send_response(200)
            self.send_header(
                "Content-Type", 'multipart/related; type="application/dicom"; boundary=B'
            )
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.mode == "truncate":  # WADO-RS: promise 100 kB, send 500 bytes, hang up
            self.send_response(200)
            self.send_header(
                "Content-Type", 'multipart/related; type="application/dicom"; boundary=B'
            )
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"--B\r\nContent-Type: application/dicom\r\n\r\n" + bytes(500))
            self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True


@pytest.fixture
def hanging_up(request: pytest.FixtureRequest) -> Iterator[str]:
    """A DICOMweb root served by ``_HangingUp`` in the mode the test names (indirect)."""
    handler = type("Handler", (_HangingUp,), {"mode": request.param})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/dicom-web"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize(
    ("hanging_up", "reason"),
    [
        ("truncate", "connection lost during the transfer: the server closed it before the end"),
        ("hang_up", "connection lost: the server closed it without an answer"),
        ("garbage", "not a DICOM file: "),
    ],
    indirect=["hanging_up"],
)
def test_server_failing_mid_retrieve_leaves_nothing(
    hanging_up: str, reason: str, tmp_path: Path
) -> None:
    server = PacsServer("flaky", hanging_up, timeout_s=5)
    with pytest.raises(PacsError) as info:
        retrieve_study(server, "1.2.3", tmp_path / "inbox" / "new")
    assert str(info.value).startswith(
        f"PACS flaky ({hanging_up}): retrieve of study 1.2.3 failed at instance 1 of 2 "
        f"(1.2.3.1.1): {reason}"
    )
    assert list(tmp_path.iterdir()) == []


def test_store_refuses_a_dataset_that_cannot_be_a_dicom_file() -> None:
    server = PacsServer("nowhere", f"http://127.0.0.1:{_closed_port()}/dicom-web")
    ds = pydicom.dcmread(TEST_DATA / "dicom" / "77654033_CR1_6154.dcm")
    del ds.file_meta.TransferSyntaxUID
    with pytest.raises(PacsError, match=f"instance {ds.SOPInstanceUID} has no transfer syntax"):
        store(server, [ds])
    del ds.SOPInstanceUID
    with pytest.raises(PacsError, match="without SOP Class or Instance UID"):
        store(server, [ds])
