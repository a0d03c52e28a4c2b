"""One real server per store for the HTTP tests: memory, a SQLite file, and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.keys import AUTH, MASTER_KEY
from tests.support.postgres import postgres_server_url, throwaway_database
from tests.support.server import assert_clean_log, assert_no_secret_in_log, running_server


@pytest.fixture(scope="session", params=["memory", "sqlite", "postgresql"])
def base_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    folder = tmp_path_factory.mktemp(f"server-{request.param}")
    log = folder / "server.log"
    if request.param == "memory":
        with running_server("memory://", log) as url:
            yield url
    elif request.param == "sqlite":
        with running_server(f"sqlite:///{folder / 'bank.db'}", log) as url:
            yield url
    else:
        with (
            throwaway_database(postgres_server_url(), "bank_http") as database_url,
            running_server(database_url, log) as url,
        ):
            yield url
    assert_clean_log(log)
    assert_no_secret_in_log(log, MASTER_KEY)


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30, headers=AUTH) as http:
        yield http
