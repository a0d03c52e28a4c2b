"""Holds under concurrency, on every store (PostgreSQL's postings through its grouped path):
postings that meet an account whose holds are due record the expiry once, and concurrent
captures, cancellations and sweeps of one hold leave exactly one winner."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bank_adapters.stores import Store
from bank_domain import (
    AmendTransactionCommand,
    Ledger,
    LedgerError,
    OpenAccountCommand,
    PostTransactionCommand,
    TransactionHistoryRequest,
    VersionMismatch,
)
from bank_domain.use_cases.audit import ListEventsQuery

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def an_account_with_a_hold(
    store: Store, amount: str, expires_in: timedelta
) -> tuple[Ledger, Clock, str, str]:
    """A ledger on ``store`` with a clock at T0, an account holding ``amount`` and nothing
    else available, and the hold's id, which expires ``expires_in`` after T0."""
    clock = Clock()
    ledger = Ledger(store.unit_of_work, clock, store.posting_unit_of_work)
    opened = await ledger.open_account(
        OpenAccountCommand("Ada", "checking", initial_deposit=amount)
    )
    number = opened.number.value
    held = await ledger.post_transaction(
        PostTransactionCommand(
            number, amount, "withdrawal", status="pending", expires_at=T0 + expires_in
        )
    )
    return ledger, clock, number, held.transaction.transaction_id.value


async def test_postings_that_meet_a_due_hold_record_its_expiry_once(store: Store) -> None:
    ledger, clock, number, tid = await an_account_with_a_hold(store, "100", timedelta(hours=1))
    clock.now = T0 + timedelta(hours=1)

    postings = await asyncio.gather(
        *(
            ledger.post_transaction(PostTransactionCommand(number, "5", "withdrawal"))
            for _ in range(20)
        )
    )

    assert all(posting.created for posting in postings)
    after = await ledger.get_account(number)
    assert (str(after.balance), str(after.held), str(after.available_balance)) == (
        "0.00",
        "0.00",
        "0.00",
    )
    events = await ledger.list_events(
        ListEventsQuery(account_number=number, event_type="transaction.expired")
    )
    assert [str(e.transaction_id) for e in events.items] == [tid]
    history = await ledger.transaction_history(TransactionHistoryRequest(tid))
    assert [c.change.value for c in history.items] == ["created", "expired"]
    assert (await ledger.verify_account(number)).sound


async def test_a_capture_a_cancellation_and_a_sweep_of_one_hold_leave_one_winner(
    store: Store,
) -> None:
    ledger, clock, number, tid = await an_account_with_a_hold(store, "50", timedelta(minutes=5))

    async def attempt(status: str) -> str:
        try:
            await ledger.amend_transaction(
                AmendTransactionCommand(tid, status=status, expected_version=1)
            )
        except LedgerError as error:
            return error.code
        return "won"

    outcomes = await asyncio.gather(
        attempt("success"),
        attempt("cancelled"),
        attempt("success"),
        attempt("failed"),
        ledger.expire_holds(),
    )
    clock.now = T0 + timedelta(minutes=5)
    assert await ledger.expire_holds() == 0  # resolved before its expiry: nothing expires

    attempts = outcomes[:4]
    assert attempts.count("won") == 1, outcomes
    assert attempts.count(VersionMismatch.code) == 3, outcomes
    final = await ledger.get_transaction(tid)
    after = await ledger.get_account(number)
    expected = "0.00" if final.status.value == "success" else "50.00"
    assert (str(after.balance), str(after.available_balance)) == (expected, expected)
    history = await ledger.transaction_history(TransactionHistoryRequest(tid))
    assert [c.change.value for c in history.items] == ["created", "amended"]
    assert (await ledger.verify_account(number)).sound
