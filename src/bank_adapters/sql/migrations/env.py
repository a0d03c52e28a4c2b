"""Alembic's entry point for the ledger's schema.

Run through ``bank_adapters.sql.migrate``, which hands over an open connection of the async
engine (the run_sync pattern). For ``alembic revision --autogenerate`` during development,
give a config with ``sqlalchemy.url`` and this script makes its own engine.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from bank_adapters.sql.engine import PoolSettings, create_engine
from bank_adapters.sql.migrate import CONNECTION_ATTRIBUTE
from bank_adapters.sql.schema import metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite alters a table by copying it; batch mode does that for later migrations.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_with_own_engine(url: str) -> None:
    engine = create_engine(url, PoolSettings(size=1, max_overflow=0))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run_migrations)
    finally:
        await engine.dispose()


def main() -> None:
    if context.is_offline_mode():
        raise RuntimeError("The ledger's migrations run against a database, not offline.")
    connection = context.config.attributes.get(CONNECTION_ATTRIBUTE)
    if connection is not None:
        run_migrations(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("Give the database as sqlalchemy.url, or use bank_adapters.sql.")
    asyncio.run(run_with_own_engine(url))


main()
