"""The API's request and response bodies. They check JSON types and refuse unknown fields;
the ledger's rules themselves are the domain's, which these models only describe."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from bank_domain.account import MAX_CUSTOMER_NAME_LENGTH, Account, AccountStatus, AccountType
from bank_domain.identifiers import ACCOUNT_NUMBER_PATTERN, TRANSACTION_ID_PATTERN
from bank_domain.money import MAX_AMOUNT, Money
from bank_domain.transaction import (
    MAX_DESCRIPTION_LENGTH,
    Transaction,
    TransactionStatus,
    TransactionType,
)
from bank_domain.use_cases.balance import Recalculation

AmountIn = Annotated[
    Decimal,
    Field(allow_inf_nan=False),
    WithJsonSchema(
        {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": float(MAX_AMOUNT),
            "description": "An exact amount with at most 2 decimal places.",
            "examples": [500.0],
        }
    ),
]
MoneyOut = Annotated[
    Decimal,
    WithJsonSchema(
        {"type": "number", "description": "Exact, 2 decimal places.", "examples": [500.0]}
    ),
]
AccountNumberIn = Annotated[
    str,
    WithJsonSchema(
        {"type": "string", "pattern": ACCOUNT_NUMBER_PATTERN, "examples": ["1234567890"]}
    ),
]
TransactionIdIn = Annotated[
    str,
    WithJsonSchema(
        {"type": "string", "pattern": TRANSACTION_ID_PATTERN, "examples": ["abcdefghijk"]}
    ),
]
CustomerNameIn = Annotated[
    str,
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_CUSTOMER_NAME_LENGTH,
            "examples": ["Ada Lovelace"],
        }
    ),
]
DescriptionIn = Annotated[
    str | None,
    WithJsonSchema(
        {"anyOf": [{"type": "string", "maxLength": MAX_DESCRIPTION_LENGTH}, {"type": "null"}]}
    ),
]
Timestamp = Annotated[
    datetime,
    WithJsonSchema(
        {"type": "string", "format": "date-time", "examples": ["2026-11-25T18:42:32.123456Z"]}
    ),
]


class RequestBody(BaseModel):
    """Unknown and read-only fields are refused (422), never silently dropped."""

    model_config = ConfigDict(extra="forbid")


class AccountCreate(RequestBody):
    account_number: AccountNumberIn | None = Field(
        default=None, description="Ten digits; generated when left out."
    )
    customer_name: CustomerNameIn
    account_type: AccountType
    initial_deposit: AmountIn = Field(
        default=Decimal(0),
        description="Posted as a real deposit transaction described 'Initial deposit'.",
    )


class PartialRequestBody(RequestBody):
    """A change where left-out fields stay as they are; null is refused where a field has no
    null value (only ``nullable`` fields may be set to null)."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _refuse_null(self) -> Self:
        for name in self.model_fields_set - self.nullable:
            if getattr(self, name) is None:
                raise ValueError(f"{name} may be left out, but is never null")
        return self


class AccountPatch(PartialRequestBody):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "frozen"}]})

    customer_name: CustomerNameIn | None = None
    account_type: AccountType | None = None
    status: AccountStatus | None = None


class AccountPut(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"customer_name": "Ada King", "account_type": "savings"}]}
    )

    customer_name: CustomerNameIn
    account_type: AccountType
    status: AccountStatus | None = None


class AccountOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "account_number": "1234567890",
                    "customer_name": "Ada Lovelace",
                    "account_type": "checking",
                    "balance": 300.0,
                    "status": "active",
                    "created_at": "2026-11-25T18:42:32.123456Z",
                    "updated_at": "2026-11-25T18:45:01.000001Z",
                    "version": 3,
                }
            ]
        }
    )

    account_number: str
    customer_name: str
    account_type: AccountType
    balance: MoneyOut
    status: AccountStatus
    created_at: Timestamp
    updated_at: Timestamp
    version: int

    @classmethod
    def of(cls, account: Account) -> dict[str, Any]:
        return {
            "account_number": account.number.value,
            "customer_name": account.customer_name,
            "account_type": account.account_type.value,
            "balance": account.balance.amount,
            "status": account.status.value,
            "created_at": account.created_at,
            "updated_at": account.updated_at,
            "version": account.version,
        }


class AccountPage(BaseModel):
    items: list[AccountOut]
    next_cursor: str | None


class TransactionCreate(RequestBody):
    transaction_id: TransactionIdIn | None = Field(
        default=None, description="Generated when left out; a retry with the same id is safe."
    )
    account_number: AccountNumberIn
    amount: AmountIn
    transaction_type: TransactionType
    description: DescriptionIn = None
    status: TransactionStatus = TransactionStatus.SUCCESS


class TransactionPatch(PartialRequestBody):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "cancelled"}]})

    nullable = frozenset({"description"})

    amount: AmountIn | None = None
    transaction_type: TransactionType | None = None
    description: DescriptionIn = None
    status: TransactionStatus | None = None


class TransactionPut(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "amount": 450.0,
                    "transaction_type": "deposit",
                    "description": "Salary, corrected",
                    "status": "success",
                }
            ]
        }
    )

    amount: AmountIn
    transaction_type: TransactionType
    description: DescriptionIn = None
    status: TransactionStatus | None = Field(
        default=None, description="Left out, the status stays as it is."
    )


class TransactionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "transaction_id": "abcdefghijk",
                    "account_number": "1234567890",
                    "amount": 500.0,
                    "transaction_type": "deposit",
                    "description": "Initial deposit",
                    "status": "success",
                    "timestamp": "2026-11-25T18:43:00.000000Z",
                    "updated_at": "2026-11-25T18:43:00.000000Z",
                    "balance_after": 500.0,
                }
            ]
        }
    )

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
                "anyOf": [{"type": "number"}, {"type": "null"}],
                "description": "The balance right after this transaction moved it.",
            }
        ),
    ]

    @classmethod
    def of(cls, transaction: Transaction) -> dict[str, Any]:
        return {
            "transaction_id": transaction.transaction_id.value,
            "account_number": transaction.account_number.value,
            "amount": transaction.amount.amount,
            "transaction_type": transaction.transaction_type.value,
            "description": transaction.description,
            "status": transaction.status.value,
            "timestamp": transaction.timestamp,
            "updated_at": transaction.updated_at,
            "balance_after": _amount(transaction.balance_after),
        }


class TransactionPage(BaseModel):
    items: list[TransactionOut]
    next_cursor: str | None


class RecalculationOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "account_number": "1234567890",
                    "balance": 300.0,
                    "previous_balance": 300.0,
                    "corrected": False,
                }
            ]
        }
    )

    account_number: str
    balance: MoneyOut
    previous_balance: MoneyOut
    corrected: bool

    @classmethod
    def of(cls, result: Recalculation) -> dict[str, Any]:
        return {
            "account_number": result.account_number.value,
            "balance": result.balance.amount,
            "previous_balance": result.previous_balance.amount,
            "corrected": result.corrected,
        }


class Health(BaseModel):
    status: str = Field(examples=["ok"])


def _amount(money: Money | None) -> Decimal | None:
    return None if money is None else money.amount
