"""A throwaway PostgreSQL database per test session, on the server BANK_TEST_POSTGRES_URL names.

Unset, the PostgreSQL tests skip with that reason; set but not answering, they fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

POSTGRES_URL_VARIABLE = "BANK_TEST_POSTGRES_URL"


def postgres_server_url() -> str:
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        pytest.skip(f"{POSTGRES_URL_VARIABLE} is unset: no PostgreSQL server to test against")
    return url


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def _execute(url: str, statement: str) -> None:
    connection = await asyncpg.connect(
        url.replace("postgresql+asyncpg://", "postgresql://"), timeout=10
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextlib.contextmanager
def throwaway_database(server_url: str, prefix: str = "bank_test") -> Iterator[str]:
    """Creates a uniquely named database, yields its URL, and drops it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    asyncio.run(_execute(server_url, f'CREATE DATABASE "{name}"'))
    try:
        yield with_database(server_url, name)
    finally:
        asyncio.run(_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


_OLDER_WRITERS = """
    SELECT count(*) FROM pg_stat_activity
     WHERE backend_xid IS NOT NULL AND xact_start < $1 AND pid <> pg_backend_pid()
"""


async def _wait_for_older_writers(url: str, seconds: float) -> None:
    connection = await asyncpg.connect(url, timeout=10)
    try:
        now = await connection.fetchval("SELECT clock_timestamp()")
        deadline = asyncio.get_running_loop().time() + seconds
        while await connection.fetchval(_OLDER_WRITERS, now):
            if asyncio.get_running_loop().time() > deadline:
                return
            await asyncio.sleep(0.05)
    finally:
        await connection.close()


def wait_for_older_writers(timeout: float = 30.0) -> None:
    """Waits (up to ``timeout``) until every transaction that had begun writing anywhere on the
    BANK_TEST_POSTGRES_URL server before this call has ended; a no-op without that server.

    The PostgreSQL event feed shows an event only once every transaction older than it has
    ended (README, "The event feed on PostgreSQL"), whichever database that transaction is in:
    a test that reads the feed right after its writes waits for this first, so that another
    suite's long transaction on the shared server does not hide its events."""
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if url:
        asyncio.run(_wait_for_older_writers(url, timeout))
