"""Reading a client's choice among a fixed set of words."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from bank_domain.errors import InvalidValue

Choice = TypeVar("Choice", bound=StrEnum)


def parse_choice(choices: type[Choice], value: object, field: str) -> Choice:
    if isinstance(value, str):
        try:
            return choices(value)  # the enum's own look-up by value: one dict access
        except ValueError:
            pass
    words = ", ".join(f"'{member.value}'" for member in choices)
    raise InvalidValue(field, f"{field} is one of {words}.")
