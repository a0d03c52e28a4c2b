"""The audit trail's events.

Revision ID: 0005_events
Revises: 0004_transaction_versions
Create Date: 2026-11-30

One row per change, written in the change's own transaction: who made it, with which request,
and the changed account, transaction or key as JSON text (a key never with its secret's hash).
``commit_order`` is filled in by the database: on PostgreSQL the id of the transaction that
writes the row, which the feed pages by together with ``event_id`` (bank_adapters.sql.events
says why); on SQLite 0, where ``event_id`` is the rowid and follows commit order by itself.
Changes made before this step have no events: nothing recorded them. Types and the event
types' words are spelled out here, as in 0001, so this step stays what it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0005_events"
down_revision: str | Sequence[str] | None = "0004_transaction_versions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENT_TYPES = (
    "account.opened",
    "account.updated",
    "account.closed",
    "transaction.posted",
    "transaction.amended",
    "transaction.deleted",
    "transaction.expired",
    "transfer.posted",
    "transfer.reversed",
    "api_key.created",
    "api_key.revoked",
)
_SUBJECT_TYPES = ("account", "transaction", "api_key")


def _key(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _timestamp() -> sa.types.TypeEngine[datetime]:
    return sa.DateTime(timezone=True).with_variant(sa.String(32), "sqlite")


def _one_of(column: str, words: Sequence[str]) -> str:
    quoted = ", ".join(f"'{word}'" for word in words)
    return f"{column} IN ({quoted})"


def _writing_transaction_id() -> sa.TextClause:
    if op.get_bind().dialect.name == "postgresql":
        return sa.text("(pg_current_xact_id()::text::bigint)")
    return sa.text("0")


def upgrade() -> None:
    op.create_table(
        "events",
        # INTEGER PRIMARY KEY on SQLite: the rowid itself.
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "commit_order",
            sa.BigInteger(),
            server_default=_writing_transaction_id(),
            nullable=False,
        ),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("occurred_at", _timestamp(), nullable=False),
        sa.Column("actor_id", sa.Text(), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("account_number", _key(10), nullable=True),
        sa.Column("transaction_id", _key(64), nullable=True),
        sa.Column("transaction_version", sa.Integer(), nullable=True),
        sa.Column("subject_type", sa.String(16), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_events"),
        sa.CheckConstraint(_one_of("type", _EVENT_TYPES), name="ck_events_type"),
        sa.CheckConstraint(_one_of("subject_type", _SUBJECT_TYPES), name="ck_events_subject_type"),
    )
    op.create_index("ix_events_feed", "events", ["commit_order", "event_id"])
    op.create_index(
        "ix_events_account_feed", "events", ["account_number", "commit_order", "event_id"]
    )
    # Postings left out: nearly every event is one, and the feed's order serves that filter.
    not_a_posting = sa.text("type <> 'transaction.posted'")
    op.create_index(
        "ix_events_by_type",
        "events",
        ["type", "commit_order", "event_id"],
        sqlite_where=not_a_posting,
        postgresql_where=not_a_posting,
    )
    op.create_index(
        "ix_events_transaction_history", "events", ["transaction_id", "transaction_version"]
    )


def downgrade() -> None:
    op.drop_index("ix_events_transaction_history", table_name="events")
    op.drop_index("ix_events_by_type", table_name="events")
    op.drop_index("ix_events_account_feed", table_name="events")
    op.drop_index("ix_events_feed", table_name="events")
    op.drop_table("events")
