"""Every unit of work copies the entities it reads and stages (``copy.copy``), and an event
keeps a copy of what changed: a copy holds every field, and changing it leaves the original."""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, datetime
from typing import Any

from bank_domain import Account, AccountNumber, Money, Transaction, TransactionId
from bank_domain.account import AccountType
from bank_domain.transaction import TransactionStatus, TransactionType

NOW = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def fields_of(entity: Any) -> dict[str, Any]:
    return {field.name: getattr(entity, field.name) for field in dataclasses.fields(entity)}


def test_a_copy_of_a_transaction_holds_every_field_and_is_its_own() -> None:
    original = Transaction.new(
        TransactionId("copy-0001"),
        AccountNumber("1234567890"),
        Money.parse("12.34"),
        TransactionType.DEPOSIT,
        "salary",
        TransactionStatus.SUCCESS,
        NOW,
    )
    original.record_balance(Money.parse("99.00"))
    original.delete(NOW)

    copied = copy.copy(original)

    assert copied is not original
    assert fields_of(copied) == fields_of(original)
    copied.amend(NOW, description="changed")
    assert original.description == "salary"
    assert original.version == 2


def test_a_copy_of_an_account_holds_every_field_and_is_its_own() -> None:
    original = Account.open(AccountNumber("1234567890"), "Ada", AccountType.CHECKING, NOW)
    original.close(NOW)

    copied = copy.copy(original)

    assert copied is not original
    assert fields_of(copied) == fields_of(original)
    copied.customer_name = "Someone else"
    assert original.customer_name == "Ada"
