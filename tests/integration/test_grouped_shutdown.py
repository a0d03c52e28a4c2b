"""PostgreSQL's grouped postings when things stop: a cancelled group, a cancellation while a
group waits for a writer, the store's disposal while a group is stuck, and a kept connection
that the database dropped. Nothing may wait forever, and nothing may fail that could succeed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from bank_adapters.sql import SqlStore
from bank_domain import (
    Ledger,
    Money,
    OpenAccountCommand,
    PostedTransaction,
    PostTransactionCommand,
    StorageUnavailable,
)

pytestmark = pytest.mark.postgres

PROMPTLY = 5.0
"""Seconds within which a failure must be answered: well under the database's lock timeout."""


def grouped_ledger(store: SqlStore) -> Ledger:
    return Ledger(store.unit_of_work, postings=store.posting_unit_of_work)


async def open_account(ledger: Ledger) -> str:
    account = await ledger.open_account(OpenAccountCommand("Ada Lovelace", "checking"))
    return account.number.value


def deposit(number: str, transaction_id: str | None = None) -> PostTransactionCommand:
    return PostTransactionCommand(number, "1.00", "deposit", transaction_id=transaction_id)


class RowHolder:
    """Another session holding accounts' rows, so that a group locking them is stuck."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection
        self._transaction = connection.transaction()

    async def hold(self, *numbers: str) -> None:
        if not self._connection.is_in_transaction():
            await self._transaction.start()
        for number in numbers:
            await self._connection.execute(
                "SELECT 1 FROM accounts WHERE account_number = $1 FOR UPDATE", number
            )

    async def release(self) -> None:
        if self._connection.is_in_transaction():
            await self._transaction.rollback()


@pytest.fixture
async def row_holder(postgres_store_url: str) -> AsyncIterator[RowHolder]:
    connection = await asyncpg.connect(postgres_store_url)
    try:
        yield RowHolder(connection)
    finally:
        await connection.close()


async def started_in_background(
    posting: PostTransactionCommand, ledger: Ledger
) -> tuple[asyncio.Task[PostedTransaction], set[asyncio.Task[Any]]]:
    """Starts a posting and returns it with the tasks it made the store start (its group's)."""
    before = asyncio.all_tasks()
    future = asyncio.ensure_future(ledger.post_transaction(posting))
    await asyncio.sleep(0.2)
    return future, asyncio.all_tasks() - before - {future}


async def test_a_cancelled_group_fails_its_postings_and_ends_cancelled(
    postgres_store: SqlStore, row_holder: RowHolder
) -> None:
    ledger = grouped_ledger(postgres_store)
    number = await open_account(ledger)
    await row_holder.hold(number)
    posting, group_tasks = await started_in_background(deposit(number), ledger)
    assert len(group_tasks) == 1
    (group_task,) = group_tasks

    group_task.cancel()
    with pytest.raises(StorageUnavailable):
        await asyncio.wait_for(posting, PROMPTLY)
    await asyncio.wait([group_task], timeout=PROMPTLY)
    await row_holder.release()

    assert group_task.cancelled()
    await asyncio.wait_for(ledger.post_transaction(deposit(number)), PROMPTLY)
    assert (await ledger.get_account(number)).balance == Money(Decimal("1.00"))


async def test_a_cancellation_while_a_group_waits_for_a_writer_leaves_nobody_waiting(
    postgres_store: SqlStore, row_holder: RowHolder
) -> None:
    """Both writers are taken by groups stuck on held rows; the third group waits for a
    writer, and is cancelled there: its posting fails at once, and later postings go on."""
    ledger = grouped_ledger(postgres_store)
    first, second, free = [await open_account(ledger) for _ in range(3)]
    await row_holder.hold(first, second)
    stuck = [(await started_in_background(deposit(n), ledger))[0] for n in (first, second)]
    posting, group_tasks = await started_in_background(deposit(free), ledger)
    assert len(group_tasks) == 1

    group_tasks.pop().cancel()
    with pytest.raises(StorageUnavailable):
        await asyncio.wait_for(posting, PROMPTLY)
    await row_holder.release()

    await asyncio.wait_for(asyncio.gather(*stuck), PROMPTLY)
    await asyncio.wait_for(ledger.post_transaction(deposit(free)), PROMPTLY)
    assert (await ledger.get_account(free)).balance == Money(Decimal("1.00"))


async def test_disposing_of_the_store_ends_the_groups_it_is_writing(
    postgres_store_url: str, postgres_store: SqlStore, row_holder: RowHolder
) -> None:
    number = await open_account(grouped_ledger(postgres_store))
    store = SqlStore.from_url(postgres_store_url)
    ledger = grouped_ledger(store)
    try:
        await row_holder.hold(number)
        posting, group_tasks = await started_in_background(deposit(number, "stuck-id-0001"), ledger)
        stuck_too, more_tasks = await started_in_background(deposit(number), ledger)

        await asyncio.wait_for(store.dispose(), PROMPTLY)

        assert all(task.done() for task in group_tasks | more_tasks)
        for future in (posting, stuck_too):
            with pytest.raises(StorageUnavailable):
                await asyncio.wait_for(future, PROMPTLY)
    finally:
        await row_holder.release()
        await store.dispose()


async def test_a_kept_connection_the_database_dropped_is_replaced_without_failing_a_group(
    postgres_store: SqlStore,
) -> None:
    ledger = grouped_ledger(postgres_store)
    number = await open_account(ledger)
    # Two groups one after the other use both writers.
    for _ in range(2):
        await ledger.post_transaction(deposit(number))
    async with postgres_store.engine.connect() as connection:
        await connection.exec_driver_sql(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        await connection.invalidate()

    for _ in range(2):
        await asyncio.wait_for(ledger.post_transaction(deposit(number)), PROMPTLY)

    assert (await ledger.get_account(number)).balance == Money(Decimal("4.00"))


@pytest.mark.parametrize("own_id", [None, "early-id-0001"])
async def test_disposing_of_the_store_before_a_group_or_look_up_began_leaves_nobody_waiting(
    postgres_store_url: str, postgres_store: SqlStore, own_id: str | None
) -> None:
    """The posting has started a group (or a batch of look-ups) that has not run yet."""
    number = await open_account(grouped_ledger(postgres_store))
    store = SqlStore.from_url(postgres_store_url)
    try:
        before = asyncio.all_tasks()
        posting = asyncio.ensure_future(
            grouped_ledger(store).post_transaction(deposit(number, own_id))
        )
        await asyncio.sleep(0)
        assert asyncio.all_tasks() - before - {posting}, "the posting started no task"

        await store.dispose()  # in this task, so that it runs before the new task's first step

        with pytest.raises(StorageUnavailable):
            await asyncio.wait_for(posting, PROMPTLY)
    finally:
        await store.dispose()
