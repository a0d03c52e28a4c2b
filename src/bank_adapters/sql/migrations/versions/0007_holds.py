"""Available balance, overdraft limits and holds (API.md section 12).

Revision ID: 0007_holds
Revises: 0006_journal
Create Date: 2026-11-30

- On ``accounts``: ``overdraft_limit_cents`` (default 0), ``held_cents`` (the sum of the
  account's pending withdrawals as stored) and ``next_hold_expiry`` (a lower bound of their
  earliest ``expires_at``). An existing pending withdrawal becomes a hold: each account's
  ``held_cents`` is set from them here, so its available balance is right from the start.
- On ``transactions``: ``expires_at``.
- The CHECKs: with an overdraft a balance, and a transaction's ``balance_after``, may be below
  zero; what may not is the available balance (``balance + overdraft limit - held``).
  ``ck_accounts_balance_not_negative`` and ``ck_transactions_balance_after_not_negative`` are
  replaced. PostgreSQL drops and adds them. SQLite cannot alter a table's constraints, and
  rebuilding ``accounts`` would break the foreign keys that name it (they are on, and cannot be
  turned off inside the migration's transaction), so the tables' stored definitions are edited
  in place, the way SQLite documents for changes that touch no stored row (writable_schema,
  then schema_version + 1 so that every connection reads the new definitions): every row
  already meets the new CHECKs, which only allow more.
- Two partial indexes for the sweeper: accounts whose ``next_hold_expiry`` is set, pending
  transactions that expire. Rows without an expiry (nearly all) have no entry in them.

Types are spelled out here, as in 0001, so this step stays what it was.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Final

import sqlalchemy as sa
from alembic import op

revision: str = "0007_holds"
down_revision: str | Sequence[str] | None = "0006_journal"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MAX_OVERDRAFT_CENTS: Final = 100_000_000_000_000

_OLD_CHECKS: Final = {
    "accounts": {"ck_accounts_balance_not_negative": "balance_cents >= 0"},
    "transactions": {
        "ck_transactions_balance_after_not_negative": "balance_after_cents >= 0",
    },
}
_NEW_CHECKS: Final = {
    "accounts": {
        "ck_accounts_available_not_negative": (
            "balance_cents + overdraft_limit_cents - held_cents >= 0"
        ),
        "ck_accounts_overdraft_limit_range": (
            f"overdraft_limit_cents >= 0 AND overdraft_limit_cents <= {_MAX_OVERDRAFT_CENTS}"
        ),
        "ck_accounts_held_not_negative": "held_cents >= 0",
    },
    "transactions": {
        "ck_transactions_balance_after_in_range": (
            f"balance_after_cents >= -{_MAX_OVERDRAFT_CENTS}"
        ),
        "ck_transactions_expires_only_pending": (
            "expires_at IS NULL OR status IN ('pending', 'cancelled')"
        ),
    },
}

_HELD_FROM_PENDING_WITHDRAWALS: Final = """
UPDATE accounts SET held_cents = (
    SELECT COALESCE(SUM(t.amount_cents), 0) FROM transactions t
    WHERE t.account_number = accounts.account_number AND t.status = 'pending'
      AND t.transaction_type = 'withdrawal' AND t.deleted_at IS NULL
)
"""


def _timestamp() -> sa.types.TypeEngine[datetime]:
    return sa.DateTime(timezone=True).with_variant(sa.String(32), "sqlite")


def upgrade() -> None:
    for column in ("overdraft_limit_cents", "held_cents"):
        op.add_column(
            "accounts",
            sa.Column(column, sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        )
    op.add_column("accounts", sa.Column("next_hold_expiry", _timestamp(), nullable=True))
    op.add_column("transactions", sa.Column("expires_at", _timestamp(), nullable=True))
    op.execute(_HELD_FROM_PENDING_WITHDRAWALS)
    _replace_checks(_OLD_CHECKS, _NEW_CHECKS)
    op.create_index(
        "ix_accounts_hold_expiry",
        "accounts",
        ["next_hold_expiry"],
        sqlite_where=sa.text("next_hold_expiry IS NOT NULL"),
        postgresql_where=sa.text("next_hold_expiry IS NOT NULL"),
    )
    expiring = sa.text("status = 'pending' AND expires_at IS NOT NULL AND deleted_at IS NULL")
    op.create_index(
        "ix_transactions_pending_expiry",
        "transactions",
        ["expires_at"],
        sqlite_where=expiring,
        postgresql_where=expiring,
    )


def downgrade() -> None:
    """Refused by the old CHECKs while any balance is below zero: an overdrawn ledger cannot
    go back to a schema that has no overdraft."""
    op.drop_index("ix_transactions_pending_expiry", table_name="transactions")
    op.drop_index("ix_accounts_hold_expiry", table_name="accounts")
    _replace_checks(_NEW_CHECKS, _OLD_CHECKS)
    op.drop_column("transactions", "expires_at")
    for column in ("next_hold_expiry", "held_cents", "overdraft_limit_cents"):
        op.drop_column("accounts", column)


def _replace_checks(old: dict[str, dict[str, str]], new: dict[str, dict[str, str]]) -> None:
    if op.get_bind().dialect.name == "sqlite":
        _replace_sqlite_checks(old, new)
        return
    for table, checks in old.items():
        for name in checks:
            op.drop_constraint(name, table, type_="check")
    for table, checks in new.items():
        for name, condition in checks.items():
            op.create_check_constraint(name, table, condition)


def _replace_sqlite_checks(old: dict[str, dict[str, str]], new: dict[str, dict[str, str]]) -> None:
    connection = op.get_bind()
    schema_version = connection.exec_driver_sql("PRAGMA schema_version").scalar_one()
    connection.exec_driver_sql("PRAGMA writable_schema=ON")
    try:
        for table in old:
            definition = connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
            ).scalar_one()
            for name, condition in old[table].items():
                written = re.compile(rf",\s*CONSTRAINT {name} CHECK \({re.escape(condition)}\)")
                definition, found = written.subn("", definition)
                if found != 1:
                    raise RuntimeError(f"{table}'s definition has no CHECK {name}: {definition}")
            # The table's definition ends with its last constraint and ")".
            added = "".join(
                f", CONSTRAINT {name} CHECK ({condition})" for name, condition in new[table].items()
            )
            definition = definition.rstrip().removesuffix(")").rstrip() + added + "\n)"
            connection.exec_driver_sql(
                "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?",
                (definition, table),
            )
        connection.exec_driver_sql(f"PRAGMA schema_version={int(schema_version) + 1}")
    finally:
        connection.exec_driver_sql("PRAGMA writable_schema=OFF")
    # The old CHECKs judge no stored row when they come back; refuse a downgrade that they
    # would refuse (rows below zero), as PostgreSQL's ADD CONSTRAINT does.
    for table, checks in new.items():
        for condition in checks.values():
            broken = connection.exec_driver_sql(
                f"SELECT count(*) FROM {table} WHERE NOT ({condition})"  # noqa: S608
            ).scalar_one()
            if broken:
                raise RuntimeError(
                    f"{broken} rows of {table} break CHECK ({condition}); nothing was changed."
                )
