"""The API's view of the ledger's objects: plain functions from a domain object to the JSON
document the API answers with (amounts stay Decimal; bank_web.json_codec writes them exactly).
bank_web.response_models describes the same shapes for OpenAPI."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bank_domain.account import Account
from bank_domain.api_keys import ApiKey
from bank_domain.events import Event, Subject, TransactionChange
from bank_domain.journal import JournalCheck, JournalEntry, amount_text, posted_at_text
from bank_domain.money import Money
from bank_domain.transaction import Transaction
from bank_domain.transfer import Transfer
from bank_domain.use_cases.balance import Recalculation
from bank_domain.use_cases.journal import BalanceAtTime, Statement


def account(account: Account) -> dict[str, Any]:
    return {
        "account_number": account.number.value,
        "customer_name": account.customer_name,
        "account_type": account.account_type.value,
        "balance": account.balance.amount,
        "overdraft_limit": account.overdraft_limit.amount,
        "available_balance": account.available_balance.amount,
        "status": account.status.value,
        "created_at": account.created_at,
        "updated_at": account.updated_at,
        "version": account.version,
    }


def transaction(transaction: Transaction) -> dict[str, Any]:
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
        "version": transaction.version,
        "expires_at": transaction.expires_at,
        "transfer_id": None if transaction.transfer_id is None else transaction.transfer_id.value,
    }


def transfer(transfer: Transfer) -> dict[str, Any]:
    return {
        "transfer_id": transfer.transfer_id.value,
        "from_account": transfer.from_account.value,
        "to_account": transfer.to_account.value,
        "amount": transfer.amount.amount,
        "description": transfer.description,
        "status": transfer.status.value,
        "timestamp": transfer.timestamp,
        "debit_transaction_id": transfer.debit.transaction_id.value,
        "credit_transaction_id": transfer.credit.transaction_id.value,
    }


def recalculation(result: Recalculation) -> dict[str, Any]:
    return {
        "account_number": result.account_number.value,
        "balance": result.balance.amount,
        "previous_balance": result.previous_balance.amount,
        "corrected": result.corrected,
    }


def api_key(key: ApiKey) -> dict[str, Any]:
    """A key as every answer shows it: never its secret, nor the secret's hash."""
    return {
        "key_id": key.key_id,
        "name": key.name,
        "scopes": [scope.value for scope in key.scopes],
        "account_numbers": None
        if key.account_numbers is None
        else [number.value for number in key.account_numbers],
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
    }


def created_api_key(key: ApiKey, secret: str | None) -> dict[str, Any]:
    """A new key, with its secret: the only answer that ever carries it (its replay for an
    idempotency key has none: the secret is never kept)."""
    return {**api_key(key), "secret": secret}


def event(event: Event) -> dict[str, Any]:
    """An event of the audit trail; its ``data`` is what changed, as the API shows that
    resource everywhere else (a key without its secret)."""
    account_number = event.account_number
    return {
        # The store's id, as text: a client keeps it as it is, and it may outgrow a JSON
        # number that every client reads exactly (2**53).
        "event_id": str(event.event_id),
        "type": event.type.value,
        "occurred_at": event.occurred_at,
        "actor": event.actor_id,
        "request_id": event.request_id,
        "account_number": None if account_number is None else account_number.value,
        "data": _resource(event.subject),
    }


def transaction_version(version: TransactionChange) -> dict[str, Any]:
    """One version of a transaction in its history: the whole of it, and who changed it."""
    transaction = version.transaction
    return {
        "version": transaction.version,
        "change": version.change.value,
        "changed_at": version.changed_at,
        "changed_by": version.changed_by,
        "request_id": version.request_id,
        "amount": transaction.amount.amount,
        "transaction_type": transaction.transaction_type.value,
        "description": transaction.description,
        "status": transaction.status.value,
        "expires_at": transaction.expires_at,
        "balance_after": _amount(transaction.balance_after),
    }


def journal_entry(entry: JournalEntry) -> dict[str, Any]:
    """An entry of an account's journal, every hashed field written as it was hashed: the
    amounts as JSON numbers of exactly the hashed digits (``-5.00``, never ``-0.00``) and
    ``posted_at`` as the hashed text, so that anyone recomputes the chain from this answer."""
    return {
        "entry_id": entry.entry_id,
        "account_number": entry.account_number.value,
        "transaction_id": entry.transaction_id.value,
        "amount": hashed_amount(entry.amount),
        "balance_after": hashed_amount(entry.balance_after),
        "posted_at": posted_at_text(entry.posted_at),
        "hash": entry.hash,
    }


def hashed_amount(money: Money) -> Decimal:
    """An amount whose JSON digits are the text the journal's hash covers."""
    return Decimal(amount_text(money))


def balance_at(balance: BalanceAtTime) -> dict[str, Any]:
    return {
        "account_number": balance.account_number.value,
        "at": balance.at,
        "balance": balance.balance.amount,
    }


def statement(statement: Statement) -> dict[str, Any]:
    return {
        "account_number": statement.account_number.value,
        "from": statement.from_,
        "to": statement.to,
        "opening_balance": statement.opening_balance.amount,
        "closing_balance": statement.closing_balance.amount,
        "credits": statement.credits.amount,
        "debits": statement.debits.amount,
        "entry_count": statement.entry_count,
    }


def journal_check(check: JournalCheck) -> dict[str, Any]:
    """The contract's fields, and ``first_bad_entry`` (beyond them): where the chain first
    breaks and why, so that whoever reads a broken answer learns what to look at."""
    first_bad = check.first_bad
    return {
        "account_number": check.account_number.value,
        "entry_count": check.entry_count,
        "balance": check.balance.amount,
        "entries_sum": check.entries_sum.amount,
        "balance_matches": check.balance_matches,
        "chain_intact": check.chain_intact,
        "first_bad_entry": None
        if first_bad is None
        else {"entry_id": first_bad.entry_id, "reason": first_bad.why.value},
    }


def _resource(subject: Subject) -> dict[str, Any]:
    if isinstance(subject, Account):
        return account(subject)
    if isinstance(subject, Transaction):
        return transaction(subject)
    return api_key(subject)


def _amount(money: Money | None) -> Decimal | None:
    return None if money is None else money.amount
