"""The grouped posting path's statements, built from the schema and compiled once for asyncpg.

They run on the driver connection directly (group_writer.py): SQLAlchemy's per-execution work
would cost more than the database's. Building them with Core keeps them tied to the schema that
Alembic migrates.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, cast

from sqlalchemy import (
    Column,
    Insert,
    String,
    Table,
    Text,
    Update,
    any_,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement
from sqlalchemy.sql.selectable import TableValuedAlias

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


class RowsStatement(DriverStatement):
    """A statement that takes rows of several tables, each table's rows as one array per
    column: its parameter ``<table>.<column>`` holds that column's values, in the rows' order."""

    def __init__(self, statement: ClauseElement, columns: Mapping[Table, Sequence[str]]) -> None:
        super().__init__(statement)
        self._tables: Final = tuple(
            (
                table,
                tuple(_parameter(table, name) for name in names),
                operator.itemgetter(*names),
            )
            for table, names in columns.items()
        )
        taken = {parameter for _, parameters, _ in self._tables for parameter in parameters}
        if taken != set(self._order):
            raise ValueError(f"The statement takes {self._order}, the columns name {taken}.")

    def arguments_of_rows(self, rows: Mapping[Table, Iterable[dict[str, Any]]]) -> tuple[Any, ...]:
        arrays: dict[str, Any] = {}
        for table, parameters, in_order in self._tables:
            # Each row's values in column order, then turned into each column's values (in C).
            columns = list(zip(*map(in_order, rows[table]), strict=True))
            arrays.update(zip(parameters, columns or [()] * len(parameters), strict=True))
        return self.arguments(arrays)


def _parameter(table: Table, column: str) -> str:
    return f"{table.name}.{column}"


def _array_of(column: Column[Any]) -> ARRAY[Any]:
    """The type of a parameter that holds a column's values: ``TEXT[]`` for a string column,
    so that storing a value checks it against the column's length (a cast to ``VARCHAR(n)[]``
    would cut a longer value short without a word), the column's own type otherwise."""
    if isinstance(column.type, String):
        return ARRAY(Text())
    return ARRAY(column.type)


def _rows(table: Table, columns: Sequence[str], *, numbered: bool = False) -> TableValuedAlias:
    """The rows of ``table`` a group hands over: its columns' arrays unnested side by side, a row
    per index. ``numbered`` adds ``position``, each row's index (1, 2, ...)."""
    arrays = func.unnest(
        *(bindparam(_parameter(table, name), type_=_array_of(table.c[name])) for name in columns)
    )
    return arrays.table_valued(
        *columns, with_ordinality="position" if numbered else None
    ).render_derived(name=f"new_{table.name}")


def _insert(table: Table, columns: Sequence[str], *, in_given_order: bool = False) -> Insert:
    rows = _rows(table, columns, numbered=in_given_order)
    chosen = select(*(rows.c[name] for name in columns))
    if in_given_order:
        chosen = chosen.order_by(rows.c.position)
    return insert(table).from_select(columns, chosen)


def _update_accounts(columns: Sequence[str]) -> Update:
    rows = _rows(accounts, columns)
    return (
        update(accounts)
        .where(accounts.c.account_number == rows.c.account_number)
        .values({name: rows.c[name] for name in columns if name != "account_number"})
    )


_TRANSACTION_COLUMNS: Final = tuple(column.name for column in transactions.c)
_ACCOUNT_COLUMNS: Final = tuple(column.name for column in accounts.c)
_ENTRY_COLUMNS: Final = tuple(column.name for column in journal_entries.c)
_EVENT_COLUMNS: Final = tuple(
    column.name for column in events.c if column.name not in {"event_id", "commit_order"}
)

WRITE_GROUP: Final = RowsStatement(
    _insert(transactions, _TRANSACTION_COLUMNS).add_cte(
        _insert(events, _EVENT_COLUMNS, in_given_order=True).cte("events_inserted"),
        _insert(journal_entries, _ENTRY_COLUMNS).cte("entries_inserted"),
        _update_accounts(_ACCOUNT_COLUMNS).cte("accounts_updated"),
    ),
    {
        transactions: _TRANSACTION_COLUMNS,
        accounts: _ACCOUNT_COLUMNS,
        journal_entries: _ENTRY_COLUMNS,
        events: _EVENT_COLUMNS,
    },
)
"""A group's whole write, one statement: its new transactions, its accounts' final rows (every
column, the heads of their journals included), its journal entries and its events, each table's
rows as arrays (``RowsStatement.arguments_of_rows``). One round trip and one execution in
PostgreSQL for the group, where a batch per table executed the statement once a row; and one
text whatever the group's size, so one prepared statement and its generic plan serve them all.

- Events leave out what the database fills in, ``event_id`` and ``commit_order`` (the id of
  the group's transaction, one for every event of the group), and are inserted in the order
  given (``ORDER BY position``): their ids follow it, as the feed's order within the group.
- PostgreSQL runs the main statement first, then the WITH parts, the last listed first (seen
  on PostgreSQL 15; its documentation promises no order). They are listed so that the four
  run as the four batches did before: transactions, accounts, entries, events. The order shows
  only in which error a group that breaks two rules at once reports (a transaction id taken
  already before anything else); foreign keys are checked once all four have run.
"""
