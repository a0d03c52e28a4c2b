"""The grouped posting path's statements, built from the schema and compiled once for asyncpg.

They run on the driver connection directly (group_writer.py): SQLAlchemy's per-execution work
would cost more than the database's. Building them with Core keeps them tied to the schema that
Alembic migrates.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, cast

import orjson
from sqlalchemy import (
    Insert,
    Integer,
    String,
    Subquery,
    Table,
    Update,
    and_,
    any_,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSON
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, ColumnElement
from sqlalchemy.sql.selectable import TableValuedAlias

from bank_adapters.sql.schema import (
    accounts,
    events,
    idempotency_keys,
    journal_entries,
    transactions,
)


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


def _kept_for_keys(*columns: ColumnElement[Any]) -> ClauseElement:
    """The given columns of the answers kept for the keys given as two arrays, ``scopes`` and
    ``keys`` (a key's scope and its text at one place), each key by the primary key's index."""
    given = (
        func.unnest(
            bindparam("scopes", type_=ARRAY(String)), bindparam("keys", type_=ARRAY(String))
        )
        .table_valued("scope", "idempotency_key")
        .render_derived(name="given_keys")
    )
    kept = idempotency_keys.c
    return select(*columns).join_from(
        given,
        idempotency_keys,
        and_(kept.scope == given.c.scope, kept.idempotency_key == given.c.idempotency_key),
    )


GET_KEPT_ANSWERS: Final = DriverStatement(_kept_for_keys(*idempotency_keys.c))
"""The answers kept for the given keys (``scopes`` and ``keys``): the grouped members' claims,
looked up in batches (transaction_lookups.py)."""

TRY_KEY_LOCKS: Final = DriverStatement(
    select(
        func.pg_try_advisory_xact_lock(bindparam("space", type_=Integer), literal_column("k")),
        # For the rest of the group's transaction (KEYS_KEPT and the write after it), every
        # statement is planned for its parameters and the tables as they are, though the
        # writer's session reuses generic plans (kept_connection.py): kept answers grow by one
        # a keyed posting, and a generic plan of KEYS_KEPT made while there were few read the
        # whole table for every group (seen: 4,918 sequential scans, 148 million rows read,
        # 1,455 -> 898 keyed postings/s over four 15 s loads, until the next take).
        literal_column("set_config('plan_cache_mode', 'force_custom_plan', true)").label(
            "plan_for_each_execution"
        ),
    )
    .select_from(
        func.unnest(bindparam("locks", type_=ARRAY(Integer)))
        .table_valued("k", with_ordinality="ordinality")
        .render_derived(name="given_locks")
    )
    .order_by(literal_column("ordinality"))
)
"""Tries, without waiting, the advisory lock of each of the group's keys (``space`` and each of
``locks``: ``bank_adapters.sql.idempotency.advisory_lock_key``), in its transaction; one row a
key, in the order given, true where it was taken (a lock the transaction holds already is taken
again). It also makes the rest of the transaction plan each statement anew (above)."""

KEYS_KEPT: Final = DriverStatement(
    _kept_for_keys(idempotency_keys.c.scope, idempotency_keys.c.idempotency_key)
)
"""Which of the given keys have an answer kept: the group's check, in a statement after the
one that took their locks, so that it sees every answer committed before it held them."""


class RowsStatement(DriverStatement):
    """A statement that takes rows of several tables, each table's rows as one parameter named
    after the table: a JSON array of the rows, each row an object of its column values by name
    (``rows.py``'s dicts as they are); for a table in ``row_by_row``, an array of JSON texts,
    one a row."""

    def __init__(
        self, statement: ClauseElement, tables: Iterable[Table], row_by_row: Iterable[Table] = ()
    ) -> None:
        super().__init__(statement)
        by_name = {table.name: table for table in tables}
        if set(by_name) != set(self._order):
            raise ValueError(f"The statement takes {self._order}, not the rows of {set(by_name)}.")
        one_by_one = set(row_by_row)
        self._tables: Final = tuple(
            (by_name[name], by_name[name] in one_by_one) for name in self._order
        )

    def arguments_of_rows(
        self, rows: Mapping[Table, list[dict[str, Any]]]
    ) -> tuple[str | list[str], ...]:
        return tuple(
            [_json(row) for row in rows[table]] if one_by_one else _json(rows[table])
            for table, one_by_one in self._tables
        )


def _json(value: object) -> str:
    # A timestamp as RFC 3339 with its offset, which PostgreSQL reads exactly.
    return orjson.dumps(value).decode()


def _null_row_of(table: Table) -> ColumnElement[Any]:
    """``NULL::<table>``: names the table's row type, which rows are read as."""
    return literal_column(f"NULL::{_ASYNCPG.identifier_preparer.quote(table.name)}")


def _rows(table: Table, columns: Sequence[str], *, numbered: bool = False) -> TableValuedAlias:
    """The rows of ``table`` a group hands over, read from its JSON parameter by column name as
    the table's own row type (its columns' types: a string too long for its column is refused,
    as in an INSERT). ``numbered`` adds ``ordinality``, each row's place in the array: 1, 2..."""
    read = func.json_populate_recordset(_null_row_of(table), bindparam(table.name, type_=JSON))
    if numbered:
        return read.table_valued(*columns, with_ordinality="ordinality", name=f"new_{table.name}")
    return read.table_valued(*columns, name=f"new_{table.name}")


def _rows_one_by_one(table: Table, columns: Sequence[str]) -> Subquery:
    """As ``_rows``, from an array of JSON texts, one a row: PostgreSQL then expects as many
    rows as the array holds (10 in a generic plan), where it expects 100 of
    ``json_populate_recordset`` whatever it is given."""
    given = (
        func.unnest(bindparam(table.name, type_=ARRAY(JSON)))
        .table_valued("json")
        .render_derived(name=f"given_{table.name}")
    )
    row = (
        func.json_populate_record(_null_row_of(table), given.c.json)
        .table_valued(*columns)
        .lateral(f"given_{table.name}_row")
    )
    return (
        select(*(row.c[name] for name in columns))
        .select_from(given)
        .join(row, true())
        .subquery(f"new_{table.name}")
    )


def _insert(table: Table, columns: Sequence[str], *, in_given_order: bool = False) -> Insert:
    rows = _rows(table, columns, numbered=in_given_order)
    chosen = select(*(rows.c[name] for name in columns))
    if in_given_order:
        chosen = chosen.order_by(rows.c.ordinality)
    return insert(table).from_select(columns, chosen)


def _update_accounts() -> Update:
    columns = accounts.c.keys()
    rows = _rows_one_by_one(accounts, columns)
    return (
        update(accounts)
        .where(accounts.c.account_number == rows.c.account_number)
        .values({name: rows.c[name] for name in columns if name != "account_number"})
    )


EVENT_COLUMNS_WRITTEN: Final = tuple(
    column.name for column in events.c if column.name not in {"event_id", "commit_order"}
)
"""An event's columns but the two the database fills in."""

WRITE_GROUP: Final = RowsStatement(
    _insert(transactions, transactions.c.keys()).add_cte(
        _insert(idempotency_keys, idempotency_keys.c.keys()).cte("answers_kept"),
        _insert(events, EVENT_COLUMNS_WRITTEN, in_given_order=True).cte("events_inserted"),
        _insert(journal_entries, journal_entries.c.keys()).cte("entries_inserted"),
        _update_accounts().cte("accounts_updated"),
    ),
    (transactions, accounts, journal_entries, events, idempotency_keys),
    row_by_row=(accounts,),
)
"""A group's whole write, one statement: its new transactions, its accounts' final rows (every
column, the heads of their journals included), its journal entries, its events and the answers
kept for its members' idempotency keys, each table's rows one JSON parameter (the accounts' an
array of JSON texts, below). A kept answer's key was locked and checked by the group before its
member ran (group_writer.py), so its row cannot meet another: it never fails the group. One
round trip and one execution in PostgreSQL for the group, where a batch per table executed a
statement per row; one text whatever the group's size, so one prepared statement and its
generic plan serve every group.
The rows go as JSON rather than an array a column: asyncpg checks every element of an array in
Python, which cost the server's Python as much as the batches had (docs/JOURNAL.md, Writing).

- Each table's rows are read by column name as the table's own row type
  (``json_populate_recordset``), and the statement names every column it writes, built from
  the schema. A row that left a column out would write NULL there (or be refused by NOT
  NULL): ``rows.py``'s rows name every column (a test holds them to the schema).
- The accounts' rows come one JSON text each (``_rows_one_by_one``): the UPDATE joins them to
  ``accounts`` by key, and PostgreSQL plans that join for the rows it expects. Told 100 (all
  it knows of ``json_populate_recordset``), it read the whole table of a freshly analysed
  10,000 (the bench's spread mix) for every group, its dead versions too as they piled up:
  181 µs of PostgreSQL CPU per posting against 110 µs by the key's index (32 postings a group
  on as many accounts, the write alone). A test holds the plan to the index.
- Events leave out what the database fills in, ``event_id`` and ``commit_order`` (the id of
  the group's transaction, one for every event of the group), and are inserted in the order
  given (``ORDER BY ordinality``): their ids follow it, as the feed's order within the group.
- PostgreSQL runs the main statement first, then the WITH parts, the last listed first (seen
  on PostgreSQL 15; its documentation promises no order). They are listed so that the four
  run as the four batches did before: transactions, accounts, entries, events (then the kept
  answers, which no batch had). The order shows
  only in which error a group that breaks two rules at once reports (a transaction id taken
  already before anything else); foreign keys are checked once all four have run.
"""
