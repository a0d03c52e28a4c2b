"""A version on every transaction.

Revision ID: 0004_transaction_versions
Revises: 0003_api_keys
Create Date: 2026-11-29

A transaction's version starts at 1 and moves on by one with every change (contract v2,
section 3: ETag and If-Match). Transactions stored before this step have never been counted, so
they read version 1: the column is added with a default of 1, which fills every existing row in
one statement on both databases (SQLite and PostgreSQL 11+ add such a column without rewriting
the table). The CHECK is written in the column's own definition, the one form SQLite's ALTER
TABLE ADD COLUMN takes (PostgreSQL takes it too), so no table is rebuilt.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004_transaction_versions"
down_revision: str | Sequence[str] | None = "0003_api_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE transactions ADD COLUMN version INTEGER DEFAULT 1 NOT NULL "
        "CONSTRAINT ck_transactions_version_positive CHECK (version >= 1)"
    )


def downgrade() -> None:
    # SQLite drops a column together with a CHECK of the column's own definition.
    op.drop_column("transactions", "version")
