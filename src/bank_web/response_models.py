"""What the API's answers look like, for OpenAPI only: the answers themselves are built by the
plain functions of bank_web.presenters. Their examples are in bank_web.openapi_examples."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field, WithJsonSchema

from bank_domain.account import AccountStatus, AccountType
from bank_domain.api_keys import Scope
from bank_domain.transaction import TransactionStatus, TransactionType
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
    status: AccountStatus
    created_at: Timestamp
    updated_at: Timestamp
    version: int


class AccountPage(BaseModel):
    items: list[AccountOut]
    next_cursor: str | None


class TransactionOut(BaseModel):
    transaction_id: str
    account_number: str
    amount: MoneyOut
    transaction_type: TransactionType
    description: str | None
    status: TransactionStatus
    timestamp: Timestamp
    updated_at: Timestamp
    balance_after: Annotated[
        Decimal | None,
        WithJsonSchema(
            {
                "anyOf": [{MONEY_SCHEMA_MARK: "out"}, {"type": "null"}],
                "description": "The balance right after this transaction moved it.",
            }
        ),
    ]
    version: int = Field(
        description='1 when posted, +1 with every change; the ETag is "<version>".'
    )


class TransactionPage(BaseModel):
    items: list[TransactionOut]
    next_cursor: str | None


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
    secret: str = Field(description="The key's secret: in this answer and nowhere else, ever.")


class ApiKeyPage(BaseModel):
    items: list[ApiKeyOut]
    next_cursor: str | None


class Health(BaseModel):
    status: str = Field(examples=["ok"])
