"""Pages of a listing and the opaque cursors that continue them."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from bank_domain.errors import InvalidValue

DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 500
MAX_CURSOR_LENGTH: Final = 512
"""Far longer than any cursor this ledger makes (a timestamp and a 64-character id)."""

Item = TypeVar("Item")


@dataclass(frozen=True, slots=True)
class Page(Generic[Item]):
    items: Sequence[Item]
    next_cursor: str | None


def page_size(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_PAGE_SIZE
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidValue("limit", f"limit is a whole number from 1 to {MAX_PAGE_SIZE}.")
    return limit


def encode_cursor(position: list[str]) -> str:
    raw = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, parts: int) -> list[str]:
    """The position a cursor names; anything that is not a cursor this ledger made is refused."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidValue("cursor", "cursor is not a cursor this API returned.")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidValue("cursor", "cursor is not a cursor this API returned.") from None
    if (
        not isinstance(position, list)
        or len(position) != parts
        or not all(isinstance(part, str) for part in position)
    ):
        raise InvalidValue("cursor", "cursor is not a cursor this API returned.")
    return position
