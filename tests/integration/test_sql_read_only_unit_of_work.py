"""Read-only units of work (``store.unit_of_work(read_only=True)``), which the read use cases
ask for: on SQLite they take no write lock, so a client looping over a listing holds up no
posting; on PostgreSQL they are READ ONLY transactions whose statements have a time limit. On
every SQL store they refuse any change at once."""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import pytest
from sqlalchemy import text

from bank_adapters.sql import PoolSettings, SqlStore
from bank_domain import (
    Account,
    AccountNumber,
    AccountType,
    Money,
    StorageUnavailable,
    TransactionId,
)
from bank_domain.ports import AccountQuery

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def an_account(balance: str = "0.00") -> Account:
    number = AccountNumber(f"{secrets.randbelow(10**10):010d}")
    return Account.open(number, "Ada Lovelace", AccountType.CHECKING, NOW, Money(Decimal(balance)))


async def added(store: SqlStore, account: Account) -> Account:
    async with store.unit_of_work() as uow:
        await uow.accounts.add(account)
        await uow.commit()
    return account


async def deposit(store: SqlStore, number: AccountNumber, amount: str) -> None:
    """What a posting does: lock the account, change it, commit."""
    async with store.unit_of_work() as uow:
        locked = await uow.accounts.get_for_update(number)
        assert locked is not None
        locked.move_balance(Money(Decimal(amount)), NOW, TransactionId.generate())
        await uow.accounts.save(locked)
        await uow.commit()


async def test_a_sqlite_read_held_open_does_not_hold_up_a_posting(sqlite_store_url: str) -> None:
    reader, writer = SqlStore.from_url(sqlite_store_url), SqlStore.from_url(sqlite_store_url)
    try:
        listed, posted_to = await added(writer, an_account()), await added(writer, an_account())
        async with reader.unit_of_work(read_only=True) as read:
            assert await read.accounts.get(listed.number) is not None
            assert await read.accounts.list(AccountQuery(limit=10))
            started = time.monotonic()
            # Before, every unit of work took SQLite's write lock: this waited the busy timeout.
            await asyncio.wait_for(deposit(writer, posted_to.number, "1.00"), timeout=5)
            assert time.monotonic() - started < 1.0
            # The read goes on seeing the snapshot it began with.
            before = await read.accounts.get(posted_to.number)
            assert before is not None
            assert before.balance == Money.zero()
        async with reader.unit_of_work(read_only=True) as read:
            after = await read.accounts.get(posted_to.number)
        assert after is not None
        assert after.balance == Money(Decimal("1.00"))
    finally:
        await reader.dispose()
        await writer.dispose()


async def test_a_sqlite_read_does_not_queue_behind_a_writer(sqlite_store_url: str) -> None:
    store = SqlStore.from_url(sqlite_store_url)
    try:
        account = await added(store, an_account("2.00"))
        async with store.unit_of_work() as write:
            locked = await write.accounts.get_for_update(account.number)
            assert locked is not None

            async def read_balance() -> Money:
                async with store.unit_of_work(read_only=True) as read:
                    seen = await read.accounts.get(account.number)
                    assert seen is not None
                    return seen.balance

            assert await asyncio.wait_for(read_balance(), timeout=2) == Money(Decimal("2.00"))
    finally:
        await store.dispose()


async def test_a_read_only_unit_of_work_refuses_every_change_at_once(sql_store: SqlStore) -> None:
    account = await added(sql_store, an_account())
    async with sql_store.unit_of_work(read_only=True) as read:
        assert read.read_only
        refusals = [
            read.accounts.get_for_update(account.number),
            read.accounts.add(an_account()),
            read.accounts.save(account),
            # None on purpose: the refusal comes before the transaction is read.
            read.transactions.add(None),  # type: ignore[arg-type]
            read.transactions.save(None),  # type: ignore[arg-type]
            read.commit(),
        ]
        for refusal in refusals:
            with pytest.raises(RuntimeError, match="read-only"):
                await asyncio.wait_for(refusal, timeout=1)
        # The reads still work after the refusals.
        assert await read.accounts.get(account.number) is not None


@pytest.mark.postgres
async def test_a_postgresql_read_is_a_read_only_transaction_with_a_time_limit(
    postgres_store_url: str,
) -> None:
    store = SqlStore.from_url(postgres_store_url, PoolSettings(size=1, max_overflow=0))
    try:
        async with store.unit_of_work(read_only=True) as read:
            connection = read.connection
            assert await connection.scalar(text("SHOW transaction_read_only")) == "on"
            assert await connection.scalar(text("SHOW statement_timeout")) == "5s"
        # The one pooled connection serves a write next: nothing of the read stays on it.
        await added(store, an_account())
        async with store.unit_of_work() as write:
            assert await write.connection.scalar(text("SHOW transaction_read_only")) == "off"
            assert await write.connection.scalar(text("SHOW statement_timeout")) != "5s"
    finally:
        await store.dispose()


@pytest.mark.postgres
async def test_a_postgresql_read_over_its_time_limit_is_unavailable_with_a_clear_message(
    postgres_store_url: str,
) -> None:
    """A listing that would run long (here: it waits on a table another session has locked)."""
    store = SqlStore.from_url(postgres_store_url, read_timeout_seconds=0.2)
    blocker = await asyncpg.connect(postgres_store_url)
    try:
        async with blocker.transaction():
            await blocker.execute("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            with pytest.raises(StorageUnavailable, match="too long"):
                async with store.unit_of_work(read_only=True) as read:
                    await read.accounts.list(AccountQuery(limit=10))
            assert time.monotonic() - started < 2
        async with store.unit_of_work(read_only=True) as read:
            await read.accounts.list(AccountQuery(limit=10))
    finally:
        await blocker.close()
        await store.dispose()
