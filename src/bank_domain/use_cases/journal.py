"""Reading the journal: an account's entries, its balance at a time, statements, and the
recomputation of its hash chain (contract section 11).

Every reading starts from the account's row and reads no entry above the last one the row knew
of: entries are only ever appended, under the account's lock and with the row, so the row and
the entries up to its last one are one consistent journal, whatever commits meanwhile, without
holding a snapshot open (a statement of a million lines reads a page at a time).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from bank_domain.access import require_unrestricted
from bank_domain.account import Account
from bank_domain.actors import MASTER, Actor
from bank_domain.errors import InvalidValue
from bank_domain.identifiers import AccountNumber
from bank_domain.journal import ChainChecker, JournalCheck, JournalEntry
from bank_domain.money import Money
from bank_domain.pagination import CursorCodec, Page, cursor_number, not_a_cursor, page_size
from bank_domain.ports import AccountQuery, Clock, EntryPosition, EntryQuery, UnitOfWorkFactory
from bank_domain.use_cases._common import (
    account_number_for_lookup,
    require_open_account,
    utc_now,
    utc_timestamp,
)

ENTRIES_PER_READ: Final = 1000
"""Entries read at a time when a statement streams or a chain is recomputed: memory stays flat
however long the account's history."""

_ACCOUNTS_PER_READ: Final = 500


@dataclass(frozen=True, slots=True)
class ListEntriesQuery:
    account_number: str
    limit: int | None = None
    cursor: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    actor: Actor = MASTER


class ListEntries:
    """An open account's journal entries, oldest first, a page at a time; ``since`` and
    ``until`` bound ``posted_at`` and both include their bounds."""

    def __init__(self, uow: UnitOfWorkFactory, cursors: CursorCodec | None = None) -> None:
        self._uow = uow
        self._cursors = cursors or CursorCodec()

    async def __call__(self, request: ListEntriesQuery) -> Page[JournalEntry]:
        number = account_number_for_lookup(request.account_number, actor=request.actor)
        limit = page_size(request.limit)
        after = None if request.cursor is None else self._position(request.cursor)
        since = utc_timestamp(request.since, "since")
        until = utc_timestamp(request.until, "until")
        async with self._uow(read_only=True) as uow:
            account = require_open_account(
                await uow.accounts.get(number), number, actor=request.actor
            )
            found = await uow.journal.list(
                EntryQuery(
                    number,
                    limit + 1,
                    up_to_entry_id=account.journal.entry_id,
                    after=after,
                    since=since,
                    until=until,
                )
            )
        items = found[:limit]
        if len(found) <= limit:
            return Page(items, None)
        last = items[-1]
        return Page(items, self._cursors.encode([last.posted_at.isoformat(), str(last.entry_id)]))

    def _position(self, cursor: str) -> EntryPosition:
        posted_at, entry_id = self._cursors.decode(cursor, 2)
        try:
            moment = datetime.fromisoformat(posted_at)
        except ValueError:
            raise not_a_cursor() from None
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise not_a_cursor()
        return moment, cursor_number(entry_id)


@dataclass(frozen=True, slots=True)
class BalanceAtTime:
    account_number: AccountNumber
    at: datetime
    balance: Money


class BalanceAt:
    """An open account's balance at a time: the balance after every entry posted at or before
    it (0 before the first). Without a time, now."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(
        self, account_number: str, at: datetime | None = None, *, actor: Actor = MASTER
    ) -> BalanceAtTime:
        number = account_number_for_lookup(account_number, actor=actor)
        moment = utc_timestamp(at, "at")
        async with self._uow(read_only=True) as uow:
            account = require_open_account(await uow.accounts.get(number), number, actor=actor)
            if moment is None:
                # The last entry may carry a time a moment ahead of this process's clock (it
                # was posted by another one): now is never before it.
                moment = account.journal.posting_time(self._clock())
            entry = await uow.journal.last_posted(
                number, moment, inclusive=True, up_to_entry_id=account.journal.entry_id
            )
        return BalanceAtTime(number, moment, _balance_after(entry))


@dataclass(frozen=True, slots=True)
class StatementQuery:
    """``from_`` and ``to`` are both required (None is refused), ``from_`` <= ``to``."""

    account_number: str
    from_: datetime | None
    to: datetime | None
    actor: Actor = MASTER


@dataclass(frozen=True, slots=True)
class Statement:
    """An account's movements from ``from_`` to ``to``, both included:
    ``closing_balance = opening_balance + credits - debits``."""

    account_number: AccountNumber
    from_: datetime
    to: datetime
    opening_balance: Money
    closing_balance: Money
    credits: Money
    debits: Money
    entry_count: int


@dataclass(frozen=True, slots=True)
class _Span:
    account_number: AccountNumber
    from_: datetime
    to: datetime

    @classmethod
    def of(cls, query: StatementQuery) -> _Span:
        number = account_number_for_lookup(query.account_number, actor=query.actor)
        from_ = utc_timestamp(query.from_, "from")
        to = utc_timestamp(query.to, "to")
        if from_ is None:
            raise InvalidValue("from", "from is required: a statement's first moment.")
        if to is None:
            raise InvalidValue("to", "to is required: a statement's last moment.")
        if from_ > to:
            raise InvalidValue("from", "from is at or before to.")
        return cls(number, from_, to)


class MakeStatement:
    """An open account's statement for a span of time: the balance before it, the balance at
    its end, and what came in and went out in between."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, query: StatementQuery) -> Statement:
        span = _Span.of(query)
        number = span.account_number
        async with self._uow(read_only=True) as uow:
            account = require_open_account(
                await uow.accounts.get(number), number, actor=query.actor
            )
            last_id = account.journal.entry_id
            opening = await uow.journal.last_posted(
                number, span.from_, inclusive=False, up_to_entry_id=last_id
            )
            closing = await uow.journal.last_posted(
                number, span.to, inclusive=True, up_to_entry_id=last_id
            )
            totals = await uow.journal.totals(number, span.from_, span.to, up_to_entry_id=last_id)
        return Statement(
            number,
            span.from_,
            span.to,
            opening_balance=_balance_after(opening),
            closing_balance=_balance_after(closing),
            credits=totals.credits,
            debits=totals.debits,
            entry_count=totals.entry_count,
        )


class StatementEntries:
    """The entries of an open account's statement, oldest first, read a page at a time as they
    are consumed. The account is checked (and a bad span refused) when this is awaited, before
    the first entry: a web layer can still answer 404 or 422 then."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, query: StatementQuery) -> AsyncIterator[JournalEntry]:
        span = _Span.of(query)
        number = span.account_number
        async with self._uow(read_only=True) as uow:
            account = require_open_account(
                await uow.accounts.get(number), number, actor=query.actor
            )
        return _entries(
            self._uow,
            EntryQuery(
                number,
                ENTRIES_PER_READ,
                up_to_entry_id=account.journal.entry_id,
                since=span.from_,
                until=span.to,
            ),
        )


class VerifyAccount:
    """Recomputes an open account's hash chain and the sum of its entries from what is stored,
    and holds them against the account's row (its balance, and the last entry it knows of)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, account_number: str, *, actor: Actor = MASTER) -> JournalCheck:
        number = account_number_for_lookup(account_number, actor=actor)
        async with self._uow(read_only=True) as uow:
            account = require_open_account(await uow.accounts.get(number), number, actor=actor)
        return await _check(self._uow, account)


class VerifyEveryJournal:
    """``VerifyAccount`` for every account the ledger ever opened, closed ones included, in
    account-number order: an operator's check (the master key's alone)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, *, actor: Actor = MASTER) -> AsyncIterator[JournalCheck]:
        require_unrestricted(actor, "verify every account")
        after: AccountNumber | None = None
        while True:
            async with self._uow(read_only=True) as uow:
                accounts = await uow.accounts.list(
                    AccountQuery(limit=_ACCOUNTS_PER_READ, after=after, include_closed=True)
                )
            for short, run in _runs_by_journal_length(accounts):
                if short:
                    for check in await _check_short_journals(self._uow, run):
                        yield check
                else:
                    (account,) = run
                    yield await _check(self._uow, account)
            if len(accounts) < _ACCOUNTS_PER_READ:
                return
            after = accounts[-1].number


def _runs_by_journal_length(accounts: list[Account]) -> Iterator[tuple[bool, list[Account]]]:
    """The accounts, in order, as runs of short journals whose entries together fit in one
    read (``(True, run)``), and each long journal alone (``(False, [account])``). An account's
    entry ids count from 1, so its row's last entry id is its journal's length."""
    run: list[Account] = []
    entries = 0
    for account in accounts:
        length = account.journal.entry_id
        if length > ENTRIES_PER_READ:
            if run:
                yield True, run
                run, entries = [], 0
            yield False, [account]
            continue
        if run and entries + length > ENTRIES_PER_READ:
            yield True, run
            run, entries = [], 0
        run.append(account)
        entries += length
    if run:
        yield True, run


async def _check_short_journals(
    uow_factory: UnitOfWorkFactory, accounts: list[Account]
) -> list[JournalCheck]:
    """``_check`` of accounts whose journals together fit in one read, in one query."""
    async with uow_factory(read_only=True) as uow:
        entries = await uow.journal.list_of_accounts(
            {account.number: account.journal.entry_id for account in accounts}
        )
    checkers = {account.number: ChainChecker() for account in accounts}
    for entry in entries:
        checkers[entry.account_number].add(entry)
    return [
        JournalCheck.of(
            account.number,
            account.balance,
            account.journal,
            checkers[account.number].result(),
        )
        for account in accounts
    ]


async def _check(uow_factory: UnitOfWorkFactory, account: Account) -> JournalCheck:
    checker = ChainChecker()
    query = EntryQuery(account.number, ENTRIES_PER_READ, up_to_entry_id=account.journal.entry_id)
    async for entry in _entries(uow_factory, query):
        checker.add(entry)
    return JournalCheck.of(account.number, account.balance, account.journal, checker.result())


async def _entries(
    uow_factory: UnitOfWorkFactory, query: EntryQuery
) -> AsyncIterator[JournalEntry]:
    """Every entry ``query`` matches, a page of ``query.limit`` at a time, each page in its own
    short unit of work."""
    while True:
        async with uow_factory(read_only=True) as uow:
            page = await uow.journal.list(query)
        for entry in page:
            yield entry
        if len(page) < query.limit:
            return
        last = page[-1]
        query = dataclasses.replace(query, after=(last.posted_at, last.entry_id))


def _balance_after(entry: JournalEntry | None) -> Money:
    return Money.zero() if entry is None else entry.balance_after
