"""Rows <-> domain entities, by hand: the domain's classes know nothing of tables.

Money is stored as whole cents (SQLite has no exact decimal type, and a float is never exact);
enums as their words; identifiers as their text; a key's scopes and account numbers as words
separated by spaces.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping

from bank_domain.account import Account, AccountStatus, AccountType
from bank_domain.api_keys import ApiKey, Scope
from bank_domain.identifiers import AccountNumber, TransactionId
from bank_domain.money import Money
from bank_domain.transaction import Transaction, TransactionStatus, TransactionType


def account_to_row(account: Account) -> dict[str, Any]:
    return {
        "account_number": account.number.value,
        "customer_name": account.customer_name,
        "account_type": account.account_type.value,
        "status": account.status.value,
        "balance_cents": account.balance.cents,
        "created_at": account.created_at,
        "updated_at": account.updated_at,
        "version": account.version,
        "closed_at": account.closed_at,
    }


def account_from_row(row: RowMapping) -> Account:
    return Account(
        number=AccountNumber(row["account_number"]),
        customer_name=row["customer_name"],
        account_type=AccountType(row["account_type"]),
        status=AccountStatus(row["status"]),
        balance=Money.from_cents(row["balance_cents"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        version=row["version"],
        closed_at=row["closed_at"],
    )


def transaction_to_row(transaction: Transaction) -> dict[str, Any]:
    balance_after = transaction.balance_after
    return {
        "transaction_id": transaction.transaction_id.value,
        "account_number": transaction.account_number.value,
        "amount_cents": transaction.amount.cents,
        "transaction_type": transaction.transaction_type.value,
        "description": transaction.description,
        "status": transaction.status.value,
        "timestamp": transaction.timestamp,
        "updated_at": transaction.updated_at,
        "balance_after_cents": None if balance_after is None else balance_after.cents,
        "deleted_at": transaction.deleted_at,
        "version": transaction.version,
    }


def transaction_from_row(row: RowMapping) -> Transaction:
    cents_after = row["balance_after_cents"]
    return Transaction(
        transaction_id=TransactionId(row["transaction_id"]),
        account_number=AccountNumber(row["account_number"]),
        amount=Money.from_cents(row["amount_cents"]),
        transaction_type=TransactionType(row["transaction_type"]),
        description=row["description"],
        status=TransactionStatus(row["status"]),
        timestamp=row["timestamp"],
        updated_at=row["updated_at"],
        balance_after=None if cents_after is None else Money.from_cents(cents_after),
        deleted_at=row["deleted_at"],
        version=row["version"],
    )


def api_key_to_row(key: ApiKey) -> dict[str, Any]:
    numbers = key.account_numbers
    return {
        "key_id": key.key_id,
        "name": key.name,
        "scopes": " ".join(scope.value for scope in key.scopes),
        "account_numbers": None if numbers is None else " ".join(n.value for n in numbers),
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
        "secret_hash": key.secret_hash,
    }


def api_key_from_row(row: RowMapping) -> ApiKey:
    numbers = row["account_numbers"]
    return ApiKey(
        key_id=row["key_id"],
        name=row["name"],
        scopes=tuple(Scope(word) for word in row["scopes"].split()),
        account_numbers=None
        if numbers is None
        else tuple(AccountNumber(number) for number in numbers.split()),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        secret_hash=row["secret_hash"],
    )
