"""Fixtures shared by the integration tests.

Each kind of fixture lives in its own section below; a test asks for the one it needs.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bank_adapters.memory import InMemoryStore
from bank_adapters.sql import SqlStore, upgrade_to_head
from bank_adapters.stores import MEMORY_URL, Store
from tests.support.postgres import postgres_server_url, throwaway_database

# --- Stores ---------------------------------------------------------------------------------
# Every store the ledger ships, each fresh for every test: memory; a SQLite file; and a
# PostgreSQL database made for this session (unset BANK_TEST_POSTGRES_URL skips those, a
# server that does not answer fails them), emptied before each test.

STORE_KINDS = ["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
SQL_STORE_KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at the newest schema, migrated once and copied for each test."""
    path = tmp_path_factory.mktemp("sqlite-template") / "bank.db"
    asyncio.run(upgrade_to_head(f"sqlite:///{path}"))
    return path


@pytest.fixture
def sqlite_store_url(migrated_sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "bank.db"
    shutil.copyfile(migrated_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def postgres_store_url() -> Iterator[str]:
    """A throwaway PostgreSQL database at the newest schema, for this session's store tests."""
    with throwaway_database(postgres_server_url(), "bank_store") as url:
        asyncio.run(upgrade_to_head(url))
        yield url


def _url_of(request: pytest.FixtureRequest) -> str:
    # A synchronous fixture asks for the database, so that only the kinds a test runs on get
    # made, and outside the event loop that a test's async fixtures run in.
    if request.param == "memory":
        return MEMORY_URL
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_store_url"))
    return str(request.getfixturevalue("postgres_store_url"))


@pytest.fixture(params=STORE_KINDS)
def store_url(request: pytest.FixtureRequest) -> str:
    return _url_of(request)


@pytest.fixture(params=SQL_STORE_KINDS)
def sql_store_url(request: pytest.FixtureRequest) -> str:
    return _url_of(request)


async def _fresh(store: SqlStore) -> SqlStore:
    if store.engine.dialect.name == "postgresql":
        async with store.engine.begin() as connection:
            # The journal refuses TRUNCATE (its trigger); the trigger is off for this one
            # transaction only, so no other connection ever sees the journal unguarded.
            await connection.execute(
                text("ALTER TABLE journal_entries DISABLE TRIGGER journal_entries_no_truncate")
            )
            await connection.execute(
                text(
                    "TRUNCATE journal_entries, events, transactions, accounts, api_keys, "
                    "idempotency_keys"
                )
            )
            await connection.execute(
                text("ALTER TABLE journal_entries ENABLE TRIGGER journal_entries_no_truncate")
            )
    return store


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """Each store in turn, fresh: the contract tests hold all of them to the same behaviour."""
    if store_url == MEMORY_URL:
        yield InMemoryStore()
        return
    sql = SqlStore.from_url(store_url)
    try:
        yield await _fresh(sql)
    finally:
        await sql.dispose()


@pytest.fixture
async def sql_store(sql_store_url: str) -> AsyncIterator[SqlStore]:
    """A fresh SqlStore on SQLite, then on PostgreSQL."""
    sql = SqlStore.from_url(sql_store_url)
    try:
        yield await _fresh(sql)
    finally:
        await sql.dispose()


@pytest.fixture
async def postgres_store(postgres_store_url: str) -> AsyncIterator[SqlStore]:
    """A fresh SqlStore on PostgreSQL alone, for what only PostgreSQL does (grouped postings)."""
    sql = SqlStore.from_url(postgres_store_url)
    try:
        yield await _fresh(sql)
    finally:
        await sql.dispose()
