"""Every example the OpenAPI document shows, in one place. Amounts are Decimals: the document is
written by the exact codec, so an example says 500.00, never a float's digits."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from bank_domain.identifiers import AccountNumber, TransactionId
from bank_domain.journal import EMPTY_CHAIN, JournalEntry
from bank_domain.money import Money
from bank_web.presenters import journal_entry
from bank_web.statement_csv import HEADER, csv_line

REQUEST_ID_EXAMPLE: Final = "4bf92f3577b34da6a3ce929d0e0e4736"
ENTITY_TAG_EXAMPLE: Final = '"3"'
_KEY_ID: Final = "key_0123456789abcdef0123456789abcdef"

_ACCOUNT: Final[dict[str, Any]] = {
    "account_number": "1234567890",
    "customer_name": "Ada Lovelace",
    "account_type": "checking",
    "balance": Decimal("300.00"),
    "overdraft_limit": Decimal("100.00"),
    "available_balance": Decimal("350.00"),
    "status": "active",
    "created_at": "2026-11-25T18:42:32.123456Z",
    "updated_at": "2026-11-25T18:45:01.000001Z",
    "version": 3,
}
_TRANSACTION: Final[dict[str, Any]] = {
    "transaction_id": "abcdefghijk",
    "account_number": "1234567890",
    "amount": Decimal("500.00"),
    "transaction_type": "deposit",
    "description": "Initial deposit",
    "status": "success",
    "timestamp": "2026-11-25T18:43:00.000000Z",
    "updated_at": "2026-11-25T18:43:00.000000Z",
    "balance_after": Decimal("500.00"),
    "version": 1,
    "expires_at": None,
    "transfer_id": None,
}
_TRANSFER: Final[dict[str, Any]] = {
    "transfer_id": "rent-2026-11",
    "from_account": "1234567890",
    "to_account": "9876543210",
    "amount": Decimal("120.00"),
    "description": "Rent, November",
    "status": "success",
    "timestamp": "2026-11-25T18:47:10.500000Z",
    "debit_transaction_id": "5f0c2d1e9b8a47c3a6e1d2f3b4c5d6e7",
    "credit_transaction_id": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
}
_API_KEY: Final[dict[str, Any]] = {
    "key_id": _KEY_ID,
    "name": "statements robot",
    "scopes": ["accounts:read", "transactions:read"],
    "account_numbers": ["1234567890"],
    "created_at": "2026-11-25T18:42:32.123456Z",
    "expires_at": None,
    "revoked_at": None,
}


def _example_entries() -> list[JournalEntry]:
    """The walk-through's account: the 500.00 deposit, then a 200.00 withdrawal, made as the
    ledger makes them, so that the examples' hashes recompute."""
    entries: list[JournalEntry] = []
    head, balance = EMPTY_CHAIN, Money.zero()
    for transaction_id, amount, posted_at in (
        ("abcdefghijk", "500.00", datetime(2026, 11, 25, 18, 43, tzinfo=UTC)),
        ("tx-7f3a9c2e", "-200.00", datetime(2026, 11, 25, 18, 44, 5, 120000, tzinfo=UTC)),
    ):
        entry = JournalEntry.next(
            head,
            balance,
            account_number=AccountNumber("1234567890"),
            transaction_id=TransactionId(transaction_id),
            amount=Money(Decimal(amount)),
            now=posted_at,
        )
        entries.append(entry)
        head, balance = entry.head, entry.balance_after
    return entries


_ENTRIES: Final = _example_entries()
STATEMENT_CSV_EXAMPLE: Final = HEADER + "".join(csv_line(entry) for entry in _ENTRIES)

SCHEMA_EXAMPLES: Final[dict[str, list[dict[str, Any]]]] = {
    "AccountOut": [_ACCOUNT],
    "AccountPatch": [{"status": "frozen"}],
    "AccountPut": [{"customer_name": "Ada King", "account_type": "savings"}],
    "TransactionOut": [_TRANSACTION],
    "TransferOut": [_TRANSFER, {**_TRANSFER, "status": "reversed"}],
    "BatchOut": [
        {
            "items": [
                _TRANSACTION,
                {
                    **_TRANSACTION,
                    "transaction_id": "abcdefghijl",
                    "amount": Decimal("200.00"),
                    "transaction_type": "withdrawal",
                    "description": "Rent",
                    "balance_after": Decimal("300.00"),
                },
            ]
        }
    ],
    "TransactionPatch": [{"status": "cancelled"}],
    "TransactionPut": [
        {
            "amount": Decimal("450.00"),
            "transaction_type": "deposit",
            "description": "Salary, corrected",
            "status": "success",
        }
    ],
    "RecalculationOut": [
        {
            "account_number": "1234567890",
            "balance": Decimal("300.00"),
            "previous_balance": Decimal("300.00"),
            "corrected": False,
        }
    ],
    "ApiKeyOut": [_API_KEY],
    "CreatedApiKeyOut": [
        {**_API_KEY, "expires_at": "2099-01-01T00:00:00Z", "secret": "bk_" + "A" * 43}
    ],
    "AccountEventOut": [
        {
            "event_id": "1043",
            "occurred_at": _ACCOUNT["updated_at"],
            "actor": _KEY_ID,
            "request_id": REQUEST_ID_EXAMPLE,
            "account_number": _ACCOUNT["account_number"],
            "type": "account.updated",
            "data": _ACCOUNT,
        }
    ],
    "TransactionEventOut": [
        {
            "event_id": "1042",
            "occurred_at": _TRANSACTION["timestamp"],
            "actor": "master",
            "request_id": "checkout-7f3a",
            "account_number": _TRANSACTION["account_number"],
            "type": "transaction.posted",
            "data": _TRANSACTION,
        }
    ],
    "ApiKeyEventOut": [
        {
            "event_id": "1041",
            "occurred_at": _API_KEY["created_at"],
            "actor": "master",
            "request_id": REQUEST_ID_EXAMPLE,
            "account_number": None,
            "type": "api_key.created",
            "data": _API_KEY,
        }
    ],
    "TransactionVersionOut": [
        {
            "version": 2,
            "change": "amended",
            "changed_at": "2026-11-25T18:50:12.000004Z",
            "changed_by": _KEY_ID,
            "request_id": REQUEST_ID_EXAMPLE,
            "amount": Decimal("450.00"),
            "transaction_type": "deposit",
            "description": "Salary, corrected",
            "status": "success",
            "expires_at": None,
            "balance_after": Decimal("250.00"),
        }
    ],
    "EntryOut": [journal_entry(_ENTRIES[1])],
    "EntryPage": [{"items": [journal_entry(entry) for entry in _ENTRIES], "next_cursor": None}],
    "BalanceAtOut": [
        {
            "account_number": "1234567890",
            "at": "2026-11-25T18:43:30Z",
            "balance": Decimal("500.00"),
        }
    ],
    "StatementOut": [
        {
            "account_number": "1234567890",
            "from": "2026-11-25T00:00:00Z",
            "to": "2026-11-25T23:59:59.999999Z",
            "opening_balance": Decimal("0.00"),
            "closing_balance": Decimal("300.00"),
            "credits": Decimal("500.00"),
            "debits": Decimal("200.00"),
            "entry_count": 2,
        }
    ],
    "VerificationOut": [
        {
            "account_number": "1234567890",
            "entry_count": 2,
            "balance": Decimal("300.00"),
            "entries_sum": Decimal("300.00"),
            "balance_matches": True,
            "chain_intact": True,
            "first_bad_entry": None,
        },
        {
            "account_number": "1234567890",
            "entry_count": 2,
            "balance": Decimal("300.00"),
            "entries_sum": Decimal("300.00"),
            "balance_matches": True,
            "chain_intact": False,
            "first_bad_entry": {"entry_id": 2, "reason": "hash_mismatch"},
        },
    ],
}
"""Examples of whole bodies, by the name of their schema in components."""

MONEY_EXAMPLES: Final = [Decimal("500.00")]

REQUEST_EXAMPLES: Final[dict[tuple[str, str], dict[str, dict[str, Any]]]] = {
    ("post", "/v1/accounts"): {
        "challenge": {
            "summary": "The challenge's account",
            "value": {
                "account_number": "1234567890",
                "customer_name": "Ada Lovelace",
                "account_type": "checking",
                "initial_deposit": 0,
            },
        },
        "generated": {
            "summary": "Number generated, with an initial deposit",
            "value": {
                "customer_name": "Grace Hopper",
                "account_type": "savings",
                "initial_deposit": Decimal("250.00"),
            },
        },
    },
    ("post", "/v1/transactions"): {
        "challenge": {
            "summary": "The challenge's deposit",
            "value": {
                "transaction_id": "abcdefghijk",
                "account_number": "1234567890",
                "amount": Decimal("500.00"),
                "transaction_type": "deposit",
                "description": "Initial deposit",
                "status": "success",
            },
        },
        "withdrawal": {
            "summary": "A withdrawal, id generated",
            "value": {
                "account_number": "1234567890",
                "amount": Decimal("200.00"),
                "transaction_type": "withdrawal",
                "description": "Rent",
            },
        },
    },
    ("post", "/v1/transactions/batch"): {
        "deposit_and_withdrawal": {
            "summary": "A deposit, then a withdrawal of part of it",
            "value": {
                "transactions": [
                    {
                        "transaction_id": "abcdefghijk",
                        "account_number": "1234567890",
                        "amount": Decimal("500.00"),
                        "transaction_type": "deposit",
                        "description": "Initial deposit",
                    },
                    {
                        "account_number": "1234567890",
                        "amount": Decimal("200.00"),
                        "transaction_type": "withdrawal",
                        "description": "Rent",
                    },
                ]
            },
        },
    },
    ("post", "/v1/transfers"): {
        "rent": {
            "summary": "Rent, with the client's id (a retry is safe)",
            "value": {
                "transfer_id": "rent-2026-11",
                "from_account": "1234567890",
                "to_account": "9876543210",
                "amount": Decimal("120.00"),
                "description": "Rent, November",
            },
        },
    },
    ("post", "/v1/api-keys"): {
        "restricted": {
            "summary": "A read-only key for one account, expiring",
            "value": {
                "name": "statements robot",
                "scopes": ["accounts:read", "transactions:read"],
                "account_numbers": ["1234567890"],
                "expires_at": "2099-01-01T00:00:00Z",
            },
        },
        "admin": {
            "summary": "A key that manages keys",
            "value": {"name": "key admin", "scopes": ["keys:admin"]},
        },
    },
}
"""Named examples of request bodies, by (method, path) of their operation."""
