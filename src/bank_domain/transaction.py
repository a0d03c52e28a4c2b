"""The Transaction entity and the rules of its life cycle."""

from __future__ import annotations

import copy
import dataclasses
import enum
import operator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from bank_domain.choices import parse_choice
from bank_domain.errors import InvalidStatusChange, InvalidValue, TransferLeg, VersionMismatch
from bank_domain.identifiers import AccountNumber, TransactionId, TransferId
from bank_domain.money import Money
from bank_domain.text import free_text

MAX_DESCRIPTION_LENGTH: Final = 500
MAX_EXPIRY: Final = timedelta(days=30)
"""How far ahead of now a pending transaction's expires_at may be."""


class TransactionType(StrEnum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"

    @classmethod
    def parse(cls, value: object) -> TransactionType:
        return parse_choice(cls, value, "transaction_type")


class TransactionStatus(StrEnum):
    PENDING = "pending"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @classmethod
    def parse(cls, value: object) -> TransactionStatus:
        return parse_choice(cls, value, "status")

    @property
    def is_final(self) -> bool:
        return self in (TransactionStatus.FAILED, TransactionStatus.CANCELLED)


_ALLOWED_STATUS_CHANGES: Final = {
    TransactionStatus.PENDING: {
        TransactionStatus.SUCCESS,
        TransactionStatus.FAILED,
        TransactionStatus.CANCELLED,
    },
    TransactionStatus.SUCCESS: {TransactionStatus.FAILED, TransactionStatus.CANCELLED},
    TransactionStatus.FAILED: set(),
    TransactionStatus.CANCELLED: set(),
}


class Unset(enum.Enum):
    """Marks an optional field the caller left out, as opposed to one set to None."""

    UNSET = enum.auto()


UNSET: Final = Unset.UNSET


def description(value: object) -> str | None:
    """A transaction's description: free text of up to 500 characters; line breaks are its only
    control characters."""
    if value is None:
        return None
    return free_text("description", value, MAX_DESCRIPTION_LENGTH)


def expiry(value: datetime | None, now: datetime) -> datetime | None:
    """A pending transaction's expires_at: a moment with its UTC offset, after ``now`` and at
    most 30 days after it; None: it never expires."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValue("expires_at", "expires_at is an RFC 3339 time with a UTC offset.")
    try:
        moment = value.astimezone(UTC)
    except OverflowError:
        raise InvalidValue("expires_at", "expires_at is out of the range of times.") from None
    if moment <= now:
        raise InvalidValue("expires_at", "expires_at is in the future.")
    if moment > now + MAX_EXPIRY:
        raise InvalidValue("expires_at", "expires_at is at most 30 days ahead.")
    return moment


def _only_while_pending(status: TransactionStatus, expires_at: datetime | None) -> None:
    if expires_at is not None and status is not TransactionStatus.PENDING:
        raise InvalidValue("expires_at", "Only a pending transaction has an expires_at.")


@dataclass(eq=False, slots=True)
class Transaction:
    transaction_id: TransactionId
    account_number: AccountNumber
    amount: Money
    transaction_type: TransactionType
    description: str | None
    status: TransactionStatus
    timestamp: datetime
    updated_at: datetime
    balance_after: Money | None = None
    deleted_at: datetime | None = None
    version: int = 1
    expires_at: datetime | None = None
    """Only while pending: when it cancels itself (``expire``). Kept once it has expired, to
    tell when; cleared when a request resolves it."""
    transfer_id: TransferId | None = None
    """The transfer this transaction is a leg of (``bank_domain.transfer``); None for others."""

    def __copy__(self) -> Transaction:
        # copy.copy's generic way for a slotted dataclass costs three times this, and every
        # unit of work copies what it reads and stages.
        return Transaction(*_transaction_fields_of(self))

    @classmethod
    def new(
        cls,
        transaction_id: TransactionId,
        account_number: AccountNumber,
        amount: Money,
        transaction_type: TransactionType,
        description: str | None,
        status: TransactionStatus,
        now: datetime,
        expires_at: datetime | None = None,
        transfer_id: TransferId | None = None,
    ) -> Transaction:
        """A transaction made now, at version 1, not yet accepted by its account (which sets
        balance_after). ``expires_at`` (already checked by ``expiry``) only on a pending one;
        ``transfer_id`` makes it a leg of that transfer."""
        _only_while_pending(status, expires_at)
        return cls(
            transaction_id=transaction_id,
            account_number=account_number,
            amount=amount,
            transaction_type=transaction_type,
            description=description,
            status=status,
            timestamp=now,
            updated_at=now,
            expires_at=expires_at,
            transfer_id=transfer_id,
        )

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def effect(self) -> Money:
        """What this transaction adds to its account's balance right now (negative to take)."""
        if self.status is not TransactionStatus.SUCCESS or self.is_deleted:
            return Money.zero()
        return self.amount if self.transaction_type is TransactionType.DEPOSIT else -self.amount

    @property
    def hold(self) -> Money:
        """What this transaction holds of its account's available balance: a pending
        withdrawal's amount (a hold), else nothing."""
        if (
            self.status is not TransactionStatus.PENDING
            or self.transaction_type is not TransactionType.WITHDRAWAL
            or self.is_deleted
        ):
            return Money.zero()
        return self.amount

    def is_due(self, now: datetime) -> bool:
        """Whether this pending transaction's expires_at has come: it is cancelled from that
        instant, whether or not the store has recorded it yet."""
        return (
            self.expires_at is not None
            and self.status is TransactionStatus.PENDING
            and not self.is_deleted
            and self.expires_at <= now
        )

    def expire(self) -> None:
        """Cancels a due transaction by itself: the one change an expiry makes, the same
        whenever it is recorded (so every read before the record shows what it will be)."""
        if self.expires_at is None or self.status is not TransactionStatus.PENDING:
            raise ValueError(f"Transaction {self.transaction_id} has no expiry to reach.")
        self.status = TransactionStatus.CANCELLED
        self._touch(self.expires_at)

    def seen_at(self, now: datetime) -> Transaction:
        """This transaction as every read shows it at ``now``: cancelled once it is due."""
        if not self.is_due(now):
            return self
        seen = copy.copy(self)
        seen.expire()
        return seen

    def expect_version(self, expected: int | None) -> None:
        """Refuses a change made against a version that is no longer this one (If-Match)."""
        if expected is not None and expected != self.version:
            raise VersionMismatch(
                f"Transaction {self.transaction_id} is at version {self.version}, not {expected}."
            )

    def same_request(
        self,
        account_number: AccountNumber,
        amount: Money,
        transaction_type: TransactionType,
        description: str | None,
        status: TransactionStatus,
        expires_at: datetime | None = None,
    ) -> bool:
        """Whether a repeated posting with this id asks for exactly what is stored (a retry)."""
        return (
            self.expires_at == expires_at
            and not self.is_deleted
            and self.transfer_id is None
            and self.account_number == account_number
            and self.amount == amount
            and self.transaction_type is transaction_type
            and self.description == description
            and self.status is status
        )

    def amend(
        self,
        now: datetime,
        *,
        amount: Money | None = None,
        transaction_type: TransactionType | None = None,
        description: str | Unset | None = UNSET,
        status: TransactionStatus | None = None,
        expires_at: datetime | Unset | None = UNSET,
    ) -> bool:
        """Applies the changes asked for; returns whether anything changed. A change moves the
        version on by one; a request that changes nothing leaves it alone. ``expires_at``
        (checked by ``expiry``) is only for a transaction that stays pending; one that leaves
        pending loses its expires_at. A leg of a transfer is refused any change (its
        transfer's reversal is the one way it changes)."""
        self._refuse_if_leg()
        if (
            status is not None
            and status is not self.status
            and status not in _ALLOWED_STATUS_CHANGES[self.status]
        ):
            raise InvalidStatusChange(
                f"A {self.status} transaction cannot become {status}"
                + (": failed and cancelled are final." if self.status.is_final else ".")
            )
        if not isinstance(expires_at, Unset):
            _only_while_pending(status or self.status, expires_at)
        before = (
            self.amount,
            self.transaction_type,
            self.description,
            self.status,
            self.expires_at,
        )
        if amount is not None:
            self.amount = amount
        if transaction_type is not None:
            self.transaction_type = transaction_type
        if not isinstance(description, Unset):
            self.description = description
        if status is not None:
            self.status = status
        if not isinstance(expires_at, Unset) and self.status is TransactionStatus.PENDING:
            self.expires_at = expires_at  # (a null one for a transaction not pending: no change)
        if before[3] is TransactionStatus.PENDING and self.status is not TransactionStatus.PENDING:
            self.expires_at = None  # resolved by a request: it no longer expires
        changed = before != (
            self.amount,
            self.transaction_type,
            self.description,
            self.status,
            self.expires_at,
        )
        if changed:
            self._touch(now)
        return changed

    def record_balance(self, account_balance: Money) -> None:
        """balance_after shows the balance right after this transaction's effect was applied,
        and is None whenever the transaction does not count in the balance."""
        self.balance_after = None if self.effect.is_zero() else account_balance

    def reverse_leg(self, now: datetime) -> None:
        """A leg of a transfer being reversed: it becomes ``cancelled`` (its effect is taken
        back by its account, ``Account.move_balance``, in the same unit of work)."""
        if self.transfer_id is None or self.status is not TransactionStatus.SUCCESS:
            raise ValueError(f"Transaction {self.transaction_id} is no success leg of a transfer.")
        self.status = TransactionStatus.CANCELLED
        self.balance_after = None
        self._touch(now)

    def delete(self, now: datetime) -> None:
        """Marks the transaction deleted; a leg of a transfer is never deleted on its own."""
        self._refuse_if_leg()
        self.deleted_at = now
        self.balance_after = None
        self._touch(now)

    def _refuse_if_leg(self) -> None:
        if self.transfer_id is not None:
            raise TransferLeg(str(self.transaction_id), str(self.transfer_id))

    def _touch(self, now: datetime) -> None:
        self.version += 1
        self.updated_at = now


_TRANSACTION_FIELDS: Final = tuple(field.name for field in dataclasses.fields(Transaction))
"""In the order of Transaction's constructor."""
_transaction_fields_of: Final = operator.attrgetter(*_TRANSACTION_FIELDS)
"""A transaction's fields' values in order, read in one call."""
