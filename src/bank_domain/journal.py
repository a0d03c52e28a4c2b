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
    in_utc = _in_utc(moment)
    # isoformat of a UTC moment ends in "+00:00": six characters that become the "Z".
    text = in_utc.isoformat(timespec="microseconds" if in_utc.microsecond else "seconds")
    return text[:-6] + "Z"


def _in_utc(moment: datetime) -> datetime:
    # Every moment of the ledger's own clock is already in UTC: the common case costs a test.
    if moment.tzinfo is UTC:
        return moment
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"A journal timestamp carries its time zone; {moment!r} has none.")
    return moment.astimezone(UTC)


def amount_text(money: Money) -> str:
    """An amount as the hash covers it: exactly two decimals, a ``-`` before a negative one
    (``-5.00``, ``0.30``). The web layer writes an entry's amounts with it too (as JSON numbers
    of these digits, and in a statement's CSV), so that what it shows is what was hashed."""
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
            amount_text(amount),
            amount_text(balance_after),
            posted_at_text(posted_at),
        )
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainHead:
    """Where an account's chain ends: its last entry's id, hash and posting time. The account
    keeps it on its own row, beside the balance (which is the last entry's balance_after), so
    that the next entry is made under the account's lock with no extra read."""

    entry_id: int
    hash: str
    posted_at: datetime | None

    def posting_time(self, now: datetime) -> datetime:
        """When the next entry is posted: ``now``, or the last entry's time if a clock went
        back (another process's clock, a correction): an account's entries are in posting-time
        order, so a balance at a time is the balance after one entry."""
        if self.posted_at is not None and now < self.posted_at:
            return self.posted_at
        return now


EMPTY_CHAIN: Final = ChainHead(0, GENESIS_HASH, None)
"""The head of an account without entries: the first entry is number 1 and chains to 64 zeros."""


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One movement of one account's balance. ``amount`` is signed (positive raises the
    balance); ``balance_after`` is the running sum of the account's entries up to this one.

    ``entry_id`` is the entry's place in its account's journal: 1, 2, 3... with no gap, so
    (account_number, entry_id) names an entry and a missing one shows as a gap."""

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
        balance: Money,
        *,
        account_number: AccountNumber,
        transaction_id: TransactionId,
        amount: Money,
        now: datetime,
    ) -> JournalEntry:
        """The entry that moves an account whose chain ends at ``head`` (``EMPTY_CHAIN`` for
        its first) and whose balance is ``balance`` by ``amount``: its id, time, balance_after
        and hash computed."""
        if amount.is_zero():
            raise ValueError("A journal entry moves the balance; a zero amount is no entry.")
        entry_id = head.entry_id + 1
        balance_after = balance + amount
        posted_at = head.posting_time(now)
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
        return ChainHead(self.entry_id, self.hash, self.posted_at)

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
    """Why an account's journal does not hold together, at the first entry where it does not.

    An entry carries no copy of the previous hash, so a changed amount and a changed
    balance_after look alike at first sight; each reason names what was seen, and its likely
    causes."""

    ENTRY_MISSING = "entry_missing"
    """The entry ids jump (or the journal ends before the entry the account's row says is its
    last): an entry was removed. The named entry id is the first missing one."""
    HASH_MISMATCH = "hash_mismatch"
    """The balance follows but the hash does not recompute: the hash was changed, or a field
    that no sum checks (account_number, transaction_id, posted_at)."""
    BALANCE_NOT_RUNNING_SUM = "balance_not_running_sum"
    """The hash recomputes but balance_after is not the previous balance_after plus amount: the
    entries were written, or rewritten with their hashes recomputed, with a wrong sum."""
    BROKEN_LINK = "broken_link"
    """Neither the hash nor the balance follows from the entry before: this entry's amount or
    balance_after was changed, or an entry was put in."""
    HEAD_MISMATCH = "head_mismatch"
    """Every entry follows from the one before, but the last one's hash is not the one the
    account's row kept when it was written: the entries were rewritten, hashes recomputed."""


@dataclass(frozen=True, slots=True)
class BadEntry:
    """The first entry of a journal that does not hold together, and why."""

    entry_id: int
    why: ChainBreak


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """One account's chain recomputed: how many entries, the sum of their amounts (which must
    equal the account's balance), where it ends, and the first entry that does not follow."""

    entry_count: int
    entries_sum: Money
    last: ChainHead
    first_bad: BadEntry | None

    @property
    def intact(self) -> bool:
        return self.first_bad is None


def verify_chain(entries: Iterable[JournalEntry]) -> ChainCheck:
    """Recomputes one account's chain from its entries, oldest first, in one pass (a journal
    of a million entries needs no list of them).

    Each entry is checked against the stored hash and balance_after of the one before it, so a
    single tampered entry is named itself, not every entry after it.
    """
    check = ChainChecker()
    for entry in entries:
        check.add(entry)
    return check.result()


class ChainChecker:
    """``verify_chain`` one entry at a time, for entries that arrive a page at a time."""

    def __init__(self) -> None:
        self._count = 0
        self._sum = Money.zero()
        self._last = EMPTY_CHAIN
        self._last_balance = Money.zero()
        self._first_bad: BadEntry | None = None

    def add(self, entry: JournalEntry) -> None:
        self._count += 1
        self._sum += entry.amount
        if self._first_bad is None:
            self._first_bad = _first_bad(self._last, self._last_balance, entry)
        self._last = entry.head
        self._last_balance = entry.balance_after

    def result(self) -> ChainCheck:
        return ChainCheck(self._count, self._sum, self._last, self._first_bad)


def _first_bad(
    previous: ChainHead, previous_balance: Money, entry: JournalEntry
) -> BadEntry | None:
    if entry.entry_id != previous.entry_id + 1:
        return BadEntry(previous.entry_id + 1, ChainBreak.ENTRY_MISSING)
    hash_follows = entry.hash == entry.hash_after(previous.hash)
    balance_follows = entry.balance_after == previous_balance + entry.amount
    if hash_follows and balance_follows:
        return None
    if balance_follows:
        why = ChainBreak.HASH_MISMATCH
    elif hash_follows:
        why = ChainBreak.BALANCE_NOT_RUNNING_SUM
    else:
        why = ChainBreak.BROKEN_LINK
    return BadEntry(entry.entry_id, why)


@dataclass(frozen=True, slots=True)
class JournalCheck:
    """An account's journal held against the account's row: what ``/verify`` answers."""

    account_number: AccountNumber
    entry_count: int
    balance: Money
    entries_sum: Money
    first_bad: BadEntry | None

    @classmethod
    def of(
        cls, account_number: AccountNumber, balance: Money, head: ChainHead, chain: ChainCheck
    ) -> JournalCheck:
        """``chain`` is the account's entries up to ``head.entry_id``, the last entry its row
        knows of (entries appended since it was read are not this check's business)."""
        first_bad = chain.first_bad
        if first_bad is None and chain.last.entry_id != head.entry_id:
            first_bad = BadEntry(chain.last.entry_id + 1, ChainBreak.ENTRY_MISSING)
        if first_bad is None and chain.last.hash != head.hash:
            first_bad = BadEntry(head.entry_id, ChainBreak.HEAD_MISMATCH)
        return cls(account_number, chain.entry_count, balance, chain.entries_sum, first_bad)

    @property
    def balance_matches(self) -> bool:
        return self.balance == self.entries_sum

    @property
    def chain_intact(self) -> bool:
        return self.first_bad is None

    @property
    def sound(self) -> bool:
        return self.balance_matches and self.chain_intact
