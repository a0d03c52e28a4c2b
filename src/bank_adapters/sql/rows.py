"""Rows <-> domain entities, by hand: the domain's classes know nothing of tables.

Money is stored as whole cents (SQLite has no exact decimal type, and a float is never exact);
enums as their words; identifiers as their text; a key's scopes and account numbers as words
separated by spaces. An event keeps its subject as JSON text: the subject's row in the storage
form of the subject's own table, timestamps as RFC 3339 text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import orjson
from sqlalchemy import RowMapping, Table

from bank_adapters.sql.schema import SubjectType, accounts, api_keys, transactions
from bank_adapters.sql.timestamps import UtcDateTime, from_utc_text
from bank_domain.account import Account, AccountStatus, AccountType
from bank_domain.api_keys import ApiKey, Scope
from bank_domain.events import Event, EventType, FeedPosition, Subject
from bank_domain.identifiers import AccountNumber, TransactionId, TransferId
from bank_domain.journal import EMPTY_CHAIN, ChainHead, JournalEntry
from bank_domain.money import Money
from bank_domain.transaction import Transaction, TransactionStatus, TransactionType

Row = RowMapping | Mapping[str, Any]
"""A row as the database returns it, or as an event's data holds it."""


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
        "journal_entry_id": account.journal.entry_id,
        "journal_hash": account.journal.hash,
        "journal_posted_at": account.journal.posted_at,
        "overdraft_limit_cents": account.overdraft_limit.cents,
        "held_cents": account.held.cents,
        "next_hold_expiry": account.next_hold_expiry,
    }


def account_from_row(row: Row) -> Account:
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
        journal=ChainHead(row["journal_entry_id"], row["journal_hash"], row["journal_posted_at"]),
        overdraft_limit=Money.from_cents(row["overdraft_limit_cents"]),
        held=Money.from_cents(row["held_cents"]),
        next_hold_expiry=row["next_hold_expiry"],
    )


def journal_entry_to_row(entry: JournalEntry) -> dict[str, Any]:
    return {
        "account_number": entry.account_number.value,
        "entry_id": entry.entry_id,
        "transaction_id": entry.transaction_id.value,
        "amount_cents": entry.amount.cents,
        "balance_after_cents": entry.balance_after.cents,
        "posted_at": entry.posted_at,
        "hash": entry.hash,
    }


def journal_entry_from_row(row: Row) -> JournalEntry:
    return JournalEntry(
        entry_id=row["entry_id"],
        account_number=AccountNumber(row["account_number"]),
        transaction_id=TransactionId(row["transaction_id"]),
        amount=Money.from_cents(row["amount_cents"]),
        balance_after=Money.from_cents(row["balance_after_cents"]),
        posted_at=row["posted_at"],
        hash=row["hash"],
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
        "expires_at": transaction.expires_at,
        "transfer_id": None if transaction.transfer_id is None else transaction.transfer_id.value,
    }


def transaction_from_row(row: Row) -> Transaction:
    cents_after = row["balance_after_cents"]
    # An event's data recorded before transfers (migration 0008) has no transfer_id.
    transfer_id = row.get("transfer_id")
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
        expires_at=row["expires_at"],
        transfer_id=None if transfer_id is None else TransferId(transfer_id),
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


def api_key_from_row(row: Row) -> ApiKey:
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


def event_to_row(event: Event) -> dict[str, Any]:
    """Every column but the two the database fills in (``event_id``, ``commit_order``)."""
    subject = event.subject
    number, transaction_id = event.account_number, event.transaction_id
    subject_type, data = _subject_to_data(subject)
    return {
        "type": event.type.value,
        "occurred_at": event.occurred_at,
        "actor_id": event.actor_id,
        "request_id": event.request_id,
        "account_number": None if number is None else number.value,
        "transaction_id": None if transaction_id is None else transaction_id.value,
        "transaction_version": subject.version if isinstance(subject, Transaction) else None,
        "subject_type": subject_type.value,
        "data": data,
    }


def event_from_row(row: Row) -> Event:
    return Event(
        type=EventType(row["type"]),
        occurred_at=row["occurred_at"],
        actor_id=row["actor_id"],
        request_id=row["request_id"],
        subject=_subject_from_data(SubjectType(row["subject_type"]), row["data"]),
        position=FeedPosition(row["commit_order"], row["event_id"]),
    )


def _subject_to_data(subject: Subject) -> tuple[SubjectType, str]:
    if isinstance(subject, Account):
        subject_type, row = SubjectType.ACCOUNT, account_to_row(subject)
    elif isinstance(subject, Transaction):
        subject_type, row = SubjectType.TRANSACTION, transaction_to_row(subject)
    else:
        subject_type, row = SubjectType.API_KEY, api_key_to_row(subject)
        # The domain blanks it in an event already; no hash of a secret is ever stored twice.
        del row["secret_hash"]
    # orjson writes timestamps as RFC 3339 itself (UTC as "Z"): on the posting path, at a
    # fifth of the json module's cost with a conversion per timestamp.
    return subject_type, orjson.dumps(row, option=orjson.OPT_UTC_Z).decode()


def _subject_from_data(subject_type: SubjectType, data: str) -> Subject:
    _, from_row = _SUBJECT_TABLES[subject_type]
    timestamps = _TIMESTAMP_COLUMNS[subject_type]
    row = {
        name: from_utc_text(value) if name in timestamps and value is not None else value
        for name, value in orjson.loads(data).items()
    }
    if subject_type is SubjectType.API_KEY:
        row["secret_hash"] = ""
    elif subject_type is SubjectType.ACCOUNT:
        # An account recorded before the journal (migration 0006) had none.
        row.setdefault("journal_entry_id", EMPTY_CHAIN.entry_id)
        row.setdefault("journal_hash", EMPTY_CHAIN.hash)
        row.setdefault("journal_posted_at", EMPTY_CHAIN.posted_at)
        # ... and none before holds (migration 0007).
        row.setdefault("overdraft_limit_cents", 0)
        row.setdefault("held_cents", 0)
        row.setdefault("next_hold_expiry", None)
    elif subject_type is SubjectType.TRANSACTION:
        row.setdefault("expires_at", None)
    return from_row(row)


_SUBJECT_TABLES: Final[dict[SubjectType, tuple[Table, Callable[[Row], Subject]]]] = {
    SubjectType.ACCOUNT: (accounts, account_from_row),
    SubjectType.TRANSACTION: (transactions, transaction_from_row),
    SubjectType.API_KEY: (api_keys, api_key_from_row),
}

_TIMESTAMP_COLUMNS: Final = {
    subject_type: frozenset(c.name for c in table.c if isinstance(c.type, UtcDateTime))
    for subject_type, (table, _) in _SUBJECT_TABLES.items()
}
"""Which values of a subject's data are timestamps: its table's UtcDateTime columns."""
