"""The journal: one append-only, hash-chained entry per movement of a balance.

Revision ID: 0006_journal
Revises: 0005_events
Create Date: 2026-11-30

- ``journal_entries``: (account_number, entry_id) names an entry, entry ids run 1, 2, 3... per
  account; ``ix_journal_entries_account_posted_at`` serves listings, statements and balances at
  a time. No foreign key on ``transaction_id``: on the grouped posting path it cost about a
  third of the entries' insert (docs/JOURNAL.md has the measurement).
- Three columns on ``accounts``, where the account's chain ends (``ChainHead``): the last
  entry's id, its hash and its posting time. The defaults are an account without entries.
- A trigger that refuses every UPDATE and DELETE of an entry (and TRUNCATE, on PostgreSQL):
  not even a hand-typed statement or a later migration rewrites history unnoticed.
- The backfill: every account's ``success`` transactions that are not deleted become its
  entries, one each, in (timestamp, transaction_id) order, posted at the transaction's
  timestamp, chained with ``bank_domain.journal`` (the contract's rule, which does not change),
  and the account's head columns set. Read a page at a time, in the order of the index
  ``ix_transactions_account_timeline``, so the step's memory does not grow with the database.

Types are spelled out here, as in 0001, so this step stays what it was.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from alembic import op

from bank_domain.identifiers import AccountNumber, TransactionId
from bank_domain.journal import EMPTY_CHAIN, GENESIS_HASH, ChainHead, JournalEntry
from bank_domain.money import Money

revision: str = "0006_journal"
down_revision: str | Sequence[str] | None = "0005_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TRANSACTIONS_PER_READ: Final = 2000
_ROWS_PER_WRITE: Final = 1000

_REFUSAL: Final = "journal_entries is append-only"
"""The start of the triggers' message; bank_adapters.sql.errors recognises it."""

_POSTGRESQL_GUARD: Final = (
    f"""
CREATE FUNCTION journal_entries_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_LEVEL = 'ROW' THEN
        RAISE EXCEPTION '{_REFUSAL}: % of entry % of account % refused', TG_OP,
            OLD.entry_id, OLD.account_number
            USING ERRCODE = 'restrict_violation',
                  HINT = 'An entry is never changed or removed; a correction is a new entry.';
    END IF;
    RAISE EXCEPTION '{_REFUSAL}: % refused', TG_OP
        USING ERRCODE = 'restrict_violation',
              HINT = 'An entry is never changed or removed; a correction is a new entry.';
END
$$
""",
    """
CREATE TRIGGER journal_entries_append_only
    BEFORE UPDATE OR DELETE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION journal_entries_refuse_change()
""",
    """
CREATE TRIGGER journal_entries_no_truncate
    BEFORE TRUNCATE ON journal_entries
    FOR EACH STATEMENT EXECUTE FUNCTION journal_entries_refuse_change()
""",
)
"""Row triggers name the entry; TRUNCATE fires only statement triggers, hence the second."""

_SQLITE_GUARD: Final = tuple(
    f"""
CREATE TRIGGER journal_entries_no_{operation.lower()}
    BEFORE {operation} ON journal_entries
BEGIN
    SELECT RAISE(ABORT, '{_REFUSAL}: {operation} of an entry refused');
END
"""
    for operation in ("UPDATE", "DELETE")
)
"""SQLite has no TRUNCATE; its DELETE without WHERE fires row triggers like any other."""


def _key(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _timestamp() -> sa.types.TypeEngine[datetime]:
    return sa.DateTime(timezone=True).with_variant(sa.String(32), "sqlite")


def upgrade() -> None:
    op.add_column(
        "accounts",
        sa.Column("journal_entry_id", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "accounts",
        sa.Column(
            "journal_hash",
            sa.String(64),
            server_default=sa.text(f"'{GENESIS_HASH}'"),
            nullable=False,
        ),
    )
    op.add_column("accounts", sa.Column("journal_posted_at", _timestamp(), nullable=True))
    op.create_table(
        "journal_entries",
        sa.Column("account_number", _key(10), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", _key(64), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("balance_after_cents", sa.BigInteger(), nullable=False),
        sa.Column("posted_at", _timestamp(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("account_number", "entry_id", name="pk_journal_entries"),
        sa.ForeignKeyConstraint(
            ["account_number"],
            ["accounts.account_number"],
            name="fk_journal_entries_account_number_accounts",
        ),
        sa.CheckConstraint("amount_cents <> 0", name="ck_journal_entries_amount_not_zero"),
        sa.CheckConstraint("entry_id >= 1", name="ck_journal_entries_entry_id_positive"),
    )
    op.create_index(
        "ix_journal_entries_account_posted_at",
        "journal_entries",
        ["account_number", "posted_at", "entry_id"],
    )
    # Before the triggers: the backfill only inserts, but nothing of it should meet them.
    _backfill(op.get_bind())
    for statement in _guard(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    # Dropping the table drops its triggers; nothing of the journal survives a downgrade.
    op.drop_index("ix_journal_entries_account_posted_at", table_name="journal_entries")
    op.drop_table("journal_entries")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION journal_entries_refuse_change()")
    for column in ("journal_posted_at", "journal_hash", "journal_entry_id"):
        op.drop_column("accounts", column)


def _guard(dialect_name: str) -> tuple[str, ...]:
    return _POSTGRESQL_GUARD if dialect_name == "postgresql" else _SQLITE_GUARD


# --- The backfill ----------------------------------------------------------------------------

_transactions = sa.table(
    "transactions",
    sa.column("transaction_id", _key(64)),
    sa.column("account_number", _key(10)),
    sa.column("amount_cents", sa.BigInteger()),
    sa.column("transaction_type", sa.String(16)),
    sa.column("status", sa.String(16)),
    sa.column("timestamp", _timestamp()),
    sa.column("deleted_at", _timestamp()),
)
_entries = sa.table(
    "journal_entries",
    sa.column("account_number", _key(10)),
    sa.column("entry_id", sa.BigInteger()),
    sa.column("transaction_id", _key(64)),
    sa.column("amount_cents", sa.BigInteger()),
    sa.column("balance_after_cents", sa.BigInteger()),
    sa.column("posted_at", _timestamp()),
    sa.column("hash", sa.String(64)),
)
_accounts = sa.table(
    "accounts",
    sa.column("account_number", _key(10)),
    sa.column("journal_entry_id", sa.BigInteger()),
    sa.column("journal_hash", sa.String(64)),
    sa.column("journal_posted_at", _timestamp()),
)
_SET_HEAD: Final = (
    sa.update(_accounts)
    .where(_accounts.c.account_number == sa.bindparam("head_account_number"))
    .values(
        journal_entry_id=sa.bindparam("head_entry_id"),
        journal_hash=sa.bindparam("head_hash"),
        journal_posted_at=sa.bindparam("head_posted_at"),
    )
)


class _Writer:
    """Buffers entries and heads and writes them a batch at a time. (No dataclass: Alembic
    loads this module without registering it, which dataclasses need.)"""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection
        self.entries: list[dict[str, Any]] = []
        self.heads: list[dict[str, Any]] = []

    def entry(self, row: dict[str, Any]) -> None:
        self.entries.append(row)
        if len(self.entries) >= _ROWS_PER_WRITE:
            self.flush()

    def head(self, number: str, head: ChainHead, stored_posted_at: object) -> None:
        self.heads.append(
            {
                "head_account_number": number,
                "head_entry_id": head.entry_id,
                "head_hash": head.hash,
                "head_posted_at": stored_posted_at,
            }
        )
        if len(self.heads) >= _ROWS_PER_WRITE:
            self.flush()

    def flush(self) -> None:
        # Entries before heads: a head never names an entry not yet written.
        if self.entries:
            self.connection.execute(sa.insert(_entries), self.entries)
            self.entries = []
        if self.heads:
            self.connection.execute(_SET_HEAD, self.heads)
            self.heads = []


def _backfill(connection: sa.Connection) -> None:
    writer = _Writer(connection)
    number: str | None = None
    head, balance, last_posted_at = EMPTY_CHAIN, Money.zero(), None
    for row in _success_transactions(connection):
        if row.account_number != number:
            if number is not None:
                writer.head(number, head, last_posted_at)
            number, head, balance = row.account_number, EMPTY_CHAIN, Money.zero()
        amount = Money.from_cents(
            row.amount_cents if row.transaction_type == "deposit" else -row.amount_cents
        )
        entry = JournalEntry.next(
            head,
            balance,
            account_number=AccountNumber(row.account_number),
            transaction_id=TransactionId(row.transaction_id),
            amount=amount,
            now=_moment(row.timestamp),
        )
        # The transaction's own stored timestamp: the same moment, in the stored form.
        writer.entry(
            {
                "account_number": row.account_number,
                "entry_id": entry.entry_id,
                "transaction_id": row.transaction_id,
                "amount_cents": amount.cents,
                "balance_after_cents": entry.balance_after.cents,
                "posted_at": row.timestamp,
                "hash": entry.hash,
            }
        )
        head, balance, last_posted_at = entry.head, entry.balance_after, row.timestamp
    if number is not None:
        writer.head(number, head, last_posted_at)
    writer.flush()


def _success_transactions(connection: sa.Connection) -> Iterator[Any]:
    """Every success transaction not deleted, by account, then (timestamp, transaction_id),
    a page at a time: each page starts after the last row of the one before (keyset), which
    the index (account_number, timestamp, transaction_id) finds without reading what came
    before."""
    columns = _transactions.c
    order = (columns.account_number, columns.timestamp, columns.transaction_id)
    page_query = (
        sa.select(
            columns.account_number,
            columns.transaction_id,
            columns.transaction_type,
            columns.amount_cents,
            columns.timestamp,
        )
        .where(columns.status == "success", columns.deleted_at.is_(None))
        .order_by(*order)
        .limit(_TRANSACTIONS_PER_READ)
    )
    after: tuple[Any, Any, Any] | None = None
    while True:
        statement = page_query if after is None else page_query.where(sa.tuple_(*order) > after)
        page = connection.execute(statement).all()
        yield from page
        if len(page) < _TRANSACTIONS_PER_READ:
            return
        last = page[-1]
        after = (last.account_number, last.timestamp, last.transaction_id)


def _moment(stored: datetime | str) -> datetime:
    """A stored timestamp as an aware UTC datetime: PostgreSQL hands a timestamptz, SQLite
    the fixed-width text ``2024-05-01T12:00:00.000000Z``."""
    if isinstance(stored, str):
        return datetime.fromisoformat(stored).astimezone(UTC)
    return stored.astimezone(UTC)
