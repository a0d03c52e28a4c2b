"""Recalculation repairs drift from the journal, but never stores a balance no account may
hold."""

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


async def test_a_negative_sum_of_the_journal_is_reported_not_stored(
    ledger: Ledger, store: InMemoryStore
) -> None:
    account = await ledger.open_account(OpenAccountCommand("Ada", "checking", initial_deposit=5))
    number = account.number.value
    await ledger.post_transaction(PostTransactionCommand(number, 5, "withdrawal"))
    # Corrupt the journal behind the ledger's back: the opening deposit's entry shrinks.
    journal = store.journal[account.number]
    journal[0] = dataclasses.replace(journal[0], amount=Money(Decimal("1.00")))

    with pytest.raises(LedgerInconsistent) as refused:
        await ledger.recalculate_balance(number)

    assert refused.value.code == "ledger_inconsistent"
    assert store.accounts[AccountNumber(number)].balance == Money(Decimal("0.00"))
