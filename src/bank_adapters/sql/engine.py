"""The one engine a store uses, tuned for a server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bank_adapters.sql import pooler, sqlite_transactions
from bank_adapters.sql.urls import async_database_url

CONNECT_TIMEOUT_SECONDS: Final = 10.0
APPLICATION_NAME: Final = "bank-ledger"
POSTGRES_LOCK_TIMEOUT: Final = "10s"
"""How long PostgreSQL waits for a row lock before the store reports unavailable."""
POSTGRES_STATEMENT_TIMEOUT: Final = "15s"
"""How long PostgreSQL lets one statement run before it cancels it."""
POSTGRES_PLAN_CACHE_MODE: Final = "force_custom_plan"
"""Every execution of a prepared statement is planned for its own parameters and the tables'
size at that moment. asyncpg prepares every statement and keeps it for the connection's life
(30 minutes in the pool, and for good on the connections the grouped posting path keeps).
Left to itself (``auto``), PostgreSQL compares each custom plan with a generic plan whose cost it
worked out once, on the table as it was then, and never again: as ``transactions`` grows, the
custom plans' mean cost rises past that stale figure and the generic plan takes over for good.
Made on a thousand rows, it is a sequential scan: the id look-up (``transaction_id =
ANY($1)``) then read the whole table for every batch, and one server's postings with their own
ids fell from 1,700 to 620 a second within 90 s (issue 7; bench/README.md, soak). ANALYZE makes a
plan anew, so autovacuum only narrows the window (and a server may run without it: the one the
benchmark ran on did). The price is planning every execution: 14 to 34 us per statement here,
about 0.07 ms of PostgreSQL CPU per grouped posting (0.13-0.16 ms before, 0.20-0.24 after, in
the soak without client ids). So the grouped path's writers, whose statements insert rows or reach
accounts by key, set ``auto`` while they keep a connection and discard their plans at each take
(bank_adapters.sql.grouped.kept_connection, ``reuse_plans``)."""
COMMAND_TIMEOUT_SECONDS: Final = 20.0
"""How long the driver waits for any answer: a database that holds its connections open but
says nothing (a dead network path) is reported unavailable instead of hanging requests."""


@dataclass(frozen=True, slots=True)
class PoolSettings:
    size: int = 10
    max_overflow: int = 10
    timeout_seconds: float = 30.0
    recycle_seconds: int = 1800


def create_engine(url: str | URL, pool: PoolSettings | None = None) -> AsyncEngine:
    """An engine for the ledger's database; create one per process and share it.

    PostgreSQL runs at READ COMMITTED, where ``SELECT ... FOR UPDATE`` waits for the lock and
    then reads the latest committed row (REPEATABLE READ would fail instead of waiting).
    """
    pool = pool or PoolSettings()
    database_url = async_database_url(url)
    common: dict[str, Any] = {
        "pool_pre_ping": True,
        "pool_size": pool.size,
        "max_overflow": pool.max_overflow,
        "pool_timeout": pool.timeout_seconds,
        "pool_recycle": pool.recycle_seconds,
    }
    if database_url.get_backend_name() == "sqlite":
        engine = create_async_engine(
            database_url,
            connect_args={"timeout": sqlite_transactions.BUSY_TIMEOUT_SECONDS},
            **common,
        )
        sqlite_transactions.serialize_writers(engine)
        return engine
    if pooler.pooler_of(database_url) is not None:
        return _behind_pooler(pooler.without_pooler(database_url), common)
    return create_async_engine(
        database_url,
        isolation_level="READ COMMITTED",
        connect_args={
            "timeout": CONNECT_TIMEOUT_SECONDS,
            "command_timeout": COMMAND_TIMEOUT_SECONDS,
            "server_settings": {
                "application_name": APPLICATION_NAME,
                **_timeouts(),
                "plan_cache_mode": POSTGRES_PLAN_CACHE_MODE,
            },
        },
        **common,
    )


def _behind_pooler(database_url: URL, common: dict[str, Any]) -> AsyncEngine:
    """PostgreSQL through PgBouncer in transaction mode (``bank_adapters.sql.pooler``): the
    timeouts are set by each transaction, not by the session, and no statement is kept."""
    engine = create_async_engine(
        database_url,
        isolation_level="READ COMMITTED",
        connect_args={
            "timeout": CONNECT_TIMEOUT_SECONDS,
            "command_timeout": COMMAND_TIMEOUT_SECONDS,
            **pooler.connect_arguments(APPLICATION_NAME),
        },
        **common,
    )
    return pooler.begin_each_transaction_with(
        engine, pooler.transaction_settings_statement(_timeouts())
    )


def _timeouts() -> dict[str, str]:
    return {"lock_timeout": POSTGRES_LOCK_TIMEOUT, "statement_timeout": POSTGRES_STATEMENT_TIMEOUT}
