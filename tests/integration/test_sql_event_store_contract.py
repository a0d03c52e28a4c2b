"""The event store's contract, on every store (memory, SQLite, PostgreSQL): an event comes back
field for field; the feed lists committed events in commit order, each with a position above
the one before, filtered as asked; a unit of work that does not commit leaves no event; a
transaction's events are its history, in version order."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

import pytest
from sqlalchemy import select

from bank_adapters.sql import SqlStore
from bank_adapters.sql.schema import events
from bank_adapters.stores import Store
from bank_domain import (
    Account,
    AccountNumber,
    AccountStatus,
    AccountType,
    Event,
    EventType,
    Money,
    Transaction,
    TransactionId,
    TransactionStatus,
    TransactionType,
)
from bank_domain.actors import MASTER, SYSTEM, Actor
from bank_domain.api_keys import ApiKey, Scope, hash_of_secret, new_key_id, new_secret
from bank_domain.events import FEED_START, FeedPosition
from bank_domain.ports import EventQuery, TransactionHistoryQuery
from tests.support import refs

T0: Final = datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=UTC)
KEY_HOLDER: Final = Actor(new_key_id(), request_id="req-7f3a.b_c-1")
FEED_WAIT_SECONDS: Final = 30.0
"""How long a test waits for the events it committed to reach the feed: on PostgreSQL a
transaction running anywhere on the server holds later events back until it ends."""


def an_account(name: str = "Zoë Ölçer-Łukasiewicz 山田") -> Account:
    return Account.open(AccountNumber(refs.account_number()), name, AccountType.SAVINGS, T0)


def a_transaction(account: Account, version: int = 1) -> Transaction:
    transaction = Transaction.new(
        TransactionId(refs.transaction_id()),
        account.number,
        Money(Decimal("12.34")),
        TransactionType.WITHDRAWAL,
        "Rent — März",
        TransactionStatus.SUCCESS,
        T0,
    )
    transaction.record_balance(Money(Decimal("87.66")))
    return dataclasses.replace(
        transaction, version=version, updated_at=T0 + timedelta(microseconds=version)
    )


def a_key() -> ApiKey:
    return ApiKey(
        key_id=new_key_id(),
        name="Nightly report",
        scopes=(Scope.ACCOUNTS_READ, Scope.AUDIT_READ),
        account_numbers=(AccountNumber(refs.account_number()),),
        created_at=T0,
        expires_at=T0 + timedelta(days=30),
        secret_hash=hash_of_secret(new_secret()),
    )


def event(
    subject: Account | Transaction | ApiKey,
    event_type: EventType | None = None,
    actor: Actor = KEY_HOLDER,
) -> Event:
    if event_type is None:
        event_type = {
            Account: EventType.ACCOUNT_OPENED,
            Transaction: EventType.TRANSACTION_POSTED,
            ApiKey: EventType.API_KEY_CREATED,
        }[type(subject)]
    return Event.of(event_type, subject, actor, T0 + timedelta(seconds=1))


def fields(found: Event) -> dict[str, Any]:
    """Everything an event holds but the position the store gave it, subject included."""
    return dataclasses.asdict(dataclasses.replace(found, position=None))


async def record(store: Store, *recorded: Event) -> None:
    async with store.unit_of_work() as uow:
        for one in recorded:
            await uow.events.add(one)
        await uow.commit()


async def listed(store: Store, query: EventQuery) -> list[Event]:
    async with store.unit_of_work(read_only=True) as uow:
        return await uow.events.list(query)


async def whole_feed(store: Store, expected: int) -> list[Event]:
    """The feed from its start, read once it holds ``expected`` events (or the wait is over)."""
    deadline = asyncio.get_running_loop().time() + FEED_WAIT_SECONDS
    while True:
        found = await listed(store, EventQuery(limit=500, after=FEED_START))
        if len(found) >= expected or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.05)


async def history(store: Store, transaction: Transaction, after: int = 0, limit: int = 50) -> Any:
    query = TransactionHistoryQuery(transaction.transaction_id, limit, after)
    async with store.unit_of_work(read_only=True) as uow:
        found = await uow.events.transaction_history(query)
    return [one.subject.version for one in found if isinstance(one.subject, Transaction)]


def position(found: Event) -> FeedPosition:
    assert found.position is not None, "a stored event has its position"
    return found.position


# --- What an event holds ----------------------------------------------------------------------


async def test_an_event_comes_back_field_for_field_whatever_its_subject(store: Store) -> None:
    account = an_account()
    closed = dataclasses.replace(
        an_account(), status=AccountStatus.FROZEN, version=3, closed_at=T0, balance=Money.zero()
    )
    recorded = [
        event(account),
        event(closed, EventType.ACCOUNT_CLOSED, MASTER),
        event(a_transaction(account, version=4), EventType.TRANSACTION_AMENDED),
        event(a_key(), actor=SYSTEM),
    ]
    await record(store, *recorded)

    found = await whole_feed(store, len(recorded))

    assert [fields(one) for one in found] == [fields(one) for one in recorded]
    assert [one.account_number for one in found] == [
        account.number,
        closed.number,
        account.number,
        None,
    ]
    for one in found:
        assert one.occurred_at.utcoffset() == timedelta(0)


async def test_a_key_s_event_never_holds_the_hash_of_its_secret(store: Store) -> None:
    key = a_key()
    await record(store, event(key))

    (found,) = await whole_feed(store, 1)

    assert isinstance(found.subject, ApiKey)
    assert found.subject.secret_hash == ""
    assert found.subject.key_id == key.key_id


async def test_a_key_s_event_stores_no_hash_even_when_handed_one(sql_store: SqlStore) -> None:
    """The domain blanks the hash in every event it makes; the store does not rely on it."""
    key = a_key()
    handed = Event(EventType.API_KEY_REVOKED, T0, MASTER.actor_id, None, key)
    await record(sql_store, handed)

    async with sql_store.engine.connect() as connection:
        data = await connection.scalar(select(events.c.data))
    assert isinstance(data, str)

    assert key.key_id in data
    assert key.secret_hash not in data
    assert "secret_hash" not in data


# --- The feed ---------------------------------------------------------------------------------


async def test_the_feed_lists_events_in_commit_order_each_position_above_the_last(
    store: Store,
) -> None:
    first, second = an_account(), an_account()
    commits = [
        [event(first)],
        [event(second), event(a_transaction(second))],
        [event(first, EventType.ACCOUNT_UPDATED)],
    ]
    for one_commit in commits:
        await record(store, *one_commit)
    recorded = [one for one_commit in commits for one in one_commit]

    found = await whole_feed(store, len(recorded))

    assert [fields(one) for one in found] == [fields(one) for one in recorded]
    positions = [position(one) for one in found]
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)
    assert positions[0] > FEED_START


async def test_the_feed_goes_on_from_any_position_a_page_at_a_time(store: Store) -> None:
    account = an_account()
    for n in range(1, 6):
        await record(store, event(dataclasses.replace(account, version=n)))
    whole = await whole_feed(store, 5)

    pages, after = [], FEED_START
    while page := await listed(store, EventQuery(limit=2, after=after)):
        pages.append([one.position for one in page])
        after = position(page[-1])

    assert pages == [
        [whole[0].position, whole[1].position],
        [whole[2].position, whole[3].position],
        [whole[4].position],
    ]
    assert await listed(store, EventQuery(limit=2, after=position(whole[-1]))) == []


async def test_the_feed_filters_by_account_and_by_type(store: Store) -> None:
    mine, theirs = an_account(), an_account()
    posted = a_transaction(mine)
    await record(store, event(mine), event(theirs), event(posted), event(a_key()))
    await whole_feed(store, 4)

    of_mine = await listed(store, EventQuery(50, FEED_START, account_number=mine.number))
    opened = await listed(store, EventQuery(50, FEED_START, event_type=EventType.ACCOUNT_OPENED))
    posted_to_theirs = await listed(
        store,
        EventQuery(
            50, FEED_START, account_number=theirs.number, event_type=EventType.TRANSACTION_POSTED
        ),
    )

    assert [one.type for one in of_mine] == [
        EventType.ACCOUNT_OPENED,
        EventType.TRANSACTION_POSTED,
    ]
    assert {one.account_number for one in of_mine} == {mine.number}
    assert [one.account_number for one in opened] == [mine.number, theirs.number]
    assert posted_to_theirs == []


async def test_a_restricted_reader_sees_only_its_accounts_and_no_key_s_event(
    store: Store,
) -> None:
    mine, other, theirs = an_account(), an_account(), an_account()
    await record(store, event(mine), event(a_key()), event(theirs), event(other))
    await whole_feed(store, 4)

    seen = await listed(
        store, EventQuery(50, FEED_START, account_numbers=frozenset({mine.number, other.number}))
    )
    nothing = await listed(store, EventQuery(50, FEED_START, account_numbers=frozenset()))

    assert [one.account_number for one in seen] == [mine.number, other.number]
    assert nothing == []


async def test_a_unit_of_work_that_does_not_commit_leaves_no_event(store: Store) -> None:
    class Refused(Exception):
        pass

    async def record_then_fail() -> None:
        async with store.unit_of_work() as uow:
            await uow.events.add(event(an_account()))
            raise Refused

    async with store.unit_of_work() as uow:
        await uow.events.add(event(an_account()))
    with pytest.raises(Refused):
        await record_then_fail()
    kept = event(an_account())
    await record(store, kept)

    found = await whole_feed(store, 1)

    assert [fields(one) for one in found] == [fields(kept)]


async def test_a_read_only_unit_of_work_refuses_to_record_an_event(store: Store) -> None:
    async with store.unit_of_work(read_only=True) as uow:
        with pytest.raises(RuntimeError, match="read-only"):
            await uow.events.add(event(an_account()))


# --- A transaction's history ------------------------------------------------------------------


async def test_a_transaction_s_history_is_its_events_in_version_order(store: Store) -> None:
    account = an_account()
    transaction, other = a_transaction(account), a_transaction(account)
    await record(store, event(account), event(transaction), event(other))
    for version in (2, 3):
        changed = dataclasses.replace(transaction, version=version)
        await record(store, event(changed, EventType.TRANSACTION_AMENDED))
    await record(
        store, event(dataclasses.replace(transaction, version=4), EventType.TRANSACTION_DELETED)
    )

    assert await history(store, transaction) == [1, 2, 3, 4]
    assert await history(store, transaction, after=2) == [3, 4]
    assert await history(store, transaction, limit=3) == [1, 2, 3]
    assert await history(store, transaction, after=4) == []
    assert await history(store, other) == [1]
    assert await history(store, a_transaction(account)) == []


async def test_a_transaction_s_history_holds_each_version_whole(store: Store) -> None:
    transaction = a_transaction(an_account(), version=2)
    recorded = event(transaction, EventType.TRANSACTION_AMENDED)
    await record(store, recorded)

    query = TransactionHistoryQuery(transaction.transaction_id, 50)
    async with store.unit_of_work(read_only=True) as uow:
        (found,) = await uow.events.transaction_history(query)

    assert fields(found) == fields(recorded)
