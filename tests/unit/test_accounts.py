"""Opening, reading, updating and closing accounts through the Ledger on the in-memory store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TypedDict

import pytest

from bank_adapters.memory import InMemoryStore
from bank_domain import (
    AccountFrozen,
    AccountNotEmpty,
    AccountNotFound,
    AccountNumber,
    AccountStatus,
    AccountType,
    AmendTransactionCommand,
    CloseAccountCommand,
    DuplicateAccountNumber,
    InvalidValue,
    Ledger,
    ListAccountsQuery,
    ListTransactionsQuery,
    OpenAccountCommand,
    TransactionStatus,
    TransactionType,
    UpdateAccountCommand,
    VersionMismatch,
)

from .support import (
    T0,
    SteppingClock,
    balance_of,
    every_transaction,
    number_of,
    open_account,
    post,
    random_account_number,
    random_name,
    random_tid,
)

D = Decimal


class AccountChanges(TypedDict, total=False):
    """What an ``UpdateAccountCommand`` may change."""

    customer_name: str | None
    account_type: str | None
    status: str | None


class TestOpenAccount:
    async def test_generates_a_ten_digit_number_and_starts_at_version_1(
        self, ledger: Ledger
    ) -> None:
        account = await ledger.open_account(OpenAccountCommand("  Ada Lovelace  ", "savings"))

        number = number_of(account)
        assert len(number) == 10
        assert number.isascii()
        assert number.isdigit()
        assert account.customer_name == "Ada Lovelace"
        assert account.account_type is AccountType.SAVINGS
        assert account.status is AccountStatus.ACTIVE
        assert account.balance.amount == D("0.00")
        assert account.version == 1
        assert account.created_at == account.updated_at == T0
        assert account.closed_at is None

        stored = await ledger.get_account(number)
        assert stored.number == account.number
        assert stored.customer_name == "Ada Lovelace"
        assert stored.version == 1

    async def test_generated_numbers_are_distinct(self, ledger: Ledger) -> None:
        numbers = {number_of(await open_account(ledger)) for _ in range(50)}
        assert len(numbers) == 50

    async def test_uses_the_number_given(self, ledger: Ledger) -> None:
        number = random_account_number()
        account = await open_account(ledger, number=number, account_type="checking")
        assert number_of(account) == number
        assert (await ledger.get_account(number)).account_type is AccountType.CHECKING

    async def test_a_taken_number_is_refused_and_nothing_changes(
        self, ledger: Ledger, store: InMemoryStore
    ) -> None:
        number = random_account_number()
        await open_account(ledger, number=number, name="First Holder")

        with pytest.raises(DuplicateAccountNumber) as caught:
            await open_account(ledger, "50", number=number, name="Second Holder")

        assert caught.value.code == "duplicate_account_number"
        assert caught.value.account_number == number
        assert (await ledger.get_account(number)).customer_name == "First Holder"
        assert await balance_of(ledger, number) == 0
        assert len(store.accounts) == 1
        assert store.transactions == {}

    async def test_a_closed_accounts_number_is_never_handed_out_again(self, ledger: Ledger) -> None:
        number = random_account_number()
        await open_account(ledger, number=number)
        await ledger.close_account(CloseAccountCommand(number))

        with pytest.raises(DuplicateAccountNumber):
            await open_account(ledger, number=number)
        with pytest.raises(AccountNotFound):
            await ledger.get_account(number)

    async def test_retries_a_generated_number_that_is_taken(
        self, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        taken = random_account_number()
        await open_account(ledger, number=taken)
        fresh = random_account_number()
        offers = iter([AccountNumber(taken), AccountNumber(taken), AccountNumber(fresh)])
        monkeypatch.setattr(AccountNumber, "generate", classmethod(lambda cls: next(offers)))

        account = await open_account(ledger)

        assert number_of(account) == fresh

    async def test_gives_up_after_a_bounded_number_of_taken_numbers(
        self, ledger: Ledger, store: InMemoryStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        taken = random_account_number()
        await open_account(ledger, number=taken)
        calls: list[int] = []

        def always_taken(cls: type[AccountNumber]) -> AccountNumber:
            calls.append(1)
            return AccountNumber(taken)

        monkeypatch.setattr(AccountNumber, "generate", classmethod(always_taken))
        with pytest.raises(DuplicateAccountNumber):
            await open_account(ledger)
        assert 1 < len(calls) <= 20
        assert len(store.accounts) == 1

    @pytest.mark.parametrize("deposit", ["500.00", D("500"), 500, "  500 "])
    async def test_an_initial_deposit_is_a_real_transaction(
        self, ledger: Ledger, deposit: Decimal | int | str
    ) -> None:
        account = await open_account(ledger, deposit)
        number = number_of(account)

        assert account.balance.amount == D("500.00")
        assert account.version == 1
        [transaction] = await every_transaction(ledger, number)
        assert transaction.description == "Initial deposit"
        assert transaction.transaction_type is TransactionType.DEPOSIT
        assert transaction.status is TransactionStatus.SUCCESS
        assert transaction.amount.amount == D("500.00")
        assert transaction.balance_after is not None
        assert transaction.balance_after.amount == D("500.00")
        assert transaction.account_number == account.number
        assert transaction.timestamp == account.created_at
        assert (await ledger.get_transaction(str(transaction.transaction_id))).amount.amount == 500
        assert await balance_of(ledger, number) == D("500.00")
        assert (await ledger.recalculate_balance(number)).corrected is False

    @pytest.mark.parametrize("deposit", [0, "0", "0.00", D("0")])
    async def test_a_zero_initial_deposit_makes_no_transaction(
        self, ledger: Ledger, store: InMemoryStore, deposit: Decimal | int | str
    ) -> None:
        account = await open_account(ledger, deposit)
        assert account.balance.is_zero()
        assert await every_transaction(ledger, number_of(account)) == []
        assert store.transactions == {}

    async def test_the_largest_initial_deposit_is_accepted(self, ledger: Ledger) -> None:
        account = await open_account(ledger, "1000000000000.00")
        assert account.balance.amount == D("1000000000000.00")

    @pytest.mark.parametrize(
        "deposit",
        ["-0.01", -1, 1.5, "1.001", "NaN", "Infinity", "abc", "1000000000000.01", True],
    )
    async def test_a_bad_initial_deposit_is_refused_and_nothing_is_stored(
        self, ledger: Ledger, store: InMemoryStore, deposit: object
    ) -> None:
        with pytest.raises(InvalidValue) as caught:
            # 1.5 is a float on purpose: the check at run time is under test.
            await open_account(ledger, deposit)  # type: ignore[arg-type]
        assert caught.value.field == "initial_deposit"
        assert store.accounts == {}
        assert store.transactions == {}

    @pytest.mark.parametrize(
        ("command", "field"),
        [
            (OpenAccountCommand("Ada", "current"), "account_type"),
            (OpenAccountCommand("Ada", "Savings"), "account_type"),
            (OpenAccountCommand("   ", "savings"), "customer_name"),
            (OpenAccountCommand("n" * 201, "savings"), "customer_name"),
            (OpenAccountCommand("Ada\x00", "savings"), "customer_name"),
            (OpenAccountCommand("Ada\ud800", "savings"), "customer_name"),
            (OpenAccountCommand("Ada", "savings", account_number="123"), "account_number"),
            (OpenAccountCommand("Ada", "savings", account_number="1234567890\n"), "account_number"),
            (OpenAccountCommand("Ada", "savings", account_number=""), "account_number"),
        ],
    )
    async def test_bad_fields_are_refused_and_nothing_is_stored(
        self, ledger: Ledger, store: InMemoryStore, command: OpenAccountCommand, field: str
    ) -> None:
        with pytest.raises(InvalidValue) as caught:
            await ledger.open_account(command)
        assert caught.value.field == field
        assert store.accounts == {}

    async def test_the_default_clock_answers_utc(self, store: InMemoryStore) -> None:
        before = datetime.now(UTC)
        account = await open_account(Ledger(store.unit_of_work))
        after = datetime.now(UTC)
        assert account.created_at.utcoffset() == timedelta(0)
        assert before <= account.created_at <= after


class TestGetAccount:
    async def test_an_unknown_number_is_not_found(self, ledger: Ledger) -> None:
        with pytest.raises(AccountNotFound) as caught:
            await ledger.get_account(random_account_number())
        assert caught.value.code == "account_not_found"

    @pytest.mark.parametrize(
        "malformed",
        [
            "12345",
            "1234567890\n",
            "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660",
            "x" * 100,
        ],
    )
    async def test_a_number_that_cannot_exist_is_simply_not_found(
        self, ledger: Ledger, malformed: str
    ) -> None:
        for lookup in [
            ledger.get_account(malformed),
            ledger.update_account(UpdateAccountCommand(malformed, customer_name="Bea")),
            ledger.close_account(CloseAccountCommand(malformed)),
            ledger.recalculate_balance(malformed),
            ledger.list_transactions(ListTransactionsQuery(malformed)),
        ]:
            with pytest.raises(AccountNotFound) as caught:
                await lookup
            assert len(caught.value.detail) < 200

    async def test_what_it_returns_is_a_copy(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, "10"))
        seen = await ledger.get_account(number)
        seen.customer_name = "Mallory"
        assert (await ledger.get_account(number)).customer_name != "Mallory"


class TestUpdateAccount:
    async def test_a_real_change_bumps_the_version_once(
        self, ledger: Ledger, clock: SteppingClock
    ) -> None:
        account = await open_account(ledger, name="Ada", account_type="savings")
        number = number_of(account)
        clock.advance(timedelta(hours=1))

        updated = await ledger.update_account(
            UpdateAccountCommand(number, customer_name="  Ada King ", account_type="checking")
        )

        assert updated.customer_name == "Ada King"
        assert updated.account_type is AccountType.CHECKING
        assert updated.version == 2
        assert updated.updated_at > account.updated_at
        assert updated.created_at == account.created_at
        stored = await ledger.get_account(number)
        assert (stored.customer_name, stored.account_type, stored.version) == (
            "Ada King",
            AccountType.CHECKING,
            2,
        )

    async def test_a_request_that_changes_nothing_leaves_the_version_alone(
        self, ledger: Ledger
    ) -> None:
        account = await open_account(ledger, name="Ada", account_type="savings")
        number = number_of(account)

        for command in [
            UpdateAccountCommand(number),
            UpdateAccountCommand(number, customer_name="Ada"),
            UpdateAccountCommand(number, customer_name="  Ada  "),
            UpdateAccountCommand(number, account_type="savings", status="active"),
        ]:
            unchanged = await ledger.update_account(command)
            assert unchanged.version == 1
            assert unchanged.updated_at == account.updated_at

        stored = await ledger.get_account(number)
        assert stored.version == 1
        assert stored.updated_at == account.updated_at

    async def test_each_change_counts_once(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, name="Ada"))
        await ledger.update_account(UpdateAccountCommand(number, customer_name="Bea"))
        await ledger.update_account(UpdateAccountCommand(number, status="frozen"))
        await ledger.update_account(UpdateAccountCommand(number, status="frozen"))
        await ledger.update_account(UpdateAccountCommand(number, status="active"))
        assert (await ledger.get_account(number)).version == 4

    async def test_a_matching_expected_version_is_accepted(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, name="Ada"))
        updated = await ledger.update_account(
            UpdateAccountCommand(number, customer_name="Bea", expected_version=1)
        )
        assert updated.version == 2
        again = await ledger.update_account(
            UpdateAccountCommand(number, customer_name="Cy", expected_version=2)
        )
        assert again.version == 3

    @pytest.mark.parametrize("expected", [0, 2, 99])
    async def test_a_stale_expected_version_is_refused_and_nothing_changes(
        self, ledger: Ledger, expected: int
    ) -> None:
        number = number_of(await open_account(ledger, name="Ada", account_type="savings"))
        with pytest.raises(VersionMismatch) as caught:
            await ledger.update_account(
                UpdateAccountCommand(
                    number,
                    customer_name="Mallory",
                    account_type="checking",
                    status="frozen",
                    expected_version=expected,
                )
            )
        assert caught.value.code == "version_mismatch"
        stored = await ledger.get_account(number)
        assert stored.customer_name == "Ada"
        assert stored.account_type is AccountType.SAVINGS
        assert stored.status is AccountStatus.ACTIVE
        assert stored.version == 1

    async def test_a_balance_change_moves_the_version_so_an_old_etag_goes_stale(
        self, ledger: Ledger
    ) -> None:
        number = number_of(await open_account(ledger))
        await post(ledger, number, "5")
        with pytest.raises(VersionMismatch):
            await ledger.update_account(
                UpdateAccountCommand(number, customer_name="Bea", expected_version=1)
            )
        assert (await ledger.get_account(number)).version == 2

    async def test_a_frozen_account_takes_no_new_transactions(
        self, ledger: Ledger, store: InMemoryStore
    ) -> None:
        number = number_of(await open_account(ledger, "100"))
        frozen = await ledger.update_account(UpdateAccountCommand(number, status="frozen"))
        assert frozen.status is AccountStatus.FROZEN
        assert frozen.version == 2
        transactions_before = len(store.transactions)

        for kind, status in [
            ("deposit", "success"),
            ("withdrawal", "success"),
            ("deposit", "pending"),
        ]:
            with pytest.raises(AccountFrozen) as caught:
                await post(ledger, number, "1", kind, status=status, transaction_id=random_tid())
            assert caught.value.code == "account_frozen"

        assert len(store.transactions) == transactions_before
        account = await ledger.get_account(number)
        assert account.balance.amount == 100
        assert account.version == 2

    async def test_unfreezing_lets_transactions_in_again(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger))
        await ledger.update_account(UpdateAccountCommand(number, status="frozen"))
        await ledger.update_account(UpdateAccountCommand(number, status="active"))
        await post(ledger, number, "7.25")
        assert await balance_of(ledger, number) == D("7.25")

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"customer_name": "   "}, "customer_name"),
            ({"customer_name": "x" * 201}, "customer_name"),
            ({"account_type": "current"}, "account_type"),
            ({"status": "closed"}, "status"),
            ({"status": "ACTIVE"}, "status"),
        ],
    )
    async def test_bad_fields_are_refused_and_nothing_changes(
        self, ledger: Ledger, changes: AccountChanges, field: str
    ) -> None:
        number = number_of(await open_account(ledger, name="Ada"))
        with pytest.raises(InvalidValue) as caught:
            await ledger.update_account(UpdateAccountCommand(number, **changes))
        assert caught.value.field == field
        stored = await ledger.get_account(number)
        assert stored.customer_name == "Ada"
        assert stored.version == 1

    async def test_a_bad_field_refuses_the_whole_request(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, name="Ada", account_type="savings"))
        with pytest.raises(InvalidValue):
            await ledger.update_account(
                UpdateAccountCommand(number, customer_name="", account_type="checking")
            )
        assert (await ledger.get_account(number)).account_type is AccountType.SAVINGS

    async def test_an_unknown_or_closed_account_is_not_found(self, ledger: Ledger) -> None:
        with pytest.raises(AccountNotFound):
            await ledger.update_account(UpdateAccountCommand(random_account_number(), "Bea"))
        number = number_of(await open_account(ledger))
        await ledger.close_account(CloseAccountCommand(number))
        with pytest.raises(AccountNotFound):
            await ledger.update_account(UpdateAccountCommand(number, customer_name="Bea"))


class TestCloseAccount:
    async def test_an_account_with_money_is_not_closed(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, "0.01"))
        with pytest.raises(AccountNotEmpty) as caught:
            await ledger.close_account(CloseAccountCommand(number))
        assert caught.value.code == "account_not_empty"
        account = await ledger.get_account(number)
        assert account.closed_at is None
        assert account.version == 1

    async def test_a_closed_account_answers_not_found_everywhere(
        self, ledger: Ledger, store: InMemoryStore
    ) -> None:
        account = await open_account(ledger, "40")
        number = number_of(account)
        spent = (await post(ledger, number, "40", "withdrawal")).transaction
        pending = (await post(ledger, number, "3", status="pending")).transaction
        opening = (await every_transaction(ledger, number))[0]
        # v2: an account with a pending transaction does not close; this one is settled.
        await ledger.amend_transaction(
            AmendTransactionCommand(str(pending.transaction_id), status="failed")
        )

        await ledger.close_account(CloseAccountCommand(number))

        for attempt in [
            ledger.get_account(number),
            ledger.update_account(UpdateAccountCommand(number, customer_name="Bea")),
            ledger.close_account(CloseAccountCommand(number)),
            post(ledger, number, "1"),
            ledger.list_transactions(ListTransactionsQuery(number)),
            ledger.recalculate_balance(number),
        ]:
            with pytest.raises(AccountNotFound):
                await attempt
        listed = await ledger.list_accounts(ListAccountsQuery(limit=500))
        assert account.number not in {a.number for a in listed.items}

        # The record is kept, and so are its transactions, still readable by id.
        assert store.accounts[account.number].closed_at is not None
        for kept in (opening, spent, pending):
            found = await ledger.get_transaction(str(kept.transaction_id))
            assert found.amount == kept.amount
            assert found.account_number == account.number

    async def test_a_stale_expected_version_keeps_the_account_open(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger))
        await ledger.update_account(UpdateAccountCommand(number, customer_name="Bea"))
        with pytest.raises(VersionMismatch):
            await ledger.close_account(CloseAccountCommand(number, expected_version=1))
        assert (await ledger.get_account(number)).version == 2
        await ledger.close_account(CloseAccountCommand(number, expected_version=2))
        with pytest.raises(AccountNotFound):
            await ledger.get_account(number)

    async def test_a_frozen_empty_account_can_be_closed(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger))
        await ledger.update_account(UpdateAccountCommand(number, status="frozen"))
        await ledger.close_account(CloseAccountCommand(number))
        with pytest.raises(AccountNotFound):
            await ledger.get_account(number)

    async def test_a_pending_transaction_keeps_its_account_open_and_a_closed_one_s_stay_put(
        self, ledger: Ledger
    ) -> None:
        """v2 (API.md section 2): an account with a pending transaction does not close (409
        ``account_not_empty``); once closed, its transactions change no more."""
        number = number_of(await open_account(ledger))
        pending = (await post(ledger, number, "9", status="pending")).transaction
        with pytest.raises(AccountNotEmpty):
            await ledger.close_account(CloseAccountCommand(number))
        assert (await ledger.get_transaction(str(pending.transaction_id))).status is (
            TransactionStatus.PENDING
        )
        await ledger.amend_transaction(
            AmendTransactionCommand(str(pending.transaction_id), status="failed")
        )
        await ledger.close_account(CloseAccountCommand(number))
        with pytest.raises(AccountNotFound):
            await ledger.amend_transaction(
                AmendTransactionCommand(str(pending.transaction_id), description="late")
            )
        assert (await ledger.get_transaction(str(pending.transaction_id))).status is (
            TransactionStatus.FAILED
        )

    async def test_closing_an_unknown_account_is_not_found(self, ledger: Ledger) -> None:
        with pytest.raises(AccountNotFound):
            await ledger.close_account(CloseAccountCommand(random_account_number()))


async def test_a_name_is_free_to_share(ledger: Ledger) -> None:
    name = random_name()
    first = await open_account(ledger, name=name)
    second = await open_account(ledger, name=name)
    assert first.number != second.number
