"""PACS failures that need no PACS: a closed port, a server that never answers, a missing URL.
Each is one ``PacsError`` (or one CLI line) naming the server and the reason."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

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
