"""Free text the ledger stores: names and descriptions."""

from __future__ import annotations

from bank_domain.errors import InvalidValue


def text(field: str, value: object, max_length: int) -> str:
    """A string a store can keep exactly: no NUL, valid Unicode, at most max_length long."""
    if not isinstance(value, str):
        raise InvalidValue(field, f"{field} is a string.")
    if "\x00" in value:
        raise InvalidValue(field, f"{field} may not contain NUL characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidValue(field, f"{field} is not valid Unicode text.") from None
    if len(value) > max_length:
        raise InvalidValue(field, f"{field} is at most {max_length} characters.")
    return value
