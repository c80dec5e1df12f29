"""A real Orthanc (with its DICOMweb plugin) for the PACS tests, on free loopback ports.

``orthanc`` is one server per test session (per xdist worker): a throw-away JSON config with
storage and index under a temporary folder, remote access off, HTTP authentication on with a
test user (``orthanc_server.py``, shared with the PACS bench). ``orthanc_factory`` starts more
(e.g. one a test stops or kills). Without the Orthanc binary or the plugin the tests that use
them are skipped with that reason - never mocked (``scripts/orthanc.sh install`` installs them
on Debian).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.orthanc_server import (
    PASSWORD,
    USER,
    Orthanc,
    OrthancDidNotStart,
    OrthancUnavailable,
)
from tests.integration.orthanc_server import start_orthanc as _start

__all__ = ["PASSWORD", "USER", "Orthanc", "start_orthanc"]


def start_orthanc(folder: Path) -> Orthanc:
    """Start an Orthanc in ``folder``; skip the test without Orthanc, fail it if it does not
    start."""
    try:
        return _start(folder)
    except OrthancUnavailable as exc:
        pytest.skip(str(exc))
    except OrthancDidNotStart as exc:
        pytest.fail(str(exc))


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
