"""Accounts and their transactions.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

The types are spelled out here rather than imported from the adapter, so that this step stays
what it was when later code changes: timestamps are timestamptz on PostgreSQL and fixed-width
ISO-8601 UTC text on SQLite (see bank_adapters.sql.timestamps); keys compare byte by byte.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _timestamp() -> sa.types.TypeEngine[datetime]:
    return sa.DateTime(timezone=True).with_variant(sa.String(32), "sqlite")


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("account_number", _key(10), nullable=False),
        sa.Column("customer_name", sa.String(200), nullable=False),
        sa.Column("account_type", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("balance_cents", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("closed_at", _timestamp(), nullable=True),
        sa.PrimaryKeyConstraint("account_number", name="pk_accounts"),
        sa.CheckConstraint("balance_cents >= 0", name="ck_accounts_balance_not_negative"),
        sa.CheckConstraint(
            "account_type IN ('savings', 'checking')", name="ck_accounts_account_type"
        ),
        sa.CheckConstraint("status IN ('active', 'frozen')", name="ck_accounts_status"),
        sa.CheckConstraint("version >= 1", name="ck_accounts_version_positive"),
    )
    op.create_table(
        "transactions",
        sa.Column("transaction_id", _key(64), nullable=False),
        sa.Column("account_number", _key(10), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("transaction_type", sa.String(16), nullable=False),
        sa.Column("description", sa.String(500), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("timestamp", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.Column("balance_after_cents", sa.BigInteger(), nullable=True),
        sa.Column("deleted_at", _timestamp(), nullable=True),
        sa.PrimaryKeyConstraint("transaction_id", name="pk_transactions"),
        sa.ForeignKeyConstraint(
            ["account_number"],
            ["accounts.account_number"],
            name="fk_transactions_account_number_accounts",
        ),
        sa.CheckConstraint("amount_cents > 0", name="ck_transactions_amount_positive"),
        sa.CheckConstraint(
            "balance_after_cents >= 0", name="ck_transactions_balance_after_not_negative"
        ),
        sa.CheckConstraint(
            "transaction_type IN ('deposit', 'withdrawal')",
            name="ck_transactions_transaction_type",
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'success', 'failed', 'cancelled')",
            name="ck_transactions_status",
        ),
    )
    op.create_index(
        "ix_transactions_account_timeline",
        "transactions",
        ["account_number", "timestamp", "transaction_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_transactions_account_timeline", table_name="transactions")
    op.drop_table("transactions")
    op.drop_table("accounts")
