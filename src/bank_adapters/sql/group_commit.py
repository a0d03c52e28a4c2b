"""Postings on PostgreSQL, grouped: many concurrent postings share one database transaction.

A ledger's busiest work is posting, and each posting on its own pays for a whole database
transaction: a round trip per statement and a WAL flush per commit, all while the account's row
is locked. Here the postings that arrive while one group is being written wait together for the
next group, which:

1. locks every account its postings touch with one ``SELECT ... FOR UPDATE``, in account-number
   order (every process locks in that order, so two groups never deadlock);
2. lets each posting run the domain's rules in turn against the locked rows; postings to the
   same account take turns, each seeing the balance its predecessors left;
3. writes what the accepted postings changed (their transaction rows, each account's final row)
   and commits once: one WAL flush for the whole group.

A process writes two groups at once when they share no account: while one waits for its
commit's flush, the other's postings run. A group that shares an account with one in flight
waits for it in the process, gathering meanwhile, rather than on the row lock in the database.

A posting's ``commit()`` returns only once its group is durable. If the group fails to commit,
every posting in it fails with StorageUnavailable and nothing of the group is stored, so a
client's retry is safe. The statements go to the asyncpg driver connection directly (SQLAlchemy
keeps the pool and the schema): on this path SQLAlchemy's own work would cost more than the
database's. A posting that brings its own transaction id looks it up first, batched with the
look-ups of other postings (transaction_lookups.py).
"""

from __future__ import annotations

import asyncio
import copy
from collections import Counter
from types import TracebackType
from typing import Any, Final, Self

from sqlalchemy.ext.asyncio import AsyncEngine

from bank_adapters.sql.driver_statements import (
    INSERT_TRANSACTION,
    LOCK_ACCOUNTS,
    UPDATE_ACCOUNT,
)
from bank_adapters.sql.errors import as_storage_unavailable, storage_errors
from bank_adapters.sql.kept_connection import KeptConnection
from bank_adapters.sql.rows import account_from_row, account_to_row, transaction_to_row
from bank_adapters.sql.transaction_lookups import BatchedTransactionLookups
from bank_domain.account import Account
from bank_domain.errors import DuplicateTransactionId
from bank_domain.identifiers import AccountNumber, TransactionId
from bank_domain.transaction import Transaction

MAX_GROUP_SIZE: Final = 512
"""Postings one group takes at most; later ones wait for the next group."""

MAX_GROUPS_IN_FLIGHT: Final = 2
"""Groups one process writes at once, each on its own connection: while one waits for the
database (its commit's flush), the process runs the next one's postings. A group that shares an
account with one in flight waits for it (and gathers meanwhile) rather than for its row lock."""


class _Group:
    """One database transaction shared by the postings that joined it."""

    def __init__(self) -> None:
        self.numbers: set[AccountNumber] = set()
        self.members = 0
        self.locked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.settled = asyncio.Event()
        self.durable: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.accounts: dict[AccountNumber, Account] = {}
        self.turns: dict[AccountNumber, asyncio.Lock] = {}
        self.changed_accounts: dict[AccountNumber, Account] = {}
        self.new_transactions: list[Transaction] = []
        self.written = False

    def enter(self) -> None:
        self.members += 1
        self.settled.clear()

    def leave(self) -> None:
        self.members -= 1
        if self.members == 0:
            self.settled.set()


class GroupCommitter:
    """Gathers concurrent postings into groups and writes each group in one transaction.

    A process writes up to MAX_GROUPS_IN_FLIGHT groups at once; the next one gathers meanwhile.
    Make one per process and share it; its units of work serve ``PostTransaction``
    (``Ledger(postings=...)``).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        max_group_size: int = MAX_GROUP_SIZE,
        max_groups_in_flight: int = MAX_GROUPS_IN_FLIGHT,
    ) -> None:
        self._max_group_size = max_group_size
        self._gathering: _Group | None = None
        # Kept from one group to the next; taking one from the pool each time costs a ping.
        # A group in flight holds a writer: the idle ones are the free slots.
        self._idle_writers: asyncio.Queue[KeptConnection] = asyncio.Queue()
        for _ in range(max_groups_in_flight):
            self._idle_writers.put_nowait(KeptConnection(engine))
        self._max_groups_in_flight = max_groups_in_flight
        self._in_flight: set[_Group] = set()
        self._pending_ids: dict[TransactionId, _Group] = {}
        # Ids written since a look-up that is still in use began: such a look-up is stale.
        self._groups_written = 0
        self._recently_written: dict[TransactionId, int] = {}
        self._live_lookups: Counter[int] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        self._lookups = BatchedTransactionLookups(KeptConnection(engine))

    def unit_of_work(self) -> GroupedPosting:
        return GroupedPosting(self)

    async def join(self, number: AccountNumber) -> _Group:
        """Joins the gathering group (starting one if none), and waits until it has the lock
        of the account's row."""
        group = self._gathering
        if group is None or group.members >= self._max_group_size:
            group = self._start_group()
        group.numbers.add(number)
        group.enter()
        try:
            await asyncio.shield(group.locked)
        except BaseException:
            group.leave()
            raise
        return group

    def _start_group(self) -> _Group:
        group = _Group()
        self._gathering = group
        task = asyncio.get_running_loop().create_task(self._write(group))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return group

    async def _write(self, group: _Group) -> None:
        writer = await self._idle_writers.get()
        try:
            await self._until_no_group_in_flight_shares_an_account(group)
            if self._gathering is group:
                self._gathering = None
            self._in_flight.add(group)
            await self._lock_write_and_commit(group, writer)
        except BaseException as error:
            failure = as_storage_unavailable(error, "A group of postings")
            for future in (group.locked, group.durable):
                if not future.done():
                    future.set_exception(failure)
                    future.exception()  # a group nobody awaits any more logs no warning
        else:
            self._groups_written += 1
            # Only a look-up still in use can be stale; with none, nothing needs keeping
            # (else the ids of every posting would pile up for the life of the process).
            if self._live_lookups:
                for transaction in group.new_transactions:
                    self._recently_written[transaction.transaction_id] = self._groups_written
            group.durable.set_result(None)
        finally:
            self._idle_writers.put_nowait(writer)
            self._in_flight.discard(group)
            for transaction in group.new_transactions:
                self._pending_ids.pop(transaction.transaction_id, None)

    async def _until_no_group_in_flight_shares_an_account(self, group: _Group) -> None:
        """Two groups on one account would only queue on its row lock in the database, the
        second holding a connection with few postings in it; here it goes on gathering."""
        while True:
            sharing = [other for other in self._in_flight if other.numbers & group.numbers]
            if not sharing:
                return
            await asyncio.wait([sharing[0].durable])  # done, one way or the other, at its end

    async def _lock_write_and_commit(self, group: _Group, writer: KeptConnection) -> None:
        with storage_errors():
            driver = await writer.driver()
            try:
                async with driver.transaction():
                    numbers = sorted(number.value for number in group.numbers)
                    rows = await driver.fetch(LOCK_ACCOUNTS.sql, numbers)
                    for row in rows:
                        account = account_from_row(row)
                        group.accounts[account.number] = account
                        group.turns[account.number] = asyncio.Lock()
                    group.locked.set_result(None)
                    await group.settled.wait()
                    group.written = True
                    await self._write_changes(driver, group)
            except BaseException:
                await writer.drop()
                raise

    async def dispose(self) -> None:
        """Hands the kept connections back; the store calls this before disposing the pool."""
        # Every writer back in the queue: no group is still being written.
        writers = [await self._idle_writers.get() for _ in range(self._max_groups_in_flight)]
        for writer in writers:
            await writer.close()
            self._idle_writers.put_nowait(writer)
        await self._lookups.close()

    @staticmethod
    async def _write_changes(driver: Any, group: _Group) -> None:
        if group.new_transactions:
            await driver.executemany(
                INSERT_TRANSACTION.sql,
                [
                    INSERT_TRANSACTION.arguments(transaction_to_row(t))
                    for t in group.new_transactions
                ],
            )
        if group.changed_accounts:
            await driver.executemany(
                UPDATE_ACCOUNT.sql,
                [
                    UPDATE_ACCOUNT.arguments({**account_to_row(a), "key": number.value})
                    for number, a in group.changed_accounts.items()
                ],
            )

    def reserve_ids(self, new: list[Transaction], group: _Group, looked_up_at: int | None) -> None:
        """Claims the ids of a posting's new transactions. An id that a group is writing, or
        that a group wrote after the posting looked the id up, is a duplicate: the posting's
        look-up could not see it."""
        for transaction in new:
            tid = transaction.transaction_id
            written_by = self._recently_written.get(tid)
            stale = (
                looked_up_at is not None and written_by is not None and written_by > looked_up_at
            )
            if tid in self._pending_ids or stale:
                raise DuplicateTransactionId(str(tid))
        for transaction in new:
            self._pending_ids[transaction.transaction_id] = group

    def begin_lookup(self) -> int:
        self._live_lookups[self._groups_written] += 1
        return self._groups_written

    def end_lookup(self, began_at: int) -> None:
        self._live_lookups[began_at] -= 1
        if self._live_lookups[began_at] == 0:
            del self._live_lookups[began_at]
        oldest = min(self._live_lookups, default=self._groups_written)
        for tid in [t for t, written in self._recently_written.items() if written <= oldest]:
            del self._recently_written[tid]

    async def get_transaction(self, transaction_id: TransactionId) -> Transaction | None:
        """A stored transaction; one still being written is waited for, then read."""
        pending = self._pending_ids.get(transaction_id)
        if pending is not None:
            await asyncio.wait([pending.durable])
        return await self._lookups.get(transaction_id)


class _GroupedAccounts:
    def __init__(self, posting: GroupedPosting) -> None:
        self._posting = posting

    async def get_for_update(self, number: AccountNumber) -> Account | None:
        return await self._posting.take_turn(number)

    async def save(self, account: Account) -> None:
        self._posting.staged_accounts[account.number] = copy.copy(account)


class _GroupedTransactions:
    def __init__(self, posting: GroupedPosting) -> None:
        self._posting = posting

    async def get(self, transaction_id: TransactionId) -> Transaction | None:
        self._posting.note_lookup()
        return await self._posting.committer.get_transaction(transaction_id)

    async def add(self, transaction: Transaction) -> None:
        self._posting.staged_transactions.append(copy.copy(transaction))


class GroupedPosting:
    """A posting's unit of work inside a group: its reads come from the group's locked rows,
    its writes are staged, and ``commit()`` hands them to the group and waits until the group
    is durable. Leaving without a commit hands over nothing."""

    def __init__(self, committer: GroupCommitter) -> None:
        self.committer = committer
        self.accounts = _GroupedAccounts(self)
        self.transactions = _GroupedTransactions(self)
        self.staged_accounts: dict[AccountNumber, Account] = {}
        self.staged_transactions: list[Transaction] = []
        self._group: _Group | None = None
        self._turn: asyncio.Lock | None = None
        self._looked_up_at: int | None = None

    def note_lookup(self) -> None:
        if self._looked_up_at is None:
            self._looked_up_at = self.committer.begin_lookup()

    async def __aenter__(self) -> Self:
        return self

    async def take_turn(self, number: AccountNumber) -> Account | None:
        if self._group is not None:
            raise RuntimeError("A grouped posting locks exactly one account.")
        group = await self.committer.join(number)
        self._group = group
        turn = group.turns.get(number)
        if turn is None:  # no such account: nothing to lock, nothing to wait for
            return None
        await turn.acquire()
        self._turn = turn
        return copy.copy(group.accounts[number])

    async def commit(self) -> None:
        group = self._group
        if group is None:
            raise RuntimeError("A grouped posting commits after locking its account.")
        if group.written:
            raise RuntimeError("A group is written only once every posting in it has settled.")
        self.committer.reserve_ids(self.staged_transactions, group, self._looked_up_at)
        group.new_transactions.extend(self.staged_transactions)
        for number, account in self.staged_accounts.items():
            group.accounts[number] = account
            group.changed_accounts[number] = account
        self.staged_accounts, self.staged_transactions = {}, []
        self._leave()
        await asyncio.shield(group.durable)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.staged_accounts, self.staged_transactions = {}, []
        self._leave()

    def _leave(self) -> None:
        if self._looked_up_at is not None:
            self.committer.end_lookup(self._looked_up_at)
            self._looked_up_at = None
        if self._turn is not None:
            self._turn.release()
            self._turn = None
        if self._group is not None:
            self._group.leave()
            self._group = None
