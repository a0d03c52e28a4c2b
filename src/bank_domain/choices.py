"""Reading a client's choice among a fixed set of words."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from bank_domain.errors import InvalidValue

Choice = TypeVar("Choice", bound=StrEnum)


def parse_choice(choices: type[Choice], value: object, field: str) -> Choice:
    allowed = {member.value: member for member in choices}
    if not isinstance(value, str) or value not in allowed:
        words = ", ".join(f"'{word}'" for word in allowed)
        raise InvalidValue(field, f"{field} is one of {words}.")
    return allowed[value]
