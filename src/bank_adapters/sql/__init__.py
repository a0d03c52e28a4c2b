"""The SQL store: SQLite (aiosqlite) or PostgreSQL (asyncpg) on SQLAlchemy 2 Core.

>>> await upgrade_to_head("sqlite:///bank.db")                # doctest: +SKIP
>>> store = SqlStore.from_url("sqlite:///bank.db")            # doctest: +SKIP
>>> ledger = Ledger(store.unit_of_work)                       # doctest: +SKIP
"""

from bank_adapters.sql.engine import PoolSettings
from bank_adapters.sql.migrate import (
    current_revision,
    downgrade,
    head_revision,
    migrate_to_newest,
    upgrade,
    upgrade_to_head,
)
from bank_adapters.sql.store import SqlStore, open_sql_store
from bank_adapters.sql.unit_of_work import SqlUnitOfWork
from bank_adapters.sql.urls import async_database_url

__all__ = [
    "PoolSettings",
    "SqlStore",
    "SqlUnitOfWork",
    "async_database_url",
    "current_revision",
    "downgrade",
    "head_revision",
    "migrate_to_newest",
    "open_sql_store",
    "upgrade",
    "upgrade_to_head",
]
