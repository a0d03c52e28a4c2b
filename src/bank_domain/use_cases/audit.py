"""Reading the audit trail: the event feed, and a transaction's history."""

from __future__ import annotations

from dataclasses import dataclass

from bank_domain.access import require_visible_account_number, visible_accounts
from bank_domain.actors import MASTER, SYSTEM, Actor
from bank_domain.events import FEED_START, Event, EventType, FeedPosition, TransactionChange
from bank_domain.identifiers import AccountNumber
from bank_domain.pagination import CursorCodec, Page, cursor_number, page_size
from bank_domain.ports import EventQuery, TransactionHistoryQuery, UnitOfWorkFactory
from bank_domain.use_cases._common import (
    PagedRead,
    require_visible_transaction,
    transaction_id_for_lookup,
)


@dataclass(frozen=True, slots=True)
class ListEventsQuery:
    limit: int | None = None
    cursor: str | None = None
    account_number: str | None = None
    event_type: str | None = None
    actor: Actor = MASTER


class ListEvents:
    """Every change, in the order it was committed, a page at a time, for a reader to follow.

    The next cursor is never None: at the end of the feed it names the last event read (or the
    place the reader started from), so that following it later returns the events committed
    since, each exactly once. A filter on an account shows that account's events, closed
    accounts' included; one the actor may not see is not found.
    """

    def __init__(self, uow: UnitOfWorkFactory, cursors: CursorCodec | None = None) -> None:
        self._uow = uow
        self._cursors = cursors or CursorCodec()

    async def __call__(self, request: ListEventsQuery) -> Page[Event]:
        limit = page_size(request.limit)
        after = FEED_START if request.cursor is None else self._position(request.cursor)
        query = EventQuery(
            limit=limit,
            after=after,
            account_number=None
            if request.account_number is None
            else require_visible_account_number(
                request.actor, AccountNumber(request.account_number)
            ),
            event_type=None if request.event_type is None else EventType.parse(request.event_type),
            account_numbers=visible_accounts(request.actor),
        )
        async with self._uow(read_only=True) as uow:
            items = await uow.events.list(query)
        last = items[-1].position if items else after
        assert last is not None, "a stored event has its position"
        return Page(items, self._cursors.encode([str(last.commit_order), str(last.event_id)]))

    def _position(self, cursor: str) -> FeedPosition:
        commit_order, event_id = self._cursors.decode(cursor, 2)
        return FeedPosition(cursor_number(commit_order), cursor_number(event_id))


@dataclass(frozen=True, slots=True)
class TransactionHistoryRequest:
    transaction_id: str
    limit: int | None = None
    cursor: str | None = None
    actor: Actor = MASTER


class TransactionHistory(PagedRead):
    """Every version of a transaction, oldest first, deleted transactions included: only an id
    never used (or one of an account the actor may not see) is not found. A transaction whose
    expiry has come shows its ``expired`` version from that instant, as it will be recorded."""

    async def __call__(self, request: TransactionHistoryRequest) -> Page[TransactionChange]:
        transaction_id = transaction_id_for_lookup(request.transaction_id)
        limit = page_size(request.limit)
        after_version = 0 if request.cursor is None else self._version(request.cursor)
        async with self._uow(read_only=True) as uow:
            stored = require_visible_transaction(
                await uow.transactions.get(transaction_id), transaction_id, actor=request.actor
            )
            found = await uow.events.transaction_history(
                TransactionHistoryQuery(transaction_id, limit + 1, after_version)
            )
        now = self._clock()
        if len(found) <= limit and stored.is_due(now):
            # Its expiry is not recorded yet: the version its record will be (the last).
            expired = stored.seen_at(now)
            recorded = [TransactionChange.of(event).transaction.version for event in found[-1:]]
            if expired.version > after_version and all(v < expired.version for v in recorded):
                found = [
                    *found,
                    Event.of(EventType.TRANSACTION_EXPIRED, expired, SYSTEM, expired.updated_at),
                ]
        items = [TransactionChange.of(event) for event in found[:limit]]
        if len(found) <= limit:
            return Page(items, None)
        return Page(items, self._cursors.encode([str(items[-1].transaction.version)]))

    def _version(self, cursor: str) -> int:
        (version,) = self._cursors.decode(cursor, 1)
        return cursor_number(version)
