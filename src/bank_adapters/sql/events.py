"""Events in SQL: each change's event, written in the change's own database transaction, and
the feed that readers follow.

**The feed's order.** A reader follows the feed from the position of the last event it saw, so
an event must never commit behind a position already handed out. Ids alone do not promise that
on PostgreSQL: a sequence hands them out when rows are inserted, not when their transactions
commit, so a transaction holding id 7 can commit after one holding id 8 has committed and been
read, and a reader gone on from 8 would never see 7.

So every event also keeps the id of the database transaction that wrote it (``commit_order``,
``pg_current_xact_id()``, filled in by the column's default), the feed is ordered by
(``commit_order``, ``event_id``), and a read returns only events whose ``commit_order`` is below
its snapshot's ``xmin`` (``pg_snapshot_xmin(pg_current_snapshot())``, taken in the reading
statement itself). Every transaction id below that horizon has ended (committed, so visible to
this very snapshot, or rolled back); every transaction still running or yet to write has an id
at or above it. What a read returns is therefore complete up to its last position, and whatever
commits later sorts after it. This holds in a READ ONLY transaction too (the horizon needs no
transaction id of the reader's own, and the snapshot is the one the statement reads with), and
a writer reading its own uncommitted events does not see them (its own id counts in ``xmin``).

The cost: the horizon is the id of the oldest transaction still running that has been given
an id (by writing or locking a row), anywhere on the server (every database of the cluster,
prepared transactions too). While it runs, events committed after it began writing are held
back from the feed: delayed, never lost, they appear as soon as it ends. This store's own
transactions last milliseconds, and delay the feed by as much; a long one elsewhere (a
``BEGIN`` left open in psql, a bulk load) holds it back for as long as it runs.

The order is the order in which transactions began writing, which for transactions running at
once may differ from the order they committed. And the ids belong to the server: a restart, a
promoted physical replica and pg_upgrade keep counting on from them, but a dump restored on
another server counts from its own, lower ones, so there the stored events would stay hidden,
and new ones sort before them, until its ids overtake the stored ones. Such a move has to carry
the count over; nothing here does it.

On SQLite the database lock lets one writer in at a time, and an event's id (the rowid) is
taken inside that lock, so ids alone follow commit order: ``commit_order`` is 0 there, as in
memory, and no horizon is needed.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    Text,
    cast,
    func,
    insert,
    select,
    text,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from bank_adapters.sql.errors import storage_errors
from bank_adapters.sql.rows import event_from_row, event_to_row
from bank_adapters.sql.schema import events
from bank_domain.events import Event, EventType
from bank_domain.ports import EventQuery, EventRepository, TransactionHistoryQuery

FEED_ORDER: Final = (events.c.commit_order, events.c.event_id)

ENDED_TRANSACTIONS_HORIZON: Final[ColumnElement[Any]] = cast(
    cast(func.pg_snapshot_xmin(func.pg_current_snapshot()), Text), BigInteger
)
"""PostgreSQL: every transaction whose id is below this has ended, as the reading statement's
snapshot sees it (the xid8 goes through text to compare with the bigint column)."""


class SqlEventRepository(EventRepository):
    def __init__(self, connection: AsyncConnection, *, read_only: bool = False) -> None:
        self._connection = connection
        self._read_only = read_only

    async def add(self, event: Event) -> None:
        if self._read_only:
            raise RuntimeError("events.add records a change: not in a read-only unit of work.")
        with storage_errors():
            await self._connection.execute(insert(events).values(event_to_row(event)))

    async def transaction_history(self, query: TransactionHistoryQuery) -> list[Event]:
        return await _read(self._connection, history_listing(query))

    async def list(self, query: EventQuery) -> list[Event]:
        return await _read(self._connection, event_listing(query, self._connection.dialect.name))


async def _read(connection: AsyncConnection, statement: Select[Any]) -> list[Event]:
    with storage_errors():
        result = await connection.execute(statement)
    return [event_from_row(row) for row in result.mappings()]


def event_listing(query: EventQuery, dialect_name: str) -> Select[Any]:
    """The page of the feed a query asks for, on the given database (see the module's text)."""
    statement = select(events).where(tuple_(*FEED_ORDER) > tuple(query.after))
    if dialect_name == "postgresql":
        statement = statement.where(events.c.commit_order < ENDED_TRANSACTIONS_HORIZON)
    if query.account_number is not None:
        statement = statement.where(events.c.account_number == query.account_number.value)
    if query.event_type is not None:
        statement = statement.where(events.c.type == query.event_type.value)
        if query.event_type is not EventType.TRANSACTION_POSTED:
            # Written out, so that the database sees the query is within the partial index
            # ix_events_by_type (a parameter alone would not show it).
            statement = statement.where(text("type <> 'transaction.posted'"))
    if query.account_numbers is not None:
        # An event about no account (an API key's) has a NULL number, which IN never matches.
        visible = sorted(number.value for number in query.account_numbers)
        statement = statement.where(events.c.account_number.in_(visible))
    return statement.order_by(*FEED_ORDER).limit(query.limit)


def history_listing(query: TransactionHistoryQuery) -> Select[Any]:
    """A transaction's events after a version, in version order. No horizon is needed: a
    transaction's versions are written one after another, each under its account's lock, so
    version order is commit order."""
    return (
        select(events)
        .where(
            events.c.transaction_id == query.transaction_id.value,
            events.c.transaction_version > query.after_version,
        )
        .order_by(events.c.transaction_version, events.c.event_id)
        .limit(query.limit)
    )
