"""PostgreSQL's grouped postings record their events: each accepted posting exactly one
``transaction.posted``, written in its group's database transaction, naming its command's actor
and request; none for a refused or repeated posting; an account's events in the order its
balance moved; and a posting's history is the transaction as posted."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

import pytest

from bank_adapters.sql import SqlStore
from bank_domain import (
    AccountNumber,
    CreateApiKeyCommand,
    Event,
    EventType,
    InsufficientFunds,
    Ledger,
    Money,
    OpenAccountCommand,
    PostedTransaction,
    PostTransactionCommand,
    Transaction,
    TransactionHistoryRequest,
)
from bank_domain.actors import MASTER, Actor
from bank_domain.api_keys import new_key_id
from tests.support.feeds import FeedFollower

pytestmark = pytest.mark.postgres

ACCOUNTS = 4
POSTINGS = 96


def grouped_ledger(store: SqlStore) -> Ledger:
    return Ledger(store.unit_of_work, postings=store.posting_unit_of_work)


def posted_transaction(event: Event) -> Transaction:
    assert isinstance(event.subject, Transaction), f"a {event.type} event is about a transaction"
    return event.subject


async def test_every_grouped_posting_records_one_event_naming_its_actor_and_request(
    postgres_store: SqlStore,
) -> None:
    ledger = grouped_ledger(postgres_store)
    numbers = [
        (
            await ledger.open_account(OpenAccountCommand("Ada", "checking", initial_deposit="20"))
        ).number.value
        for _ in range(ACCOUNTS)
    ]
    command_of = {
        f"req-{n}": PostTransactionCommand(
            numbers[n % ACCOUNTS],
            "3.00",
            "withdrawal" if n % 3 else "deposit",  # enough withdrawals that some are refused
            actor=Actor(new_key_id(), request_id=f"req-{n}"),
        )
        for n in range(POSTINGS)
    } | {
        f"again-{n}": PostTransactionCommand(
            numbers[0],
            "1.00",
            "deposit",
            transaction_id="posted-once-0001",
            actor=Actor(new_key_id(), request_id=f"again-{n}"),
        )
        for n in range(5)
    }

    outcomes = await asyncio.gather(
        *(ledger.post_transaction(c) for c in command_of.values()), return_exceptions=True
    )

    created = {
        request_id: outcome
        for request_id, outcome in zip(command_of, outcomes, strict=True)
        if isinstance(outcome, PostedTransaction) and outcome.created
    }
    refused = [o for o in outcomes if isinstance(o, InsufficientFunds)]
    assert refused, "some withdrawals are meant to be refused"
    assert len(created) + len(refused) == POSTINGS + 1  # the repeated id is posted once
    opening = 2 * ACCOUNTS  # each account's account.opened, and its first deposit's posting
    feed = await FeedFollower(ledger, page_size=37).read_until(opening + len(created))
    # The opening deposits were made by the master key, with no request.
    postings = [e for e in feed if e.request_id is not None]

    assert len(feed) == opening + len(created)
    assert sorted(str(e.request_id) for e in postings) == sorted(created)
    for event in postings:
        assert event.request_id is not None
        posted = created[event.request_id].transaction
        assert event.type is EventType.TRANSACTION_POSTED
        assert event.actor_id == command_of[event.request_id].actor.actor_id
        assert dataclasses.asdict(posted_transaction(event)) == dataclasses.asdict(posted)
        history = await ledger.transaction_history(
            TransactionHistoryRequest(posted.transaction_id.value)
        )
        assert [dataclasses.asdict(c.transaction) for c in history.items] == [
            dataclasses.asdict(posted)
        ]
    for number in numbers:
        # Read in feed order, an account's postings retell its balance step by step.
        balance = Money.zero()
        for event in feed:
            if event.account_number == AccountNumber(number) and event.transaction_id:
                balance += posted_transaction(event).effect
                assert posted_transaction(event).balance_after == balance
        assert balance == (await ledger.get_account(number)).balance


async def test_a_grouped_posting_records_events_only_about_the_account_it_locked(
    postgres_store: SqlStore,
) -> None:
    ledger = grouped_ledger(postgres_store)
    mine, theirs = [
        (await ledger.open_account(OpenAccountCommand("Ada", "checking"))).number for _ in range(2)
    ]
    theirs_posted = await ledger.post_transaction(
        PostTransactionCommand(theirs.value, "1.00", "deposit")
    )
    key = (await ledger.create_api_key(CreateApiKeyCommand("Reports", ["accounts:read"]))).key
    now = datetime.now(UTC)

    async with postgres_store.posting_unit_of_work() as uow:
        await uow.accounts.get_for_update(mine)
        with pytest.raises(RuntimeError, match="the account it locked"):
            await uow.events.add(
                Event.of(EventType.TRANSACTION_POSTED, theirs_posted.transaction, MASTER, now)
            )
        with pytest.raises(RuntimeError, match="the account it locked"):
            await uow.events.add(Event.of(EventType.API_KEY_CREATED, key, MASTER, now))
        await uow.commit()
