"""PostgreSQL reached through PgBouncer in transaction mode: what the ledger does differently.

A URL says so with ``pooler=pgbouncer`` in its query
(``postgresql://bank@pgbouncer:6432/bank?pooler=pgbouncer``). In transaction mode PgBouncer
lends a server connection for one transaction at a time: between two transactions of one
client connection, another client may use that server connection, and this client may get
another one. So nothing that lives on a server session outlasts a transaction, and:

- Startup parameters other than a few PgBouncer tracks are refused (``unsupported startup
  parameter: lock_timeout``): the engine sends only ``application_name``, and every
  transaction begins by setting the timeouts for itself (``SET LOCAL``, through
  ``set_config(..., true)``), which end with it and reach no other client.
- PgBouncer 1.18 (Debian 12's) does not track prepared statements: a statement prepared on one
  server connection is missing on the next, and a name asyncpg reuses (``__asyncpg_stmt_1__``)
  may already exist on a server connection another client prepared it on. So no statement is
  kept (asyncpg's ``statement_cache_size=0``, SQLAlchemy's ``prepared_statement_cache_size=0``),
  SQLAlchemy names each one it prepares uniquely, and everything runs inside a transaction,
  so a statement is prepared and executed on one server connection. The grouped posting path's
  own statements (sql/grouped/) are in transactions already; its look-ups begin one here.
- ``plan_cache_mode`` is not set: a statement prepared for one execution is planned for its
  parameters anyway, and the grouped writers' ``SET plan_cache_mode = auto`` (a session
  setting) would be left on whichever server connection ran it.

Advisory locks are transaction-level (idempotency keys, migrations), the event feed's snapshot
is read inside the reading transaction, and nothing LISTENs: all of that holds as it is.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Final

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncEngine

PARAMETER: Final = "pooler"
"""The URL's query parameter that names the pooler."""
PGBOUNCER: Final = "pgbouncer"
POOLERS: Final = (PGBOUNCER,)

TRANSACTION_SETTINGS_OPTION: Final = "bank_transaction_settings"
"""The engine's execution option holding the statement each transaction begins with behind a
pooler (absent without one)."""


def pooler_of(url: URL) -> str | None:
    """The pooler the URL names, or None; raises ValueError for an unknown one, for one given
    twice, and for a pooler in front of anything but PostgreSQL."""
    given = url.query.get(PARAMETER)
    if given is None:
        return None
    if not isinstance(given, str):
        raise ValueError(f"{PARAMETER}= is given more than once")
    if given not in POOLERS:
        raise ValueError(f"{PARAMETER}={given!r} is not one of: {', '.join(POOLERS)}")
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"{PARAMETER}={given} is for PostgreSQL URLs only")
    return given


def without_pooler(url: URL) -> URL:
    """The URL the driver is given: without ``pooler=``, which asyncpg would not know."""
    return url.difference_update_query([PARAMETER])


def connect_arguments(application_name: str) -> dict[str, Any]:
    """asyncpg's arguments behind PgBouncer: no statement kept, no startup parameter it refuses."""
    return {
        "statement_cache_size": 0,
        "prepared_statement_cache_size": 0,
        "prepared_statement_name_func": unique_statement_name,
        "server_settings": {"application_name": application_name},
    }


def unique_statement_name() -> str:
    """A name no other client of the pooler's server connections uses."""
    return f"bank_{uuid.uuid4().hex}"


def transaction_settings_statement(settings: Mapping[str, str]) -> str:
    """One statement that sets each setting for the current transaction only (``SET LOCAL``
    as a function, which also runs as a prepared statement)."""
    calls = ", ".join(
        f"set_config({_literal(name)}, {_literal(value)}, true)" for name, value in settings.items()
    )
    return f"SELECT {calls}"


def begin_each_transaction_with(engine: AsyncEngine, statement: str) -> AsyncEngine:
    """Every transaction SQLAlchemy begins on the engine runs ``statement`` first; the engine
    also carries it (``transaction_settings``) for the paths that drive asyncpg directly."""

    def on_begin(connection: Connection) -> None:
        connection.exec_driver_sql(statement)

    event.listen(engine.sync_engine, "begin", on_begin)
    return engine.execution_options(**{TRANSACTION_SETTINGS_OPTION: statement})


def transaction_settings(engine: AsyncEngine) -> str | None:
    """The statement each transaction on the engine must begin with, or None without a pooler."""
    statement = engine.get_execution_options().get(TRANSACTION_SETTINGS_OPTION)
    return statement if isinstance(statement, str) else None


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
