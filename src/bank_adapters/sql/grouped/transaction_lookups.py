"""Transactions read by id for grouped postings, many look-ups to a query.

A posting that brings its own transaction_id (an idempotency key, as careful clients send)
first looks the id up. One query per look-up, each on a pooled connection, would cost a
checkout, a ping and a round trip per posting, and queue postings on the pool. Here the
look-ups that arrive while one batch is being read wait together for the next batch, which is
one ``SELECT ... WHERE transaction_id = ANY(...)`` on a kept connection.

Each look-up sees every transaction committed before its batch's query began (READ COMMITTED),
as a query of its own would. A batch whose connection failed, dropped by the database included,
fails its look-ups (StorageUnavailable, a safe retry); the next batch takes a fresh connection.
"""

from __future__ import annotations

import asyncio

from bank_adapters.sql.errors import failure_to_share, storage_errors
from bank_adapters.sql.grouped.driver_statements import GET_TRANSACTIONS
from bank_adapters.sql.grouped.kept_connection import KeptConnection
from bank_adapters.sql.rows import transaction_from_row
from bank_domain.errors import StorageUnavailable
from bank_domain.identifiers import TransactionId
from bank_domain.transaction import Transaction

_Answer = asyncio.Future[Transaction | None]


class BatchedTransactionLookups:
    """Make one per process (``GroupCommitter`` does) and share it."""

    def __init__(self, connection: KeptConnection) -> None:
        self._connection = connection
        self._next_batch: dict[TransactionId, _Answer] = {}
        self._one_batch_at_a_time = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    async def get(self, transaction_id: TransactionId) -> Transaction | None:
        answer = self._next_batch.get(transaction_id)
        if answer is None:
            if not self._next_batch:
                self._schedule_next_batch()
            answer = asyncio.get_running_loop().create_future()
            self._next_batch[transaction_id] = answer
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
                found = await self._read([tid.value for tid in batch])
            except BaseException as error:
                _fail(batch, failure_to_share(error, "A batch of transaction look-ups"))
                if not isinstance(error, Exception):
                    raise
            else:
                for tid, answer in batch.items():
                    if not answer.done():
                        answer.set_result(found.get(tid.value))

    async def _read(self, transaction_ids: list[str]) -> dict[str, Transaction]:
        with storage_errors():
            try:
                rows = await self._connection.read(GET_TRANSACTIONS.sql, transaction_ids)
            except BaseException:
                await self._connection.drop()
                raise
        transactions = (transaction_from_row(row) for row in rows)
        return {transaction.transaction_id.value: transaction for transaction in transactions}

    async def close(self) -> None:
        """Ends the batches being read (their look-ups fail) and hands the connection back."""
        while unfinished := [task for task in self._tasks if not task.done()]:
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        async with self._one_batch_at_a_time:
            await self._connection.close()


def _fail(batch: dict[TransactionId, _Answer], failure: BaseException) -> None:
    for answer in batch.values():
        if not answer.done():
            answer.set_exception(failure)
            answer.exception()  # an answer nobody awaits any more logs no warning
