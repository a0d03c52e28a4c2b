"""The ledger's tables, as SQLAlchemy Core tables. Every constraint has a name, because the
adapter recognises broken unique keys by name and migrations refer to them."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.types import TypeEngine

from bank_adapters.sql.timestamps import UtcDateTime
from bank_domain.account import MAX_CUSTOMER_NAME_LENGTH, AccountStatus, AccountType
from bank_domain.api_keys import MAX_KEY_NAME_LENGTH
from bank_domain.events import EventType
from bank_domain.idempotency import MAX_KEY_LENGTH
from bank_domain.journal import GENESIS_HASH
from bank_domain.money import MAX_AMOUNT
from bank_domain.transaction import MAX_DESCRIPTION_LENGTH, TransactionStatus, TransactionType

ACCOUNT_NUMBER_LENGTH: Final = 10
TRANSACTION_ID_LENGTH: Final = 64
CHOICE_LENGTH: Final = 16

KEY_ID_LENGTH: Final = 36
SCOPES_LENGTH: Final = 200
SECRET_HASH_LENGTH: Final = 64
"""SHA-256 in hex."""

EVENT_TYPE_LENGTH: Final = 32

CHAIN_HASH_LENGTH: Final = 64
"""A journal entry's SHA-256, in hex."""

MAX_OVERDRAFT_CENTS: Final = int(MAX_AMOUNT.scaleb(2))
"""The largest overdraft limit, in cents: the most any balance may be below zero."""

ACCOUNTS_KEY: Final = "pk_accounts"
TRANSACTIONS_KEY: Final = "pk_transactions"
JOURNAL_ENTRIES_KEY: Final = "pk_journal_entries"
TRANSFER_LEGS_KEY: Final = "uq_transactions_transfer_leg"
IDEMPOTENCY_KEYS_KEY: Final = "pk_idempotency_keys"

SCOPE_LENGTH: Final = 64
"""An idempotency key's scope: the actor's id (a key id, 36 characters, or ``master``)."""
FINGERPRINT_LENGTH: Final = 64

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _key(length: int) -> TypeEngine[str]:
    """A key compared byte by byte, as Python compares str, whatever the database's locale:
    listings page by keys, so the database's order must be the ledger's order."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


def _one_of(column: str, choices: type[StrEnum]) -> str:
    words = ", ".join(f"'{choice.value}'" for choice in choices)
    return f"{column} IN ({words})"


accounts = Table(
    "accounts",
    metadata,
    Column("account_number", _key(ACCOUNT_NUMBER_LENGTH), nullable=False),
    Column("customer_name", String(MAX_CUSTOMER_NAME_LENGTH), nullable=False),
    Column("account_type", String(CHOICE_LENGTH), nullable=False),
    Column("status", String(CHOICE_LENGTH), nullable=False),
    Column("balance_cents", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Column("closed_at", UtcDateTime, nullable=True),
    # Where the account's journal ends (bank_domain.journal.ChainHead): kept on the row that the
    # account's lock already holds, so the next entry chains on with no read of the journal.
    # The defaults are an account without entries; migration 0006 sets them for older accounts.
    Column("journal_entry_id", BigInteger, nullable=False, server_default=text("0")),
    Column(
        "journal_hash",
        String(CHAIN_HASH_LENGTH),
        nullable=False,
        server_default=text(f"'{GENESIS_HASH}'"),
    ),
    Column("journal_posted_at", UtcDateTime, nullable=True),
    # Holds (API.md section 12), migration 0007: the overdraft limit, the sum of the account's
    # pending withdrawals as stored, and a lower bound of their earliest expires_at.
    Column("overdraft_limit_cents", BigInteger, nullable=False, server_default=text("0")),
    Column("held_cents", BigInteger, nullable=False, server_default=text("0")),
    Column("next_hold_expiry", UtcDateTime, nullable=True),
    PrimaryKeyConstraint("account_number", name=ACCOUNTS_KEY),
    # available_balance is never below zero.
    CheckConstraint(
        "balance_cents + overdraft_limit_cents - held_cents >= 0",
        name="ck_accounts_available_not_negative",
    ),
    CheckConstraint(
        f"overdraft_limit_cents >= 0 AND overdraft_limit_cents <= {MAX_OVERDRAFT_CENTS}",
        name="ck_accounts_overdraft_limit_range",
    ),
    CheckConstraint("held_cents >= 0", name="ck_accounts_held_not_negative"),
    CheckConstraint(_one_of("account_type", AccountType), name="ck_accounts_account_type"),
    CheckConstraint(_one_of("status", AccountStatus), name="ck_accounts_status"),
    CheckConstraint("version >= 1", name="ck_accounts_version_positive"),
)
# The listing filters, each with an index that finds its rows in listing order. Partial: only
# open accounts and transactions not deleted are listed.
_OPEN = text("closed_at IS NULL")
Index(
    "ix_accounts_open_by_customer_name",
    accounts.c.customer_name,
    accounts.c.account_number,
    sqlite_where=_OPEN,
    postgresql_where=_OPEN,
)
Index(
    "ix_accounts_open_by_status",
    accounts.c.status,
    accounts.c.account_number,
    sqlite_where=_OPEN,
    postgresql_where=_OPEN,
)
# The sweeper's accounts with holds that may be due; most accounts have none, and no entry.
_HOLDS_EXPIRE = text("next_hold_expiry IS NOT NULL")
Index(
    "ix_accounts_hold_expiry",
    accounts.c.next_hold_expiry,
    sqlite_where=_HOLDS_EXPIRE,
    postgresql_where=_HOLDS_EXPIRE,
)

transactions = Table(
    "transactions",
    metadata,
    Column("transaction_id", _key(TRANSACTION_ID_LENGTH), nullable=False),
    Column("account_number", _key(ACCOUNT_NUMBER_LENGTH), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("transaction_type", String(CHOICE_LENGTH), nullable=False),
    Column("description", String(MAX_DESCRIPTION_LENGTH), nullable=True),
    Column("status", String(CHOICE_LENGTH), nullable=False),
    Column("timestamp", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("balance_after_cents", BigInteger, nullable=True),
    Column("deleted_at", UtcDateTime, nullable=True),
    # Rows from before versions (migration 0003) read version 1.
    Column("version", Integer, nullable=False, server_default=text("1")),
    # Only while pending (kept once it has expired: then status is cancelled), migration 0007.
    Column("expires_at", UtcDateTime, nullable=True),
    # The transfer this transaction is a leg of (migration 0008); NULL for every other one.
    Column("transfer_id", _key(TRANSACTION_ID_LENGTH), nullable=True),
    PrimaryKeyConstraint("transaction_id", name=TRANSACTIONS_KEY),
    ForeignKeyConstraint(
        ["account_number"],
        ["accounts.account_number"],
        name="fk_transactions_account_number_accounts",
    ),
    CheckConstraint("amount_cents > 0", name="ck_transactions_amount_positive"),
    # With an overdraft a balance may be below zero, by at most the largest limit.
    CheckConstraint(
        f"balance_after_cents >= -{MAX_OVERDRAFT_CENTS}",
        name="ck_transactions_balance_after_in_range",
    ),
    CheckConstraint(
        "expires_at IS NULL OR status IN ('pending', 'cancelled')",
        name="ck_transactions_expires_only_pending",
    ),
    CheckConstraint(
        _one_of("transaction_type", TransactionType), name="ck_transactions_transaction_type"
    ),
    CheckConstraint(_one_of("status", TransactionStatus), name="ck_transactions_status"),
    CheckConstraint("version >= 1", name="ck_transactions_version_positive"),
    Index("ix_transactions_account_timeline", "account_number", "timestamp", "transaction_id"),
)
_NOT_DELETED = text("deleted_at IS NULL")
Index(
    "ix_transactions_listed_by_status",
    transactions.c.account_number,
    transactions.c.status,
    transactions.c.timestamp,
    transactions.c.transaction_id,
    sqlite_where=_NOT_DELETED,
    postgresql_where=_NOT_DELETED,
)
# The sweeper's pending transactions whose expires_at has come; only those that expire.
_EXPIRES = text("status = 'pending' AND expires_at IS NOT NULL AND deleted_at IS NULL")
Index(
    "ix_transactions_pending_expiry",
    transactions.c.expires_at,
    sqlite_where=_EXPIRES,
    postgresql_where=_EXPIRES,
)
Index(
    "ix_transactions_listed_by_type",
    transactions.c.account_number,
    transactions.c.transaction_type,
    transactions.c.timestamp,
    transactions.c.transaction_id,
    sqlite_where=_NOT_DELETED,
    postgresql_where=_NOT_DELETED,
)

# A transfer has one leg of each kind, and is read by its id: the two legs (bank_domain.transfer).
_IS_LEG = text("transfer_id IS NOT NULL")
Index(
    TRANSFER_LEGS_KEY,
    transactions.c.transfer_id,
    transactions.c.transaction_type,
    unique=True,
    sqlite_where=_IS_LEG,
    postgresql_where=_IS_LEG,
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", _key(KEY_ID_LENGTH), nullable=False),
    Column("name", String(MAX_KEY_NAME_LENGTH), nullable=False),
    Column("scopes", String(SCOPES_LENGTH), nullable=False),
    # The account numbers a key is restricted to, separated by spaces; NULL: every account.
    Column("account_numbers", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
    Column("secret_hash", String(SECRET_HASH_LENGTH), nullable=False),
    PrimaryKeyConstraint("key_id", name="pk_api_keys"),
    Index("ix_api_keys_secret_hash", "secret_hash", unique=True),
    Index("ix_api_keys_listing", "created_at", "key_id"),
)


class SubjectType(StrEnum):
    """What an event's ``data`` holds: a row of which table, in that table's storage form."""

    ACCOUNT = "account"
    TRANSACTION = "transaction"
    API_KEY = "api_key"


class WritingTransactionId(ColumnElement[int]):
    """An event's ``commit_order``, filled in by the database (no writer sends it): on
    PostgreSQL the id of the transaction that writes the row (its 64-bit form, as a bigint,
    which compares with plain integers); on SQLite 0, since one writer at a time makes the
    event id alone follow commit order. See ``sql/events.py`` for how the feed reads it."""

    inherit_cache = True
    type = BigInteger()


@compiles(WritingTransactionId, "postgresql")
def _writing_transaction_id_on_postgresql(_: Any, compiler: SQLCompiler, **kw: Any) -> str:
    return "(pg_current_xact_id()::text::bigint)"


@compiles(WritingTransactionId, "sqlite")
def _writing_transaction_id_on_sqlite(_: Any, compiler: SQLCompiler, **kw: Any) -> str:
    return "0"


events = Table(
    "events",
    metadata,
    # The rowid itself on SQLite (INTEGER PRIMARY KEY), so ids follow insertion order there.
    Column("event_id", BigInteger().with_variant(Integer(), "sqlite"), autoincrement=True),
    Column("commit_order", BigInteger, nullable=False, server_default=WritingTransactionId()),
    Column("type", String(EVENT_TYPE_LENGTH), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    # Unbounded: the domain sets no length on an actor's id or its request's id, and an audit
    # trail refuses no change for the length of who made it.
    Column("actor_id", Text, nullable=False),
    Column("request_id", Text, nullable=True),
    # What the event is about, for the filters and the history; NULL when it is about none.
    Column("account_number", _key(ACCOUNT_NUMBER_LENGTH), nullable=True),
    Column("transaction_id", _key(TRANSACTION_ID_LENGTH), nullable=True),
    Column("transaction_version", Integer, nullable=True),
    Column("subject_type", String(CHOICE_LENGTH), nullable=False),
    Column("data", Text, nullable=False),
    PrimaryKeyConstraint("event_id", name="pk_events"),
    CheckConstraint(_one_of("type", EventType), name="ck_events_type"),
    CheckConstraint(_one_of("subject_type", SubjectType), name="ck_events_subject_type"),
    Index("ix_events_feed", "commit_order", "event_id"),
    Index("ix_events_account_feed", "account_number", "commit_order", "event_id"),
    # Postings are nearly every event: the feed's own order serves a filter on them, and
    # leaving them out spares the posting path one index write per event.
    Index(
        "ix_events_by_type",
        "type",
        "commit_order",
        "event_id",
        sqlite_where=text("type <> 'transaction.posted'"),
        postgresql_where=text("type <> 'transaction.posted'"),
    ),
    Index("ix_events_transaction_history", "transaction_id", "transaction_version"),
)

journal_entries = Table(
    "journal_entries",
    metadata,
    Column("account_number", _key(ACCOUNT_NUMBER_LENGTH), nullable=False),
    # 1, 2, 3... per account, with no gap (bank_domain.journal.JournalEntry).
    Column("entry_id", BigInteger, nullable=False),
    Column("transaction_id", _key(TRANSACTION_ID_LENGTH), nullable=False),
    # Signed: positive raises the balance. No CHECK on balance_after: the journal records what
    # happened, and verification, not the schema, judges it (docs/JOURNAL.md).
    Column("amount_cents", BigInteger, nullable=False),
    Column("balance_after_cents", BigInteger, nullable=False),
    Column("posted_at", UtcDateTime, nullable=False),
    Column("hash", String(CHAIN_HASH_LENGTH), nullable=False),
    PrimaryKeyConstraint("account_number", "entry_id", name=JOURNAL_ENTRIES_KEY),
    ForeignKeyConstraint(
        ["account_number"],
        ["accounts.account_number"],
        name="fk_journal_entries_account_number_accounts",
    ),
    CheckConstraint("amount_cents <> 0", name="ck_journal_entries_amount_not_zero"),
    CheckConstraint("entry_id >= 1", name="ck_journal_entries_entry_id_positive"),
    # Listings, statements and balances at a time seek to their first entry through this, so
    # they take as long with a million entries before the range as with none.
    Index("ix_journal_entries_account_posted_at", "account_number", "posted_at", "entry_id"),
)
"""Append-only: a trigger in the database refuses every UPDATE and DELETE (and on PostgreSQL
TRUNCATE) of it; migration 0006_journal creates it (docs/JOURNAL.md)."""

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", _key(SCOPE_LENGTH), nullable=False),
    Column("idempotency_key", _key(MAX_KEY_LENGTH), nullable=False),
    Column("fingerprint", String(FINGERPRINT_LENGTH), nullable=False),
    Column("status", Integer, nullable=False),
    # The answer's few headers kept with it (Location, ETag, its media type), as JSON text.
    Column("headers", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("scope", "idempotency_key", name=IDEMPOTENCY_KEYS_KEY),
    # The periodic removal finds the expired rows, oldest first, through this.
    Index("ix_idempotency_keys_created_at", "created_at"),
)
"""The answers kept for idempotency keys (API.md section 15), each written in the transaction
of the change it answers; removed after the retention window (migration 0009_idempotency)."""
