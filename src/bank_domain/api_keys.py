"""API keys: who may call the service, with which scopes, over which accounts.

A key's secret is ``bk_`` followed by 43 characters of URL-safe base64: 256 random bits from
``secrets.token_urlsafe(32)``. The secret is shown once, when the key is made; the store keeps
only its SHA-256 (``secret_hash``).

Why a plain, fast, unkeyed hash is enough here: hashing slowly (bcrypt, argon2) or under a
server-side pepper (HMAC) protects *guessable* secrets such as passwords, whose hash can be
brute-forced from a stolen table. A secret of 256 random bits cannot be guessed, so its SHA-256
cannot be reversed by trying secrets either, however fast each try. A pepper would add a second
secret to keep, and losing it would lock out every key; a slow hash would cost every request's
check. Neither buys anything for a secret this long.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final

from bank_domain.choices import parse_choice
from bank_domain.errors import InvalidValue
from bank_domain.identifiers import AccountNumber
from bank_domain.text import name_text

SECRET_PREFIX: Final = "bk_"  # noqa: S105 (a prefix, not a secret)
SECRET_RANDOM_BYTES: Final = 32
"""256 bits: secrets.token_urlsafe(32) writes them as 43 characters."""
SECRET_LENGTH: Final = len(SECRET_PREFIX) + 43
MAX_KEY_NAME_LENGTH: Final = 100
MAX_KEY_ACCOUNTS: Final = 1000
KEY_ID_PATTERN: Final = r"^key_[0-9a-f]{32}$"
_KEY_ID = re.compile(KEY_ID_PATTERN)
_SECRET = re.compile(re.escape(SECRET_PREFIX) + r"[A-Za-z0-9_-]{43}")


class Scope(StrEnum):
    """What a key may do; each opens a set of routes (the contract's section 9)."""

    ACCOUNTS_READ = "accounts:read"
    ACCOUNTS_WRITE = "accounts:write"
    TRANSACTIONS_READ = "transactions:read"
    TRANSACTIONS_WRITE = "transactions:write"
    AUDIT_READ = "audit:read"
    KEYS_ADMIN = "keys:admin"

    @classmethod
    def parse(cls, value: object) -> Scope:
        return parse_choice(cls, value, "scopes")


EVERY_SCOPE: Final = frozenset(Scope)


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(SECRET_RANDOM_BYTES)


def is_well_formed_secret(secret: object) -> bool:
    """Whether this could be a secret this service made (prefix, length, alphabet): anything
    else is refused without looking it up."""
    return (
        isinstance(secret, str) and len(secret) == SECRET_LENGTH and bool(_SECRET.fullmatch(secret))
    )


def hash_of_secret(secret: str) -> str:
    """What the store keeps of a secret: its SHA-256, in hex (see the module's docstring)."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def new_key_id() -> str:
    return "key_" + secrets.token_hex(16)


def is_key_id(value: object) -> bool:
    return isinstance(value, str) and bool(_KEY_ID.fullmatch(value))


def key_name(value: object) -> str:
    """1 to 100 characters after trimming, by the rules of customer names (NFC; no Unicode Cc
    or Cf)."""
    if not isinstance(value, str):
        raise InvalidValue("name", "name is a string.")
    trimmed = name_text("name", value.strip(), MAX_KEY_NAME_LENGTH)
    if not trimmed:
        raise InvalidValue("name", f"name is 1 to {MAX_KEY_NAME_LENGTH} characters.")
    return trimmed


def key_scopes(values: object) -> tuple[Scope, ...]:
    """A non-empty list of scopes, each given once; kept in the order given."""
    if isinstance(values, str) or not isinstance(values, Sequence) or not values:
        raise InvalidValue("scopes", "scopes is a non-empty list of scopes.")
    scopes = tuple(Scope.parse(value) for value in values)
    if len(set(scopes)) != len(scopes):
        raise InvalidValue("scopes", "scopes names each scope once.")
    return scopes


def key_accounts(values: object) -> tuple[AccountNumber, ...] | None:
    """None (every account) or 1 to 1,000 account numbers; one given twice counts once."""
    if values is None:
        return None
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise InvalidValue("account_numbers", "account_numbers is null or a list of numbers.")
    numbers = tuple(dict.fromkeys(_account_number(value) for value in values))
    if not 1 <= len(numbers) <= MAX_KEY_ACCOUNTS:
        raise InvalidValue(
            "account_numbers",
            f"account_numbers is null or 1 to {MAX_KEY_ACCOUNTS:,} account numbers.",
        )
    return numbers


def _account_number(value: object) -> AccountNumber:
    try:
        return AccountNumber(value)  # type: ignore[arg-type]
    except InvalidValue:
        raise InvalidValue(
            "account_numbers", "account_numbers holds account numbers of exactly 10 digits."
        ) from None


@dataclass(slots=True)
class ApiKey:
    """A key as the store keeps it: never its secret, only the secret's hash."""

    key_id: str
    name: str
    scopes: tuple[Scope, ...]
    account_numbers: tuple[AccountNumber, ...] | None
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    secret_hash: str = field(default="", repr=False)

    @classmethod
    def new(
        cls,
        name: object,
        scopes: object,
        account_numbers: object,
        expires_at: datetime | None,
        now: datetime,
        secret: str,
    ) -> ApiKey:
        """A new key for ``secret``, every field checked by section 9's rules."""
        checked_scopes = key_scopes(scopes)
        numbers = key_accounts(account_numbers)
        if numbers is not None and Scope.KEYS_ADMIN in checked_scopes:
            raise InvalidValue(
                "account_numbers",
                "A key restricted to account_numbers cannot hold the keys:admin scope.",
            )
        if expires_at is not None and expires_at <= now:
            raise InvalidValue("expires_at", "expires_at is a time in the future.")
        return cls(
            key_id=new_key_id(),
            name=key_name(name),
            scopes=checked_scopes,
            account_numbers=numbers,
            created_at=now,
            expires_at=expires_at,
            secret_hash=hash_of_secret(secret),
        )

    def matches(self, secret_hash: str) -> bool:
        """Whether this is the key of a secret with this hash, compared in constant time."""
        return hmac.compare_digest(self.secret_hash, secret_hash)

    def is_usable(self, now: datetime) -> bool:
        """Neither revoked nor expired at ``now``."""
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    def revoke(self, now: datetime) -> bool:
        """Revokes the key; revoking a revoked key changes nothing (and answers False)."""
        if self.revoked_at is not None:
            return False
        self.revoked_at = now
        return True
