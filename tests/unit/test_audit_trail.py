"""The audit trail in the domain: every change records one event, with who made it, in the unit
of work of the change; a transaction's events are its history; the feed can be followed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bank_adapters.memory import InMemoryStore
from bank_domain import (
    Account,
    AccountNotFound,
    Actor,
    AmendTransactionCommand,
    ApiKey,
    Change,
    CloseAccountCommand,
    CreateApiKeyCommand,
    DeleteTransactionCommand,
    Event,
    EventType,
    InsufficientFunds,
    InvalidValue,
    Ledger,
    ListEventsQuery,
    PostTransactionCommand,
    Scope,
    Transaction,
    TransactionHistoryRequest,
    TransactionNotFound,
    UpdateAccountCommand,
    VersionMismatch,
)
from bank_domain.actors import MASTER

from .support import encode_cursor, number_of, open_account, post, random_tid

KEY_ACTOR = Actor("7d6f1b9e-0000-4000-8000-000000000001", request_id="req-1")


async def every_event(
    ledger: Ledger,
    *,
    limit: int = 50,
    account_number: str | None = None,
    event_type: str | None = None,
) -> list[Event]:
    events: list[Event] = []
    cursor: str | None = None
    while True:
        page = await ledger.list_events(ListEventsQuery(limit, cursor, account_number, event_type))
        assert page.next_cursor is not None, "the feed's cursor is never None"
        events.extend(page.items)
        if not page.items:
            return events
        cursor = page.next_cursor


async def test_every_change_records_one_event_of_its_kind_in_order(ledger: Ledger) -> None:
    account = await open_account(ledger, "10.00")
    number = number_of(account)
    posted = (await post(ledger, number, "5.00")).transaction
    tid = str(posted.transaction_id)
    await ledger.amend_transaction(AmendTransactionCommand(tid, amount="6.00"))
    await ledger.delete_transaction(DeleteTransactionCommand(tid))
    await ledger.update_account(UpdateAccountCommand(number, customer_name="New Name"))
    withdrawal = await post(ledger, number, "10.00", "withdrawal")
    assert withdrawal.created
    await ledger.close_account(CloseAccountCommand(number))

    events = await every_event(ledger)

    assert [event.type for event in events] == [
        EventType.ACCOUNT_OPENED,
        EventType.TRANSACTION_POSTED,  # the initial deposit
        EventType.TRANSACTION_POSTED,
        EventType.TRANSACTION_AMENDED,
        EventType.TRANSACTION_DELETED,
        EventType.ACCOUNT_UPDATED,
        EventType.TRANSACTION_POSTED,
        EventType.ACCOUNT_CLOSED,
    ]
    assert all(event.account_number == account.number for event in events)
    assert all(event.actor_id == "master" for event in events)
    ids = [event.event_id for event in events]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


async def test_an_event_holds_the_subject_as_it_was_right_after_the_change(
    ledger: Ledger,
) -> None:
    account = await open_account(ledger)
    number = number_of(account)
    posted = (await post(ledger, number, "5.00")).transaction
    await ledger.amend_transaction(
        AmendTransactionCommand(str(posted.transaction_id), amount="7.00")
    )

    opened, posting, amending = await every_event(ledger)

    assert isinstance(opened.subject, Account)
    assert opened.subject.version == 1
    assert isinstance(posting.subject, Transaction)
    assert posting.subject.amount.amount == Decimal("5.00")
    assert posting.subject.balance_after is not None
    assert posting.subject.balance_after.amount == Decimal("5.00")
    assert isinstance(amending.subject, Transaction)
    assert amending.subject.amount.amount == Decimal("7.00")
    assert amending.subject.version == 2


async def test_the_actor_and_request_id_of_the_command_are_recorded(ledger: Ledger) -> None:
    account = await open_account(ledger)
    number = number_of(account)

    await ledger.post_transaction(
        PostTransactionCommand(number, "1.00", "deposit", actor=KEY_ACTOR)
    )

    *_, posting = await every_event(ledger)
    assert (posting.actor_id, posting.request_id) == (KEY_ACTOR.actor_id, "req-1")


async def test_a_retry_and_a_refused_change_record_nothing(ledger: Ledger) -> None:
    account = await open_account(ledger, "1.00")
    number = number_of(account)
    tid = random_tid()
    await post(ledger, number, "2.00", transaction_id=tid)
    before = await every_event(ledger)

    retry = await post(ledger, number, "2.00", transaction_id=tid)
    with pytest.raises(InsufficientFunds):
        await post(ledger, number, "100.00", "withdrawal")
    with pytest.raises(VersionMismatch):
        await ledger.amend_transaction(
            AmendTransactionCommand(tid, amount="3.00", expected_version=7)
        )
    unchanged = await ledger.amend_transaction(AmendTransactionCommand(tid, amount="2.00"))

    assert not retry.created
    assert unchanged.version == 1
    assert await every_event(ledger) == before


async def test_a_unit_of_work_left_without_commit_leaves_no_event(
    store: InMemoryStore, ledger: Ledger
) -> None:
    account = await open_account(ledger)
    before = await every_event(ledger)
    async with store.unit_of_work() as uow:
        await uow.events.add(
            Event.of(EventType.ACCOUNT_UPDATED, account, MASTER, account.created_at)
        )
    assert await every_event(ledger) == before


async def test_the_feed_followed_page_by_page_sees_each_event_once_then_the_later_ones(
    ledger: Ledger,
) -> None:
    for _ in range(3):
        await open_account(ledger, "1.00")
    first_pass: list[Event] = []
    cursor: str | None = None
    for _ in range(10):
        page = await ledger.list_events(ListEventsQuery(limit=4, cursor=cursor))
        first_pass.extend(page.items)
        assert page.next_cursor is not None
        cursor = page.next_cursor
        if not page.items:
            break
    assert len(first_pass) == 6

    later = await open_account(ledger)
    page = await ledger.list_events(ListEventsQuery(cursor=cursor))

    assert [(event.type, event.account_number) for event in page.items] == [
        (EventType.ACCOUNT_OPENED, later.number)
    ]
    assert page.items[0].event_id > first_pass[-1].event_id


async def test_the_feed_filters_by_account_and_type(ledger: Ledger) -> None:
    mine = await open_account(ledger, "1.00")
    other = await open_account(ledger, "1.00")

    of_mine = await every_event(ledger, account_number=number_of(mine))
    postings = await every_event(ledger, event_type="transaction.posted")

    assert {event.account_number for event in of_mine} == {mine.number}
    assert len(of_mine) == 2
    assert {event.account_number for event in postings} == {mine.number, other.number}
    assert {event.type for event in postings} == {EventType.TRANSACTION_POSTED}


async def test_a_restricted_actor_sees_only_its_accounts_events_and_no_key_events(
    ledger: Ledger,
) -> None:
    mine = await open_account(ledger, "1.00")
    other = await open_account(ledger, "1.00")
    await ledger.create_api_key(CreateApiKeyCommand("ops", [Scope.AUDIT_READ.value]))
    restricted = Actor("k", account_numbers=frozenset({mine.number}))

    seen = await ledger.list_events(ListEventsQuery(actor=restricted))

    assert {event.account_number for event in seen.items} == {mine.number}
    with pytest.raises(AccountNotFound):
        await ledger.list_events(ListEventsQuery(account_number=number_of(other), actor=restricted))


async def test_key_events_carry_no_secret_hash(ledger: Ledger) -> None:
    created = await ledger.create_api_key(CreateApiKeyCommand("ops", [Scope.AUDIT_READ.value]))
    await ledger.revoke_api_key(created.key.key_id)
    await ledger.revoke_api_key(created.key.key_id)  # again: no change, no event

    events = await every_event(ledger)

    assert [event.type for event in events] == [
        EventType.API_KEY_CREATED,
        EventType.API_KEY_REVOKED,
    ]
    assert all(isinstance(event.subject, ApiKey) for event in events)
    assert all(event.subject.secret_hash == "" for event in events)  # type: ignore[union-attr]
    assert all(event.account_number is None for event in events)


async def test_the_feed_refuses_what_is_not_one_of_its_cursors_or_types(ledger: Ledger) -> None:
    with pytest.raises(InvalidValue):
        await ledger.list_events(ListEventsQuery(cursor="forged"))
    with pytest.raises(InvalidValue):
        await ledger.list_events(ListEventsQuery(cursor=encode_cursor(["-1", "0"])))
    with pytest.raises(InvalidValue):
        await ledger.list_events(ListEventsQuery(event_type="account.deleted"))
    with pytest.raises(InvalidValue):
        await ledger.list_events(ListEventsQuery(account_number="12"))


async def test_history_keeps_every_version_of_a_deleted_transaction(ledger: Ledger) -> None:
    account = await open_account(ledger, "1.00")
    tid = str((await post(ledger, number_of(account), "5.00")).transaction.transaction_id)
    await ledger.amend_transaction(
        AmendTransactionCommand(tid, description="fixed", actor=KEY_ACTOR)
    )
    await ledger.delete_transaction(DeleteTransactionCommand(tid))

    page = await ledger.transaction_history(TransactionHistoryRequest(tid))

    assert [change.change for change in page.items] == [
        Change.CREATED,
        Change.AMENDED,
        Change.DELETED,
    ]
    assert [change.transaction.version for change in page.items] == [1, 2, 3]
    assert [change.changed_by for change in page.items] == [
        "master",
        KEY_ACTOR.actor_id,
        "master",
    ]
    assert page.items[1].request_id == "req-1"
    assert page.items[1].transaction.description == "fixed"
    assert page.items[0].transaction.description is None
    assert page.items[2].transaction.is_deleted
    assert page.next_cursor is None


async def test_history_pages_and_is_not_found_for_unknown_or_unseen_transactions(
    ledger: Ledger,
) -> None:
    account = await open_account(ledger, "1.00")
    tid = str((await post(ledger, number_of(account), "5.00")).transaction.transaction_id)
    for description in ("a", "b", "c"):
        await ledger.amend_transaction(AmendTransactionCommand(tid, description=description))

    first = await ledger.transaction_history(TransactionHistoryRequest(tid, limit=3))
    assert first.next_cursor is not None
    rest = await ledger.transaction_history(
        TransactionHistoryRequest(tid, limit=3, cursor=first.next_cursor)
    )
    assert [c.transaction.version for c in [*first.items, *rest.items]] == [1, 2, 3, 4]
    assert rest.next_cursor is None

    stranger = Actor("k", account_numbers=frozenset())
    for request in (
        TransactionHistoryRequest(random_tid()),
        TransactionHistoryRequest("no"),
        TransactionHistoryRequest(tid, actor=stranger),
    ):
        with pytest.raises(TransactionNotFound):
            await ledger.transaction_history(request)
