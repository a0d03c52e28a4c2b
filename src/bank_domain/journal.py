"""The journal: one immutable entry per movement of an account's balance, each entry chained to
the one before it on the same account by a SHA-256 hash (contract section 11).

The hash covers exactly the text the API shows, so that anyone holding an account's entries as
the API returns them can recompute the chain without the service's help. That makes the text of
every hashed field part of the rule, and this module the one place that writes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

from bank_domain.identifiers import AccountNumber, TransactionId
from bank_domain.money import Money

GENESIS_HASH: Final = "0" * 64
"""What the first entry of an account chains to."""


def posted_at_text(moment: datetime) -> str:
    """The API's text of a timestamp: RFC 3339 in UTC with a ``Z``, the fraction written as six
    digits and left out when it is zero (``2024-05-01T12:00:00.000250Z``,
    ``2024-05-01T12:00:00Z``).

    That is what ``bank_web.json_codec.dumps`` (orjson with ``OPT_UTC_Z``) writes for every
    timestamp today, so an entry's ``posted_at`` reads like the API's other timestamps. The hash
    covers this text; the web layer must write an entry's ``posted_at`` with this function, so
    that what it shows is what was hashed even if its JSON encoder changes.
    """
    in_utc = _in_utc(moment).replace(tzinfo=None)
    return in_utc.isoformat(timespec="microseconds" if in_utc.microsecond else "seconds") + "Z"


def _in_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"A journal timestamp carries its time zone; {moment!r} has none.")
    return moment.astimezone(UTC)


def _amount_text(money: Money) -> str:
    # A Decimal keeps the sign of zero (-0.00 from 0.00 - 0.00 negated); the contract writes a
    # "-" only before a negative amount.
    if money.is_zero():
        return "0.00"
    return f"{money.amount:.2f}"


def chain_hash(
    previous_hash: str,
    *,
    entry_id: int,
    account_number: AccountNumber,
    transaction_id: TransactionId,
    amount: Money,
    balance_after: Money,
    posted_at: datetime,
) -> str:
    """The lowercase hex SHA-256 of the UTF-8 text
    ``prev|entry_id|account_number|transaction_id|amount|balance_after|posted_at``.

    The fields are keyword-only: two of them are Money and three are identifiers, and a swap
    would still hash, silently, to a chain nobody else can recompute.
    """
    text = "|".join(
        (
            previous_hash,
            str(entry_id),
            account_number.value,
            transaction_id.value,
            _amount_text(amount),
            _amount_text(balance_after),
            posted_at_text(posted_at),
        )
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainHead:
    """Where an account's chain ends: its last entry's hash and balance_after. The next entry is
    made from this alone, so a store can keep it on the account's row, beside the balance."""

    hash: str
    balance: Money


EMPTY_CHAIN: Final = ChainHead(GENESIS_HASH, Money.zero())
"""The head of an account without entries: the first entry chains to 64 zeros, from 0.00."""


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One movement of one account's balance. ``amount`` is signed (positive raises the
    balance); ``balance_after`` is the running sum of the account's entries up to this one."""

    entry_id: int
    account_number: AccountNumber
    transaction_id: TransactionId
    amount: Money
    balance_after: Money
    posted_at: datetime
    hash: str

    def __post_init__(self) -> None:
        if isinstance(self.entry_id, bool) or not isinstance(self.entry_id, int):
            raise TypeError("An entry id is an int")
        if self.entry_id < 1:
            raise ValueError(f"An entry id is positive; got {self.entry_id}")
        # The hash covers the UTC text; holding the UTC moment keeps any encoder that writes
        # the datetime itself (orjson writes an offset as "+02:00") to the same text.
        object.__setattr__(self, "posted_at", _in_utc(self.posted_at))

    @classmethod
    def next(
        cls,
        head: ChainHead,
        *,
        entry_id: int,
        account_number: AccountNumber,
        transaction_id: TransactionId,
        amount: Money,
        posted_at: datetime,
    ) -> JournalEntry:
        """The entry that moves the account by ``amount`` after ``head`` (``EMPTY_CHAIN`` for
        the account's first), with its balance_after and hash computed."""
        balance_after = head.balance + amount
        return cls(
            entry_id=entry_id,
            account_number=account_number,
            transaction_id=transaction_id,
            amount=amount,
            balance_after=balance_after,
            posted_at=posted_at,
            hash=chain_hash(
                head.hash,
                entry_id=entry_id,
                account_number=account_number,
                transaction_id=transaction_id,
                amount=amount,
                balance_after=balance_after,
                posted_at=posted_at,
            ),
        )

    @property
    def head(self) -> ChainHead:
        """The chain's head once this entry is its last."""
        return ChainHead(self.hash, self.balance_after)

    def hash_after(self, previous_hash: str) -> str:
        """What this entry's hash must be when the entry before it has ``previous_hash``."""
        return chain_hash(
            previous_hash,
            entry_id=self.entry_id,
            account_number=self.account_number,
            transaction_id=self.transaction_id,
            amount=self.amount,
            balance_after=self.balance_after,
            posted_at=self.posted_at,
        )


class ChainBreak(StrEnum):
    """Why an entry does not follow from the one before it.

    An entry carries no copy of the previous hash, so a missing entry and a changed amount look
    alike: both make the next check fail on both counts. Each reason therefore names what was
    seen, and its likely causes.
    """

    HASH_MISMATCH = "hash_mismatch"
    """The balance follows but the hash does not recompute: the hash was changed, or a field
    that no sum checks (entry_id, account_number, transaction_id, posted_at)."""
    BALANCE_NOT_RUNNING_SUM = "balance_not_running_sum"
    """The hash recomputes but balance_after is not the previous balance_after plus amount: the
    entries were written, or rewritten with their hashes recomputed, with a wrong sum."""
    BROKEN_LINK = "broken_link"
    """Neither the hash nor the balance follows from the entry before: an entry between them
    was removed (or one put in), or this entry's amount or balance_after was changed."""


@dataclass(frozen=True, slots=True)
class BadEntry:
    """The first entry of a chain that does not follow from the one before it, and why."""

    entry: JournalEntry
    why: ChainBreak


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """One account's chain recomputed: how many entries, the sum of their amounts (which must
    equal the account's balance), and the first entry that does not follow, if any."""

    entry_count: int
    entries_sum: Money
    first_bad: BadEntry | None

    @property
    def intact(self) -> bool:
        return self.first_bad is None


def verify_chain(entries: Iterable[JournalEntry]) -> ChainCheck:
    """Recomputes one account's chain from its entries, oldest first, in one pass (a statement
    of a million entries needs no list of them).

    Each entry is checked against the stored hash and balance_after of the one before it, so a
    single tampered entry is named itself, not every entry after it.
    """
    entry_count = 0
    entries_sum = Money.zero()
    first_bad: BadEntry | None = None
    previous = EMPTY_CHAIN
    for entry in entries:
        entry_count += 1
        entries_sum += entry.amount
        if first_bad is None:
            why = _why_not_following(previous, entry)
            if why is not None:
                first_bad = BadEntry(entry, why)
        previous = entry.head
    return ChainCheck(entry_count, entries_sum, first_bad)


def _why_not_following(previous: ChainHead, entry: JournalEntry) -> ChainBreak | None:
    hash_follows = entry.hash == entry.hash_after(previous.hash)
    balance_follows = entry.balance_after == previous.balance + entry.amount
    if hash_follows and balance_follows:
        return None
    if balance_follows:
        return ChainBreak.HASH_MISMATCH
    if hash_follows:
        return ChainBreak.BALANCE_NOT_RUNNING_SUM
    return ChainBreak.BROKEN_LINK
