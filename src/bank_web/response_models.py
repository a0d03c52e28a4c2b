"""What the API's answers look like, for OpenAPI only: the answers themselves are built by the
plain functions of bank_web.presenters. Their examples are in bank_web.openapi_examples."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, WithJsonSchema

from bank_domain.account import AccountStatus, AccountType
from bank_domain.api_keys import Scope
from bank_domain.events import Change, EventType
from bank_domain.journal import ChainBreak
from bank_domain.transaction import TransactionStatus, TransactionType
from bank_domain.transfer import TransferStatus
from bank_web.request_bodies import MONEY_SCHEMA_MARK

MoneyOut = Annotated[Decimal, WithJsonSchema({MONEY_SCHEMA_MARK: "out"})]
Timestamp = Annotated[
    datetime,
    WithJsonSchema(
        {"type": "string", "format": "date-time", "examples": ["2026-11-25T18:42:32.123456Z"]}
    ),
]


class AccountOut(BaseModel):
    account_number: str
    customer_name: str
    account_type: AccountType
    balance: MoneyOut
    overdraft_limit: MoneyOut = Field(description="How far below zero the balance may go.")
    available_balance: MoneyOut = Field(
        description="balance + overdraft_limit - held (the pending withdrawals that have not "
        "expired); never below 0."
    )
    status: AccountStatus
    created_at: Timestamp
    updated_at: Timestamp
    version: int


class AccountPage(BaseModel):
    items: list[AccountOut]
    next_cursor: str | None


BalanceAfter = Annotated[
    Decimal | None,
    WithJsonSchema(
        {
            "anyOf": [{MONEY_SCHEMA_MARK: "out"}, {"type": "null"}],
            "description": "The balance right after this transaction moved it.",
        }
    ),
]


class TransactionOut(BaseModel):
    transaction_id: str
    account_number: str
    amount: MoneyOut
    transaction_type: TransactionType
    description: str | None
    status: TransactionStatus
    timestamp: Timestamp
    updated_at: Timestamp
    balance_after: BalanceAfter
    version: int = Field(
        description='1 when posted, +1 with every change; the ETag is "<version>".'
    )
    expires_at: Timestamp | None = Field(
        description="Only on a pending transaction: when it cancels itself (kept, once it "
        "has, to tell when)."
    )
    transfer_id: str | None = Field(
        description="The transfer this transaction is a leg of; null for every other one."
    )


class TransactionPage(BaseModel):
    items: list[TransactionOut]
    next_cursor: str | None


class BatchOut(BaseModel):
    items: list[TransactionOut] = Field(description="The batch's transactions, in the order given.")


class TransferOut(BaseModel):
    transfer_id: str
    from_account: str
    to_account: str
    amount: MoneyOut
    description: str | None
    status: TransferStatus = Field(description="`success`, or `reversed` once reversed.")
    timestamp: Timestamp
    debit_transaction_id: str = Field(description="The withdrawal leg on from_account.")
    credit_transaction_id: str = Field(description="The deposit leg on to_account.")


class RecalculationOut(BaseModel):
    account_number: str
    balance: MoneyOut
    previous_balance: MoneyOut
    corrected: bool


class ApiKeyOut(BaseModel):
    key_id: str
    name: str
    scopes: list[Scope]
    account_numbers: list[str] | None = Field(description="null: every account.")
    created_at: Timestamp
    expires_at: Timestamp | None
    revoked_at: Timestamp | None


class CreatedApiKeyOut(ApiKeyOut):
    secret: str | None = Field(
        description="The key's secret: in this answer and nowhere else, ever. null in the "
        "replay of this answer for an Idempotency-Key (Idempotent-Replayed: true): the secret "
        "is never kept."
    )


class ApiKeyPage(BaseModel):
    items: list[ApiKeyOut]
    next_cursor: str | None


class TransactionVersionOut(BaseModel):
    """A transaction as it was right after one change, and who made the change."""

    version: int
    change: Change
    changed_at: Timestamp
    changed_by: str = Field(description="The key's key_id, `master`, or `system`.")
    request_id: str | None = Field(description="The X-Request-Id of the change; null for system.")
    amount: MoneyOut
    transaction_type: TransactionType
    description: str | None
    status: TransactionStatus
    expires_at: Timestamp | None = Field(description="When a pending transaction expires.")
    balance_after: BalanceAfter


class TransactionHistoryPage(BaseModel):
    items: list[TransactionVersionOut]
    next_cursor: str | None


class _EventOut(BaseModel):
    """What every event tells; each kind of resource has its own ``type`` and ``data``."""

    event_id: str = Field(description="The event's id in the store, as text.")
    occurred_at: Timestamp
    actor: str = Field(description="The key's key_id, `master`, or `system`.")
    request_id: str | None = Field(description="The X-Request-Id of the change; null for system.")
    account_number: str | None = Field(description="null for an API key's event.")


class AccountEventOut(_EventOut):
    type: Literal[EventType.ACCOUNT_OPENED, EventType.ACCOUNT_UPDATED, EventType.ACCOUNT_CLOSED]
    data: AccountOut = Field(description="The account right after the change.")


class TransactionEventOut(_EventOut):
    type: Literal[
        EventType.TRANSACTION_POSTED,
        EventType.TRANSACTION_AMENDED,
        EventType.TRANSACTION_DELETED,
        EventType.TRANSACTION_EXPIRED,
        EventType.TRANSFER_POSTED,
        EventType.TRANSFER_REVERSED,
    ]
    data: TransactionOut = Field(
        description="The transaction right after the change; a transfer's events are one per "
        "leg, each about the leg's account."
    )


class ApiKeyEventOut(_EventOut):
    type: Literal[EventType.API_KEY_CREATED, EventType.API_KEY_REVOKED]
    data: ApiKeyOut = Field(description="The key right after the change, never its secret.")


EventOut = Annotated[
    AccountEventOut | TransactionEventOut | ApiKeyEventOut, Field(discriminator="type")
]


class EventPage(BaseModel):
    items: list[EventOut]
    next_cursor: str = Field(
        description="Never null: at the end of the feed, it returns the events committed later."
    )


HashedMoneyOut = Annotated[
    Decimal,
    WithJsonSchema(
        {
            MONEY_SCHEMA_MARK: "out",
            "description": "Signed, exact, with 2 decimal places: its digits (`-5.00`, `0.30`) "
            "are the text the hash covers.",
        }
    ),
]
EntryHash = Annotated[
    str,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^[0-9a-f]{64}$",
            "description": "Lowercase hex SHA-256 of the UTF-8 text "
            "`prev|entry_id|account_number|transaction_id|amount|balance_after|posted_at`, "
            "`prev` being the previous entry's hash (64 zeros for the first).",
        }
    ),
]


class EntryOut(BaseModel):
    """One movement of an account's balance, chained to the one before by its hash."""

    entry_id: int = Field(description="1, 2, 3... on each account, with no gap.")
    account_number: str
    transaction_id: str = Field(description="The transaction whose change moved the balance.")
    amount: HashedMoneyOut
    balance_after: HashedMoneyOut
    posted_at: Timestamp = Field(description="Exactly the text the hash covers.")
    hash: EntryHash


class EntryPage(BaseModel):
    items: list[EntryOut]
    next_cursor: str | None


class BalanceAtOut(BaseModel):
    account_number: str
    at: Timestamp = Field(description="The moment asked for (now, when none was).")
    balance: MoneyOut = Field(description="After every entry posted at or before `at`.")


class StatementOut(BaseModel):
    """``closing_balance = opening_balance + credits - debits``."""

    account_number: str
    from_: Timestamp = Field(alias="from")
    to: Timestamp
    opening_balance: MoneyOut = Field(description="The balance just before `from`.")
    closing_balance: MoneyOut = Field(description="The balance at `to`.")
    credits: MoneyOut = Field(description="The sum of the positive entries in the span.")
    debits: MoneyOut = Field(description="The sum of the negative entries, as a positive number.")
    entry_count: int


class BadEntryOut(BaseModel):
    entry_id: int = Field(description="The first entry that does not follow from the one before.")
    reason: ChainBreak


class VerificationOut(BaseModel):
    account_number: str
    entry_count: int
    balance: MoneyOut = Field(description="The account's balance, as its row keeps it.")
    entries_sum: MoneyOut = Field(description="The sum of every entry's amount.")
    balance_matches: bool
    chain_intact: bool
    first_bad_entry: BadEntryOut | None = Field(
        description="Beyond the contract: null while the chain is intact; otherwise where it "
        "first breaks, and why."
    )


class Health(BaseModel):
    status: str = Field(examples=["ok"])
