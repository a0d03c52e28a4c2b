"""The event feed on PostgreSQL can be followed while writers commit (contract, section 10): a
reader that goes on from each cursor it is handed sees every event exactly once, even when a
transaction that took a lower event id commits after one that took a higher one and was
already read. How the store keeps that promise is in bank_adapters/sql/events.py."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from typing import Final

import pytest
from sqlalchemy import select

from bank_adapters.sql import SqlStore
from bank_adapters.sql.schema import events
from bank_domain import (
    Account,
    AccountNumber,
    AccountType,
    Event,
    EventType,
    Ledger,
    OpenAccountCommand,
    PostTransactionCommand,
)
from bank_domain.actors import MASTER
from bank_domain.ports import UnitOfWork
from tests.support import refs
from tests.support.feeds import FeedFollower

pytestmark = pytest.mark.postgres

HELD_WRITERS: Final = 12
POSTINGS: Final = 60


def an_account() -> Account:
    number = AccountNumber(refs.account_number())
    return Account.open(number, "Ada", AccountType.CHECKING, datetime.now(UTC))


async def open_in(uow: UnitOfWork, account: Account) -> None:
    """Opens the account in the unit of work, with its event, as OpenAccount does."""
    await uow.accounts.add(account)
    await uow.events.add(Event.of(EventType.ACCOUNT_OPENED, account, MASTER, account.created_at))


async def test_an_event_committed_late_with_a_lower_id_is_read_after_one_already_read(
    postgres_store: SqlStore,
) -> None:
    reader = FeedFollower(Ledger(postgres_store.unit_of_work))
    late, early = an_account(), an_account()

    async with postgres_store.unit_of_work() as slow_writer:
        await open_in(slow_writer, late)  # takes the lower event id (and transaction id)
        async with postgres_store.unit_of_work() as quick_writer:
            await open_in(quick_writer, early)
            await quick_writer.commit()
        read_before_the_slow_commit = await reader.read_page()
        await slow_writer.commit()
    seen = await reader.read_until(2)

    assert [str(event.account_number) for event in seen] == [str(late.number), str(early.number)]
    assert seen[0].event_id < seen[1].event_id
    # How: the quick writer's event waited behind the slow writer, which could still commit.
    assert read_before_the_slow_commit == []


async def test_a_follower_sees_every_event_once_while_writers_commit_in_random_order(
    postgres_store: SqlStore,
) -> None:
    """Writers that each hold their transaction open, then commit in a random order, and
    grouped postings meanwhile; a reader follows the feed throughout, a few events a page."""
    ledger = Ledger(postgres_store.unit_of_work, postings=postgres_store.posting_unit_of_work)
    numbers = [
        (await ledger.open_account(OpenAccountCommand("Ada", "checking"))).number.value
        for _ in range(3)
    ]
    reader = FeedFollower(ledger, page_size=5)
    inserted = [asyncio.Event() for _ in range(HELD_WRITERS)]
    may_commit = [asyncio.Event() for _ in range(HELD_WRITERS)]

    async def held_writer(n: int) -> None:
        async with postgres_store.unit_of_work() as uow:
            await open_in(uow, an_account())
            inserted[n].set()
            await may_commit[n].wait()
            await uow.commit()

    async def let_writers_commit_in_random_order() -> None:
        for n in random.sample(range(HELD_WRITERS), HELD_WRITERS):
            may_commit[n].set()
            await asyncio.sleep(random.uniform(0, 0.03))

    async def post_in_waves() -> None:
        for wave in range(POSTINGS // 10):
            await asyncio.gather(
                *(
                    ledger.post_transaction(PostTransactionCommand(numbers[n % 3], "1", "deposit"))
                    for n in range(10)
                )
            )
            await asyncio.sleep(random.uniform(0, 0.02) * wave)

    writers = [asyncio.ensure_future(held_writer(n)) for n in range(HELD_WRITERS)]
    await asyncio.gather(*(event.wait() for event in inserted))
    others = asyncio.gather(let_writers_commit_in_random_order(), post_in_waves())
    seen = await reader.read_until(len(numbers) + HELD_WRITERS + POSTINGS)
    await asyncio.gather(*writers, others)

    async with postgres_store.engine.connect() as connection:
        stored = set((await connection.scalars(select(events.c.event_id))).all())
    seen_ids = [event.event_id for event in seen]
    assert len(seen_ids) == len(set(seen_ids)), "an event was read twice"
    assert set(seen_ids) == stored, f"missed: {sorted(stored - set(seen_ids))}"
    assert len(stored) == len(numbers) + HELD_WRITERS + POSTINGS
