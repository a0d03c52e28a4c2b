"""Running the schema migrations from code: the package carries its Alembic scripts, so no
alembic.ini is needed; the CLI and the tests call these functions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bank_adapters.sql.engine import PoolSettings, create_engine
from bank_adapters.sql.errors import DRIVER_ERRORS, not_answering
from bank_adapters.sql.privileges import grant_runtime_privileges
from bank_adapters.sql.sqlite_transactions import use_write_ahead_log
from bank_domain.errors import StorageNotAnswering, StorageUnavailable

MIGRATIONS_PATH: Final = Path(__file__).with_name("migrations")
CONNECTION_ATTRIBUTE: Final = "connection"
"""Key of ``Config.attributes`` under which env.py finds the connection to migrate."""

_MIGRATION_LOCK_KEY: Final = 0x62616E6B  # "bank": one migrating process at a time on PostgreSQL


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_PATH))
    return config


def head_revision() -> str:
    """The newest revision the package ships."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"No migrations found in {MIGRATIONS_PATH}.")
    return head


async def upgrade_to_head(url: str | URL, *, runtime_role: str | None = None) -> None:
    """Brings the database at ``url`` to the newest schema, in one transaction; then, on
    PostgreSQL, gives ``runtime_role`` (when named) exactly the privileges the service needs
    (bank_adapters.sql.privileges), in that same transaction."""
    await _migrate(url, lambda config: command.upgrade(config, "head"), runtime_role=runtime_role)


async def upgrade(url: str | URL, revision: str) -> None:
    """Brings the database at ``url`` forward to ``revision``, in one transaction."""
    await _migrate(url, lambda config: command.upgrade(config, revision))


def migrate_to_newest(url: str | URL, *, runtime_role: str | None = None) -> None:
    """upgrade_to_head for callers with no event loop running, such as the command line."""
    asyncio.run(upgrade_to_head(url, runtime_role=runtime_role))


async def downgrade(url: str | URL, revision: str) -> None:
    """Takes the database back to ``revision`` (``"base"``: no tables at all)."""
    await _migrate(url, lambda config: command.downgrade(config, revision))


async def current_revision(url: str | URL) -> str | None:
    """The revision the database is at; None when it was never migrated."""
    engine = create_engine(url, PoolSettings(size=1, max_overflow=0))
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()


async def _migrate(
    url: str | URL, action: Callable[[Config], None], *, runtime_role: str | None = None
) -> None:
    engine = create_engine(url, PoolSettings(size=1, max_overflow=0))
    try:
        await _open_once(engine)
        if runtime_role is not None and engine.dialect.name != "postgresql":
            raise StorageUnavailable("SQLite has no roles: a runtime role is PostgreSQL's.")
        try:
            # One transaction for every step (on SQLite too, where BEGIN IMMEDIATE also keeps
            # writers out): a failed step leaves the schema as it was.
            async with engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    await connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
                    )
                await connection.run_sync(_run_alembic, action)
                if runtime_role is not None:
                    await connection.run_sync(grant_runtime_privileges, runtime_role)
        except DBAPIError as error:
            # A role that may not change the schema (the runtime role, on a database that is
            # not at the newest schema), or a runtime role that does not exist: one line.
            raise StorageUnavailable(
                f"Cannot migrate the database {_where(engine)}: {error.orig}."
            ) from None
    finally:
        await engine.dispose()


async def _open_once(engine: AsyncEngine) -> None:
    """Opens the database before migrating it (switching a SQLite file to WAL on the way), so
    that a database that cannot be opened is told in one line naming it: StorageUnavailable."""
    try:
        if engine.dialect.name == "sqlite":
            await use_write_ahead_log(engine)
        else:
            async with engine.connect():
                pass
    except DRIVER_ERRORS as error:
        reason = error.orig if isinstance(error, DBAPIError) else error
        refusal = StorageNotAnswering if not_answering(reason) else StorageUnavailable
        raise refusal(f"Cannot open the database {_where(engine)}: {reason}.") from error


def _where(engine: AsyncEngine) -> str:
    if engine.dialect.name == "sqlite":
        return f"file {engine.url.database}"
    return f"at {engine.url.render_as_string(hide_password=True)}"


def _run_alembic(connection: Connection, action: Callable[[Config], None]) -> None:
    config = alembic_config()
    config.attributes[CONNECTION_ATTRIBUTE] = connection
    action(config)
