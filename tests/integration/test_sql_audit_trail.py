"""The audit trail through the Ledger, on every store (memory, SQLite, PostgreSQL, postings on
each store's own posting path): every change records one event, naming who made it and with
which request, in the order the changes were made; a transaction's history reads back each of
its versions whole."""

from __future__ import annotations

import dataclasses
from typing import Any

from bank_adapters.stores import Store
from bank_domain import (
    AmendTransactionCommand,
    Change,
    CloseAccountCommand,
    CreateApiKeyCommand,
    DeleteTransactionCommand,
    EventType,
    Ledger,
    OpenAccountCommand,
    PostTransactionCommand,
    Transaction,
    TransactionHistoryRequest,
    UpdateAccountCommand,
)
from bank_domain.actors import Actor
from bank_domain.api_keys import new_key_id
from tests.support.feeds import FeedFollower


def ledger_on(store: Store) -> Ledger:
    return Ledger(store.unit_of_work, postings=store.posting_unit_of_work)


KEY_ID = new_key_id()


def as_key(request_id: str) -> Actor:
    return Actor(KEY_ID, request_id=request_id)


def fields(transaction: Transaction) -> dict[str, Any]:
    return dataclasses.asdict(transaction)


async def test_every_change_records_one_event_naming_its_actor_and_request(store: Store) -> None:
    ledger = ledger_on(store)
    account = await ledger.open_account(
        OpenAccountCommand("Ada Lovelace", "checking", initial_deposit="10.00", actor=as_key("r1"))
    )
    number = account.number.value
    posted = await ledger.post_transaction(
        PostTransactionCommand(number, "5.00", "deposit", actor=as_key("r2"))
    )
    tid = posted.transaction.transaction_id.value
    await ledger.amend_transaction(
        AmendTransactionCommand(tid, description="Refund", actor=as_key("r3"))
    )
    await ledger.delete_transaction(DeleteTransactionCommand(tid, actor=as_key("r4")))
    await ledger.update_account(
        UpdateAccountCommand(number, customer_name="Ada King", actor=as_key("r5"))
    )
    created = await ledger.create_api_key(
        CreateApiKeyCommand("Statements", ["accounts:read"], actor=as_key("r6"))
    )
    await ledger.revoke_api_key(created.key.key_id, actor=as_key("r7"))
    await ledger.post_transaction(
        PostTransactionCommand(number, "10.00", "withdrawal", actor=as_key("r8"))
    )
    await ledger.close_account(CloseAccountCommand(number, actor=as_key("r9")))

    feed = await FeedFollower(ledger, page_size=4).read_until(10)

    assert [(e.type, e.request_id) for e in feed] == [
        (EventType.ACCOUNT_OPENED, "r1"),
        (EventType.TRANSACTION_POSTED, "r1"),
        (EventType.TRANSACTION_POSTED, "r2"),
        (EventType.TRANSACTION_AMENDED, "r3"),
        (EventType.TRANSACTION_DELETED, "r4"),
        (EventType.ACCOUNT_UPDATED, "r5"),
        (EventType.API_KEY_CREATED, "r6"),
        (EventType.API_KEY_REVOKED, "r7"),
        (EventType.TRANSACTION_POSTED, "r8"),
        (EventType.ACCOUNT_CLOSED, "r9"),
    ]
    assert {e.actor_id for e in feed} == {KEY_ID}
    about_keys = {EventType.API_KEY_CREATED, EventType.API_KEY_REVOKED}
    assert {e.account_number for e in feed if e.type in about_keys} == {None}
    assert {e.account_number for e in feed if e.type not in about_keys} == {account.number}
    closed = feed[-1].subject
    assert getattr(closed, "closed_at", None) is not None, "an account as it was when closed"
    assert getattr(closed, "customer_name", None) == "Ada King"


async def test_a_transaction_s_history_reads_back_each_version_whole(store: Store) -> None:
    ledger = ledger_on(store)
    account = await ledger.open_account(OpenAccountCommand("Ada Lovelace", "checking"))
    posted = await ledger.post_transaction(
        PostTransactionCommand(account.number.value, "5.00", "deposit", actor=as_key("post"))
    )
    tid = posted.transaction.transaction_id.value
    versions = [fields(posted.transaction)]
    amended = await ledger.amend_transaction(
        AmendTransactionCommand(tid, amount="7.50", actor=as_key("amend"))
    )
    versions.append(fields(amended))
    await ledger.delete_transaction(DeleteTransactionCommand(tid, actor=as_key("delete")))
    async with store.unit_of_work(read_only=True) as uow:  # the ledger finds no deleted one
        deleted = await uow.transactions.get(posted.transaction.transaction_id)
    assert deleted is not None
    versions.append(fields(deleted))

    first = await ledger.transaction_history(TransactionHistoryRequest(tid, limit=2))
    assert first.next_cursor is not None
    rest = await ledger.transaction_history(
        TransactionHistoryRequest(tid, limit=2, cursor=first.next_cursor)
    )

    changes = [*first.items, *rest.items]
    assert [fields(c.transaction) for c in changes] == versions
    assert [(c.change, c.changed_by, c.request_id) for c in changes] == [
        (Change.CREATED, KEY_ID, "post"),
        (Change.AMENDED, KEY_ID, "amend"),
        (Change.DELETED, KEY_ID, "delete"),
    ]
    assert rest.next_cursor is None
