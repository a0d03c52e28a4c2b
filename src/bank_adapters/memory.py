"""The in-memory store: for fast tests and for library users who need no database.

Safe under concurrent tasks on one event loop: ``get_for_update`` takes one asyncio lock per
account, held until the unit of work ends. Changes are staged in the unit of work and applied
all at once on ``commit()``, so a unit of work left without a commit leaves no trace. A
read-only unit of work refuses every lock and change at once (RuntimeError), so a use case that
misuses one fails on memory too, not only on a database.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime

from bank_domain.account import Account
from bank_domain.api_keys import ApiKey
from bank_domain.errors import (
    DuplicateAccountNumber,
    DuplicateTransactionId,
    DuplicateTransferId,
    IdempotencyKeyInUse,
    StorageUnavailable,
)
from bank_domain.events import Event, FeedPosition
from bank_domain.idempotency import IdempotencyKey, KeptRequest
from bank_domain.identifiers import AccountNumber, TransactionId, TransferId
from bank_domain.journal import JournalEntry
from bank_domain.money import Money
from bank_domain.ports import (
    AccountQuery,
    AccountRepository,
    ApiKeyQuery,
    ApiKeyRepository,
    EntryQuery,
    EntryTotals,
    EventQuery,
    EventRepository,
    IdempotencyRepository,
    JournalRepository,
    TransactionHistoryQuery,
    TransactionQuery,
    TransactionRepository,
    UnitOfWork,
)
from bank_domain.transaction import Transaction, TransactionStatus, TransactionType


class InMemoryStore:
    """The committed state, shared by every unit of work made from it."""

    def __init__(self) -> None:
        self.accounts: dict[AccountNumber, Account] = {}
        self.transactions: dict[TransactionId, Transaction] = {}
        self.transfer_legs: defaultdict[TransferId, dict[TransactionType, TransactionId]] = (
            defaultdict(dict)
        )
        """Each transfer's legs by kind (a database's unique index on the two)."""
        self.api_keys: dict[str, ApiKey] = {}
        self.events: list[Event] = []
        """In commit order; an event's id is its place in this list, from 1."""
        self.journal: defaultdict[AccountNumber, list[JournalEntry]] = defaultdict(list)
        """Each account's entries in order: entry ``n`` is at index ``n - 1``; only appended."""
        self.account_locks: defaultdict[AccountNumber, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.kept_requests: dict[IdempotencyKey, KeptRequest] = {}
        self.claimed_keys: set[IdempotencyKey] = set()
        """The idempotency keys that a unit of work holds (``claim``), until it ends."""

    def unit_of_work(self, *, read_only: bool = False) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self, read_only=read_only)

    def read_unit_of_work(self, *, read_only: bool = True) -> InMemoryUnitOfWork:
        """The same as ``unit_of_work(read_only=True)``: memory has no standby."""
        if not read_only:
            raise ValueError("A read that may lag changes nothing: read_only must be true.")
        return self.unit_of_work(read_only=True)

    def posting_unit_of_work(self) -> InMemoryUnitOfWork:
        return self.unit_of_work()

    async def ping(self) -> None:
        """Memory always answers."""

    async def dispose(self) -> None:
        """Nothing to release."""


class _InMemoryAccounts(AccountRepository):
    def __init__(self, store: InMemoryStore, uow: InMemoryUnitOfWork) -> None:
        self._store = store
        self._uow = uow
        self.staged: dict[AccountNumber, Account] = {}
        self.added: set[AccountNumber] = set()

    async def get(self, number: AccountNumber) -> Account | None:
        found = self.staged.get(number) or self._store.accounts.get(number)
        return copy.copy(found) if found else None

    async def get_for_update(self, number: AccountNumber) -> Account | None:
        self._uow.refuse_if_read_only("accounts.get_for_update")
        await self._uow.lock(number)
        return await self.get(number)

    async def number_taken(self, number: AccountNumber) -> bool:
        return number in self.staged or number in self._store.accounts

    async def add(self, account: Account) -> None:
        self._uow.refuse_if_read_only("accounts.add")
        if await self.number_taken(account.number):
            raise DuplicateAccountNumber(str(account.number))
        self.staged[account.number] = copy.copy(account)
        self.added.add(account.number)
        self._uow.journal.stage(account.take_new_entries())

    async def save(self, account: Account) -> None:
        self._uow.refuse_if_read_only("accounts.save")
        self.staged[account.number] = copy.copy(account)
        self._uow.journal.stage(account.take_new_entries())

    async def expiries_due(self, now: datetime, limit: int) -> list[AccountNumber]:
        due = {number for number, account in self._store.accounts.items() if account.holds_due(now)}
        due.update(t.account_number for t in self._store.transactions.values() if t.is_due(now))
        return sorted(due)[:limit]

    async def list(self, query: AccountQuery) -> list[Account]:
        matching = (
            account
            for number, account in sorted({**self._store.accounts, **self.staged}.items())
            if (query.include_closed or not account.is_closed)
            and (query.after is None or number > query.after)
            and (query.customer_name is None or account.customer_name == query.customer_name)
            and (query.account_type is None or account.account_type is query.account_type)
            and (query.status is None or account.status is query.status)
            and (query.account_numbers is None or number in query.account_numbers)
        )
        return [copy.copy(account) for account in itertools.islice(matching, query.limit)]


class _InMemoryTransactions(TransactionRepository):
    def __init__(self, store: InMemoryStore, uow: InMemoryUnitOfWork) -> None:
        self._store = store
        self._uow = uow
        self.staged: dict[TransactionId, Transaction] = {}
        self.added: set[TransactionId] = set()

    async def get(self, transaction_id: TransactionId) -> Transaction | None:
        found = self.staged.get(transaction_id) or self._store.transactions.get(transaction_id)
        return copy.copy(found) if found else None

    async def transfer_legs(self, transfer_id: TransferId) -> list[Transaction]:
        ids = set(self._store.transfer_legs.get(transfer_id, {}).values())
        ids |= {t.transaction_id for t in self.staged.values() if t.transfer_id == transfer_id}
        return [found for tid in sorted(ids) if (found := await self.get(tid)) is not None]

    async def add(self, transaction: Transaction) -> None:
        self._uow.refuse_if_read_only("transactions.add")
        tid = transaction.transaction_id
        if tid in self.staged or tid in self._store.transactions:
            raise DuplicateTransactionId(str(tid))
        if self.leg_taken(transaction):
            raise DuplicateTransferId(str(transaction.transfer_id))
        self.staged[tid] = copy.copy(transaction)
        self.added.add(tid)

    def leg_taken(self, transaction: Transaction) -> bool:
        """Whether the transfer it is a leg of has a leg of its kind already, stored or staged."""
        transfer_id, kind = transaction.transfer_id, transaction.transaction_type
        return self.leg_stored(transaction) or (
            transfer_id is not None
            and any(
                t.transfer_id == transfer_id and t.transaction_type is kind
                for t in self.staged.values()
            )
        )

    def leg_stored(self, transaction: Transaction) -> bool:
        """Whether a committed transaction is the leg of its kind of its transfer."""
        transfer_id = transaction.transfer_id
        return transfer_id is not None and transaction.transaction_type in (
            self._store.transfer_legs.get(transfer_id, {})
        )

    def commit(self) -> None:
        for tid in self.added:
            transaction = self.staged[tid]
            if transaction.transfer_id is not None:
                legs = self._store.transfer_legs[transaction.transfer_id]
                legs[transaction.transaction_type] = tid
        self._store.transactions.update(self.staged)

    async def save(self, transaction: Transaction) -> None:
        self._uow.refuse_if_read_only("transactions.save")
        self.staged[transaction.transaction_id] = copy.copy(transaction)

    def _of_account(self, number: AccountNumber) -> list[Transaction]:
        every = {**self._store.transactions, **self.staged}.values()
        return [t for t in every if t.account_number == number and not t.is_deleted]

    async def pending(self, account_number: AccountNumber) -> list[Transaction]:
        return sorted(
            (
                copy.copy(t)
                for t in self._of_account(account_number)
                if t.status is TransactionStatus.PENDING
            ),
            key=lambda t: (t.timestamp, t.transaction_id),
        )

    async def list(self, query: TransactionQuery) -> list[Transaction]:
        ordered = sorted(
            self._of_account(query.account_number),
            key=lambda t: (t.timestamp, t.transaction_id),
        )
        matching = (
            t
            for t in ordered
            if (query.after is None or (t.timestamp, t.transaction_id) > query.after)
            and (query.transaction_type is None or t.transaction_type is query.transaction_type)
            and (query.status is None or _seen_status(t, query.as_of) is query.status)
            and (query.since is None or t.timestamp >= query.since)
            and (query.until is None or t.timestamp <= query.until)
        )
        return [copy.copy(t) for t in itertools.islice(matching, query.limit)]


def _seen_status(transaction: Transaction, now: datetime | None) -> TransactionStatus:
    return transaction.status if now is None else transaction.seen_at(now).status


class _InMemoryApiKeys(ApiKeyRepository):
    def __init__(self, store: InMemoryStore, uow: InMemoryUnitOfWork) -> None:
        self._store = store
        self._uow = uow
        self.staged: dict[str, ApiKey] = {}
        self.added: set[str] = set()

    def _every(self) -> dict[str, ApiKey]:
        return {**self._store.api_keys, **self.staged}

    async def get(self, key_id: str) -> ApiKey | None:
        found = self.staged.get(key_id) or self._store.api_keys.get(key_id)
        return copy.copy(found) if found else None

    async def get_by_secret_hash(self, secret_hash: str) -> ApiKey | None:
        for key in self._every().values():
            if key.secret_hash == secret_hash:
                return copy.copy(key)
        return None

    async def add(self, key: ApiKey) -> None:
        self._uow.refuse_if_read_only("api_keys.add")
        if self._taken(key):
            raise _same_key_taken()
        self.staged[key.key_id] = copy.copy(key)
        self.added.add(key.key_id)

    def _taken(self, key: ApiKey) -> bool:
        every = self._every()
        return key.key_id in every or any(k.secret_hash == key.secret_hash for k in every.values())

    async def save(self, key: ApiKey) -> None:
        self._uow.refuse_if_read_only("api_keys.save")
        self.staged[key.key_id] = copy.copy(key)

    async def list(self, query: ApiKeyQuery) -> list[ApiKey]:
        ordered = sorted(self._every().values(), key=lambda k: (k.created_at, k.key_id))
        matching = (
            k for k in ordered if query.after is None or (k.created_at, k.key_id) > query.after
        )
        return [copy.copy(k) for k in itertools.islice(matching, query.limit)]


class _InMemoryEvents(EventRepository):
    """Events are appended at commit, one unit of work at a time, so their order in the list
    is the order they were committed in."""

    def __init__(self, store: InMemoryStore, uow: InMemoryUnitOfWork) -> None:
        self._store = store
        self._uow = uow
        self.staged: list[Event] = []

    async def add(self, event: Event) -> None:
        self._uow.refuse_if_read_only("events.add")
        self.staged.append(event)

    async def transaction_history(self, query: TransactionHistoryQuery) -> list[Event]:
        matching = (
            event
            for event in self._store.events
            if event.transaction_id == query.transaction_id
            and isinstance(event.subject, Transaction)
            and event.subject.version > query.after_version
        )
        return list(itertools.islice(matching, query.limit))

    async def list(self, query: EventQuery) -> list[Event]:
        matching = (
            event
            for event in self._store.events[query.after.event_id :]
            if (query.account_number is None or event.account_number == query.account_number)
            and (query.event_type is None or event.type is query.event_type)
            and (
                query.account_numbers is None
                or (
                    event.account_number is not None
                    and event.account_number in query.account_numbers
                )
            )
        )
        return list(itertools.islice(matching, query.limit))

    def commit(self) -> None:
        for event in self.staged:
            position = FeedPosition(0, len(self._store.events) + 1)
            self._store.events.append(dataclasses.replace(event, position=position))


class _InMemoryJournal(JournalRepository):
    def __init__(self, store: InMemoryStore, uow: InMemoryUnitOfWork) -> None:
        self._store = store
        self._uow = uow
        self.staged: list[JournalEntry] = []

    def stage(self, entries: list[JournalEntry]) -> None:
        self.staged.extend(entries)

    def _entries(self, number: AccountNumber, up_to_entry_id: int) -> list[JournalEntry]:
        return [e for e in self._store.journal.get(number, ()) if e.entry_id <= up_to_entry_id]

    async def list(self, query: EntryQuery) -> list[JournalEntry]:
        matching = (
            entry
            for entry in self._entries(query.account_number, query.up_to_entry_id)
            if (query.after is None or (entry.posted_at, entry.entry_id) > query.after)
            and (query.since is None or entry.posted_at >= query.since)
            and (query.until is None or entry.posted_at <= query.until)
        )
        return list(itertools.islice(matching, query.limit))

    async def list_of_accounts(self, heads: Mapping[AccountNumber, int]) -> Sequence[JournalEntry]:
        return [
            entry
            for number in sorted(heads, key=lambda number: number.value)
            for entry in self._entries(number, heads[number])
        ]

    async def last_posted(
        self,
        account_number: AccountNumber,
        moment: datetime,
        *,
        inclusive: bool,
        up_to_entry_id: int,
    ) -> JournalEntry | None:
        found = None
        for entry in self._entries(account_number, up_to_entry_id):
            if entry.posted_at < moment or (inclusive and entry.posted_at == moment):
                found = entry
        return found

    async def totals(
        self,
        account_number: AccountNumber,
        since: datetime,
        until: datetime,
        *,
        up_to_entry_id: int,
    ) -> EntryTotals:
        credits = debits = Money.zero()
        count = 0
        for entry in self._entries(account_number, up_to_entry_id):
            if since <= entry.posted_at <= until:
                count += 1
                if entry.amount.is_negative():
                    debits -= entry.amount
                else:
                    credits += entry.amount
        return EntryTotals(credits, debits, count)

    async def sum_of_amounts(self, account_number: AccountNumber) -> Money:
        total = Money.zero()
        for entry in self._store.journal.get(account_number, ()):
            total += entry.amount
        return total

    def check_follows(self) -> None:
        """Refuses entries that do not continue their journals: what a database's primary key
        and the account's lock rule out, so a bug that must not reach the books."""
        counts: dict[AccountNumber, int] = {}
        for entry in self.staged:
            number = entry.account_number
            count = counts.get(number, len(self._store.journal.get(number, ())))
            if entry.entry_id != count + 1:
                raise RuntimeError(
                    f"Entry {entry.entry_id} of account {number} does not follow its "
                    f"journal's {count} entries."
                )
            counts[number] = entry.entry_id

    def commit(self) -> None:
        for entry in self.staged:
            self._store.journal[entry.account_number].append(entry)


class _InMemoryIdempotency(IdempotencyRepository):
    """A key is held by one unit of work at a time: another's ``claim`` is refused at once."""

    def __init__(self, store: InMemoryStore, uow: InMemoryUnitOfWork) -> None:
        self._store = store
        self._uow = uow
        self.staged: dict[IdempotencyKey, KeptRequest] = {}
        self.removed: set[IdempotencyKey] = set()

    async def claim(self, key: IdempotencyKey) -> KeptRequest | None:
        self._uow.hold_key(key)
        return self.staged.get(key) or self._store.kept_requests.get(key)

    async def add(self, kept: KeptRequest) -> None:
        self._uow.refuse_if_read_only("idempotency.add")
        if kept.key in self.staged or kept.key in self._store.kept_requests:
            raise IdempotencyKeyInUse()
        self.staged[kept.key] = kept

    async def remove_expired(self, before: datetime, limit: int) -> int:
        self._uow.refuse_if_read_only("idempotency.remove_expired")
        expired = (
            key
            for key, kept in self._store.kept_requests.items()
            if kept.created_at < before and key not in self.removed
        )
        found = list(itertools.islice(expired, limit))
        self.removed.update(found)
        return len(found)

    def check_free(self) -> None:
        if any(key in self._store.kept_requests for key in self.staged):
            raise IdempotencyKeyInUse()

    def commit(self) -> None:
        for key in self.removed:
            self._store.kept_requests.pop(key, None)
        self._store.kept_requests.update(self.staged)


def _same_key_taken() -> StorageUnavailable:
    """Two keys with one random id or one secret's hash: as on SQL, a race worth retrying."""
    return StorageUnavailable("Another change took the same key; try again.")


class InMemoryUnitOfWork(UnitOfWork):
    def __init__(self, store: InMemoryStore, *, read_only: bool = False) -> None:
        self._store = store
        self.read_only = read_only
        self._held: list[asyncio.Lock] = []
        self._held_numbers: set[AccountNumber] = set()
        self._held_keys: set[IdempotencyKey] = set()
        self.accounts: _InMemoryAccounts = _InMemoryAccounts(store, self)
        self.transactions: _InMemoryTransactions = _InMemoryTransactions(store, self)
        self.api_keys: _InMemoryApiKeys = _InMemoryApiKeys(store, self)
        self.events: _InMemoryEvents = _InMemoryEvents(store, self)
        self.journal: _InMemoryJournal = _InMemoryJournal(store, self)
        self.idempotency: _InMemoryIdempotency = _InMemoryIdempotency(store, self)

    def hold_key(self, key: IdempotencyKey) -> None:
        if key in self._held_keys:
            return
        if key in self._store.claimed_keys:
            raise IdempotencyKeyInUse()
        self._store.claimed_keys.add(key)
        self._held_keys.add(key)

    async def lock(self, number: AccountNumber) -> None:
        if number in self._held_numbers:
            return
        lock = self._store.account_locks[number]
        await lock.acquire()
        self._held.append(lock)
        self._held_numbers.add(number)

    def refuse_if_read_only(self, operation: str) -> None:
        if self.read_only:
            raise RuntimeError(f"A read-only unit of work only reads: {operation} is refused.")

    async def commit(self) -> None:
        self.refuse_if_read_only("commit")
        # Check every insert before applying any, so a refused commit changes nothing.
        for number in self.accounts.added:
            if number in self._store.accounts:
                raise DuplicateAccountNumber(str(number))
        for tid in self.transactions.added:
            if tid in self._store.transactions:
                raise DuplicateTransactionId(str(tid))
            added = self.transactions.staged[tid]
            if self.transactions.leg_stored(added):
                raise DuplicateTransferId(str(added.transfer_id))
        for key_id in self.api_keys.added:
            if key_id in self._store.api_keys:
                raise _same_key_taken()
        self.journal.check_follows()
        self.idempotency.check_free()
        self._store.accounts.update(self.accounts.staged)
        self.transactions.commit()
        self._store.api_keys.update(self.api_keys.staged)
        self.events.commit()
        self.journal.commit()
        self.idempotency.commit()
        self._discard()

    async def rollback(self) -> None:
        self._discard()

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self.rollback()
        finally:
            for lock in reversed(self._held):
                lock.release()
            self._held.clear()
            self._held_numbers.clear()
            self._store.claimed_keys.difference_update(self._held_keys)
            self._held_keys.clear()

    def _discard(self) -> None:
        self.accounts = _InMemoryAccounts(self._store, self)
        self.transactions = _InMemoryTransactions(self._store, self)
        self.api_keys = _InMemoryApiKeys(self._store, self)
        self.events = _InMemoryEvents(self._store, self)
        self.journal = _InMemoryJournal(self._store, self)
        self.idempotency = _InMemoryIdempotency(self._store, self)
