"""The audit trail: every change to the ledger, as an event recorded in the same unit of work as
the change itself (an outbox), so that neither can exist without the other.

An event holds a snapshot of what changed (an account, a transaction or an API key), as it was
right after the change. A transaction's events are also its history: each one is a version of
it, and ``TransactionChange`` reads one as such.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final, NamedTuple

from bank_domain.account import Account
from bank_domain.actors import Actor
from bank_domain.api_keys import ApiKey
from bank_domain.choices import parse_choice
from bank_domain.identifiers import AccountNumber, TransactionId
from bank_domain.transaction import Transaction


class EventType(StrEnum):
    ACCOUNT_OPENED = "account.opened"
    ACCOUNT_UPDATED = "account.updated"
    ACCOUNT_CLOSED = "account.closed"
    TRANSACTION_POSTED = "transaction.posted"
    TRANSACTION_AMENDED = "transaction.amended"
    TRANSACTION_DELETED = "transaction.deleted"
    TRANSACTION_EXPIRED = "transaction.expired"
    TRANSFER_POSTED = "transfer.posted"
    TRANSFER_REVERSED = "transfer.reversed"
    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"

    @classmethod
    def parse(cls, value: object) -> EventType:
        return parse_choice(cls, value, "type")


class Change(StrEnum):
    """What a version of a transaction changed (the ``change`` of its history)."""

    CREATED = "created"
    AMENDED = "amended"
    DELETED = "deleted"
    EXPIRED = "expired"
    REVERSED = "reversed"


_CHANGE_OF_EVENT: Final = {
    EventType.TRANSACTION_POSTED: Change.CREATED,
    EventType.TRANSACTION_AMENDED: Change.AMENDED,
    EventType.TRANSACTION_DELETED: Change.DELETED,
    EventType.TRANSACTION_EXPIRED: Change.EXPIRED,
    # A transfer's events are its legs' (one per leg, about the leg's account): the legs'
    # versions as a transfer made and reversed them.
    EventType.TRANSFER_POSTED: Change.CREATED,
    EventType.TRANSFER_REVERSED: Change.REVERSED,
}

Subject = Account | Transaction | ApiKey


class FeedPosition(NamedTuple):
    """Where an event stands in the feed; events are read in this order.

    ``commit_order`` is what the store knows of the order its transactions commit in: on
    PostgreSQL the id of the database transaction that wrote the event, which a reader only
    passes once no transaction below it can still commit; elsewhere 0, because the store
    commits one writer at a time and ``event_id`` alone follows commit order.
    """

    commit_order: int
    event_id: int


FEED_START: Final = FeedPosition(0, 0)
"""Before every event."""


@dataclass(frozen=True, slots=True)
class Event:
    type: EventType
    occurred_at: datetime
    actor_id: str
    request_id: str | None
    subject: Subject
    """A copy of what changed, as it was right after the change."""
    position: FeedPosition | None = None
    """Given by the store; None on an event not yet stored."""

    @classmethod
    def of(cls, event_type: EventType, subject: Subject, actor: Actor, now: datetime) -> Event:
        return cls(event_type, now, actor.actor_id, actor.request_id, _snapshot(subject))

    @property
    def event_id(self) -> int:
        if self.position is None:
            raise RuntimeError("An event gets its id when it is stored.")
        return self.position.event_id

    @property
    def account_number(self) -> AccountNumber | None:
        """The account the event is about (an API key's event is about none)."""
        if isinstance(self.subject, Account):
            return self.subject.number
        if isinstance(self.subject, Transaction):
            return self.subject.account_number
        return None

    @property
    def transaction_id(self) -> TransactionId | None:
        return self.subject.transaction_id if isinstance(self.subject, Transaction) else None


def _snapshot(subject: Subject) -> Subject:
    """A copy that later changes to the subject do not reach; a key's without the hash of its
    secret, which no event carries."""
    if isinstance(subject, ApiKey):
        return dataclasses.replace(subject, secret_hash="")
    return copy.copy(subject)


@dataclass(frozen=True, slots=True)
class TransactionChange:
    """One version of a transaction: the whole of it after a change, and who made the change."""

    change: Change
    changed_at: datetime
    changed_by: str
    request_id: str | None
    transaction: Transaction

    @classmethod
    def of(cls, event: Event) -> TransactionChange:
        if not isinstance(event.subject, Transaction) or event.type not in _CHANGE_OF_EVENT:
            raise ValueError(f"A {event.type} event is not a version of a transaction.")
        return cls(
            _CHANGE_OF_EVENT[event.type],
            event.occurred_at,
            event.actor_id,
            event.request_id,
            event.subject,
        )
