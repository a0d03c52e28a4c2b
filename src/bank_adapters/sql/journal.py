"""The journal in SQL: entries are appended with their account (``accounts.py``) and read here.

Every read seeks through ``ix_journal_entries_account_posted_at`` (account_number, posted_at,
entry_id) to the first entry it needs, so a page, a statement or a balance at a time costs the
same whatever the account's history before it. An account's entries are in posting-time order
(``ChainHead.posting_time``), so the index's order is also the entry-id order, and
``up_to_entry_id`` only ever leaves out the few entries appended since the account's row was
read, at the end of that order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from bank_adapters.sql.errors import storage_errors
from bank_adapters.sql.rows import journal_entry_from_row, journal_entry_to_row
from bank_adapters.sql.schema import journal_entries
from bank_domain.identifiers import AccountNumber
from bank_domain.journal import JournalEntry
from bank_domain.money import Money
from bank_domain.ports import EntryQuery, EntryTotals, JournalRepository

ENTRY_ORDER = (journal_entries.c.posted_at, journal_entries.c.entry_id)
"""An account's entries in the index's order, which is also their entry-id order."""


class SqlJournalRepository(JournalRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def list(self, query: EntryQuery) -> list[JournalEntry]:
        with storage_errors():
            result = await self._connection.execute(entry_listing(query))
        return [journal_entry_from_row(row) for row in result.mappings()]

    async def list_of_accounts(self, heads: Mapping[AccountNumber, int]) -> Sequence[JournalEntry]:
        if not heads:
            return []
        numbers = sorted(number.value for number in heads)
        statement = (
            select(journal_entries)
            .where(journal_entries.c.account_number.in_(numbers))
            .order_by(journal_entries.c.account_number, *ENTRY_ORDER)
        )
        with storage_errors():
            result = await self._connection.execute(statement)
        entries = (journal_entry_from_row(row) for row in result.mappings())
        return [entry for entry in entries if entry.entry_id <= heads[entry.account_number]]

    async def last_posted(
        self,
        account_number: AccountNumber,
        moment: datetime,
        *,
        inclusive: bool,
        up_to_entry_id: int,
    ) -> JournalEntry | None:
        statement = last_posted_entry(
            account_number, moment, inclusive=inclusive, up_to_entry_id=up_to_entry_id
        )
        with storage_errors():
            result = await self._connection.execute(statement)
        row = result.mappings().one_or_none()
        return None if row is None else journal_entry_from_row(row)

    async def totals(
        self,
        account_number: AccountNumber,
        since: datetime,
        until: datetime,
        *,
        up_to_entry_id: int,
    ) -> EntryTotals:
        statement = entry_totals(account_number, since, until, up_to_entry_id=up_to_entry_id)
        with storage_errors():
            credits, debits, count = (await self._connection.execute(statement)).one()
        return EntryTotals(_money(credits), _money(debits), int(count))

    async def sum_of_amounts(self, account_number: AccountNumber) -> Money:
        statement = select(func.coalesce(func.sum(journal_entries.c.amount_cents), 0)).where(
            journal_entries.c.account_number == account_number.value
        )
        with storage_errors():
            return _money(await self._connection.scalar(statement))


async def append_entries(connection: AsyncConnection, entries: Sequence[JournalEntry]) -> None:
    """Appends an account's new entries, in the caller's unit of work and its error handling:
    one statement (an executemany for more than one entry)."""
    if not entries:
        return
    rows = [journal_entry_to_row(entry) for entry in entries]
    await connection.execute(insert(journal_entries), rows if len(rows) > 1 else rows[0])


def _of_account(account_number: AccountNumber, up_to_entry_id: int) -> list[ColumnElement[bool]]:
    return [
        journal_entries.c.account_number == account_number.value,
        journal_entries.c.entry_id <= up_to_entry_id,
    ]


def entry_listing(query: EntryQuery) -> Select[Any]:
    """A page of an account's entries, in order, from where the query's cursor stands."""
    statement = select(journal_entries).where(
        *_of_account(query.account_number, query.up_to_entry_id)
    )
    if query.after is not None:
        # A row comparison, which both databases seek to in the index; a tuple of plain values
        # takes the columns' types, so the timestamp is in its stored form.
        statement = statement.where(tuple_(*ENTRY_ORDER) > query.after)
    if query.since is not None:
        statement = statement.where(journal_entries.c.posted_at >= query.since)
    if query.until is not None:
        statement = statement.where(journal_entries.c.posted_at <= query.until)
    return statement.order_by(*ENTRY_ORDER).limit(query.limit)


def last_posted_entry(
    account_number: AccountNumber, moment: datetime, *, inclusive: bool, up_to_entry_id: int
) -> Select[Any]:
    """The last entry posted at (``inclusive``) or before ``moment``: the index read backwards
    from ``moment``, one row."""
    posted_at = journal_entries.c.posted_at
    return (
        select(journal_entries)
        .where(
            *_of_account(account_number, up_to_entry_id),
            posted_at <= moment if inclusive else posted_at < moment,
        )
        .order_by(*(column.desc() for column in ENTRY_ORDER))
        .limit(1)
    )


def entry_totals(
    account_number: AccountNumber, since: datetime, until: datetime, *, up_to_entry_id: int
) -> Select[Any]:
    """Credits, debits (as a positive number) and the count of the entries posted from
    ``since`` to ``until``, both included: one aggregate over the index's range."""
    amount = journal_entries.c.amount_cents
    return select(
        func.coalesce(func.sum(case((amount > 0, amount))), 0),
        func.coalesce(func.sum(case((amount < 0, -amount))), 0),
        func.count(),
    ).where(
        *_of_account(account_number, up_to_entry_id),
        journal_entries.c.posted_at >= since,
        journal_entries.c.posted_at <= until,
    )


def _money(cents: Any) -> Money:
    # PostgreSQL sums BIGINTs into an exact NUMERIC (a Decimal of whole cents); SQLite into an
    # integer (or fails on overflow: never a float).
    return Money.from_cents(int(cents))
