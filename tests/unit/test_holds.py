"""Available balance, overdraft limits, holds and their expiry (API.md section 12), on the
in-memory store with a clock the tests move by hand."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from bank_adapters.memory import InMemoryStore
from bank_domain import (
    AccountFrozen,
    AccountNotEmpty,
    AccountNumber,
    InsufficientFunds,
    InvalidStatusChange,
    InvalidValue,
    Ledger,
    LedgerInconsistent,
    Money,
    OpenAccountCommand,
    PostTransactionCommand,
    Transaction,
    TransactionNotFound,
)
from bank_domain.errors import OverdraftLimitInUse, VersionMismatch
from bank_domain.events import Change, EventType
from bank_domain.use_cases.accounts import CloseAccountCommand, UpdateAccountCommand
from bank_domain.use_cases.audit import ListEventsQuery, TransactionHistoryRequest
from bank_domain.use_cases.transactions import (
    AmendTransactionCommand,
    DeleteTransactionCommand,
    ListTransactionsQuery,
)

from .support import CURSOR_SECRET, T0, SteppingClock, random_name

HOUR = timedelta(hours=1)


@pytest.fixture
def clock() -> SteppingClock:
    """Stands still until a test moves it: expiries come exactly when a test says."""
    return SteppingClock(step=timedelta(0))


@pytest.fixture
def ledger(store: InMemoryStore, clock: SteppingClock) -> Ledger:
    return Ledger(store.unit_of_work, clock, cursor_secret=CURSOR_SECRET)


async def open_with(ledger: Ledger, deposit: str = "0", limit: str = "0") -> str:
    account = await ledger.open_account(
        OpenAccountCommand(
            random_name(), "checking", initial_deposit=deposit, overdraft_limit=limit
        )
    )
    return account.number.value


async def hold(
    ledger: Ledger,
    number: str,
    amount: str,
    expires_at: datetime | None = None,
    transaction_type: str = "withdrawal",
) -> str:
    posted = await ledger.post_transaction(
        PostTransactionCommand(
            number, amount, transaction_type, status="pending", expires_at=expires_at
        )
    )
    return posted.transaction.transaction_id.value


async def figures(ledger: Ledger, number: str) -> tuple[str, str, str]:
    """(balance, held, available_balance) as a read shows them."""
    account = await ledger.get_account(number)
    return str(account.balance), str(account.held), str(account.available_balance)


async def amend(ledger: Ledger, transaction_id: str, **fields: Any) -> Transaction:
    return await ledger.amend_transaction(AmendTransactionCommand(transaction_id, **fields))


class TestOverdraft:
    async def test_an_account_opens_without_overdraft_and_its_balance_never_goes_below_zero(
        self, ledger: Ledger
    ) -> None:
        number = await open_with(ledger, "10")
        with pytest.raises(InsufficientFunds):
            await ledger.post_transaction(PostTransactionCommand(number, "10.01", "withdrawal"))
        assert await figures(ledger, number) == ("10.00", "0.00", "10.00")

    async def test_a_balance_goes_below_zero_within_the_limit_and_not_past_it(
        self, ledger: Ledger
    ) -> None:
        number = await open_with(ledger, "10", limit="25")
        await ledger.post_transaction(PostTransactionCommand(number, "30", "withdrawal"))
        assert await figures(ledger, number) == ("-20.00", "0.00", "5.00")
        with pytest.raises(InsufficientFunds):
            await ledger.post_transaction(PostTransactionCommand(number, "5.01", "withdrawal"))
        check = await ledger.verify_account(number)
        assert (check.sound, str(check.balance)) == (True, "-20.00")

    async def test_a_limit_is_raised_freely_and_lowered_only_to_what_the_account_uses(
        self, ledger: Ledger
    ) -> None:
        number = await open_with(ledger, "10", limit="50")
        await ledger.post_transaction(PostTransactionCommand(number, "20", "withdrawal"))
        await hold(ledger, number, "15")  # uses 10 + 15 of the limit
        version = (await ledger.get_account(number)).version
        with pytest.raises(OverdraftLimitInUse):
            await ledger.update_account(UpdateAccountCommand(number, overdraft_limit="24.99"))
        account = await ledger.get_account(number)
        assert (str(account.overdraft_limit), account.version) == ("50.00", version)
        changed = await ledger.update_account(UpdateAccountCommand(number, overdraft_limit="25"))
        assert (str(changed.available_balance), changed.version) == ("0.00", version + 1)
        raised = await ledger.update_account(UpdateAccountCommand(number, overdraft_limit="900"))
        assert str(raised.available_balance) == "875.00"

    @pytest.mark.parametrize("limit", ["-1", "1000000000000.01", "0.001", "NaN"])
    async def test_a_limit_outside_an_amount_s_bounds_is_refused(
        self, ledger: Ledger, limit: str
    ) -> None:
        with pytest.raises(InvalidValue) as refused:
            await open_with(ledger, limit=limit)
        assert refused.value.field == "overdraft_limit"

    async def test_recalculation_accepts_a_balance_below_zero_within_the_limit(
        self, ledger: Ledger
    ) -> None:
        number = await open_with(ledger, "5", limit="20")
        await ledger.post_transaction(PostTransactionCommand(number, "15", "withdrawal"))
        result = await ledger.recalculate_balance(number)
        assert (str(result.balance), result.corrected) == ("-10.00", False)

    @pytest.mark.parametrize(("entry", "corrected"), [("3.00", "-7.00"), ("-1.01", None)])
    async def test_recalculation_stores_a_sum_below_zero_only_within_the_limit(
        self, ledger: Ledger, store: InMemoryStore, entry: str, corrected: str | None
    ) -> None:
        number = await open_with(ledger, "5", limit="11")
        await ledger.post_transaction(PostTransactionCommand(number, "10", "withdrawal"))
        # Corrupt the journal behind the ledger's back: the opening deposit's entry changes.
        journal = store.journal[AccountNumber(number)]
        journal[0] = dataclasses.replace(journal[0], amount=Money(Decimal(entry)))
        if corrected is None:
            with pytest.raises(LedgerInconsistent):
                await ledger.recalculate_balance(number)
            assert await figures(ledger, number) == ("-5.00", "0.00", "6.00")
        else:
            result = await ledger.recalculate_balance(number)
            assert (str(result.balance), result.corrected) == (corrected, True)


class TestHolds:
    async def test_a_hold_lowers_the_available_balance_not_the_balance(
        self, ledger: Ledger
    ) -> None:
        number = await open_with(ledger, "100")
        await hold(ledger, number, "30")
        assert await figures(ledger, number) == ("100.00", "30.00", "70.00")

    async def test_a_hold_that_does_not_fit_is_refused_and_nothing_is_stored(
        self, ledger: Ledger, store: InMemoryStore
    ) -> None:
        number = await open_with(ledger, "100")
        transactions = len(store.transactions)
        with pytest.raises(InsufficientFunds):
            await ledger.post_transaction(
                PostTransactionCommand(
                    number, "100.01", "withdrawal", status="pending", transaction_id="refused-1"
                )
            )
        assert len(store.transactions) == transactions
        assert await figures(ledger, number) == ("100.00", "0.00", "100.00")
        # A refused hold cannot be applied later: it does not exist.
        with pytest.raises(TransactionNotFound):
            await amend(ledger, "refused-1", status="success")

    async def test_a_captured_hold_moves_the_balance_once_and_the_available_balance_not_again(
        self, ledger: Ledger
    ) -> None:
        number = await open_with(ledger, "100")
        held = await hold(ledger, number, "100")
        assert await figures(ledger, number) == ("100.00", "100.00", "0.00")
        captured = await amend(ledger, held, status="success")
        assert await figures(ledger, number) == ("0.00", "0.00", "0.00")
        assert str(captured.balance_after) == "0.00"

    async def test_a_capture_is_never_refused_for_funds(self, ledger: Ledger) -> None:
        number = await open_with(ledger, "50", limit="10")
        held = await hold(ledger, number, "60")  # every cent available
        await amend(ledger, held, status="success")
        assert await figures(ledger, number) == ("-10.00", "0.00", "0.00")

    async def test_part_of_a_hold_is_captured_and_the_rest_released(self, ledger: Ledger) -> None:
        number = await open_with(ledger, "100")
        held = await hold(ledger, number, "80")
        await amend(ledger, held, amount="30", status="success")
        assert await figures(ledger, number) == ("70.00", "0.00", "70.00")

    async def test_a_capture_above_the_hold_needs_the_funds_for_the_difference(
        self, ledger: Ledger
    ) -> None:
        number = await open_with(ledger, "100")
        held = await hold(ledger, number, "80")
        with pytest.raises(InsufficientFunds):
            await amend(ledger, held, amount="100.01", status="success")
        assert await figures(ledger, number) == ("100.00", "80.00", "20.00")
        await amend(ledger, held, amount="100", status="success")
        assert await figures(ledger, number) == ("0.00", "0.00", "0.00")

    async def test_raising_a_hold_must_fit_and_lowering_it_releases_the_difference(
        self, ledger: Ledger
    ) -> None:
        number = await open_with(ledger, "100")
        held = await hold(ledger, number, "40")
        with pytest.raises(InsufficientFunds):
            await amend(ledger, held, amount="100.01")
        await amend(ledger, held, amount="100")
        assert await figures(ledger, number) == ("100.00", "100.00", "0.00")
        await amend(ledger, held, amount="25")
        assert await figures(ledger, number) == ("100.00", "25.00", "75.00")

    async def test_a_hold_voided_twice_is_released_once(self, ledger: Ledger) -> None:
        number = await open_with(ledger, "100")
        held = await hold(ledger, number, "60")
        await amend(ledger, held, status="cancelled")
        again = await amend(ledger, held, status="cancelled")
        assert again.version == 2
        assert await figures(ledger, number) == ("100.00", "0.00", "100.00")
        with pytest.raises(InvalidStatusChange):
            await amend(ledger, held, status="failed")
        with pytest.raises(InvalidStatusChange):
            await amend(ledger, held, status="success")
        assert await figures(ledger, number) == ("100.00", "0.00", "100.00")

    @pytest.mark.parametrize("how", ["failed", "cancelled", "deleted"])
    async def test_a_released_hold_gives_its_amount_back(self, ledger: Ledger, how: str) -> None:
        number = await open_with(ledger, "100")
        held = await hold(ledger, number, "60")
        if how == "deleted":
            await ledger.delete_transaction(DeleteTransactionCommand(held))
        else:
            await amend(ledger, held, status=how)
        assert await figures(ledger, number) == ("100.00", "0.00", "100.00")

    async def test_a_pending_deposit_adds_nothing_to_the_available_balance(
        self, ledger: Ledger
    ) -> None:
        number = await open_with(ledger, "10")
        deposit = await hold(ledger, number, "500", transaction_type="deposit")
        assert await figures(ledger, number) == ("10.00", "0.00", "10.00")
        with pytest.raises(InsufficientFunds):
            await ledger.post_transaction(PostTransactionCommand(number, "11", "withdrawal"))
        await amend(ledger, deposit, status="success")
        assert await figures(ledger, number) == ("510.00", "0.00", "510.00")

    async def test_a_pending_deposit_turned_withdrawal_becomes_a_hold_that_must_fit(
        self, ledger: Ledger
    ) -> None:
        number = await open_with(ledger, "10")
        pending = await hold(ledger, number, "20", transaction_type="deposit")
        with pytest.raises(InsufficientFunds):
            await amend(ledger, pending, transaction_type="withdrawal")
        await amend(ledger, pending, amount="10", transaction_type="withdrawal")
        assert await figures(ledger, number) == ("10.00", "10.00", "0.00")
        await amend(ledger, pending, transaction_type="deposit")
        assert await figures(ledger, number) == ("10.00", "0.00", "10.00")

    async def test_an_account_with_a_pending_transaction_does_not_close(
        self, ledger: Ledger
    ) -> None:
        number = await open_with(ledger)
        pending = await hold(ledger, number, "5", transaction_type="deposit")
        with pytest.raises(AccountNotEmpty):
            await ledger.close_account(CloseAccountCommand(number))
        await amend(ledger, pending, status="failed")
        await ledger.close_account(CloseAccountCommand(number))


class TestFrozenAccounts:
    async def test_a_frozen_account_releases_holds_and_takes_descriptions_only(
        self, ledger: Ledger
    ) -> None:
        number = await open_with(ledger, "100")
        first, second = await hold(ledger, number, "10"), await hold(ledger, number, "20")
        await ledger.update_account(UpdateAccountCommand(number, status="frozen"))
        with pytest.raises(AccountFrozen):
            await hold(ledger, number, "1")
        with pytest.raises(AccountFrozen):
            await amend(ledger, first, status="success")
        with pytest.raises(AccountFrozen):
            await amend(ledger, first, amount="11")
        await amend(ledger, first, description="corrected")
        await amend(ledger, first, amount="5")  # releases part of the hold
        await amend(ledger, second, status="cancelled")
        assert await figures(ledger, number) == ("100.00", "5.00", "95.00")

    async def test_a_frozen_account_s_holds_still_expire(
        self, ledger: Ledger, clock: SteppingClock
    ) -> None:
        number = await open_with(ledger, "100")
        held = await hold(ledger, number, "10", expires_at=T0 + HOUR)
        await ledger.update_account(UpdateAccountCommand(number, status="frozen"))
        clock.advance(HOUR)
        assert await figures(ledger, number) == ("100.00", "0.00", "100.00")
        assert await ledger.expire_holds() == 1
        assert (await ledger.get_transaction(held)).status.value == "cancelled"


class TestExpiry:
    @pytest.mark.parametrize(
        ("expires_at", "status"),
        [
            (T0, "pending"),  # not in the future
            (T0 - HOUR, "pending"),
            (T0 + timedelta(days=30, microseconds=1), "pending"),
            (T0.replace(tzinfo=None) + HOUR, "pending"),  # no offset
            (T0 + HOUR, "success"),  # only on a pending transaction
        ],
    )
    async def test_an_expiry_is_in_the_next_30_days_and_only_on_a_pending_transaction(
        self, ledger: Ledger, store: InMemoryStore, expires_at: datetime, status: str
    ) -> None:
        number = await open_with(ledger, "100")
        transactions = len(store.transactions)
        with pytest.raises(InvalidValue) as refused:
            await ledger.post_transaction(
                PostTransactionCommand(
                    number,
                    "1",
                    "withdrawal",
                    status=status,
                    expires_at=expires_at,
                )
            )
        assert refused.value.field == "expires_at"
        assert len(store.transactions) == transactions

    async def test_an_expiry_30_days_ahead_is_taken(self, ledger: Ledger) -> None:
        number = await open_with(ledger, "100")
        held = await hold(ledger, number, "1", expires_at=T0 + timedelta(days=30))
        assert (await ledger.get_transaction(held)).expires_at == T0 + timedelta(days=30)

    async def test_an_expired_hold_reads_cancelled_from_its_instant_and_the_record_changes_nothing(
        self, ledger: Ledger, clock: SteppingClock
    ) -> None:
        number = await open_with(ledger, "100")
        held = await hold(ledger, number, "40", expires_at=T0 + HOUR)
        other = await hold(ledger, number, "10")
        clock.advance(HOUR - timedelta(microseconds=1))
        assert (await ledger.get_transaction(held)).status.value == "pending"
        assert await figures(ledger, number) == ("100.00", "50.00", "50.00")
        clock.advance(timedelta(microseconds=1))

        async def every_read() -> object:
            account = await ledger.get_account(number)
            transaction = await ledger.get_transaction(held)
            history = await ledger.transaction_history(TransactionHistoryRequest(held))
            listed = await ledger.list_transactions(ListTransactionsQuery(number))
            cancelled = await ledger.list_transactions(
                ListTransactionsQuery(number, status="cancelled")
            )
            pending = await ledger.list_transactions(
                ListTransactionsQuery(number, status="pending")
            )
            return (
                (account.balance, account.held, account.available_balance, account.version),
                account.updated_at,
                (transaction.status, transaction.version, transaction.updated_at),
                transaction.expires_at,
                [
                    (c.change, c.changed_by, c.request_id, c.changed_at, c.transaction.version)
                    for c in history.items
                ],
                [(t.transaction_id, t.status, t.version) for t in listed.items],
                [t.transaction_id.value for t in cancelled.items],
                [t.transaction_id.value for t in pending.items],
            )

        before = await every_read()
        assert await ledger.expire_holds() == 1
        assert await every_read() == before
        assert await ledger.expire_holds() == 0
        account = await ledger.get_account(number)
        assert (str(account.available_balance), account.updated_at) == ("90.00", T0 + HOUR)
        transaction = await ledger.get_transaction(held)
        assert (transaction.status.value, transaction.version) == ("cancelled", 2)
        assert (transaction.updated_at, transaction.expires_at) == (T0 + HOUR, T0 + HOUR)
        history = await ledger.transaction_history(TransactionHistoryRequest(held))
        assert [(c.change, c.changed_by, c.request_id) for c in history.items] == [
            (Change.CREATED, "master", None),
            (Change.EXPIRED, "system", None),
        ]
        events = (await ledger.list_events(ListEventsQuery(event_type="transaction.expired"))).items
        assert [(e.type, e.actor_id, e.transaction_id) for e in events] == [
            (EventType.TRANSACTION_EXPIRED, "system", transaction.transaction_id)
        ]
        listed = await ledger.list_transactions(ListTransactionsQuery(number, status="pending"))
        assert [t.transaction_id.value for t in listed.items] == [other]

    async def test_an_expired_hold_is_never_applied_later(
        self, ledger: Ledger, clock: SteppingClock
    ) -> None:
        number = await open_with(ledger, "100")
        held = await hold(ledger, number, "40", expires_at=T0 + HOUR)
        clock.advance(2 * HOUR)
        changes: list[dict[str, Any]] = [
            {"status": "success"},
            {"status": "failed"},
            {"amount": "1", "status": "success"},
        ]
        for change in changes:
            with pytest.raises(InvalidStatusChange):
                await amend(ledger, held, **change)
        with pytest.raises(InvalidValue):
            await amend(ledger, held, expires_at=T0 + 3 * HOUR)  # no longer pending
        assert await figures(ledger, number) == ("100.00", "0.00", "100.00")
        # The description of an expired transaction is still corrected, after its expiry.
        await amend(ledger, held, description="expired, noted")
        history = await ledger.transaction_history(TransactionHistoryRequest(held))
        assert [c.change for c in history.items] == [
            Change.CREATED,
            Change.EXPIRED,
            Change.AMENDED,
        ]

    async def test_a_stale_version_of_an_expired_hold_is_a_version_mismatch(
        self, ledger: Ledger, clock: SteppingClock
    ) -> None:
        number = await open_with(ledger, "100")
        held = await hold(ledger, number, "40", expires_at=T0 + HOUR)
        clock.advance(HOUR)
        with pytest.raises(VersionMismatch):
            await amend(ledger, held, status="success", expected_version=1)

    async def test_a_posting_to_an_account_with_a_due_hold_records_the_expiry_first(
        self, ledger: Ledger, clock: SteppingClock
    ) -> None:
        number = await open_with(ledger, "100")
        held = await hold(ledger, number, "100", expires_at=T0 + HOUR)
        clock.advance(HOUR)
        await ledger.post_transaction(PostTransactionCommand(number, "100", "withdrawal"))
        assert await figures(ledger, number) == ("0.00", "0.00", "0.00")
        events = (await ledger.list_events(ListEventsQuery(account_number=number))).items
        assert [e.type.value for e in events][-2:] == ["transaction.expired", "transaction.posted"]
        assert (await ledger.get_transaction(held)).version == 2

    async def test_a_pending_deposit_expires_too_and_the_account_then_closes(
        self, ledger: Ledger, clock: SteppingClock
    ) -> None:
        number = await open_with(ledger)
        deposit = await hold(ledger, number, "5", expires_at=T0 + HOUR, transaction_type="deposit")
        clock.advance(HOUR)
        await ledger.close_account(CloseAccountCommand(number))
        assert (await ledger.get_transaction(deposit)).status.value == "cancelled"
        history = await ledger.transaction_history(TransactionHistoryRequest(deposit))
        assert [c.change for c in history.items] == [Change.CREATED, Change.EXPIRED]

    async def test_an_expiry_is_moved_or_removed_while_pending_and_goes_when_resolved(
        self, ledger: Ledger, clock: SteppingClock
    ) -> None:
        number = await open_with(ledger, "100")
        held = await hold(ledger, number, "40", expires_at=T0 + HOUR)
        await amend(ledger, held, expires_at=T0 + 3 * HOUR)
        clock.advance(2 * HOUR)
        assert await figures(ledger, number) == ("100.00", "40.00", "60.00")
        await amend(ledger, held, expires_at=None)
        clock.advance(2 * HOUR)
        assert (await ledger.get_transaction(held)).status.value == "pending"
        captured = await amend(ledger, held, status="success")
        assert captured.expires_at is None
        with pytest.raises(InvalidValue):
            await amend(ledger, held, expires_at=clock.now + HOUR)

    async def test_an_earlier_expiry_of_a_hold_is_no_change_of_its_account(
        self, ledger: Ledger, clock: SteppingClock
    ) -> None:
        number = await open_with(ledger, "100")
        held = await hold(ledger, number, "40", expires_at=T0 + 3 * HOUR)
        version = (await ledger.get_account(number)).version
        await amend(ledger, held, expires_at=T0 + HOUR)
        assert (await ledger.get_account(number)).version == version
        clock.advance(HOUR)
        account = await ledger.get_account(number)
        assert (str(account.available_balance), account.version) == ("100.00", version + 1)

    async def test_the_history_of_an_expired_hold_pages_like_any_other(
        self, ledger: Ledger, clock: SteppingClock
    ) -> None:
        number = await open_with(ledger, "100")
        held = await hold(ledger, number, "40", expires_at=T0 + HOUR)
        await amend(ledger, held, description="one")
        clock.advance(HOUR)
        first = await ledger.transaction_history(TransactionHistoryRequest(held, limit=2))
        assert [c.transaction.version for c in first.items] == [1, 2]
        assert first.next_cursor is not None
        rest = await ledger.transaction_history(
            TransactionHistoryRequest(held, limit=2, cursor=first.next_cursor)
        )
        assert [(c.change, c.transaction.version) for c in rest.items] == [(Change.EXPIRED, 3)]
        assert rest.next_cursor is None

    async def test_recalculation_repairs_a_drifted_held_amount(
        self, ledger: Ledger, store: InMemoryStore
    ) -> None:
        number = await open_with(ledger, "100")
        await hold(ledger, number, "40")
        account = store.accounts[next(n for n in store.accounts if n.value == number)]
        account.held = account.held + account.held  # drift: 80 held for one hold of 40
        result = await ledger.recalculate_balance(number)
        assert result.corrected is True
        assert await figures(ledger, number) == ("100.00", "40.00", "60.00")


async def test_money_stays_decimal(ledger: Ledger) -> None:
    number = await open_with(ledger, "0.10", limit="0.20")
    account = await ledger.get_account(number)
    assert account.available_balance.amount == Decimal("0.30")
