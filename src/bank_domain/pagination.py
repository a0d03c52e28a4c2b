"""Pages of a listing and the opaque cursors that continue them.

A cursor is the position after which the next page starts, signed with HMAC-SHA256 under a
secret the server keeps: only a cursor this ledger (or another holding the same secret) made is
read at all, so a forged one is refused before any of its content is trusted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from bank_domain.errors import InvalidValue

DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 500
MAX_CURSOR_LENGTH: Final = 512
"""Far longer than any cursor this ledger makes (a timestamp, a 64-character id, a signature)."""
CURSOR_SECRET_BYTES: Final = 32
"""The size of the random secret a Ledger makes for itself when given none."""

_SEPARATOR: Final = "."
_NOT_OURS: Final = "cursor is not a cursor this API returned."

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


def not_a_cursor() -> InvalidValue:
    """The one refusal for every cursor that is not one this ledger made."""
    return InvalidValue("cursor", _NOT_OURS)


def cursor_number(text: str) -> int:
    """A part of a cursor's position that is a whole number a 64-bit column holds."""
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise not_a_cursor()
    return int(text)


class CursorCodec:
    """Makes signed cursors from positions and reads positions back from them.

    ``secret`` (bytes, or text read as UTF-8) must be the same for every process that serves
    one API, so that a cursor made by one is read by another; ``None`` makes a random one, good
    for this object alone.
    """

    __slots__ = ("_key",)

    def __init__(self, secret: bytes | str | None = None) -> None:
        if secret is None:
            secret = secrets.token_bytes(CURSOR_SECRET_BYTES)
        key = secret.encode() if isinstance(secret, str) else bytes(secret)
        if not key:
            raise ValueError("A cursor secret is never empty.")
        self._key = key

    def encode(self, position: Sequence[str]) -> str:
        raw = json.dumps(list(position), separators=(",", ":")).encode()
        payload = _b64encode(raw)
        return f"{payload}{_SEPARATOR}{self._signature(payload)}"

    def decode(self, cursor: str, parts: int) -> list[str]:
        """The position a cursor names; anything that is not a cursor this ledger made (with
        this secret) is refused with the same InvalidValue."""
        if len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
            raise not_a_cursor()
        payload, separator, signature = cursor.partition(_SEPARATOR)
        if not separator or not hmac.compare_digest(signature, self._signature(payload)):
            raise not_a_cursor()
        try:
            position = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
            raise not_a_cursor() from None
        if (
            not isinstance(position, list)
            or len(position) != parts
            or not all(isinstance(part, str) for part in position)
        ):
            raise not_a_cursor()
        return position

    def _signature(self, payload: str) -> str:
        return _b64encode(hmac.digest(self._key, payload.encode("ascii"), hashlib.sha256))


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
