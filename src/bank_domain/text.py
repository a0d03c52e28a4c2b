"""Free text the ledger stores: names and descriptions."""

from __future__ import annotations

import functools
import sys
import unicodedata
from typing import Final

from bank_domain.errors import InvalidValue

_INVISIBLE_CATEGORIES: Final = frozenset({"Cc", "Cf"})
"""Unicode control characters (C0, C1: CR, LF, ESC of ANSI escapes...) and format characters
(zero-width space U+200B, the bidirectional overrides such as U+202E...)."""


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


def name_text(field: str, value: object, max_length: int) -> str:
    """A name as people read it: no control or format character (Unicode Cc, Cf), so what is
    shown is what is stored; normalised to NFC, so one name has one spelling."""
    normalised = unicodedata.normalize("NFC", text(field, value, max_length))
    if _has_invisible(normalised):
        raise InvalidValue(
            field, f"{field} may not contain control or format characters (Unicode Cc, Cf)."
        )
    return text(field, normalised, max_length)


def name_for_lookup(field: str, value: object, max_length: int) -> str:
    """A name to look for, spelt as names are stored: trimmed, in NFC. One that could never be
    stored (a control character in it) simply finds nothing."""
    return unicodedata.normalize("NFC", text(field, value, max_length).strip())


def free_text(field: str, value: object, max_length: int) -> str:
    """Text that may run over several lines: line breaks (LF, CR LF) are its only control
    characters, and it has no format characters (Unicode Cf)."""
    checked = text(field, value, max_length)
    if _has_invisible(checked.replace("\r\n", "").replace("\n", "")):
        raise InvalidValue(
            field,
            f"{field} may contain line breaks (LF, CR LF) but no other control or format "
            "characters (Unicode Cc, Cf).",
        )
    return checked


def _has_invisible(value: str) -> bool:
    return not value.isprintable() and any(
        unicodedata.category(character) in _INVISIBLE_CATEGORIES for character in value
    )


@functools.cache
def invisible_character_ranges() -> tuple[tuple[str, str], ...]:
    """The characters names refuse (Unicode Cc and Cf, as this Python's Unicode database has
    them), as (first, last) ranges: for publishing the rule, e.g. as a JSON-schema pattern.
    Computed once, on first use: it reads every code point."""
    ranges: list[tuple[str, str]] = []
    first: int | None = None
    for code_point in range(sys.maxunicode + 2):
        invisible = (
            code_point <= sys.maxunicode
            and unicodedata.category(chr(code_point)) in _INVISIBLE_CATEGORIES
        )
        if invisible and first is None:
            first = code_point
        elif not invisible and first is not None:
            ranges.append((chr(first), chr(code_point - 1)))
            first = None
    return tuple(ranges)
