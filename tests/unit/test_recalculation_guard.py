"""Recalculation repairs drift, but never stores a balance no account may hold."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from bank_adapters.memory import InMemoryStore
from bank_domain import (
    AccountNumber,
    Ledger,
    LedgerInconsistent,
    Money,
    OpenAccountCommand,
    PostTransactionCommand,
)


async def test_a_negative_sum_of_transactions_is_reported_not_stored(
    ledger: Ledger, store: InMemoryStore
) -> None:
    account = await ledger.open_account(OpenAccountCommand("Ada", "checking", initial_deposit=5))
    number = account.number.value
    withdrawal = await ledger.post_transaction(PostTransactionCommand(number, 5, "withdrawal"))
    deposit_id = next(
        tid
        for tid, t in store.transactions.items()
        if t.account_number == AccountNumber(number)
        and t != withdrawal.transaction
        and t.transaction_type.value == "deposit"
    )
    # Corrupt the store behind the ledger's back: the opening deposit silently shrinks.
    store.transactions[deposit_id] = dataclasses.replace(
        store.transactions[deposit_id], amount=Money(Decimal("1.00"))
    )

    with pytest.raises(LedgerInconsistent) as refused:
        await ledger.recalculate_balance(number)

    assert refused.value.code == "ledger_inconsistent"
    assert store.accounts[AccountNumber(number)].balance == Money(Decimal("0.00"))
