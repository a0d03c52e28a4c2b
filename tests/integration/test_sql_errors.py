"""The SQL store's edge: an unreachable, broken, busy or refusing database is reported as
StorageUnavailable (503), never as a driver's raw exception."""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.exc import IntegrityError

from bank_adapters.sql import PoolSettings, SqlStore, sqlite_transactions
from bank_domain import Account, AccountNumber, AccountType, Money, StorageUnavailable
from tests.support.postgres import with_database

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def an_account() -> Account:
    number = AccountNumber(f"{secrets.randbelow(10**10):010d}")
    return Account.open(number, "Ada Lovelace", AccountType.CHECKING, NOW, Money.zero())


def unused_local_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def read_something(store: SqlStore) -> None:
    async with store.unit_of_work() as uow:
        await uow.accounts.get(AccountNumber("0000000000"))


def unreachable_url(kind: str, tmp_path: Path) -> str:
    if kind == "postgresql":
        return f"postgresql://postgres@127.0.0.1:{unused_local_port()}/bank"
    return f"sqlite:///{tmp_path / 'no' / 'such' / 'folder' / 'bank.db'}"


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
async def test_a_database_that_cannot_be_reached_is_unavailable(tmp_path: Path, kind: str) -> None:
    store = SqlStore.from_url(unreachable_url(kind, tmp_path))
    try:
        with pytest.raises(StorageUnavailable) as raised:
            await store.ping()
        assert raised.value.code == "service_unavailable"
        with pytest.raises(StorageUnavailable):
            await read_something(store)
    finally:
        await store.dispose()


async def test_a_sqlite_file_that_cannot_be_opened_leaves_no_driver_thread_running(
    tmp_path: Path,
) -> None:
    """aiosqlite's worker thread answers on the event loop after a failed open; were it still
    running when the loop closes, it would raise "Event loop is closed" in its thread."""

    def driver_threads() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if "_connection_worker_thread" in t.name}

    before = driver_threads()
    store = SqlStore.from_url(unreachable_url("sqlite", tmp_path))
    try:
        for _attempt in range(3):
            with pytest.raises(StorageUnavailable):
                await store.ping()
            assert driver_threads() <= before
    finally:
        await store.dispose()


async def test_connect_refuses_a_database_that_does_not_answer(tmp_path: Path) -> None:
    with pytest.raises(StorageUnavailable):
        await SqlStore.connect(unreachable_url("postgresql", tmp_path))


async def test_an_unmigrated_database_is_unavailable_not_a_crash(tmp_path: Path) -> None:
    store = await SqlStore.connect(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with pytest.raises(StorageUnavailable):
            await read_something(store)
    finally:
        await store.dispose()


@pytest.mark.postgres
async def test_a_postgresql_database_that_does_not_exist_is_unavailable(
    postgres_store_url: str,
) -> None:
    store = SqlStore.from_url(with_database(postgres_store_url, "bank_no_such_database"))
    try:
        with pytest.raises(StorageUnavailable):
            await store.ping()
    finally:
        await store.dispose()


@pytest.mark.postgres
async def test_a_lost_postgresql_connection_is_unavailable_and_the_store_recovers(
    postgres_store_url: str,
) -> None:
    store = SqlStore.from_url(postgres_store_url)
    try:

        async def read_across_a_lost_connection() -> None:
            async with store.unit_of_work() as uow:
                await uow.accounts.get(AccountNumber("0000000000"))
                await _terminate_ledger_connections(postgres_store_url)
                await uow.accounts.get(AccountNumber("0000000000"))

        with pytest.raises(StorageUnavailable):
            await read_across_a_lost_connection()
        await read_something(store)
        await store.ping()
    finally:
        await store.dispose()


async def _terminate_ledger_connections(url: str) -> None:
    admin = await asyncpg.connect(url)
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND application_name = 'bank-ledger'"
        )
    finally:
        await admin.close()


async def test_an_exhausted_pool_is_unavailable(sql_store_url: str) -> None:
    store = SqlStore.from_url(
        sql_store_url, PoolSettings(size=1, max_overflow=0, timeout_seconds=0.2)
    )
    try:
        async with store.unit_of_work():
            with pytest.raises(StorageUnavailable):
                await read_something(store)
    finally:
        await store.dispose()


async def test_a_sqlite_writer_that_waits_too_long_is_unavailable(
    sqlite_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_transactions, "BUSY_TIMEOUT_SECONDS", 0.2)
    holder, waiter = SqlStore.from_url(sqlite_store_url), SqlStore.from_url(sqlite_store_url)
    try:
        async with holder.unit_of_work():
            with pytest.raises(StorageUnavailable):
                await read_something(waiter)
    finally:
        await holder.dispose()
        await waiter.dispose()


async def test_ping_does_not_queue_behind_a_sqlite_writer(sqlite_store_url: str) -> None:
    store = SqlStore.from_url(sqlite_store_url)
    try:
        async with store.unit_of_work() as uow:
            await uow.accounts.add(an_account())
            await asyncio.wait_for(store.ping(), timeout=2)
    finally:
        await store.dispose()


async def test_a_change_the_schema_refuses_is_a_defect_not_an_outage_and_stores_nothing(
    sql_store: SqlStore,
) -> None:
    """A broken CHECK means the ledger tried to store what its rules forbid: no retry cures
    that, so it is not StorageUnavailable (503 "retry later") but an unexpected error (500)."""
    account = an_account()
    async with sql_store.unit_of_work() as uow:
        await uow.accounts.add(account)
        await uow.commit()
    account.balance = Money(Decimal("-0.01"))  # past the domain's own check: the last defence

    async def save_overdrawn() -> None:
        async with sql_store.unit_of_work() as uow:
            await uow.accounts.save(account)
            await uow.commit()

    with pytest.raises(IntegrityError) as raised:
        await save_overdrawn()
    assert not isinstance(raised.value, StorageUnavailable)
    assert "ck_accounts_available_not_negative" in str(raised.value)
    async with sql_store.unit_of_work() as uow:
        kept = await uow.accounts.get(account.number)
    assert kept is not None
    assert kept.balance == Money.zero()


@pytest.mark.postgres
async def test_a_grouped_posting_the_schema_refuses_is_a_defect_not_an_outage(
    postgres_store: SqlStore,
) -> None:
    account = an_account()
    async with postgres_store.unit_of_work() as uow:
        await uow.accounts.add(account)
        await uow.commit()

    async def post_overdrawn() -> None:
        async with postgres_store.posting_unit_of_work() as uow:
            locked = await uow.accounts.get_for_update(account.number)
            assert locked is not None
            locked.balance = Money(Decimal("-0.01"))  # past the domain's own check
            await uow.accounts.save(locked)
            await uow.commit()

    with pytest.raises(Exception, match="ck_accounts_available_not_negative") as raised:
        await asyncio.wait_for(post_overdrawn(), timeout=10)
    assert not isinstance(raised.value, StorageUnavailable)
    async with postgres_store.unit_of_work() as uow:
        kept = await uow.accounts.get(account.number)
    assert kept is not None
    assert kept.balance == Money.zero()


async def test_a_unit_of_work_is_used_inside_async_with(sql_store: SqlStore) -> None:
    uow = sql_store.unit_of_work()
    with pytest.raises(RuntimeError):
        await uow.commit()
