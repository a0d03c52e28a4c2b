"""The rules the entities keep themselves: an account accepts a transaction, a new transaction
comes from one factory, and the Ledger's methods are real methods."""

from __future__ import annotations

import inspect
from datetime import timedelta

import pytest

from bank_domain import (
    Account,
    AccountFrozen,
    AccountNumber,
    AccountStatus,
    AccountType,
    InsufficientFunds,
    Ledger,
    Money,
    Transaction,
    TransactionId,
    TransactionStatus,
    TransactionType,
    VersionMismatch,
)

from .support import T0, random_account_number, random_tid

LATER = T0 + timedelta(minutes=1)


def new_transaction(
    account: Account,
    amount: str,
    transaction_type: TransactionType = TransactionType.DEPOSIT,
    status: TransactionStatus = TransactionStatus.SUCCESS,
) -> Transaction:
    return Transaction.new(
        TransactionId(random_tid()),
        account.number,
        Money.parse(amount),
        transaction_type,
        None,
        status,
        T0,
    )


def fresh_account(deposit: str | None = None) -> tuple[Account, Transaction | None]:
    number = AccountNumber(random_account_number())
    opening = None
    if deposit is not None:
        opening = Transaction.new(
            TransactionId(random_tid()),
            number,
            Money.parse(deposit),
            TransactionType.DEPOSIT,
            "Initial deposit",
            TransactionStatus.SUCCESS,
            T0,
        )
    return Account.open(number, "Ada", AccountType.CHECKING, T0, opening_deposit=opening), opening


def test_a_new_transaction_is_made_now_and_counts_nowhere_yet() -> None:
    account, _ = fresh_account()
    transaction = new_transaction(account, "5.00")
    assert transaction.timestamp == transaction.updated_at == T0
    assert transaction.balance_after is None
    assert transaction.deleted_at is None


def test_an_opening_deposit_sets_the_balance_and_its_balance_after_at_version_1() -> None:
    account, opening = fresh_account("12.50")
    assert opening is not None
    assert account.balance == Money.parse("12.50")
    assert opening.balance_after == Money.parse("12.50")
    assert account.version == 1


def test_accepting_a_success_transaction_moves_the_balance_and_records_balance_after() -> None:
    account, _ = fresh_account("10")
    withdrawal = new_transaction(account, "4", TransactionType.WITHDRAWAL)
    account.accept(withdrawal, LATER)
    assert account.balance == Money.parse("6")
    assert withdrawal.balance_after == Money.parse("6")
    assert (account.version, account.updated_at) == (2, LATER)


def test_accepting_a_pending_transaction_moves_nothing() -> None:
    account, _ = fresh_account("10")
    pending = new_transaction(account, "4", status=TransactionStatus.PENDING)
    account.accept(pending, LATER)
    assert account.balance == Money.parse("10")
    assert pending.balance_after is None
    assert account.version == 1


def test_a_frozen_account_accepts_no_transaction_not_even_a_pending_one() -> None:
    account, _ = fresh_account("10")
    account.update(T0, status=AccountStatus.FROZEN)
    version = account.version
    with pytest.raises(AccountFrozen):
        account.accept(new_transaction(account, "1", status=TransactionStatus.PENDING), LATER)
    assert (account.balance, account.version) == (Money.parse("10"), version)


def test_an_overdraft_is_refused_and_changes_nothing() -> None:
    account, _ = fresh_account("1")
    withdrawal = new_transaction(account, "2", TransactionType.WITHDRAWAL)
    with pytest.raises(InsufficientFunds):
        account.accept(withdrawal, LATER)
    assert (account.balance, account.version, withdrawal.balance_after) == (
        Money.parse("1"),
        1,
        None,
    )


def test_an_account_refuses_another_account_s_transaction() -> None:
    account, _ = fresh_account()
    other, _ = fresh_account()
    with pytest.raises(ValueError, match="belongs to account"):
        account.accept(new_transaction(other, "1"), LATER)


def test_a_transaction_counts_its_own_changes() -> None:
    account, _ = fresh_account()
    transaction = new_transaction(account, "5", status=TransactionStatus.PENDING)
    assert transaction.version == 1
    assert not transaction.amend(LATER, amount=Money.parse("5.00"))
    assert (transaction.version, transaction.updated_at) == (1, T0)
    assert transaction.amend(LATER, status=TransactionStatus.SUCCESS, description="paid")
    assert (transaction.version, transaction.updated_at) == (2, LATER)
    transaction.record_balance(Money.parse("5"))
    assert transaction.version == 2
    transaction.delete(LATER + timedelta(seconds=1))
    assert transaction.version == 3


def test_a_transaction_refuses_a_version_it_is_not_at() -> None:
    account, _ = fresh_account()
    transaction = new_transaction(account, "5")
    transaction.expect_version(None)
    transaction.expect_version(1)
    with pytest.raises(VersionMismatch, match="at version 1, not 2"):
        transaction.expect_version(2)


@pytest.mark.parametrize(
    "name",
    [
        "open_account",
        "update_account",
        "close_account",
        "get_account",
        "list_accounts",
        "post_transaction",
        "amend_transaction",
        "delete_transaction",
        "get_transaction",
        "list_transactions",
        "recalculate_balance",
    ],
)
def test_every_use_case_is_a_real_async_method_of_the_ledger(name: str) -> None:
    assert inspect.iscoroutinefunction(getattr(Ledger, name))
