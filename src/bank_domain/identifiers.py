"""Identifiers clients see: account numbers, transaction ids and transfer ids."""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from typing import Final

from bank_domain.errors import InvalidValue

ACCOUNT_NUMBER_PATTERN: Final = r"^[0-9]{10}$"
TRANSACTION_ID_PATTERN: Final = r"^[A-Za-z0-9_-]{8,64}$"
_ACCOUNT_NUMBER = re.compile(ACCOUNT_NUMBER_PATTERN)
_TRANSACTION_ID = re.compile(TRANSACTION_ID_PATTERN)


@dataclass(frozen=True, slots=True, order=True)
class AccountNumber:
    """Exactly ten digits; never handed out twice, closed accounts included."""

    value: str

    def __post_init__(self) -> None:
        # fullmatch with an ASCII class: "\d" or "$" would let other digits or a newline through.
        if not isinstance(self.value, str) or not _ACCOUNT_NUMBER.fullmatch(self.value):
            raise InvalidValue("account_number", "An account number is exactly 10 digits.")

    @classmethod
    def generate(cls) -> AccountNumber:
        return cls(f"{secrets.randbelow(10**10):010d}")

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True, order=True)
class TransactionId:
    """8 to 64 characters of A-Z, a-z, 0-9, '_' and '-'; never reused."""

    value: str

    def __post_init__(self) -> None:
        _require_id_text(self.value, "transaction_id", "A transaction id")

    @classmethod
    def generate(cls) -> TransactionId:
        return cls(os.urandom(16).hex())

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True, order=True)
class TransferId:
    """A transfer's id: the rules of a transaction id, in a namespace of its own (a transfer
    and a transaction may share an id); never reused."""

    value: str

    def __post_init__(self) -> None:
        _require_id_text(self.value, "transfer_id", "A transfer id")

    @classmethod
    def generate(cls) -> TransferId:
        return cls(os.urandom(16).hex())

    def __str__(self) -> str:
        return self.value


def _require_id_text(value: object, field: str, what: str) -> None:
    if not isinstance(value, str) or not _TRANSACTION_ID.fullmatch(value):
        raise InvalidValue(field, f"{what} is 8 to 64 characters of A-Z, a-z, 0-9, '_' and '-'.")
