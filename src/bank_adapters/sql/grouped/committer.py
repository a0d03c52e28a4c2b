"""The scheduler of grouped postings: it gathers the postings that arrive into a group, starts
the group's writing, keeps two groups that share an account apart, and hands out the writers.

A process writes up to MAX_GROUPS_IN_FLIGHT groups at once, each on a writer (a kept
connection) of its own: while one waits for its commit's flush, the next one's postings run.
A group that shares an account with one in flight waits for it in the process, gathering
meanwhile, rather than on the row lock in the database, holding a connection. Likewise a
member whose idempotency key a group of this process holds (its earlier attempt's, which left
it) waits until that group has ended: two groups of one process never bring one key.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Final

from sqlalchemy.ext.asyncio import AsyncEngine

from bank_adapters.sql.errors import failure_to_share
from bank_adapters.sql.grouped.group import Group
from bank_adapters.sql.grouped.group_writer import lock_write_and_commit
from bank_adapters.sql.grouped.id_reservations import IdReservations
from bank_adapters.sql.grouped.kept_connection import KeptConnection
from bank_adapters.sql.grouped.transaction_lookups import (
    BatchedKeptAnswerLookups,
    BatchedTransactionLookups,
)
from bank_adapters.sql.observation import UNOBSERVED, StoreObserver
from bank_domain.account import Account
from bank_domain.errors import StorageUnavailable
from bank_domain.events import Event
from bank_domain.idempotency import IdempotencyKey, KeptRequest
from bank_domain.identifiers import AccountNumber, TransactionId
from bank_domain.journal import JournalEntry
from bank_domain.transaction import Transaction

MAX_GROUP_SIZE: Final = 512
"""Postings one group takes at most; later ones wait for the next group."""

MAX_GROUPS_IN_FLIGHT: Final = 2
"""Groups one process writes at once, each on its own connection."""


class GroupCommitter:
    """Make one per process and share it; its members (``GroupMemberUnitOfWork``) serve
    ``PostTransaction`` (``Ledger(postings=...)``)."""

    def __init__(
        self,
        engine: AsyncEngine,
        max_group_size: int = MAX_GROUP_SIZE,
        max_groups_in_flight: int = MAX_GROUPS_IN_FLIGHT,
        observer: StoreObserver = UNOBSERVED,
    ) -> None:
        """``observer`` is told each committed group's size, and each connection's wait."""
        self._max_group_size = max_group_size
        self._observer = observer
        self._gathering: Group | None = None
        # Kept from one group to the next; taking one from the pool each time costs a ping.
        # A group in flight holds a writer: the idle ones are the free slots.
        self._idle_writers: asyncio.Queue[KeptConnection] = asyncio.Queue()
        for _ in range(max_groups_in_flight):
            # The writers' statements insert rows, or reach accounts by their key: their
            # generic plans hold (kept_connection.REUSE_PLANS), and planning each of a
            # group's many executions would cost more PostgreSQL time than running them.
            self._idle_writers.put_nowait(
                KeptConnection(engine, reuse_plans=True, observer=observer)
            )
        self._max_groups_in_flight = max_groups_in_flight
        self._in_flight: set[Group] = set()
        self._reservations = IdReservations()
        self._tasks: set[asyncio.Task[None]] = set()
        self._lookups = BatchedTransactionLookups(KeptConnection(engine, observer=observer))
        self._kept_lookups = BatchedKeptAnswerLookups(KeptConnection(engine, observer=observer))
        self._groups_by_key: dict[IdempotencyKey, Group] = {}

    # --- What a member asks for, in the port's order ---------------------------------------------

    async def get_kept(self, key: IdempotencyKey) -> KeptRequest | None:
        """The answer kept for an idempotency key (a member's claim), committed before the
        look-up's batch was read; the key is taken later, by the group (``join``)."""
        return await self._kept_lookups.get(key)

    def begin_lookup(self) -> int:
        return self._reservations.begin_lookup()

    def end_lookup(self, began_at: int) -> None:
        self._reservations.end_lookup(began_at)

    async def get_transaction(self, transaction_id: TransactionId) -> Transaction | None:
        """A stored transaction; one still being written is waited for, then read."""
        writing = self._reservations.writing(transaction_id)
        if writing is not None:
            await writing.until_ended()
        return await self._lookups.get(transaction_id)

    async def join(self, number: AccountNumber, key: IdempotencyKey | None = None) -> Group:
        """Joins the gathering group (starting one if none), and waits until it has the lock
        of the account's row, and of ``key`` (the member's claimed idempotency key): raises
        IdempotencyKeyInUse or KeyAnsweredMeanwhile (``Group.require_key``), having left the
        group, when the key was not the member's to use. The member leaves the group with
        ``Group.leave``."""
        if key is not None:
            while (holding := self._groups_by_key.get(key)) and not holding.has_ended():
                await holding.until_ended()
        group = self._gathering
        if group is None or group.size >= self._max_group_size:
            group = self._start_group()
        group.admit(number, key)
        if key is not None:
            self._groups_by_key[key] = group
        try:
            await group.until_locked()
            group.require_key(key)
        except BaseException:
            group.leave()
            raise
        return group

    def hand_over(
        self,
        group: Group,
        transactions: list[Transaction],
        accounts: list[Account],
        entries: list[JournalEntry],
        events: list[Event],
        kept: list[KeptRequest],
        looked_up_at: int | None,
    ) -> None:
        """Gives the group a member's changes, once their ids are claimed; a group that has
        already failed takes nothing (the member learns why from ``Group.until_durable``)."""
        if group.has_ended():
            return
        self._reservations.reserve(
            [transaction.transaction_id for transaction in transactions], group, looked_up_at
        )
        group.hand_over(transactions, accounts, entries, events, kept)

    # --- The groups' lives -----------------------------------------------------------------------

    def _start_group(self) -> Group:
        group = Group()
        self._gathering = group
        task = asyncio.get_running_loop().create_task(self._write(group))
        self._tasks.add(task)
        task.add_done_callback(functools.partial(self._after_write, group))
        return group

    def _after_write(self, group: Group, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        for key in group.keys:
            if self._groups_by_key.get(key) is group:
                del self._groups_by_key[key]
        if not group.has_ended():  # cancelled before its first step: none of it ran
            self._end_failed(group, asyncio.CancelledError())

    async def _write(self, group: Group) -> None:
        try:
            writer = await self._idle_writers.get()
        except BaseException as error:
            self._end_failed(group, error)
            raise
        try:
            await self._until_no_group_in_flight_shares_an_account(group)
            self._stop_gathering(group)
            self._in_flight.add(group)
            await lock_write_and_commit(group, writer)
        except BaseException as error:
            self._end_failed(group, error)
            if not isinstance(error, Exception):
                raise
        else:
            written = group.new_transaction_ids()
            self._reservations.written(written)
            group.succeed()
            self._observer.group_committed(len(written))
        finally:
            self._idle_writers.put_nowait(writer)
            self._in_flight.discard(group)
            self._reservations.release(group.new_transaction_ids())

    async def _until_no_group_in_flight_shares_an_account(self, group: Group) -> None:
        """Two groups on one account would only queue on its row lock in the database, the
        second holding a connection with few postings in it; here it goes on gathering."""
        while True:
            sharing = [other for other in self._in_flight if other.shares_an_account_with(group)]
            if not sharing:
                return
            await sharing[0].until_ended()

    def _stop_gathering(self, group: Group) -> None:
        if self._gathering is group:
            self._gathering = None

    def _end_failed(self, group: Group, error: BaseException) -> None:
        # A failed group takes no more members: they would wait for a write that never comes.
        self._stop_gathering(group)
        if isinstance(error, asyncio.CancelledError):
            group.fail(StorageUnavailable("The group was cancelled; nothing of it was stored."))
        else:
            group.fail(failure_to_share(error, "A group of postings"))

    async def dispose(self) -> None:
        """Ends the groups being written (their postings fail; nothing of them is stored) and
        hands the kept connections back; the store calls this before disposing the pool."""
        while unfinished := [task for task in self._tasks if not task.done()]:
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        # Every writer is idle now; taken out while closing, so that no group starts on one.
        writers = [self._idle_writers.get_nowait() for _ in range(self._max_groups_in_flight)]
        for writer in writers:
            await writer.close()
        for writer in writers:
            self._idle_writers.put_nowait(writer)
        await self._lookups.close()
        await self._kept_lookups.close()
