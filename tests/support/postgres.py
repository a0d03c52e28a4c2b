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
