"""The SQL store: the engine, made once, and the units of work made from it."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Final, Self

from sqlalchemy import TextClause, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from bank_adapters.sql.engine import PoolSettings, create_engine
from bank_adapters.sql.errors import storage_errors
from bank_adapters.sql.grouped.committer import GroupCommitter
from bank_adapters.sql.grouped.member import GroupMemberUnitOfWork
from bank_adapters.sql.observation import UNOBSERVED, StoreObserver
from bank_adapters.sql.sqlite_transactions import BEGIN_MODE_OPTION
from bank_adapters.sql.unit_of_work import READ_TIMEOUT_SECONDS, SqlUnitOfWork
from bank_domain.errors import StorageUnavailable
from bank_domain.ports import PostingUnitOfWork

PING_TIMEOUT_SECONDS: Final = 5.0

STANDBY_CAUGHT_UP: Final[TextClause] = text(
    "SELECT NOT pg_is_in_recovery()"
    " OR coalesce(pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn(), false)"
)
"""Whether a standby shows every change it has received from its primary (or has been
promoted, and is a primary itself). When the primary has gone, nothing more can commit there,
so a standby that passes this knows every change it was sent: with a synchronous standby, every
change the primary acknowledged (``synchronous_commit`` on makes a commit wait for the standby
to have received and flushed it, not applied it; this check covers the applying)."""


class SqlStore:
    """The ledger's data in SQLite or PostgreSQL.

    >>> store = SqlStore.from_url("sqlite:///bank.db")     # doctest: +SKIP
    >>> ledger = Ledger(store.unit_of_work)                  # doctest: +SKIP
    >>> await store.dispose()                                # doctest: +SKIP

    The schema comes from the migrations (``bank_adapters.sql.upgrade_to_head``), never from here.
    ``read_timeout_seconds`` bounds each statement of a read-only unit of work on PostgreSQL.

    ``standby_engine`` (PostgreSQL only) names a streaming standby of ``engine``'s primary:
    ``read_unit_of_work`` reads there (from the primary while the standby does not answer),
    and a read-only ``unit_of_work`` reads on the primary, or on the standby while the primary
    does not answer and the standby has applied all it received (``STANDBY_CAUGHT_UP``).
    Every change, and the grouped posting path, stays on the primary.

    ``observer`` is told the size of each group of postings committed and how long each taking
    of a connection from a pool waited (``bank_adapters.sql.observation``).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        read_timeout_seconds: float = READ_TIMEOUT_SECONDS,
        standby_engine: AsyncEngine | None = None,
        observer: StoreObserver = UNOBSERVED,
    ) -> None:
        if read_timeout_seconds <= 0:
            raise ValueError(f"read_timeout_seconds is above 0, not {read_timeout_seconds!r}.")
        if standby_engine is not None and (
            engine.dialect.name != "postgresql" or standby_engine.dialect.name != "postgresql"
        ):
            raise ValueError("A standby to read from is one of a PostgreSQL primary.")
        self._engine = engine
        self._standby_engine = standby_engine
        self._observer = observer
        self._read_timeout_seconds = read_timeout_seconds
        self._group_committer: GroupCommitter | None = None

    @classmethod
    def from_url(
        cls,
        url: str | URL,
        pool: PoolSettings | None = None,
        *,
        read_timeout_seconds: float = READ_TIMEOUT_SECONDS,
        standby_url: str | URL | None = None,
        observer: StoreObserver = UNOBSERVED,
    ) -> SqlStore:
        """A store for ``sqlite:///path.db`` or ``postgresql://user@host:port/db`` (reading
        from the standby at ``standby_url``, when given); connects lazily, so it is made even
        while the database is down."""
        return cls(
            create_engine(url, pool),
            read_timeout_seconds=read_timeout_seconds,
            standby_engine=None if standby_url is None else create_engine(standby_url, pool),
            observer=observer,
        )

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
        READ ONLY transaction with the read statement timeout) and refuse every change. With a
        standby, a read-only one reads there while the primary does not answer, once the
        standby has applied all it received."""
        return SqlUnitOfWork(
            self._engine,
            read_only=read_only,
            read_timeout_seconds=self._read_timeout_seconds,
            fallback=self._standby_engine if read_only else None,
            fallback_check=STANDBY_CAUGHT_UP,
            observer=self._observer,
        )

    def read_unit_of_work(self, *, read_only: bool = True) -> SqlUnitOfWork:
        """A read-only unit of work for a read that may lag a little behind the primary: on
        the standby when there is one (on the primary while the standby does not answer),
        else the same as ``unit_of_work(read_only=True)``."""
        if not read_only:
            raise ValueError("A read that may lag changes nothing: read_only must be true.")
        if self._standby_engine is None:
            return self.unit_of_work(read_only=True)
        return SqlUnitOfWork(
            self._standby_engine,
            read_only=True,
            read_timeout_seconds=self._read_timeout_seconds,
            fallback=self._engine,
            observer=self._observer,
        )

    @property
    def standby_engine(self) -> AsyncEngine | None:
        return self._standby_engine

    def posting_unit_of_work(self) -> PostingUnitOfWork:
        """On PostgreSQL, concurrent postings share database transactions (sql/grouped/);
        SQLite has one writer at a time anyway, so there each posting has its own."""
        if self._engine.dialect.name != "postgresql":
            return self.unit_of_work()
        if self._group_committer is None:
            self._group_committer = GroupCommitter(self._engine, observer=self._observer)
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
            if self._standby_engine is not None:
                await self._standby_engine.dispose()

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
    url: str | URL,
    *,
    read_timeout_seconds: float = READ_TIMEOUT_SECONDS,
    standby_url: str | URL | None = None,
    observer: StoreObserver = UNOBSERVED,
) -> SqlStore:
    """SqlStore.from_url, as a plain function for store factories."""
    return SqlStore.from_url(
        url, read_timeout_seconds=read_timeout_seconds, standby_url=standby_url, observer=observer
    )
