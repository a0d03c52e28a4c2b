"""The bodies the API takes. They check JSON types and refuse unknown fields; every amount is read
by the domain's own rule (never by pydantic's Decimal, which would also take "1_000" or
Arabic-Indic digits), and the ledger's other rules are the domain's, which these models only
describe in OpenAPI."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Final, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from bank_domain import (
    MadeTransfer,
    MakeTransferCommand,
    PostBatchCommand,
    PostedBatch,
    PostedTransaction,
    PostTransactionCommand,
)
from bank_domain.account import AccountStatus, AccountType
from bank_domain.actors import MASTER, Actor
from bank_domain.api_keys import MAX_KEY_ACCOUNTS, MAX_KEY_NAME_LENGTH, Scope
from bank_domain.errors import InvalidValue
from bank_domain.idempotency import IdempotencyClaim
from bank_domain.identifiers import ACCOUNT_NUMBER_PATTERN, TRANSACTION_ID_PATTERN
from bank_domain.money import Money, deposit_amount, overdraft_limit, transaction_amount
from bank_domain.transaction import MAX_DESCRIPTION_LENGTH, TransactionStatus, TransactionType
from bank_domain.use_cases.batches import MAX_BATCH_ITEMS

TEXT_PATTERN_MARK: Final = "x-bank-text"
"""Marks where the pattern of a name's or a description's characters goes: bank_web.openapi
writes it from the domain's rule when the document is first asked for (reading the Unicode
database for it is too slow for every start)."""

MONEY_SCHEMA_MARK: Final = "x-bank-money"
"""Marks where an exact money schema goes; bank_web.openapi puts it there with Decimal bounds,
after FastAPI's own schema models (which hold bounds as floats) are done with the document."""


def _read_by(rule: Callable[[object, str], Money], field: str = "amount") -> PlainValidator:
    def read(value: Any) -> Decimal:
        try:
            return rule(value, field).amount
        except InvalidValue as error:
            raise PydanticCustomError("amount", error.detail) from None

    return PlainValidator(read)


AmountIn = Annotated[
    Decimal, _read_by(transaction_amount), WithJsonSchema({MONEY_SCHEMA_MARK: "amount"})
]
"""A transaction's amount: above zero, at most 2 places, at most MAX_AMOUNT."""
DepositIn = Annotated[
    Decimal, _read_by(deposit_amount), WithJsonSchema({MONEY_SCHEMA_MARK: "deposit"})
]
"""An amount that may be zero (an initial deposit)."""
OverdraftLimitIn = Annotated[
    Decimal,
    _read_by(lambda value, _: overdraft_limit(value), "overdraft_limit"),
    WithJsonSchema(
        {MONEY_SCHEMA_MARK: "deposit", "description": "How far below zero the balance may go."}
    ),
]
"""An overdraft limit: from 0 to the largest amount."""

AccountNumberIn = Annotated[
    str,
    WithJsonSchema(
        {"type": "string", "pattern": ACCOUNT_NUMBER_PATTERN, "examples": ["1234567890"]}
    ),
]
ToAccountNumberIn = Annotated[
    str,
    WithJsonSchema(
        {"type": "string", "pattern": ACCOUNT_NUMBER_PATTERN, "examples": ["9876543210"]}
    ),
]
"""A transfer's to_account: its example another account than from_account's."""
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
            # At most MAX_CUSTOMER_NAME_LENGTH once trimmed: said by the pattern, since a
            # maxLength would count the white space around the name too.
            TEXT_PATTERN_MARK: "customer_name",
            "examples": ["Ada Lovelace"],
        }
    ),
]
DescriptionIn = Annotated[
    str | None,
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "string",
                    "maxLength": MAX_DESCRIPTION_LENGTH,
                    TEXT_PATTERN_MARK: "description",
                },
                {"type": "null"},
            ]
        }
    ),
]


class RequestBody(BaseModel):
    """Unknown and read-only fields are refused (422), never silently dropped."""

    model_config = ConfigDict(extra="forbid")


class AccountCreate(RequestBody):
    account_number: AccountNumberIn | None = Field(
        default=None, description="Ten digits; generated when left out (or null)."
    )
    customer_name: CustomerNameIn
    account_type: AccountType
    initial_deposit: DepositIn = Field(
        default=Decimal(0),
        description="Posted as a real deposit transaction described 'Initial deposit'.",
    )
    overdraft_limit: OverdraftLimitIn = Decimal(0)


class PartialRequestBody(RequestBody):
    """A change where left-out fields stay as they are; null is refused where a field has no
    null value (only ``nullable`` fields may be set to null, and only they say so in OpenAPI)."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _refuse_null(self) -> Self:
        for name in self.model_fields_set - self.nullable:
            if getattr(self, name) is None:
                raise ValueError(f"{name} may be left out, but is never null")
        return self


class AccountPatch(PartialRequestBody):
    customer_name: CustomerNameIn | SkipJsonSchema[None] = None
    account_type: AccountType | SkipJsonSchema[None] = None
    status: AccountStatus | SkipJsonSchema[None] = None
    overdraft_limit: OverdraftLimitIn | SkipJsonSchema[None] = None


class AccountPut(RequestBody):
    customer_name: CustomerNameIn
    account_type: AccountType
    status: AccountStatus | None = Field(
        default=None, description="Left out (or null), the status stays as it is."
    )
    overdraft_limit: OverdraftLimitIn | None = Field(
        default=None, description="Left out (or null), the overdraft limit stays as it is."
    )


def _rfc_3339_moment(value: object) -> object:
    """RFC 3339 text with its offset, only: pydantic alone would also read 0.5 as a Unix time."""
    if value is None or (isinstance(value, str) and _RFC_3339.fullmatch(value)):
        return value
    raise PydanticCustomError("datetime", "An RFC 3339 date-time with a UTC offset.")


_RFC_3339: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)

ExpiresAtIn = Annotated[
    datetime | None,
    BeforeValidator(_rfc_3339_moment),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}],
            # No example: any fixed moment is soon in the past, or more than 30 days ahead.
            "description": "Only on a pending transaction: when it cancels itself (in the "
            "future, at most 30 days ahead); null: never.",
        }
    ),
]


class TransactionCreate(RequestBody):
    transaction_id: TransactionIdIn | None = Field(
        default=None,
        description="Generated when left out (or null); a retry with the same id is safe.",
    )
    account_number: AccountNumberIn
    amount: AmountIn
    transaction_type: TransactionType
    description: DescriptionIn = None
    status: TransactionStatus = TransactionStatus.SUCCESS
    expires_at: ExpiresAtIn = None

    def command(
        self,
        actor: Actor = MASTER,
        idempotency: IdempotencyClaim[PostedTransaction] | None = None,
    ) -> PostTransactionCommand:
        return PostTransactionCommand(
            actor=actor,
            idempotency=idempotency,
            account_number=self.account_number,
            amount=self.amount,
            transaction_type=self.transaction_type,
            transaction_id=self.transaction_id,
            description=self.description,
            status=self.status,
            expires_at=self.expires_at,
        )


class BatchCreate(RequestBody):
    items_field: ClassVar[str] = "transactions"
    """Where a refusal of one item points (``loc`` starts with it and the item's index)."""

    transactions: list[TransactionCreate] = Field(
        min_length=1,
        max_length=MAX_BATCH_ITEMS,
        description="Each shaped like the body of POST /v1/transactions; applied in order.",
    )

    def command(
        self, actor: Actor = MASTER, idempotency: IdempotencyClaim[PostedBatch] | None = None
    ) -> PostBatchCommand:
        return PostBatchCommand(
            [item.command(actor) for item in self.transactions], actor, idempotency
        )


class TransferCreate(RequestBody):
    transfer_id: TransactionIdIn | None = Field(
        default=None,
        description="Generated when left out (or null); a retry with the same id is safe.",
    )
    from_account: AccountNumberIn
    to_account: ToAccountNumberIn
    amount: AmountIn
    description: DescriptionIn = None

    def command(
        self, actor: Actor = MASTER, idempotency: IdempotencyClaim[MadeTransfer] | None = None
    ) -> MakeTransferCommand:
        return MakeTransferCommand(
            idempotency=idempotency,
            from_account=self.from_account,
            to_account=self.to_account,
            amount=self.amount,
            transfer_id=self.transfer_id,
            description=self.description,
            actor=actor,
        )


class TransactionPatch(PartialRequestBody):
    nullable = frozenset({"description", "expires_at"})

    amount: AmountIn | SkipJsonSchema[None] = None
    transaction_type: TransactionType | SkipJsonSchema[None] = None
    description: DescriptionIn = None
    status: TransactionStatus | SkipJsonSchema[None] = None
    expires_at: ExpiresAtIn = None


class TransactionPut(RequestBody):
    amount: AmountIn
    transaction_type: TransactionType
    description: DescriptionIn = None
    status: TransactionStatus | None = Field(
        default=None, description="Left out (or null), the status stays as it is."
    )
    expires_at: ExpiresAtIn = None


class ApiKeyCreate(RequestBody):
    """The domain checks every field by section 9's rules (422 otherwise)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            # account_numbers together with keys:admin is a 422.
            "not": {
                "required": ["account_numbers", "scopes"],
                "properties": {
                    "account_numbers": {"type": "array"},
                    "scopes": {"contains": {"const": Scope.KEYS_ADMIN.value}},
                },
            }
        },
    )

    name: Annotated[
        str,
        WithJsonSchema(
            {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_KEY_NAME_LENGTH,
                TEXT_PATTERN_MARK: "name",
                "examples": ["statements robot"],
            }
        ),
    ]
    scopes: Annotated[
        list[str],
        WithJsonSchema(
            {
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": {"type": "string", "enum": [scope.value for scope in Scope]},
            }
        ),
    ]
    account_numbers: Annotated[
        list[str] | None,
        WithJsonSchema(
            {
                "anyOf": [
                    {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": MAX_KEY_ACCOUNTS,
                        "items": {"type": "string", "pattern": ACCOUNT_NUMBER_PATTERN},
                    },
                    {"type": "null"},
                ],
                "description": "The only accounts the key sees; null: every account. Not "
                "with keys:admin.",
            }
        ),
    ] = None
    expires_at: Annotated[
        datetime | None,
        BeforeValidator(_rfc_3339_moment),
        WithJsonSchema(
            {
                "anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}],
                "description": "A future RFC 3339 time; null: never.",
            }
        ),
    ] = None

    @model_validator(mode="after")
    def _at_most_the_published_count(self) -> Self:
        # The domain trims the name before it counts, and counts an account given twice once;
        # the schema counts characters and items as sent.
        if len(self.name) > MAX_KEY_NAME_LENGTH:
            raise ValueError(f"name is at most {MAX_KEY_NAME_LENGTH} characters")
        if self.account_numbers is not None and len(self.account_numbers) > MAX_KEY_ACCOUNTS:
            raise ValueError(f"account_numbers holds at most {MAX_KEY_ACCOUNTS:,} items")
        return self
