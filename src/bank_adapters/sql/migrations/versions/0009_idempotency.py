"""The answers kept for idempotency keys.

Revision ID: 0009_idempotency
Revises: 0006_journal
Create Date: 2026-11-30

One row per (scope, key): the scope is the actor that sent the key (an API key's id, or
``master``), the key is the client's (1 to 255 visible ASCII characters). The row holds the
request's fingerprint and the answer (its status, a few headers as JSON text, its body's bytes),
and is written in the same transaction as the change it answers. The service removes rows older
than its retention window, oldest first, through the index on ``created_at``. Types are spelled
out here, as in 0001, so this step stays what it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0009_idempotency"
down_revision: str | Sequence[str] | None = "0008_transfers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _timestamp() -> sa.types.TypeEngine[datetime]:
    return sa.DateTime(timezone=True).with_variant(sa.String(32), "sqlite")


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", _key(64), nullable=False),
        sa.Column("idempotency_key", _key(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "idempotency_key", name="pk_idempotency_keys"),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
