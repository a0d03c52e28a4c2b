"""Money: exact decimal amounts with at most two places. A float is refused outright."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

from bank_domain.errors import InvalidValue

_DECIMAL_TEXT: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
"""A number written in ASCII digits; Decimal alone would also read "1_000" and Arabic-Indic."""
_ASCII_SPACE: Final = " \t\n\r"
"""What may surround a number written as text; other white space (U+2003...) is refused."""
CENT: Final = Decimal("0.01")
MAX_AMOUNT: Final = Decimal("1000000000000.00")
"""The largest amount one transaction (or initial deposit) may carry."""
MAX_BALANCE: Final = Decimal("100000000000000.00")
"""The largest balance an account may hold; it keeps every sum far inside a 64-bit cent count."""


@dataclass(frozen=True, slots=True, order=True)
class Money:
    """An exact amount of the ledger's single currency, always held to two decimal places."""

    amount: Decimal

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite():
            raise TypeError("Money holds a finite Decimal")
        if self.amount != self.amount.quantize(CENT):
            raise InvalidValue("amount", "An amount has at most 2 decimal places.")
        object.__setattr__(self, "amount", self.amount.quantize(CENT))

    @classmethod
    def parse(cls, value: object, field: str = "amount") -> Money:
        """Reads a client's number; refuses floats, NaN, infinities and more than 2 places."""
        if isinstance(value, bool | float):
            raise InvalidValue(field, "An amount is an exact decimal number, never a float.")
        if isinstance(value, Money):
            return value
        if not isinstance(value, Decimal | int | str):
            raise InvalidValue(field, "An amount must be a number.")
        if isinstance(value, str) and not _DECIMAL_TEXT.fullmatch(value.strip(_ASCII_SPACE)):
            raise InvalidValue(field, "An amount must be a number.")
        try:
            number = Decimal(value.strip(_ASCII_SPACE) if isinstance(value, str) else value)
        except (InvalidOperation, ValueError):
            raise InvalidValue(field, "An amount must be a number.") from None
        if not number.is_finite():
            raise InvalidValue(field, "An amount must be a finite number.")
        if number.copy_abs() > MAX_BALANCE:  # copy_abs, unlike abs, never overflows
            raise InvalidValue(field, f"An amount is at most {MAX_BALANCE}.")
        if number != number.quantize(CENT):
            raise InvalidValue(field, "An amount has at most 2 decimal places.")
        return cls(number.quantize(CENT))

    @classmethod
    def zero(cls) -> Money:
        return _ZERO

    @classmethod
    def from_cents(cls, cents: int) -> Money:
        if not isinstance(cents, int):
            raise TypeError("Money.from_cents takes a whole number of cents")
        return _exact(Decimal(cents).scaleb(-2))

    @property
    def cents(self) -> int:
        return int(self.amount.scaleb(2))

    def __add__(self, other: Money) -> Money:
        return _exact(self.amount + other.amount)

    def __sub__(self, other: Money) -> Money:
        return _exact(self.amount - other.amount)

    def __neg__(self) -> Money:
        return _exact(-self.amount)

    def is_negative(self) -> bool:
        return self.amount < 0

    def is_zero(self) -> bool:
        return self.amount == 0

    def __str__(self) -> str:
        return str(self.amount)


def transaction_amount(value: object, field: str = "amount") -> Money:
    """An amount a transaction may carry: above zero and at most MAX_AMOUNT."""
    money = Money.parse(value, field)
    if money.amount <= 0:
        raise InvalidValue(field, "An amount must be greater than 0.")
    if money.amount > MAX_AMOUNT:
        raise InvalidValue(field, f"An amount is at most {MAX_AMOUNT}.")
    return money


def deposit_amount(value: object, field: str) -> Money:
    """An amount that may also be zero, such as an account's initial deposit."""
    money = Money.parse(value, field)
    if money.is_negative():
        raise InvalidValue(field, "An amount is never negative.")
    if money.amount > MAX_AMOUNT:
        raise InvalidValue(field, f"An amount is at most {MAX_AMOUNT}.")
    return money


def overdraft_limit(value: object) -> Money:
    """An account's overdraft limit: how far below zero its balance may go; from 0 to
    MAX_AMOUNT, the bounds of an amount."""
    return deposit_amount(value, "overdraft_limit")


def _exact(amount: Decimal) -> Money:
    """Money of an amount that is exact to the cent by construction: a sum, difference or
    negation of two amounts held to the cent (their exponent, -2, is kept: decimal's 28 digits
    hold any sum below MAX_BALANCE's bounds exactly), or whole cents scaled. It skips the
    checks of ``__post_init__``, which a posting would otherwise run a dozen times over values
    already checked (a sixth of the domain's calls per posting)."""
    money = object.__new__(Money)
    object.__setattr__(money, "amount", amount)
    return money


_ZERO: Final = Money(Decimal("0.00"))
