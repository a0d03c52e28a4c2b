"""The kept answers of idempotency keys, on every store: kept exactly, committed with the change
they answer or not at all, a key held by one unit of work at a time (PostgreSQL: across
connections and processes), and old answers removed in batches."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from bank_adapters.sql import SqlStore
from bank_adapters.sql.grouped import group_writer
from bank_adapters.sql.grouped.driver_statements import WRITE_GROUP
from bank_adapters.sql.grouped.group import Changes
from bank_adapters.stores import Store
from bank_domain import (
    Ledger,
    OpenAccountCommand,
    PostedTransaction,
    PostTransactionCommand,
    StorageUnavailable,
    TransactionId,
)
from bank_domain.errors import IdempotencyKeyInUse, LedgerError
from bank_domain.idempotency import (
    IdempotencyClaim,
    IdempotencyKey,
    IdempotentReplay,
    KeptAnswer,
    KeptRequest,
)
from bank_domain.ports import UnitOfWork
from bank_domain.use_cases.idempotency import ForgetExpiredIdempotencyKeys

NOW = datetime(2024, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
BODY = bytes(range(256)) * 3


def _key(value: str | None = None, scope: str = "master") -> IdempotencyKey:
    return IdempotencyKey(scope, value or f"key-{uuid.uuid4().hex[:12]}")


def _kept(key: IdempotencyKey, created_at: datetime = NOW) -> KeptRequest:
    headers = (("content-type", "application/json"), ("location", "/v1/x"), ("etag", '"3"'))
    return KeptRequest(key, "f" * 64, KeptAnswer(201, BODY, headers), created_at)


async def test_a_kept_answer_comes_back_exactly(store: Store) -> None:
    key = _key("~!" + "k" * 253)
    async with store.unit_of_work() as uow:
        assert await uow.idempotency.claim(key) is None
        await uow.idempotency.add(_kept(key))
        await uow.commit()
    async with store.unit_of_work() as uow:
        assert await uow.idempotency.claim(key) == _kept(key)
        assert await uow.idempotency.claim(_key(key.value, scope="another")) is None


async def test_a_second_answer_for_a_key_is_refused_and_changes_nothing(store: Store) -> None:
    key = _key()
    async with store.unit_of_work() as uow:
        await uow.idempotency.add(_kept(key))
        await uow.commit()

    async def add_again() -> None:
        async with store.unit_of_work() as uow:
            await uow.idempotency.add(_kept(key, NOW + timedelta(seconds=1)))
            await uow.commit()

    with pytest.raises(IdempotencyKeyInUse):
        await add_again()
    async with store.unit_of_work() as uow:
        assert await uow.idempotency.claim(key) == _kept(key)


async def test_expired_answers_are_removed_oldest_first_in_batches(store: Store) -> None:
    old = [_key(f"old-{i}-{uuid.uuid4().hex[:12]}") for i in range(5)]
    young = _key()
    async with store.unit_of_work() as uow:
        for index, key in enumerate(old):
            await uow.idempotency.add(_kept(key, NOW - timedelta(hours=30, minutes=index)))
        await uow.idempotency.add(_kept(young, NOW - timedelta(hours=23)))
        await uow.commit()
    async with store.unit_of_work() as uow:
        assert await uow.idempotency.remove_expired(NOW - timedelta(hours=24), 2) == 2
        await uow.commit()
    forget = ForgetExpiredIdempotencyKeys(store.unit_of_work, lambda: NOW, batch=2)
    assert await forget(timedelta(hours=24)) == 3
    async with store.unit_of_work() as uow:
        assert [await uow.idempotency.claim(key) for key in old] == [None] * 5
        assert await uow.idempotency.claim(young) is not None


def _answer(posted: PostedTransaction) -> KeptAnswer:
    return KeptAnswer(201, str(posted.transaction.transaction_id).encode())


def _refusal(error: LedgerError) -> KeptAnswer | None:
    return None


class _CommitFails:
    """Makes the store's units of work; their commit checks that the posting and its answer
    are both in the open transaction, then fails instead of committing."""

    def __init__(self, store: Store, key: IdempotencyKey) -> None:
        self._store = store
        self._key = key
        self.checked = 0

    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        uow = self._store.unit_of_work(read_only=read_only)

        async def commit() -> None:
            kept = await uow.idempotency.claim(self._key)
            assert kept is not None
            posted = await uow.transactions.get(TransactionId(kept.answer.body.decode()))
            assert posted is not None
            self.checked += 1
            raise StorageUnavailable("The commit failed.")

        uow.commit = commit  # type: ignore[method-assign]
        return uow


class _GroupCommitFails:
    """On PostgreSQL's grouped path: once a group has written, checks in its open transaction
    that the posting and its answer are both there, then fails the group before its commit
    (its connection is dropped, which rolls the transaction back)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, key: IdempotencyKey) -> None:
        self._key = key
        self._write = group_writer._write
        self.checked = 0
        monkeypatch.setattr(group_writer, "_write", self._write_then_fail)

    async def _write_then_fail(self, driver: Any, changes: Changes) -> None:
        await self._write(driver, changes)
        body = await driver.fetchval(
            "SELECT body FROM idempotency_keys WHERE scope = $1 AND idempotency_key = $2",
            self._key.scope,
            self._key.value,
        )
        assert body is not None
        posted = await driver.fetchval(
            "SELECT count(*) FROM transactions WHERE transaction_id = $1", bytes(body).decode()
        )
        assert posted == 1
        self.checked += 1
        raise StorageUnavailable("The commit failed.")


async def test_the_answer_is_kept_in_the_transaction_of_its_change(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On every store's posting path (PostgreSQL's grouped one included): the answer and its
    posting are committed together or not at all, and the retry is the first that counts."""
    account = await Ledger(store.unit_of_work).open_account(OpenAccountCommand("Ada", "savings"))
    number = str(account.number)
    key = _key()
    claim: IdempotencyClaim[PostedTransaction] = IdempotencyClaim(key, "f", _answer, _refusal)
    command = PostTransactionCommand(number, "5.00", "deposit", idempotency=claim)
    failing: _CommitFails | _GroupCommitFails
    if isinstance(store, SqlStore) and store.engine.dialect.name == "postgresql":
        failing = _GroupCommitFails(monkeypatch, key)
        postings: Any = store.posting_unit_of_work
    else:
        failing = postings = _CommitFails(store, key)
    with pytest.raises(StorageUnavailable):
        await Ledger(store.unit_of_work, postings=postings).post_transaction(command)
    assert failing.checked == 1
    monkeypatch.undo()

    ledger = Ledger(store.unit_of_work, postings=store.posting_unit_of_work)
    assert (await ledger.get_account(number)).balance.amount == 0
    async with store.unit_of_work() as uow:
        assert await uow.idempotency.claim(key) is None
    posted = await ledger.post_transaction(command)
    with pytest.raises(IdempotentReplay) as replay:
        await ledger.post_transaction(command)
    assert replay.value.answer.body == str(posted.transaction.transaction_id).encode()
    assert (await ledger.get_account(number)).balance.amount == 5


@pytest.mark.postgres
async def test_a_key_is_held_across_connections_on_postgresql(
    postgres_store: SqlStore, postgres_store_url: str
) -> None:
    """Another process's unit of work (another engine, so another connection) is refused at
    once while one holds the key, and takes it once that one has ended."""
    key = _key()
    other = SqlStore.from_url(postgres_store_url)
    try:
        async with postgres_store.unit_of_work() as holder:
            assert await holder.idempotency.claim(key) is None
            async with asyncio.timeout(5):
                with pytest.raises(IdempotencyKeyInUse):
                    async with other.unit_of_work() as second:
                        await second.idempotency.claim(key)
            await holder.idempotency.add(_kept(key))
            await holder.commit()
        async with other.unit_of_work() as second:
            assert await second.idempotency.claim(key) == _kept(key)
    finally:
        await other.dispose()


async def test_sqlite_lets_a_second_writer_wait_and_find_the_answer(sqlite_store_url: str) -> None:
    key = _key()
    first, second = SqlStore.from_url(sqlite_store_url), SqlStore.from_url(sqlite_store_url)
    found: list[Any] = []

    async def wait_then_claim() -> None:
        async with second.unit_of_work() as uow:
            found.append(await uow.idempotency.claim(key))

    try:
        async with first.unit_of_work() as holder:
            assert await holder.idempotency.claim(key) is None
            waiting = asyncio.create_task(wait_then_claim())
            await asyncio.sleep(0.2)
            assert not waiting.done()
            await holder.idempotency.add(_kept(key))
            await holder.commit()
        await asyncio.wait_for(waiting, 10)
        assert found == [_kept(key)]
    finally:
        await first.dispose()
        await second.dispose()


async def test_a_posting_without_a_key_makes_no_query_of_kept_answers(sql_store: SqlStore) -> None:
    """The busiest path stays as it was: only a posting with a key reads kept answers (and on
    PostgreSQL takes the key's advisory lock). The grouped write names the table whatever the
    group (one statement for every group), with no rows for a group without keys."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(str(args[2]))

    def record_the_drivers(dbapi_connection: Any, *args: Any) -> None:
        # The grouped path sends its statements to asyncpg itself, on kept connections.
        driver = dbapi_connection.driver_connection
        if hasattr(driver, "add_query_logger"):
            driver.add_query_logger(lambda query: statements.append(query.query))

    ledger = Ledger(sql_store.unit_of_work, postings=sql_store.posting_unit_of_work)
    number = str((await ledger.open_account(OpenAccountCommand("Ada", "savings"))).number)
    event.listen(sql_store.engine.sync_engine, "before_cursor_execute", record)
    event.listen(sql_store.engine.sync_engine, "checkout", record_the_drivers)
    try:
        await ledger.post_transaction(PostTransactionCommand(number, "5.00", "deposit"))
        await asyncio.sleep(0)  # the query loggers are called soon after each statement
        assert statements
        keyed = [
            s
            for s in statements
            if ("idempotency" in s or "advisory" in s) and s != WRITE_GROUP.sql
        ]
        assert not keyed, statements
        claim: IdempotencyClaim[PostedTransaction] = IdempotencyClaim(
            _key(), "f", _answer, _refusal
        )
        await ledger.post_transaction(
            PostTransactionCommand(number, "5.00", "deposit", idempotency=claim)
        )
        await asyncio.sleep(0)
        assert [s for s in statements if "idempotency_keys" in s and s != WRITE_GROUP.sql]
    finally:
        event.remove(sql_store.engine.sync_engine, "before_cursor_execute", record)
        event.remove(sql_store.engine.sync_engine, "checkout", record_the_drivers)
