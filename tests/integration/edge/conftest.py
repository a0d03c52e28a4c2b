"""One real API process on SQLite in a temporary folder, for the edge tests; each test puts
its own HAProxy in front of it (tests.integration.edge.haproxy)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.server import ServerProcess


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("edge-api")
    with ServerProcess(f"sqlite:///{folder / 'bank.db'}", folder / "server.log") as server:
        yield server


@pytest.fixture
def api_address(api_server: ServerProcess) -> str:
    """The API process as a backend server line's address (host:port)."""
    return api_server.base_url.removeprefix("http://")
