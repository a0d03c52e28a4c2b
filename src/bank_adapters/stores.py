"""Opening a store from a URL: ``memory://``, ``sqlite:///path`` or ``postgresql://...``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from bank_adapters.memory import InMemoryStore
from bank_domain.errors import StorageUnavailable
from bank_domain.ports import PostingUnitOfWork, UnitOfWork

if TYPE_CHECKING:
    from bank_adapters.sql.observation import StoreObserver


class Store(Protocol):
    """What the service needs of a store beyond its units of work."""

    def unit_of_work(self, *, read_only: bool = False) -> UnitOfWork: ...

    def read_unit_of_work(self, *, read_only: bool = True) -> UnitOfWork:
        """A read-only unit of work for a read that may lag a little behind (a standby)."""

    def posting_unit_of_work(self) -> PostingUnitOfWork:
        """A unit of work for PostTransaction alone; a store may serve it more leanly."""

    async def ping(self) -> None:
        """Raises StorageUnavailable when the store does not answer."""

    async def dispose(self) -> None: ...


MEMORY_URL = "memory://"


def open_store(
    url: str,
    read_timeout_seconds: float | None = None,
    standby_url: str | None = None,
    observer: StoreObserver | None = None,
) -> Store:
    """``read_timeout_seconds`` bounds a read's statements on PostgreSQL (None: the default);
    ``standby_url`` names a PostgreSQL standby that the reads which may lag are served from
    (``SqlStore``); ``observer`` is told a SQL store's group sizes and connection waits."""
    if url.strip() == MEMORY_URL:
        if standby_url is not None:
            raise ValueError("The memory store has no standby to read from.")
        return InMemoryStore()
    from bank_adapters.sql import open_sql_store
    from bank_adapters.sql.observation import UNOBSERVED
    from bank_adapters.sql.unit_of_work import READ_TIMEOUT_SECONDS

    return open_sql_store(
        url,
        read_timeout_seconds=READ_TIMEOUT_SECONDS
        if read_timeout_seconds is None
        else read_timeout_seconds,
        standby_url=standby_url,
        observer=UNOBSERVED if observer is None else observer,
    )


def check_standby_url(url: str, standby_url: str) -> None:
    """Raises ValueError, in words for an operator, unless ``standby_url`` is a PostgreSQL URL
    and ``url`` (the primary's) one too: a standby to read from is PostgreSQL's."""
    from bank_adapters.sql import async_database_url

    try:
        standby_is_postgresql = async_database_url(standby_url).get_backend_name() == "postgresql"
    except ValueError as error:
        raise ValueError(str(error).rstrip(".")) from None
    try:
        primary_is_postgresql = async_database_url(url).get_backend_name() == "postgresql"
    except ValueError:
        primary_is_postgresql = False
    if not (standby_is_postgresql and primary_is_postgresql):
        raise ValueError(
            "a standby to read from is a PostgreSQL one (postgresql://...), of the PostgreSQL "
            "primary that BANK_DATABASE_URL names"
        )


def migrate(url: str, runtime_role: str | None = None) -> None:
    """Brings a SQL database to the newest schema; memory needs none. On PostgreSQL, gives
    ``runtime_role`` (when named) exactly the privileges the service needs
    (bank_adapters.sql.privileges). Raises
    StorageUnavailable in one line naming the database when it cannot be opened (a URL that
    names none included), StorageNotAnswering when it could not be reached at all."""
    if url.strip() == MEMORY_URL:
        if runtime_role is not None:
            raise StorageUnavailable("memory:// has no roles: a runtime role is PostgreSQL's.")
        return
    from bank_adapters.sql import async_database_url, migrate_to_newest

    try:
        async_database_url(url)
    except ValueError as error:
        raise StorageUnavailable(str(error)) from None
    migrate_to_newest(url, runtime_role=runtime_role)


def require_newest_schema(url: str) -> None:
    """Raises StorageUnavailable, in one line naming the database, unless the SQL database at
    ``url`` opens and has the newest schema; memory has none to check. Changes nothing, and
    makes nothing: a SQLite file that does not exist is refused, not created (for a command
    that only reads, such as ``bank-api verify``, which must not migrate what it checks)."""
    if url.strip() == MEMORY_URL:
        return
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    from bank_adapters.sql import async_database_url, current_revision, head_revision
    from bank_adapters.sql.errors import DRIVER_ERRORS

    try:
        parsed = async_database_url(url)
    except ValueError as error:
        raise StorageUnavailable(str(error)) from None
    if parsed.get_backend_name() == "sqlite":
        where = f"file {parsed.database}"
        if not Path(str(parsed.database)).is_file():
            raise StorageUnavailable(f"Cannot open the database {where}: there is no such file.")
    else:
        where = f"at {make_url(url).render_as_string(hide_password=True)}"
    try:
        revision = asyncio.run(current_revision(parsed))
    except DRIVER_ERRORS as error:
        reason = error.orig if isinstance(error, DBAPIError) else error
        raise StorageUnavailable(f"Cannot open the database {where}: {reason}.") from None
    head = head_revision()
    if revision != head:
        found = "was never migrated" if revision is None else f"is at revision {revision}"
        raise StorageUnavailable(
            f"The database {where} {found}, not at the newest schema ({head}): "
            "run bank-api migrate first."
        )
