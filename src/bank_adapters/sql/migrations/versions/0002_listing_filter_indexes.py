"""An index for each listing filter.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

Listing an account's transactions by status or type, and accounts by customer name or status,
scanned every row of the account (or table) before: at a million transactions, about a second
a request. Each index starts with the filter's columns and then follows the listing's order, so
a page is read straight from it. They are partial (SQLite and PostgreSQL both have them): only
open accounts and transactions not deleted are ever listed.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = (
    ("ix_accounts_open_by_customer_name", "accounts", ["customer_name", "account_number"]),
    ("ix_accounts_open_by_status", "accounts", ["status", "account_number"]),
    (
        "ix_transactions_listed_by_status",
        "transactions",
        ["account_number", "status", "timestamp", "transaction_id"],
    ),
    (
        "ix_transactions_listed_by_type",
        "transactions",
        ["account_number", "transaction_type", "timestamp", "transaction_id"],
    ),
)
_LISTED = {"accounts": "closed_at IS NULL", "transactions": "deleted_at IS NULL"}


def upgrade() -> None:
    for name, table, columns in _INDEXES:
        where = sa.text(_LISTED[table])
        op.create_index(name, table, columns, sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    for name, table, _columns in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
