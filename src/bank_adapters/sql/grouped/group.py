"""One group: the database transaction its members share, and what they handed over to it.

The committer and the writer move a group through its life (gathering, locked, settled,
ended); its members take turns on its locked rows and hand over their changes. Each of these
is a method here, so that nobody else writes into a group's state.

A member with an idempotency key brings it when it joins: the writer takes the keys' locks in
the group's transaction with the accounts' (group_writer.py), and a member whose key another
process holds, or answered since the member's claim looked, learns it before its turn, alone.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from bank_domain.account import Account
from bank_domain.errors import IdempotencyKeyInUse
from bank_domain.events import Event
from bank_domain.idempotency import IdempotencyKey, KeptRequest, KeyAnsweredMeanwhile
from bank_domain.identifiers import AccountNumber, TransactionId
from bank_domain.journal import JournalEntry
from bank_domain.transaction import Transaction


class Changes(NamedTuple):
    """What a group's members handed over, for the writer to store."""

    transactions: list[Transaction]
    accounts: list[Account]
    entries: list[JournalEntry]
    events: list[Event]
    kept: list[KeptRequest]


class Group:
    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self._numbers: set[AccountNumber] = set()
        self._members = 0
        self._locked: asyncio.Future[None] = loop.create_future()
        self._settled = asyncio.Event()
        self._durable: asyncio.Future[None] = loop.create_future()
        self._accounts: dict[AccountNumber, Account] = {}
        self._turns: dict[AccountNumber, asyncio.Lock] = {}
        self._changed_accounts: dict[AccountNumber, Account] = {}
        self._new_transactions: list[Transaction] = []
        self._entries: list[JournalEntry] = []
        self._events: list[Event] = []
        self._kept: list[KeptRequest] = []
        self._keys: list[IdempotencyKey] = []
        self._keys_in_use: set[IdempotencyKey] = set()
        self._keys_answered: set[IdempotencyKey] = set()
        self._written = False

    # --- Membership --------------------------------------------------------------------------

    @property
    def size(self) -> int:
        return self._members

    def admit(self, number: AccountNumber, key: IdempotencyKey | None = None) -> None:
        """A member for the account, with the idempotency key it claimed (the committer lets
        no two members of its groups in flight bring one key)."""
        self._numbers.add(number)
        if key is not None:
            self._keys.append(key)
        self._members += 1
        self._settled.clear()

    def leave(self) -> None:
        self._members -= 1
        if self._members == 0:
            self._settled.set()

    def shares_an_account_with(self, other: Group) -> bool:
        return not self._numbers.isdisjoint(other._numbers)

    # --- The members' turns on the locked rows -------------------------------------------------

    async def until_locked(self) -> None:
        # Shielded: a member that gives up must not cancel what the other members wait for.
        await asyncio.shield(self._locked)

    def require_key(self, key: IdempotencyKey | None) -> None:
        """Once locked: raises IdempotencyKeyInUse if another process holds the member's key,
        KeyAnsweredMeanwhile if an answer was kept for it since the member's claim looked."""
        if key in self._keys_in_use:
            raise IdempotencyKeyInUse()
        if key in self._keys_answered:
            raise KeyAnsweredMeanwhile()

    async def take_turn(self, number: AccountNumber) -> Account | None:
        """Waits for the members before on this account, and returns its row as they left it;
        None if there is no such account. The caller ends its turn with ``end_turn``."""
        turn = self._turns.get(number)
        if turn is None:
            return None
        await turn.acquire()
        return copy.copy(self._accounts[number])

    def end_turn(self, number: AccountNumber) -> None:
        self._turns[number].release()

    def hand_over(
        self,
        transactions: list[Transaction],
        accounts: list[Account],
        entries: list[JournalEntry],
        events: list[Event],
        kept: list[KeptRequest],
    ) -> None:
        """A member's changes. Its account's row, as handed over, is what the next member on
        the account reads: its balance and where its journal ends, so the next entry follows
        this one's."""
        if self._written:
            raise RuntimeError("A group is written only once every posting in it has settled.")
        self._new_transactions.extend(transactions)
        self._entries.extend(entries)
        self._events.extend(events)
        self._kept.extend(kept)
        for account in accounts:
            self._accounts[account.number] = account
            self._changed_accounts[account.number] = account

    def has_ended(self) -> bool:
        return self._durable.done()

    async def until_durable(self) -> None:
        """Returns once the group is committed; raises its failure if it failed."""
        await asyncio.shield(self._durable)

    async def until_ended(self) -> None:
        """Returns once the group is committed or failed."""
        await asyncio.wait([self._durable])

    # --- The writer's side ---------------------------------------------------------------------

    def numbers_in_lock_order(self) -> list[str]:
        return sorted(number.value for number in self._numbers)

    @property
    def keys(self) -> Sequence[IdempotencyKey]:
        """The idempotency keys its members claimed, in the order they joined (none joins once
        the group is being written)."""
        return self._keys

    def keys_checked(
        self, in_use: Iterable[IdempotencyKey], answered: Iterable[IdempotencyKey]
    ) -> None:
        """Before ``rows_locked``: the keys whose locks another process holds, and those whose
        lock was taken but whose answer another has kept meanwhile."""
        self._keys_in_use = set(in_use)
        self._keys_answered = set(answered)

    def rows_locked(self, accounts: Iterable[Account]) -> None:
        for account in accounts:
            self._accounts[account.number] = account
            self._turns[account.number] = asyncio.Lock()
        self._locked.set_result(None)

    async def changes_once_settled(self) -> Changes:
        """Waits until every member has committed or left, then closes the group to changes.
        Events come in the order their members handed them over: on one account, the order
        of the members' turns, so the feed tells that account's changes in the order made."""
        await self._settled.wait()
        self._written = True
        return Changes(
            self._new_transactions,
            list(self._changed_accounts.values()),
            self._entries,
            self._events,
            self._kept,
        )

    def new_transaction_ids(self) -> list[TransactionId]:
        return [transaction.transaction_id for transaction in self._new_transactions]

    def succeed(self) -> None:
        self._durable.set_result(None)

    def fail(self, failure: BaseException) -> None:
        for future in (self._locked, self._durable):
            if not future.done():
                future.set_exception(failure)
                future.exception()  # a group nobody awaits any more logs no warning
