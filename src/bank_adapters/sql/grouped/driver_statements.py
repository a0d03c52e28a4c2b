"""The grouped posting path's statements, built from the schema and compiled once for asyncpg.

They run on the driver connection directly (group_writer.py): SQLAlchemy's per-execution work
would cost more than the database's. Building them with Core keeps them tied to the schema that
Alembic migrates.
"""

from __future__ import annotations

import operator
from typing import Any, Final, cast

from sqlalchemy import String, any_, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from bank_adapters.sql.schema import accounts, events, journal_entries, transactions


class DriverStatement:
    """A Core statement compiled for asyncpg: its SQL and the order of its parameters."""

    def __init__(self, statement: ClauseElement) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=_ASYNCPG))
        self.sql: Final = compiled.string
        self._order: Final = tuple(compiled.positiontup or ())
        # One call in C per row, for the rows the grouped path writes by the hundred.
        self._in_order: Final = operator.itemgetter(*self._order)

    def arguments(self, values: dict[str, Any]) -> tuple[Any, ...]:
        if len(self._order) == 1:
            return (values[self._order[0]],)
        arguments: tuple[Any, ...] = self._in_order(values)
        return arguments


_ASYNCPG: Final = asyncpg_dialect()  # type: ignore[no-untyped-call]

LOCK_ACCOUNTS: Final = DriverStatement(
    select(accounts)
    .where(accounts.c.account_number == any_(bindparam("numbers", type_=ARRAY(String))))
    .order_by(accounts.c.account_number)
    .with_for_update()
)
"""Locks the rows of the given accounts, in account-number order (so no two groups deadlock)."""

GET_TRANSACTIONS: Final = DriverStatement(
    select(transactions).where(
        transactions.c.transaction_id == any_(bindparam("transaction_ids", type_=ARRAY(String)))
    )
)

INSERT_TRANSACTION: Final = DriverStatement(
    insert(transactions).values({column.name: bindparam(column.name) for column in transactions.c})
)

INSERT_ENTRY: Final = DriverStatement(
    insert(journal_entries).values(
        {column.name: bindparam(column.name) for column in journal_entries.c}
    )
)

INSERT_EVENT: Final = DriverStatement(
    insert(events)
    .values(
        {
            column.name: bindparam(column.name)
            for column in events.c
            if column.name not in {"event_id", "commit_order"}
        }
    )
    .inline()
)
"""Leaves out what the database fills in: ``event_id`` and ``commit_order`` (the id of the
group's transaction, one for every event of the group); inline, so it returns no ids."""

UPDATE_ACCOUNT: Final = DriverStatement(
    update(accounts)
    .where(accounts.c.account_number == bindparam("key"))
    .values(
        {
            column.name: bindparam(column.name)
            for column in accounts.c
            if column.name != "account_number"
        }
    )
)
"""Every column but the key: the balance, the version and the rest, and where the account's
journal now ends (its head columns)."""
