"""Transfers: each transaction may be a leg of one.

Revision ID: 0008_transfers
Revises: 0006_journal
Create Date: 2026-11-30

- ``transactions.transfer_id``: the transfer a transaction is a leg of; NULL for every other
  transaction, so every row stored before this step reads as no leg (SQLite and PostgreSQL add
  a nullable column without rewriting the table).
- ``uq_transactions_transfer_leg`` (transfer_id, transaction_type), unique, over the legs
  only: a transfer has one withdrawal leg and one deposit leg, so two transfers made at once
  with one id cannot both be stored (the second is refused, DuplicateTransferId); and a
  transfer's legs are found by its id through it.

A transfer is its two legs: nothing else of it is stored (bank_domain.transfer). Types are
spelled out here, as in 0001, so this step stays what it was.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_transfers"
down_revision: str | Sequence[str] | None = "0007_holds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_IS_LEG = sa.text("transfer_id IS NOT NULL")


def upgrade() -> None:
    op.add_column(
        "transactions",
        sa.Column(
            "transfer_id",
            sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql"),
            nullable=True,
        ),
    )
    op.create_index(
        "uq_transactions_transfer_leg",
        "transactions",
        ["transfer_id", "transaction_type"],
        unique=True,
        sqlite_where=_IS_LEG,
        postgresql_where=_IS_LEG,
    )


def downgrade() -> None:
    # Legs stay as the deposits and withdrawals they are; only what tied them together goes.
    op.drop_index("uq_transactions_transfer_leg", table_name="transactions")
    op.drop_column("transactions", "transfer_id")
