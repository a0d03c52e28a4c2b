"""The SQL store: the engine, made once, and the units of work made from it."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Final, Self

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from bank_adapters.sql.engine import PoolSettings, create_engine
from bank_adapters.sql.errors import storage_errors
from bank_adapters.sql.grouped.committer import GroupCommitter
from bank_adapters.sql.grouped.member import GroupMemberUnitOfWork
from bank_adapters.sql.sqlite_transactions import BEGIN_MODE_OPTION
from bank_adapters.sql.unit_of_work import READ_TIMEOUT_SECONDS, SqlUnitOfWork
from bank_domain.errors import StorageUnavailable
from bank_domain.ports import PostingUnitOfWork

PING_TIMEOUT_SECONDS: Final = 5.0


class SqlStore:
    """The ledger's data in SQLite or PostgreSQL.

    >>> store = SqlStore.from_url("sqlite:///bank.db")     # doctest: +SKIP
    >>> ledger = Ledger(store.unit_of_work)                  # doctest: +SKIP
    >>> await store.dispose()                                # doctest: +SKIP

    The schema comes from the migrations (``bank_adapters.sql.upgrade_to_head``), never from here.
    ``read_timeout_seconds`` bounds each statement of a read-only unit of work on PostgreSQL.
    """

    def __init__(
        self, engine: AsyncEngine, *, read_timeout_seconds: float = READ_TIMEOUT_SECONDS
    ) -> None:
        if read_timeout_seconds <= 0:
            raise ValueError(f"read_timeout_seconds is above 0, not {read_timeout_seconds!r}.")
        self._engine = engine
        self._read_timeout_seconds = read_timeout_seconds
        self._group_committer: GroupCommitter | None = None

    @classmethod
    def from_url(
        cls,
        url: str | URL,
        pool: PoolSettings | None = None,
        *,
        read_timeout_seconds: float = READ_TIMEOUT_SECONDS,
    ) -> SqlStore:
        """A store for ``sqlite:///path.db`` or ``postgresql://user@host:port/db``; connects
        lazily, so it is made even while the database is down."""
        return cls(create_engine(url, pool), read_timeout_seconds=read_timeout_seconds)

    @classmethod
    async def connect(
        cls,
        url: str | URL,
        pool: PoolSettings | None = None,
        *,
        read_timeout_seconds: float = READ_TIMEOUT_SECONDS,
    ) -> SqlStore:
        """A store whose database has answered once; raises StorageUnavailable otherwise."""
        store = cls.from_url(url, pool, read_timeout_seconds=read_timeout_seconds)
        try:
            await store.ping()
        except BaseException:
            await store.dispose()
            raise
        return store

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    def unit_of_work(self, *, read_only: bool = False) -> SqlUnitOfWork:
        """A unit of work; ``read_only`` ones take no lock (SQLite: no write lock; PostgreSQL: a
        READ ONLY transaction with the read statement timeout) and refuse every change."""
        return SqlUnitOfWork(
            self._engine, read_only=read_only, read_timeout_seconds=self._read_timeout_seconds
        )

    def posting_unit_of_work(self) -> PostingUnitOfWork:
        """On PostgreSQL, concurrent postings share database transactions (sql/grouped/);
        SQLite has one writer at a time anyway, so there each posting has its own."""
        if self._engine.dialect.name != "postgresql":
            return self.unit_of_work()
        if self._group_committer is None:
            self._group_committer = GroupCommitter(self._engine)
        return GroupMemberUnitOfWork(self._group_committer)

    async def ping(self) -> None:
        """Returns once the database answers a query; raises StorageUnavailable otherwise."""
        try:
            async with asyncio.timeout(PING_TIMEOUT_SECONDS):
                with storage_errors():
                    async with self._engine.connect() as connection:
                        # A deferred BEGIN: the check must not queue behind SQLite's writer.
                        await connection.execution_options(**{BEGIN_MODE_OPTION: "DEFERRED"})
                        await connection.execute(text("SELECT 1"))
        except TimeoutError:
            raise StorageUnavailable(
                f"The database did not answer within {PING_TIMEOUT_SECONDS:g} s."
            ) from None

    async def dispose(self) -> None:
        """Closes every pooled connection; the store makes new ones if used again."""
        if self._group_committer is not None:
            await self._group_committer.dispose()
        with storage_errors():
            await self._engine.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.dispose()


def open_sql_store(
    url: str | URL, *, read_timeout_seconds: float = READ_TIMEOUT_SECONDS
) -> SqlStore:
    """SqlStore.from_url, as a plain function for store factories."""
    return SqlStore.from_url(url, read_timeout_seconds=read_timeout_seconds)
