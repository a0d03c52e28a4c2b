"""Transactions read by id, and answers kept for idempotency keys, for grouped postings, many
look-ups to a query.

A posting that brings its own transaction_id first looks the id up; one with an
Idempotency-Key first looks its key's kept answer up (its claim). One query per look-up, each
on a pooled connection, would cost a checkout, a ping and a round trip per posting, and queue
postings on the pool. Here the look-ups that arrive while one batch is being read wait together
for the next batch, which is one query on a kept connection (``SELECT ... WHERE transaction_id
= ANY(...)``; the kept answers joined to the keys given), one connection for each kind.

Each look-up sees every transaction committed before its batch's query began (READ COMMITTED),
as a query of its own would. A batch whose connection failed, dropped by the database included,
fails its look-ups (StorageUnavailable, a safe retry); the next batch takes a fresh connection.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Hashable
from typing import Any, Generic, TypeVar

from bank_adapters.sql.errors import failure_to_share, storage_errors
from bank_adapters.sql.grouped.driver_statements import GET_KEPT_ANSWERS, GET_TRANSACTIONS
from bank_adapters.sql.grouped.kept_connection import KeptConnection
from bank_adapters.sql.idempotency import kept_from_row
from bank_adapters.sql.rows import transaction_from_row
from bank_domain.errors import StorageUnavailable
from bank_domain.idempotency import IdempotencyKey, KeptRequest
from bank_domain.identifiers import TransactionId
from bank_domain.transaction import Transaction

Key = TypeVar("Key", bound=Hashable)
Found = TypeVar("Found")


class BatchedLookups(abc.ABC, Generic[Key, Found]):
    """Make one of each kind per process (``GroupCommitter`` does) and share it."""

    what = "look-ups"

    def __init__(self, connection: KeptConnection) -> None:
        self._connection = connection
        self._next_batch: dict[Key, asyncio.Future[Found | None]] = {}
        self._one_batch_at_a_time = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    @abc.abstractmethod
    async def _read_rows(self, keys: list[Key]) -> dict[Key, Found]:
        """What is found of the keys, by key; the connection's failures are handled around."""

    async def get(self, key: Key) -> Found | None:
        answer = self._next_batch.get(key)
        if answer is None:
            if not self._next_batch:
                self._schedule_next_batch()
            answer = asyncio.get_running_loop().create_future()
            self._next_batch[key] = answer
        # Shielded: a caller that gives up must not cancel the answer others share.
        return await asyncio.shield(answer)

    def _schedule_next_batch(self) -> None:
        task = asyncio.get_running_loop().create_task(self._read_next_batch())
        self._tasks.add(task)
        task.add_done_callback(self._after_batch)

    def _after_batch(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled() and all(other.done() for other in self._tasks):
            # Cancelled before its first step, it never took the next batch over: no task
            # would ever answer those look-ups.
            unread, self._next_batch = self._next_batch, {}
            _fail(unread, StorageUnavailable("The look-up was cancelled; nothing was read."))

    async def _read_next_batch(self) -> None:
        async with self._one_batch_at_a_time:
            batch, self._next_batch = self._next_batch, {}
            try:
                found = await self._read(list(batch))
            except BaseException as error:
                _fail(batch, failure_to_share(error, f"A batch of {self.what}"))
                if not isinstance(error, Exception):
                    raise
            else:
                for key, answer in batch.items():
                    if not answer.done():
                        answer.set_result(found.get(key))

    async def _read(self, keys: list[Key]) -> dict[Key, Found]:
        with storage_errors():
            try:
                return await self._read_rows(keys)
            except BaseException:
                await self._connection.drop()
                raise

    async def _fetch(self, sql: str, *arguments: Any) -> list[Any]:
        return await self._connection.read(sql, *arguments)

    async def close(self) -> None:
        """Ends the batches being read (their look-ups fail) and hands the connection back."""
        while unfinished := [task for task in self._tasks if not task.done()]:
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        async with self._one_batch_at_a_time:
            await self._connection.close()


class BatchedTransactionLookups(BatchedLookups[TransactionId, Transaction]):
    """Transactions by id."""

    what = "transaction look-ups"

    async def _read_rows(self, keys: list[TransactionId]) -> dict[TransactionId, Transaction]:
        rows = await self._fetch(GET_TRANSACTIONS.sql, [tid.value for tid in keys])
        transactions = (transaction_from_row(row) for row in rows)
        return {transaction.transaction_id: transaction for transaction in transactions}


class BatchedKeptAnswerLookups(BatchedLookups[IdempotencyKey, KeptRequest]):
    """The answers kept for idempotency keys: a grouped posting's claim."""

    what = "kept answer look-ups"

    async def _read_rows(self, keys: list[IdempotencyKey]) -> dict[IdempotencyKey, KeptRequest]:
        rows = await self._fetch(
            GET_KEPT_ANSWERS.sql, [key.scope for key in keys], [key.value for key in keys]
        )
        kept = (kept_from_row(row) for row in rows)
        return {request.key: request for request in kept}


def _fail(batch: dict[Any, asyncio.Future[Any]], failure: BaseException) -> None:
    for answer in batch.values():
        if not answer.done():
            answer.set_exception(failure)
            answer.exception()  # an answer nobody awaits any more logs no warning
