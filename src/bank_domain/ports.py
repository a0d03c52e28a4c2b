"""What the use cases need from a store, named by capability. Adapters implement these."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from bank_domain.account import Account, AccountStatus, AccountType
from bank_domain.api_keys import ApiKey
from bank_domain.events import Event, EventType, FeedPosition
from bank_domain.idempotency import IdempotencyKey, KeptRequest
from bank_domain.identifiers import AccountNumber, TransactionId, TransferId
from bank_domain.journal import JournalEntry
from bank_domain.money import Money
from bank_domain.transaction import Transaction, TransactionStatus, TransactionType


@dataclass(frozen=True, slots=True)
class AccountQuery:
    """Open accounts in account-number order, after ``after``, at most ``limit`` of them;
    only those in ``account_numbers`` unless it is None (what a restricted actor may see)."""

    limit: int
    after: AccountNumber | None = None
    customer_name: str | None = None
    account_type: AccountType | None = None
    status: AccountStatus | None = None
    account_numbers: frozenset[AccountNumber] | None = None
    include_closed: bool = False
    """Closed accounts too (an operator's check of every journal), else open ones only."""


@dataclass(frozen=True, slots=True)
class TransactionQuery:
    """An account's transactions that are not deleted, oldest first (timestamp, then id)."""

    account_number: AccountNumber
    limit: int
    after: tuple[datetime, TransactionId] | None = None
    transaction_type: TransactionType | None = None
    status: TransactionStatus | None = None
    since: datetime | None = None
    until: datetime | None = None
    as_of: datetime | None = None
    """The moment the status filter is judged at: a pending transaction whose expires_at has
    come by then is cancelled (``Transaction.is_due``), recorded or not. None: as stored."""


@dataclass(frozen=True, slots=True)
class ApiKeyQuery:
    """API keys in (created_at, key_id) order, after ``after``, at most ``limit`` of them."""

    limit: int
    after: tuple[datetime, str] | None = None


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Events after ``after`` in feed order, at most ``limit`` of them, that the reader may see:
    only those about ``account_numbers`` unless it is None (an API key's events are about no
    account, so a restricted reader never sees them)."""

    limit: int
    after: FeedPosition
    account_number: AccountNumber | None = None
    event_type: EventType | None = None
    account_numbers: frozenset[AccountNumber] | None = None


@dataclass(frozen=True, slots=True)
class TransactionHistoryQuery:
    """A transaction's events (its versions), in the order they were recorded."""

    transaction_id: TransactionId
    limit: int
    after_version: int = 0


EntryPosition = tuple[datetime, int]
"""Where an entry stands in its account's journal: (posted_at, entry_id). An account's entries
are in posting-time order (``ChainHead.posting_time``), so this order is the entry-id order,
and an index on (account, posted_at) serves both a listing and a span of time."""


@dataclass(frozen=True, slots=True)
class EntryQuery:
    """An account's journal entries in order, after ``after``, at most ``limit`` of them, none
    above ``up_to_entry_id`` (the last entry the account's row knew of when it was read, so
    that a reading made of several queries sees one journal); ``since`` and ``until`` bound
    ``posted_at``, both inclusive."""

    account_number: AccountNumber
    limit: int
    up_to_entry_id: int
    after: EntryPosition | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class EntryTotals:
    """The entries of an account posted in a span of time, summed: ``credits`` the positive
    amounts, ``debits`` the negative ones as a positive number."""

    credits: Money
    debits: Money
    entry_count: int


class AccountRepository(abc.ABC):
    @abc.abstractmethod
    async def get(self, number: AccountNumber) -> Account | None:
        """The account with this number, closed ones included; no lock is taken."""

    @abc.abstractmethod
    async def get_for_update(self, number: AccountNumber) -> Account | None:
        """The account, locked against every other unit of work until this one ends.

        This must be the first read of the account in the unit of work, so that the balance it
        returns is the one the lock protects. A unit of work that locks several accounts locks
        them with ``get_many_for_update``, never one by one in another order.
        """

    async def get_many_for_update(
        self, numbers: Iterable[AccountNumber]
    ) -> dict[AccountNumber, Account]:
        """The accounts with these numbers (closed ones included; a number no account has is
        left out), each locked once, in account-number order: every unit of work that touches
        several accounts (a transfer, a batch) takes their locks in that one order, so no two
        of them ever wait for each other in a circle (a deadlock). Each must be the first read
        of its account in the unit of work, as for ``get_for_update``.

        This way of doing it, ``get_for_update`` in ascending order, is enough for any store
        whose ``get_for_update`` waits for the lock; a store may take them in one go."""
        found: dict[AccountNumber, Account] = {}
        for number in sorted(set(numbers)):
            account = await self.get_for_update(number)
            if account is not None:
                found[number] = account
        return found

    @abc.abstractmethod
    async def number_taken(self, number: AccountNumber) -> bool:
        """Whether any account, closed ones included, ever had this number."""

    @abc.abstractmethod
    async def add(self, account: Account) -> None:
        """Stores a new account and appends its journal entries (``take_new_entries``); a taken
        number raises DuplicateAccountNumber here or at commit."""

    @abc.abstractmethod
    async def save(self, account: Account) -> None:
        """Stores the changes to an account read in this unit of work, and appends the journal
        entries it made (``take_new_entries``): a balance never moves without its entry."""

    @abc.abstractmethod
    async def expiries_due(self, now: datetime, limit: int) -> list[AccountNumber]:
        """Up to ``limit`` accounts, in account-number order, with an expiry to record by
        ``now``: a pending transaction whose expires_at has come, or a ``next_hold_expiry``
        that has (which an expiry recorded then makes exact again)."""

    @abc.abstractmethod
    async def list(self, query: AccountQuery) -> list[Account]: ...


class TransactionRepository(abc.ABC):
    @abc.abstractmethod
    async def get(self, transaction_id: TransactionId) -> Transaction | None:
        """The transaction with this id, deleted ones included."""

    async def get_many(
        self, transaction_ids: Iterable[TransactionId]
    ) -> dict[TransactionId, Transaction]:
        """The transactions with these ids that exist, deleted ones included, by id; one
        ``get`` after another unless the store reads them in one go."""
        found: dict[TransactionId, Transaction] = {}
        for transaction_id in transaction_ids:
            transaction = await self.get(transaction_id)
            if transaction is not None:
                found[transaction_id] = transaction
        return found

    @abc.abstractmethod
    async def transfer_legs(self, transfer_id: TransferId) -> list[Transaction]:
        """The transactions that are legs of this transfer (none, or its two)."""

    @abc.abstractmethod
    async def add(self, transaction: Transaction) -> None:
        """Stores a new transaction; a taken id raises DuplicateTransactionId, and a second leg
        of one kind for one transfer DuplicateTransferId, here or at commit."""

    @abc.abstractmethod
    async def save(self, transaction: Transaction) -> None: ...

    @abc.abstractmethod
    async def pending(self, account_number: AccountNumber) -> list[Transaction]:
        """The account's pending transactions that are not deleted, as stored (those due to
        expire included), in (timestamp, transaction_id) order."""

    @abc.abstractmethod
    async def list(self, query: TransactionQuery) -> list[Transaction]: ...


class ApiKeyRepository(abc.ABC):
    @abc.abstractmethod
    async def get(self, key_id: str) -> ApiKey | None:
        """The key with this id, revoked and expired ones included."""

    @abc.abstractmethod
    async def get_by_secret_hash(self, secret_hash: str) -> ApiKey | None:
        """The key whose secret has this hash (unique), revoked and expired ones included."""

    @abc.abstractmethod
    async def add(self, key: ApiKey) -> None: ...

    @abc.abstractmethod
    async def save(self, key: ApiKey) -> None:
        """Stores the changes to a key read in this unit of work (its revocation)."""

    @abc.abstractmethod
    async def list(self, query: ApiKeyQuery) -> list[ApiKey]: ...


class EventRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, event: Event) -> None:
        """Records an event, to be committed with the change it tells of (never alone)."""

    @abc.abstractmethod
    async def transaction_history(self, query: TransactionHistoryQuery) -> list[Event]:
        """The transaction's events whose transaction version is above ``after_version``."""

    @abc.abstractmethod
    async def list(self, query: EventQuery) -> list[Event]:
        """Committed events in feed order, each with its position.

        The order is the promise a follower relies on: an event committed after this call
        returns is placed after every event it returned, so a reader that goes on from the
        last position it saw never misses one. (A store may hold back events that committed
        while an older database transaction is still running, until it ends.)"""


class JournalRepository(abc.ABC):
    """Reads the journal. Entries are written only with their account (``AccountRepository``),
    and never changed or removed."""

    @abc.abstractmethod
    async def list(self, query: EntryQuery) -> list[JournalEntry]: ...

    @abc.abstractmethod
    async def list_of_accounts(self, heads: Mapping[AccountNumber, int]) -> Sequence[JournalEntry]:
        """Every entry of the accounts in ``heads``, none above the entry id it gives for each,
        in account-number order and each account's in entry-id order: many short journals in
        one read."""

    @abc.abstractmethod
    async def last_posted(
        self,
        account_number: AccountNumber,
        moment: datetime,
        *,
        inclusive: bool,
        up_to_entry_id: int,
    ) -> JournalEntry | None:
        """The account's last entry posted at or before ``moment`` (strictly before unless
        ``inclusive``), none above ``up_to_entry_id``; None when there is none."""

    @abc.abstractmethod
    async def totals(
        self,
        account_number: AccountNumber,
        since: datetime,
        until: datetime,
        *,
        up_to_entry_id: int,
    ) -> EntryTotals:
        """The account's entries posted from ``since`` to ``until``, both inclusive, none above
        ``up_to_entry_id``, summed."""

    @abc.abstractmethod
    async def sum_of_amounts(self, account_number: AccountNumber) -> Money:
        """Every entry of the account, summed: what its balance must be."""


class IdempotencyRepository(abc.ABC):
    """The answers kept for idempotency keys (``bank_domain.idempotency``). A unit of work
    that uses a key calls ``claim`` first, before any other read or change."""

    @abc.abstractmethod
    async def claim(self, key: IdempotencyKey) -> KeptRequest | None:
        """Takes the key for this unit of work, until it ends, and returns what is kept for it
        (None: nothing yet). Raises IdempotencyKeyInUse at once, without waiting, when another
        unit of work holds the key (a store whose writers run one at a time anyway may instead
        let this one wait its turn)."""

    @abc.abstractmethod
    async def add(self, kept: KeptRequest) -> None:
        """Keeps a request's answer, to be committed with the change it answers. A key that is
        kept already raises IdempotencyKeyInUse, here or at commit (the store's last line of
        defence: ``claim`` should have found it)."""

    @abc.abstractmethod
    async def remove_expired(self, before: datetime, limit: int) -> int:
        """Removes at most ``limit`` kept requests made before ``before``; returns how many."""


class UnitOfWork(abc.ABC):
    """One atomic piece of work on the store.

    ``async with uow:`` opens it; ``await uow.commit()`` makes its changes durable; leaving the
    block any other way (an error, or simply no commit) rolls every change back. Locks taken by
    ``accounts.get_for_update`` are held until the block is left.
    """

    accounts: AccountRepository
    transactions: TransactionRepository
    api_keys: ApiKeyRepository
    events: EventRepository
    journal: JournalRepository
    idempotency: IdempotencyRepository

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.rollback()

    @abc.abstractmethod
    async def commit(self) -> None: ...

    @abc.abstractmethod
    async def rollback(self) -> None:
        """Discards what was not committed; harmless after a commit."""

    async def add_postings(
        self,
        transactions: Sequence[Transaction],
        accounts: Sequence[Account],
        events: Sequence[Event],
    ) -> None:
        """Stores many new transactions, the accounts they moved (locked in this unit of work,
        with the journal entries they made) and their events, in that order: what
        ``transactions.add``, ``accounts.save`` and ``events.add`` of each do, with the same
        refusals (here or at commit), in as few statements as the store can (a batch's write).
        One by one unless the store does better."""
        for transaction in transactions:
            await self.transactions.add(transaction)
        for account in accounts:
            await self.accounts.save(account)
        for event in events:
            await self.events.add(event)


class PostingAccounts(Protocol):
    """The part of AccountRepository that posting a transaction uses."""

    async def get_for_update(self, number: AccountNumber) -> Account | None: ...

    async def save(self, account: Account) -> None: ...


class PostingTransactions(Protocol):
    """The part of TransactionRepository that posting a transaction uses."""

    async def get(self, transaction_id: TransactionId) -> Transaction | None: ...

    async def add(self, transaction: Transaction) -> None: ...


class PostingEvents(Protocol):
    """The part of EventRepository that posting a transaction uses."""

    async def add(self, event: Event) -> None: ...


class PostingIdempotency(Protocol):
    """The part of IdempotencyRepository that posting with an idempotency key uses."""

    async def claim(self, key: IdempotencyKey) -> KeptRequest | None:
        """What is kept for the key (None: nothing yet), and the key taken for this unit of
        work: at once, as ``IdempotencyRepository.claim`` does, or with the account's lock
        (``PostingUnitOfWork``, step 2)."""

    async def add(self, kept: KeptRequest) -> None:
        """Keeps the claimed key's answer, to be committed with the posting it answers."""


class PostingUnitOfWork(Protocol):
    """What posting needs of a unit of work, and no more: a store may serve postings through a
    leaner path (for example, grouping concurrent postings into one database transaction) as
    long as it keeps this contract. Every UnitOfWork is one.

    Its calls come in this order, inside one ``async with``:

    0. for a posting with an idempotency key, first and once, ``idempotency.claim``;
    1. any number of look-ups (``transactions.get``);
    2. exactly one ``accounts.get_for_update``. A store that takes the claimed key only here
       (the grouped one: with the account's lock, in the same database transaction) raises
       IdempotencyKeyInUse when another unit of work holds it, and KeyAnsweredMeanwhile
       (``bank_domain.idempotency``) when an answer was kept for it since the claim looked;
       either way nothing was done;
    3. ``transactions.add``, ``accounts.save`` (of the account locked in 2, with the journal
       entry it made), ``events.add`` (of the posting's event) and ``idempotency.add`` (of the
       claimed key's answer, alone when the posting was refused or repeats a stored one);
    4. ``commit``, at most once: the changes and the kept answer are committed together or
       not at all.

    A store may refuse any other order at once with RuntimeError (the grouped one does: there a
    look-up after the lock could wait for a group that waits for its caller)."""

    @property
    def accounts(self) -> PostingAccounts: ...

    @property
    def transactions(self) -> PostingTransactions: ...

    @property
    def events(self) -> PostingEvents: ...

    @property
    def idempotency(self) -> PostingIdempotency: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    """Makes a unit of work. ``read_only=True`` promises that it will only read: a store may
    then take no write lock for it (SQLite ``BEGIN DEFERRED``, a read-only transaction on
    PostgreSQL), and it refuses ``accounts.get_for_update``, ``add``, ``save`` and ``commit``
    (at once on memory; a SQL store may only refuse at the database)."""

    def __call__(self, *, read_only: bool = False) -> UnitOfWork: ...


PostingUnitOfWorkFactory = Callable[[], PostingUnitOfWork]
Clock = Callable[[], datetime]
