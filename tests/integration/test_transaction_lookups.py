"""Look-ups of transactions by id on PostgreSQL, batched: many look-ups share one query, each
gets its own answer, and a failed batch fails its look-ups alone."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event

from bank_adapters.sql import SqlStore
from bank_adapters.sql.grouped.kept_connection import KeptConnection
from bank_adapters.sql.grouped.transaction_lookups import BatchedTransactionLookups
from bank_domain import Ledger, OpenAccountCommand, PostTransactionCommand, StorageUnavailable
from bank_domain.identifiers import TransactionId

pytestmark = pytest.mark.postgres


class CountedConnection(KeptConnection):
    """Counts the batches: each batch asks once for the driver connection."""

    batches = 0

    async def driver(self) -> Any:
        self.batches += 1
        return await super().driver()


async def stored_ids(store: SqlStore, count: int) -> list[str]:
    ledger = Ledger(store.unit_of_work)
    account = await ledger.open_account(OpenAccountCommand("Ada Lovelace", "checking"))
    ids = [f"lookup-{n:04d}" for n in range(count)]
    for tid in ids:
        await ledger.post_transaction(
            PostTransactionCommand(account.number.value, "1.00", "deposit", transaction_id=tid)
        )
    return ids


async def test_concurrent_look_ups_share_a_query_and_each_gets_its_answer(
    postgres_store: SqlStore,
) -> None:
    stored = await stored_ids(postgres_store, 20)
    missing = [f"missing-{n:04d}" for n in range(20)]
    connection = CountedConnection(postgres_store.engine)
    lookups = BatchedTransactionLookups(connection)
    try:
        wanted = stored + missing + stored[:5]  # some ids asked for twice at once
        answers = await asyncio.gather(*(lookups.get(TransactionId(tid)) for tid in wanted))
    finally:
        await lookups.close()

    for tid, answer in zip(wanted, answers, strict=True):
        if tid.startswith("missing"):
            assert answer is None, tid
        else:
            assert answer is not None
            assert answer.transaction_id.value == tid
    assert connection.batches <= 2, "look-ups made at once should share a query"


async def test_a_failed_batch_fails_its_look_ups_and_the_next_one_recovers(
    postgres_store: SqlStore, postgres_store_url: str
) -> None:
    [tid] = await stored_ids(postgres_store, 1)
    lookups = BatchedTransactionLookups(KeptConnection(postgres_store.engine))
    killer = await asyncpg.connect(postgres_store_url)
    try:
        assert await lookups.get(TransactionId(tid)) is not None
        # Cut the kept connection off, as a database restart would.
        await killer.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        failed = await asyncio.gather(
            lookups.get(TransactionId(tid)),
            lookups.get(TransactionId("missing-0001")),
            return_exceptions=True,
        )
        assert all(isinstance(outcome, StorageUnavailable) for outcome in failed), failed

        recovered = await lookups.get(TransactionId(tid))
        assert recovered is not None
        assert recovered.transaction_id.value == tid
    finally:
        await killer.close()
        await lookups.close()


async def test_a_caller_that_gives_up_leaves_the_others_their_answer(
    postgres_store: SqlStore,
) -> None:
    [tid] = await stored_ids(postgres_store, 1)
    lookups = BatchedTransactionLookups(KeptConnection(postgres_store.engine))
    try:
        impatient = asyncio.ensure_future(lookups.get(TransactionId(tid)))
        patient = asyncio.ensure_future(lookups.get(TransactionId(tid)))
        await asyncio.sleep(0)
        impatient.cancel()
        answer = await patient
        assert answer is not None
        assert answer.transaction_id.value == tid
        assert impatient.cancelled()
    finally:
        await lookups.close()


async def test_postings_that_bring_their_own_ids_are_posted_once_each(
    postgres_store: SqlStore,
) -> None:
    """Through the grouped postings: new ids are posted, repeats of stored ones are replayed."""
    ledger = Ledger(postgres_store.unit_of_work, postings=postgres_store.posting_unit_of_work)
    account = await ledger.open_account(OpenAccountCommand("Ada Lovelace", "checking"))
    number = account.number.value

    def posting(n: int) -> PostTransactionCommand:
        return PostTransactionCommand(number, "1.00", "deposit", transaction_id=f"own-id-{n:04d}")

    first = await asyncio.gather(*(ledger.post_transaction(posting(n)) for n in range(50)))
    again = await asyncio.gather(*(ledger.post_transaction(posting(n)) for n in range(0, 50, 2)))

    assert all(p.created for p in first)
    assert not any(p.created for p in again)
    assert str((await ledger.get_account(number)).balance) == "50.00"


async def test_a_kept_connection_goes_back_to_the_pool_once_kept_long_enough(
    postgres_store: SqlStore,
) -> None:
    """So that the pool's recycle and ping reach it: it checks a connection out again."""
    checkouts: list[object] = []
    event.listen(
        postgres_store.engine.sync_engine, "checkout", lambda *args: checkouts.append(args)
    )
    kept = KeptConnection(postgres_store.engine, hand_back_after_seconds=0.2)
    try:
        for _ in range(3):
            await (await kept.driver()).fetchval("SELECT 1")
        assert len(checkouts) == 1
        await asyncio.sleep(0.3)
        await (await kept.driver()).fetchval("SELECT 1")
        assert len(checkouts) == 2
    finally:
        await kept.close()
