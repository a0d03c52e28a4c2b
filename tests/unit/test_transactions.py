"""Posting, amending, deleting, reading transactions and recalculating balances."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import TypedDict, Unpack

import pytest

from bank_adapters.memory import InMemoryStore
from bank_domain import (
    UNSET,
    AccountFrozen,
    AccountNumber,
    AmendTransactionCommand,
    BalanceLimitExceeded,
    DeleteTransactionCommand,
    DuplicateTransactionId,
    InsufficientFunds,
    InvalidStatusChange,
    InvalidValue,
    Ledger,
    Money,
    PostTransactionCommand,
    Transaction,
    TransactionId,
    TransactionNotFound,
    TransactionStatus,
    TransactionType,
    UpdateAccountCommand,
    VersionMismatch,
)
from bank_domain.errors import AccountNotFound
from bank_domain.transaction import Unset

from .support import (
    SteppingClock,
    balance_of,
    every_transaction,
    number_of,
    open_account,
    post,
    random_account_number,
    random_tid,
    sum_of_success,
)

D = Decimal


class AmendChanges(TypedDict, total=False):
    """What an ``AmendTransactionCommand`` may change, and the version it expects."""

    amount: Decimal | int | str | None
    transaction_type: str | None
    description: str | Unset | None
    status: str | None
    expected_version: int | None


class PostingFields(TypedDict, total=False):
    """A ``PostTransactionCommand``'s fields, or some of them."""

    account_number: str
    amount: Decimal | int | str
    transaction_type: str
    transaction_id: str | None
    description: str | None
    status: str


class RetriedFields(TypedDict, total=False):
    """A retried posting's fields, its account named ``"other"`` for the second account."""

    amount: str
    transaction_type: str
    description: str | None
    status: str
    account: str


async def amend(
    ledger: Ledger, transaction_id: object, **changes: Unpack[AmendChanges]
) -> Transaction:
    return await ledger.amend_transaction(AmendTransactionCommand(str(transaction_id), **changes))


async def version_of(ledger: Ledger, number: str) -> int:
    return (await ledger.get_account(number)).version


class TestPost:
    async def test_a_deposit_moves_the_balance_and_the_version(
        self, ledger: Ledger, clock: SteppingClock
    ) -> None:
        number = number_of(await open_account(ledger, "10"))
        tid = random_tid()
        now = clock.now

        posting = await post(ledger, number, "2.50", transaction_id=tid, description="Pocket money")

        assert posting.created is True
        t = posting.transaction
        assert str(t.transaction_id) == tid
        assert t.account_number == AccountNumber(number)
        assert t.amount.amount == D("2.50")
        assert t.transaction_type is TransactionType.DEPOSIT
        assert t.status is TransactionStatus.SUCCESS
        assert t.description == "Pocket money"
        assert t.timestamp == t.updated_at == now
        assert t.balance_after is not None
        assert t.balance_after.amount == D("12.50")
        assert t.deleted_at is None
        account = await ledger.get_account(number)
        assert account.balance.amount == D("12.50")
        assert account.version == 2
        assert account.updated_at == now
        stored = await ledger.get_transaction(tid)
        assert (stored.amount, stored.balance_after) == (t.amount, t.balance_after)

    async def test_a_withdrawal_takes_money_out_down_to_exactly_zero(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, "100"))
        first = await post(ledger, number, "60.01", "withdrawal")
        assert first.transaction.balance_after == Money.parse("39.99")
        last = await post(ledger, number, "39.99", "withdrawal")
        assert last.transaction.balance_after == Money.parse("0")
        assert await balance_of(ledger, number) == 0

    async def test_point_one_then_point_two_leaves_exactly_point_three(
        self, ledger: Ledger
    ) -> None:
        number = number_of(await open_account(ledger))
        await post(ledger, number, "0.1")
        await post(ledger, number, D("0.2"))
        account = await ledger.get_account(number)
        assert account.balance.amount == D("0.3")
        assert str(account.balance) == "0.30"

    async def test_the_defaults_are_success_and_a_generated_id(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger))
        posting = await ledger.post_transaction(PostTransactionCommand(number, "1", "deposit"))
        t = posting.transaction
        assert t.status is TransactionStatus.SUCCESS
        assert t.description is None
        assert TransactionId(str(t.transaction_id)) == t.transaction_id
        other = await ledger.post_transaction(PostTransactionCommand(number, "1", "deposit"))
        assert other.transaction.transaction_id != t.transaction_id

    async def test_an_overdraft_is_refused_and_nothing_is_stored(
        self, ledger: Ledger, store: InMemoryStore
    ) -> None:
        number = number_of(await open_account(ledger, "10"))
        tid = random_tid()
        stored_before = dict(store.transactions)

        with pytest.raises(InsufficientFunds) as caught:
            await post(ledger, number, "10.01", "withdrawal", transaction_id=tid)

        assert caught.value.code == "insufficient_funds"
        account = await ledger.get_account(number)
        assert account.balance.amount == 10
        assert account.version == 1
        assert store.transactions == stored_before
        with pytest.raises(TransactionNotFound):
            await ledger.get_transaction(tid)
        # Nothing was stored, so the id is still free.
        assert (await post(ledger, number, "10", "withdrawal", transaction_id=tid)).created

    @pytest.mark.parametrize("status", ["pending", "failed", "cancelled"])
    @pytest.mark.parametrize("kind", ["deposit", "withdrawal"])
    async def test_only_success_moves_the_balance(
        self, ledger: Ledger, status: str, kind: str
    ) -> None:
        number = number_of(await open_account(ledger, "5"))
        posting = await post(ledger, number, "3", kind, status=status)
        t = posting.transaction
        assert t.status.value == status
        assert t.balance_after is None
        account = await ledger.get_account(number)
        assert account.balance.amount == 5
        # v2: a pending withdrawal is a hold, a change of the account's available balance.
        is_hold = (kind, status) == ("withdrawal", "pending")
        assert account.version == (2 if is_hold else 1)
        assert account.available_balance.amount == (2 if is_hold else 5)
        assert (await ledger.get_transaction(str(t.transaction_id))).balance_after is None

    async def test_a_pending_withdrawal_larger_than_the_balance_is_refused(
        self, ledger: Ledger, store: InMemoryStore
    ) -> None:
        """v2 (API.md section 12): a hold must fit the available balance when posted."""
        number = number_of(await open_account(ledger, "5"))
        stored_before = dict(store.transactions)
        with pytest.raises(InsufficientFunds):
            await post(ledger, number, "50", "withdrawal", status="pending")
        assert await balance_of(ledger, number) == 5
        assert store.transactions == stored_before

    async def test_a_retry_with_the_same_fields_returns_the_stored_one_and_moves_nothing(
        self, ledger: Ledger, clock: SteppingClock
    ) -> None:
        number = number_of(await open_account(ledger, "1"))
        tid = random_tid()
        first = await post(ledger, number, "5", transaction_id=tid, description="Gift")
        clock.advance(timedelta(minutes=5))

        for _ in range(3):
            again = await post(ledger, number, "5.00", transaction_id=tid, description="Gift")
            assert again.created is False
            assert again.transaction.transaction_id == first.transaction.transaction_id
            assert again.transaction.timestamp == first.transaction.timestamp
            assert again.transaction.balance_after == first.transaction.balance_after

        account = await ledger.get_account(number)
        assert account.balance.amount == 6
        assert account.version == 2
        assert len(await every_transaction(ledger, number)) == 2

    async def test_a_retry_of_a_pending_posting_is_also_safe(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger))
        tid = random_tid()
        await post(ledger, number, "5", status="pending", transaction_id=tid)
        again = await post(ledger, number, "5", status="pending", transaction_id=tid)
        assert again.created is False
        assert len(await every_transaction(ledger, number)) == 1

    @pytest.mark.parametrize(
        "changed",
        [
            {"amount": "5.01"},
            {"transaction_type": "withdrawal"},
            {"description": "Other"},
            {"description": None},
            {"status": "pending"},
            {"account": "other"},
        ],
    )
    async def test_the_same_id_with_other_fields_is_refused(
        self, ledger: Ledger, changed: RetriedFields
    ) -> None:
        number = number_of(await open_account(ledger, "100"))
        other = number_of(await open_account(ledger, "100"))
        tid = random_tid()
        fields: RetriedFields = {
            "amount": "5",
            "transaction_type": "deposit",
            "description": "Gift",
            "status": "success",
            "account": number,
        }
        await post(
            ledger,
            number,
            "5",
            "deposit",
            transaction_id=tid,
            description="Gift",
        )
        fields.update(changed)
        if fields["account"] == "other":
            fields["account"] = other

        with pytest.raises(DuplicateTransactionId) as caught:
            await post(
                ledger,
                str(fields["account"]),
                fields["amount"],
                str(fields["transaction_type"]),
                transaction_id=tid,
                description=fields["description"],
                status=str(fields["status"]),
            )

        assert caught.value.code == "duplicate_transaction_id"
        assert await balance_of(ledger, number) == 105
        assert await balance_of(ledger, other) == 100
        assert (await ledger.get_transaction(tid)).amount.amount == 5

    async def test_a_deleted_id_is_never_reused(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger))
        tid = random_tid()
        await post(ledger, number, "5", transaction_id=tid)
        await ledger.delete_transaction(DeleteTransactionCommand(tid))
        with pytest.raises(DuplicateTransactionId):
            await post(ledger, number, "5", transaction_id=tid)
        with pytest.raises(DuplicateTransactionId):
            await post(ledger, number, "9", "withdrawal", transaction_id=tid)
        assert await balance_of(ledger, number) == 0

    async def test_the_initial_deposits_id_is_taken_too(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, "5"))
        [opening] = await every_transaction(ledger, number)
        with pytest.raises(DuplicateTransactionId):
            await post(ledger, number, "1", transaction_id=str(opening.transaction_id))

    async def test_an_unknown_account_is_not_found_and_nothing_is_stored(
        self, ledger: Ledger, store: InMemoryStore
    ) -> None:
        with pytest.raises(AccountNotFound) as caught:
            await post(ledger, random_account_number(), "5")
        assert caught.value.code == "account_not_found"
        assert store.transactions == {}

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"amount": "0"}, "amount"),
            ({"amount": "-1"}, "amount"),
            ({"amount": 1.5}, "amount"),
            ({"amount": "NaN"}, "amount"),
            ({"amount": "Infinity"}, "amount"),
            ({"amount": "ten"}, "amount"),
            ({"amount": "1.001"}, "amount"),
            ({"amount": "1000000000000.01"}, "amount"),
            ({"transaction_type": "transfer"}, "transaction_type"),
            ({"status": "done"}, "status"),
            ({"transaction_id": "short"}, "transaction_id"),
            ({"transaction_id": "a" * 65}, "transaction_id"),
            ({"transaction_id": "abcdefgh\n"}, "transaction_id"),
            ({"description": "d" * 501}, "description"),
            ({"description": "nul\x00"}, "description"),
            ({"description": "\ud800"}, "description"),
            ({"account_number": "123"}, "account_number"),
        ],
    )
    async def test_bad_fields_are_refused_and_nothing_is_stored(
        self, ledger: Ledger, store: InMemoryStore, changes: PostingFields, field: str
    ) -> None:
        number = number_of(await open_account(ledger, "50"))
        stored_before = dict(store.transactions)
        fields: PostingFields = {
            "account_number": number,
            "amount": "5",
            "transaction_type": "deposit",
            "transaction_id": random_tid(),
            "description": "ok",
            "status": "success",
        }
        fields.update(changes)
        with pytest.raises(InvalidValue) as caught:
            await ledger.post_transaction(PostTransactionCommand(**fields))
        assert caught.value.field == field
        assert store.transactions == stored_before
        assert await balance_of(ledger, number) == 50

    async def test_the_largest_amount_is_accepted(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger))
        await post(ledger, number, "1000000000000.00")
        assert await balance_of(ledger, number) == D("1000000000000.00")

    async def test_a_description_is_at_most_500_characters_as_stored(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger))
        assert (await post(ledger, number, "1", description="d" * 500)).transaction.description
        try:
            posting = await post(ledger, number, "1", description="d" * 500 + "  ")
        except InvalidValue:
            return
        stored = await ledger.get_transaction(str(posting.transaction.transaction_id))
        assert stored.description is not None
        assert len(stored.description) <= 500

    async def test_a_balance_never_passes_its_ceiling(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, "1000000000000"))
        for _ in range(99):
            await post(ledger, number, "1000000000000")
        assert await balance_of(ledger, number) == D("100000000000000.00")
        with pytest.raises(BalanceLimitExceeded):
            await post(ledger, number, "0.01")
        assert await balance_of(ledger, number) == D("100000000000000.00")


class TestAmend:
    async def test_changing_a_success_amount_moves_the_balance_by_the_difference(
        self, ledger: Ledger, clock: SteppingClock
    ) -> None:
        number = number_of(await open_account(ledger, "10"))
        t = (await post(ledger, number, "100")).transaction
        clock.advance(timedelta(minutes=1))

        up = await amend(ledger, t.transaction_id, amount="150.25")
        assert up.amount.amount == D("150.25")
        assert up.timestamp == t.timestamp
        assert up.updated_at > t.updated_at
        assert up.balance_after == Money.parse("160.25")
        assert await balance_of(ledger, number) == D("160.25")
        assert await version_of(ledger, number) == 3

        down = await amend(ledger, t.transaction_id, amount="0.25")
        assert down.balance_after == Money.parse("10.25")
        assert await balance_of(ledger, number) == D("10.25")
        assert await version_of(ledger, number) == 4
        stored = await ledger.get_transaction(str(t.transaction_id))
        assert stored.amount.amount == D("0.25")

    async def test_changing_a_success_type_moves_the_balance_by_twice_the_amount(
        self, ledger: Ledger
    ) -> None:
        number = number_of(await open_account(ledger, "100"))
        t = (await post(ledger, number, "30")).transaction
        await amend(ledger, t.transaction_id, transaction_type="withdrawal")
        assert await balance_of(ledger, number) == 70
        await amend(ledger, t.transaction_id, transaction_type="deposit", amount="40")
        assert await balance_of(ledger, number) == 140

    async def test_pending_to_success_applies_it(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, "10"))
        t = (await post(ledger, number, "4", "withdrawal", status="pending")).transaction
        done = await amend(ledger, t.transaction_id, status="success")
        assert done.status is TransactionStatus.SUCCESS
        assert done.balance_after == Money.parse("6")
        assert await balance_of(ledger, number) == 6
        # v2: the hold was a change of the account too (version 2), the capture another.
        assert await version_of(ledger, number) == 3

    @pytest.mark.parametrize("status", ["failed", "cancelled"])
    @pytest.mark.parametrize(("kind", "moved_to"), [("deposit", 30), ("withdrawal", 10)])
    async def test_success_to_failed_or_cancelled_takes_it_back(
        self, ledger: Ledger, status: str, kind: str, moved_to: int
    ) -> None:
        number = number_of(await open_account(ledger, "20"))
        t = (await post(ledger, number, "10", kind)).transaction
        assert await balance_of(ledger, number) == moved_to
        undone = await amend(ledger, t.transaction_id, status=status)
        assert undone.status.value == status
        assert undone.balance_after is None
        assert await balance_of(ledger, number) == 20
        assert await version_of(ledger, number) == 3

    @pytest.mark.parametrize("final", ["failed", "cancelled"])
    @pytest.mark.parametrize("start", ["pending", "success"])
    async def test_failed_and_cancelled_are_final(
        self, ledger: Ledger, start: str, final: str
    ) -> None:
        number = number_of(await open_account(ledger, "20"))
        t = (await post(ledger, number, "5", status=start)).transaction
        await amend(ledger, t.transaction_id, status=final)
        balance = await balance_of(ledger, number)
        for later in {"pending", "success", "failed", "cancelled"} - {final}:
            with pytest.raises(InvalidStatusChange) as caught:
                await amend(ledger, t.transaction_id, status=later)
            assert caught.value.code == "invalid_status_change"
        stored = await ledger.get_transaction(str(t.transaction_id))
        assert stored.status.value == final
        assert await balance_of(ledger, number) == balance

    async def test_a_refused_status_change_changes_no_other_field(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, "20"))
        t = (await post(ledger, number, "5", status="failed", description="x")).transaction
        with pytest.raises(InvalidStatusChange):
            await amend(ledger, t.transaction_id, status="success", amount="6", description="y")
        stored = await ledger.get_transaction(str(t.transaction_id))
        assert (stored.amount.amount, stored.description) == (D(5), "x")

    async def test_success_cannot_go_back_to_pending(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger))
        t = (await post(ledger, number, "5")).transaction
        with pytest.raises(InvalidStatusChange):
            await amend(ledger, t.transaction_id, status="pending")
        assert (await ledger.get_transaction(str(t.transaction_id))).status is (
            TransactionStatus.SUCCESS
        )
        assert await balance_of(ledger, number) == 5

    async def test_restating_the_current_status_is_no_change(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger))
        t = (await post(ledger, number, "5", status="cancelled")).transaction
        same = await amend(ledger, t.transaction_id, status="cancelled")
        assert same.updated_at == t.updated_at

    @pytest.mark.parametrize(
        "changes",
        [
            {"amount": "50"},
            {"transaction_type": "withdrawal"},
            {"status": "cancelled"},
            {"status": "failed", "description": "bounced"},
        ],
    )
    async def test_a_change_that_would_overdraw_is_refused_and_changes_nothing(
        self, ledger: Ledger, changes: AmendChanges
    ) -> None:
        number = number_of(await open_account(ledger))
        deposit = (await post(ledger, number, "100", description="salary")).transaction
        await post(ledger, number, "80", "withdrawal")
        version = await version_of(ledger, number)

        with pytest.raises(InsufficientFunds):
            await amend(ledger, deposit.transaction_id, **changes)

        stored = await ledger.get_transaction(str(deposit.transaction_id))
        assert stored.amount.amount == 100
        assert stored.transaction_type is TransactionType.DEPOSIT
        assert stored.status is TransactionStatus.SUCCESS
        assert stored.description == "salary"
        assert stored.updated_at == deposit.updated_at
        assert await balance_of(ledger, number) == 20
        assert await version_of(ledger, number) == version

    async def test_description_can_be_set_cleared_or_left_alone(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger))
        t = (await post(ledger, number, "5", description="first")).transaction
        tid = t.transaction_id

        assert (await amend(ledger, tid, amount="6")).description == "first"
        assert (await amend(ledger, tid, description=UNSET)).description == "first"
        assert (await amend(ledger, tid, description="second")).description == "second"
        assert (await ledger.get_transaction(str(tid))).description == "second"
        assert (await amend(ledger, tid, description=None)).description is None
        assert (await ledger.get_transaction(str(tid))).description is None
        assert (await amend(ledger, tid, amount="7")).description is None

    async def test_a_description_change_touches_the_transaction_but_not_the_account(
        self, ledger: Ledger
    ) -> None:
        number = number_of(await open_account(ledger))
        t = (await post(ledger, number, "5")).transaction
        version = await version_of(ledger, number)
        changed = await amend(ledger, t.transaction_id, description="Lunch")
        assert changed.updated_at > t.updated_at
        assert changed.balance_after == t.balance_after
        assert await version_of(ledger, number) == version
        assert await balance_of(ledger, number) == 5

    async def test_a_request_that_changes_nothing_touches_nothing(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger))
        t = (await post(ledger, number, "5", description="same")).transaction
        same = await amend(
            ledger,
            t.transaction_id,
            amount="5.00",
            transaction_type="deposit",
            status="success",
            description="same",
        )
        assert same.updated_at == t.updated_at
        assert (await ledger.get_transaction(str(t.transaction_id))).updated_at == t.updated_at
        assert await version_of(ledger, number) == 2

    async def test_changing_a_pending_amount_moves_nothing(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, "1"))
        t = (await post(ledger, number, "5", status="pending")).transaction
        changed = await amend(ledger, t.transaction_id, amount="500")
        assert changed.amount.amount == 500
        assert changed.balance_after is None
        assert await balance_of(ledger, number) == 1
        assert await version_of(ledger, number) == 1
        # v2: a pending withdrawal holds its amount, so it must fit the available balance.
        with pytest.raises(InsufficientFunds):
            await amend(ledger, t.transaction_id, transaction_type="withdrawal")
        held = await amend(ledger, t.transaction_id, amount="1", transaction_type="withdrawal")
        assert held.balance_after is None
        assert await balance_of(ledger, number) == 1
        assert (await ledger.get_account(number)).available_balance.amount == 0

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"amount": "0"}, "amount"),
            ({"amount": 2.5}, "amount"),  # a float, outside AmendChanges: refused at run time
            ({"amount": "1.234"}, "amount"),
            ({"transaction_type": "refund"}, "transaction_type"),
            ({"status": "done"}, "status"),
            ({"description": "d" * 501}, "description"),
            ({"description": "\x00"}, "description"),
        ],
    )
    async def test_bad_fields_are_refused_and_nothing_changes(
        self, ledger: Ledger, changes: AmendChanges, field: str
    ) -> None:
        number = number_of(await open_account(ledger))
        t = (await post(ledger, number, "5", description="kept")).transaction
        with pytest.raises(InvalidValue) as caught:
            await amend(ledger, t.transaction_id, **changes)
        assert caught.value.field == field
        stored = await ledger.get_transaction(str(t.transaction_id))
        assert (stored.amount.amount, stored.description) == (D(5), "kept")

    async def test_an_unknown_or_deleted_transaction_is_not_found(self, ledger: Ledger) -> None:
        with pytest.raises(TransactionNotFound) as caught:
            await amend(ledger, random_tid(), amount="1")
        assert caught.value.code == "transaction_not_found"
        number = number_of(await open_account(ledger))
        t = (await post(ledger, number, "5")).transaction
        await ledger.delete_transaction(DeleteTransactionCommand(str(t.transaction_id)))
        with pytest.raises(TransactionNotFound):
            await amend(ledger, t.transaction_id, amount="1")

    async def test_a_frozen_account_refuses_a_change_that_moves_money(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, "50"))
        t = (await post(ledger, number, "5")).transaction
        pending = (await post(ledger, number, "5", status="pending")).transaction
        await ledger.update_account(UpdateAccountCommand(number, status="frozen"))

        refused: list[tuple[object, AmendChanges]] = [
            (t.transaction_id, {"amount": "6"}),
            (t.transaction_id, {"status": "cancelled"}),
            (pending.transaction_id, {"status": "success"}),
        ]
        for tid, changes in refused:
            with pytest.raises(AccountFrozen):
                await amend(ledger, tid, **changes)
        assert await balance_of(ledger, number) == 55
        # A change that moves no money is still allowed.
        assert (await amend(ledger, t.transaction_id, description="note")).description == "note"


class TestDelete:
    @pytest.mark.parametrize(("kind", "moved_to"), [("deposit", 20), ("withdrawal", 10)])
    async def test_a_success_transactions_effect_is_taken_back(
        self, ledger: Ledger, store: InMemoryStore, kind: str, moved_to: int
    ) -> None:
        number = number_of(await open_account(ledger, "15"))
        t = (await post(ledger, number, "5", kind)).transaction
        tid = str(t.transaction_id)
        assert await balance_of(ledger, number) == moved_to

        await ledger.delete_transaction(DeleteTransactionCommand(tid))

        assert await balance_of(ledger, number) == 15
        assert await version_of(ledger, number) == 3
        with pytest.raises(TransactionNotFound):
            await ledger.get_transaction(tid)
        assert t.transaction_id not in {
            x.transaction_id for x in await every_transaction(ledger, number)
        }
        # The record is kept for audit.
        kept = store.transactions[TransactionId(tid)]
        assert kept.deleted_at is not None
        assert kept.amount.amount == 5
        assert (await ledger.recalculate_balance(number)).corrected is False

    async def test_a_pending_transaction_goes_without_moving_money(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, "15"))
        t = (await post(ledger, number, "5", status="pending")).transaction
        await ledger.delete_transaction(DeleteTransactionCommand(str(t.transaction_id)))
        assert await balance_of(ledger, number) == 15
        assert await version_of(ledger, number) == 1

    async def test_a_delete_that_would_overdraw_is_refused(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger))
        deposit = (await post(ledger, number, "100")).transaction
        await post(ledger, number, "60", "withdrawal")

        with pytest.raises(InsufficientFunds):
            await ledger.delete_transaction(DeleteTransactionCommand(str(deposit.transaction_id)))

        assert (await ledger.get_transaction(str(deposit.transaction_id))).amount.amount == 100
        assert await balance_of(ledger, number) == 40

    async def test_a_deleted_transaction_is_gone_for_good(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, "10"))
        tid = random_tid()
        await post(ledger, number, "5", transaction_id=tid)
        await ledger.delete_transaction(DeleteTransactionCommand(tid))
        with pytest.raises(TransactionNotFound) as caught:
            await ledger.delete_transaction(DeleteTransactionCommand(tid))
        assert caught.value.code == "transaction_not_found"
        with pytest.raises(DuplicateTransactionId):
            await post(ledger, number, "5", transaction_id=tid)
        assert await balance_of(ledger, number) == 10

    async def test_a_frozen_account_refuses_a_delete_that_moves_money(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, "10"))
        t = (await post(ledger, number, "5")).transaction
        await ledger.update_account(UpdateAccountCommand(number, status="frozen"))
        with pytest.raises(AccountFrozen):
            await ledger.delete_transaction(DeleteTransactionCommand(str(t.transaction_id)))
        assert await balance_of(ledger, number) == 15

    async def test_an_unknown_transaction_is_not_found(self, ledger: Ledger) -> None:
        with pytest.raises(TransactionNotFound):
            await ledger.delete_transaction(DeleteTransactionCommand(random_tid()))


class TestTransactionVersion:
    """A transaction's version starts at 1 and moves on once with every change (amendment,
    status change, deletion); a stale expected version (If-Match) is refused, nothing changed."""

    async def test_a_new_transaction_and_its_retry_are_at_version_1(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger))
        tid = random_tid()
        posted = await post(ledger, number, "5", transaction_id=tid)
        retried = await post(ledger, number, "5", transaction_id=tid)
        assert (posted.created, retried.created) == (True, False)
        assert posted.transaction.version == retried.transaction.version == 1
        assert (await ledger.get_transaction(tid)).version == 1

    async def test_each_change_counts_once_and_no_change_counts_nothing(
        self, ledger: Ledger
    ) -> None:
        number = number_of(await open_account(ledger, "100"))
        t = (await post(ledger, number, "5", status="pending")).transaction
        tid = t.transaction_id
        assert (await amend(ledger, tid, description="Lunch")).version == 2
        assert (await amend(ledger, tid, description="Lunch", status="pending")).version == 2
        assert (await amend(ledger, tid, status="success")).version == 3
        assert (await amend(ledger, tid, amount="7", transaction_type="withdrawal")).version == 4
        assert (await amend(ledger, tid, amount="7.00")).version == 4
        assert (await amend(ledger, tid, status="cancelled")).version == 5
        assert (await ledger.get_transaction(str(tid))).version == 5

    async def test_a_deletion_counts_as_a_change(
        self, ledger: Ledger, store: InMemoryStore
    ) -> None:
        number = number_of(await open_account(ledger))
        t = (await post(ledger, number, "5")).transaction
        await amend(ledger, t.transaction_id, description="x")
        await ledger.delete_transaction(DeleteTransactionCommand(str(t.transaction_id)))
        assert store.transactions[t.transaction_id].version == 3

    async def test_a_refused_change_leaves_the_version(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger))
        deposit = (await post(ledger, number, "10")).transaction
        with pytest.raises(InsufficientFunds):
            await amend(ledger, deposit.transaction_id, transaction_type="withdrawal")
        with pytest.raises(InvalidStatusChange):
            await amend(ledger, deposit.transaction_id, status="pending")
        assert (await ledger.get_transaction(str(deposit.transaction_id))).version == 1

    async def test_a_matching_expected_version_is_accepted(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger))
        tid = (await post(ledger, number, "5")).transaction.transaction_id
        assert (await amend(ledger, tid, description="a", expected_version=1)).version == 2
        assert (await amend(ledger, tid, description="b", expected_version=2)).version == 3
        await ledger.delete_transaction(DeleteTransactionCommand(str(tid), expected_version=3))
        with pytest.raises(TransactionNotFound):
            await ledger.get_transaction(str(tid))

    @pytest.mark.parametrize("expected", [0, 2, 99])
    async def test_a_stale_expected_version_is_refused_and_nothing_changes(
        self, ledger: Ledger, expected: int
    ) -> None:
        number = number_of(await open_account(ledger))
        t = (await post(ledger, number, "5", status="pending", description="as was")).transaction
        account_version = await version_of(ledger, number)
        with pytest.raises(VersionMismatch) as caught:
            await amend(
                ledger,
                t.transaction_id,
                amount="9",
                transaction_type="deposit",
                description="changed",
                status="success",
                expected_version=expected,
            )
        assert caught.value.code == "version_mismatch"
        stored = await ledger.get_transaction(str(t.transaction_id))
        assert (stored.amount.amount, stored.status, stored.description) == (
            D("5.00"),
            TransactionStatus.PENDING,
            "as was",
        )
        assert (stored.version, stored.updated_at) == (1, t.updated_at)
        assert await balance_of(ledger, number) == 0
        assert await version_of(ledger, number) == account_version

    async def test_a_stale_expected_version_is_refused_even_for_no_change(
        self, ledger: Ledger
    ) -> None:
        number = number_of(await open_account(ledger))
        tid = (await post(ledger, number, "5")).transaction.transaction_id
        await amend(ledger, tid, description="new")
        with pytest.raises(VersionMismatch):
            await amend(ledger, tid, description="new", expected_version=1)

    @pytest.mark.parametrize("expected", [0, 2, 99])
    async def test_a_stale_expected_version_keeps_the_transaction(
        self, ledger: Ledger, store: InMemoryStore, expected: int
    ) -> None:
        number = number_of(await open_account(ledger))
        t = (await post(ledger, number, "5")).transaction
        tid = str(t.transaction_id)
        with pytest.raises(VersionMismatch):
            await ledger.delete_transaction(
                DeleteTransactionCommand(tid, expected_version=expected)
            )
        stored = await ledger.get_transaction(tid)
        assert (stored.version, stored.deleted_at) == (1, None)
        assert await balance_of(ledger, number) == 5
        assert store.transactions[t.transaction_id].deleted_at is None


class TestGetTransaction:
    async def test_an_unknown_id_is_not_found(self, ledger: Ledger) -> None:
        with pytest.raises(TransactionNotFound):
            await ledger.get_transaction(random_tid())

    @pytest.mark.parametrize("malformed", ["short", "a" * 65, "abcdefgh\n", "abc defgh"])
    async def test_an_id_that_cannot_exist_is_simply_not_found(
        self, ledger: Ledger, malformed: str
    ) -> None:
        for lookup in [
            ledger.get_transaction(malformed),
            ledger.delete_transaction(DeleteTransactionCommand(malformed)),
            ledger.amend_transaction(AmendTransactionCommand(malformed, amount="1")),
        ]:
            with pytest.raises(TransactionNotFound):
                await lookup

    async def test_what_it_returns_is_a_copy(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger))
        tid = random_tid()
        await post(ledger, number, "5", transaction_id=tid)
        seen = await ledger.get_transaction(tid)
        seen.amount = Money.parse("500")
        assert (await ledger.get_transaction(tid)).amount.amount == 5


class TestRecalculate:
    async def test_a_consistent_balance_is_left_alone(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, "10"))
        await post(ledger, number, "5", "withdrawal")
        await post(ledger, number, "7", status="pending")
        t = (await post(ledger, number, "3")).transaction
        await ledger.delete_transaction(DeleteTransactionCommand(str(t.transaction_id)))
        version = await version_of(ledger, number)

        result = await ledger.recalculate_balance(number)

        assert result.corrected is False
        assert result.account_number == AccountNumber(number)
        assert result.balance == result.previous_balance == Money.parse("5")
        assert await version_of(ledger, number) == version

    async def test_drift_is_found_and_repaired(self, ledger: Ledger, store: InMemoryStore) -> None:
        number = number_of(await open_account(ledger, "10"))
        await post(ledger, number, "2.50", "withdrawal")
        await post(ledger, number, "100", status="failed")
        version = await version_of(ledger, number)
        store.accounts[AccountNumber(number)].balance = Money.parse("999.99")

        result = await ledger.recalculate_balance(number)

        assert result.corrected is True
        assert result.previous_balance == Money.parse("999.99")
        assert result.balance == Money.parse("7.50")
        account = await ledger.get_account(number)
        assert account.balance == Money.parse("7.50")
        assert account.version == version + 1
        assert sum_of_success(await every_transaction(ledger, number)) == D("7.50")
        assert (await ledger.recalculate_balance(number)).corrected is False

    async def test_drift_below_the_truth_is_repaired_too(
        self, ledger: Ledger, store: InMemoryStore
    ) -> None:
        number = number_of(await open_account(ledger, "10"))
        store.accounts[AccountNumber(number)].balance = Money.zero()
        result = await ledger.recalculate_balance(number)
        assert (result.corrected, result.balance) == (True, Money.parse("10"))
        assert await balance_of(ledger, number) == 10

    async def test_an_unknown_account_is_not_found(self, ledger: Ledger) -> None:
        with pytest.raises(AccountNotFound):
            await ledger.recalculate_balance(random_account_number())
