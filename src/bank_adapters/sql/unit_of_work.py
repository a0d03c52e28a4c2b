"""A unit of work in SQL: one connection and one database transaction."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Final, Self

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bank_adapters.sql.accounts import SqlAccountRepository
from bank_adapters.sql.api_keys import SqlApiKeyRepository
from bank_adapters.sql.errors import storage_errors
from bank_adapters.sql.events import SqlEventRepository
from bank_adapters.sql.idempotency import SqlIdempotencyRepository
from bank_adapters.sql.journal import SqlJournalRepository
from bank_adapters.sql.observation import UNOBSERVED, StoreObserver, connect_observed
from bank_adapters.sql.postings import write_postings
from bank_adapters.sql.sqlite_transactions import BEGIN_MODE_OPTION
from bank_adapters.sql.transactions import SqlTransactionRepository
from bank_domain.account import Account
from bank_domain.errors import StorageUnavailable
from bank_domain.events import Event
from bank_domain.ports import UnitOfWork
from bank_domain.transaction import Transaction

READ_TIMEOUT_SECONDS: Final = 5.0
"""How long PostgreSQL lets one statement of a read-only unit of work run before cancelling it
(the store then reports unavailable): a slow listing must not hold a connection for long."""


class SqlUnitOfWork(UnitOfWork):
    """``async with`` takes a pooled connection and begins its transaction (on SQLite, the write
    transaction); ``commit()`` ends it durably; leaving the block any other way rolls it back
    and hands the connection back. Serves one task: a connection is not shared.

    A ``read_only`` unit of work takes no lock and changes nothing: on SQLite its transaction is
    deferred (no write lock, so it never queues behind a writer nor holds one up); on
    PostgreSQL it is READ ONLY, with a statement timeout of ``read_timeout_seconds``. Its
    ``get_for_update``, ``add``, ``save`` and ``commit`` raise RuntimeError at once.
    """

    accounts: SqlAccountRepository
    transactions: SqlTransactionRepository
    api_keys: SqlApiKeyRepository
    events: SqlEventRepository
    journal: SqlJournalRepository
    idempotency: SqlIdempotencyRepository

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        read_only: bool = False,
        read_timeout_seconds: float = READ_TIMEOUT_SECONDS,
        fallback: AsyncEngine | None = None,
        fallback_check: TextClause | None = None,
        observer: StoreObserver = UNOBSERVED,
    ) -> None:
        if read_timeout_seconds <= 0:
            raise ValueError(f"read_timeout_seconds is above 0, not {read_timeout_seconds!r}.")
        if fallback is not None and not read_only:
            raise ValueError("Only a read-only unit of work may fall back to another database.")
        self._engine = engine
        self._fallback = fallback
        self._fallback_check = fallback_check
        self._observer = observer
        self._read_only = read_only
        self._read_timeout_ms = max(1, round(read_timeout_seconds * 1000))
        self._connection: AsyncConnection | None = None

    @property
    def read_only(self) -> bool:
        return self._read_only

    @property
    def connection(self) -> AsyncConnection:
        """The open unit of work's connection, for statements of the adapter's own."""
        return self._open_connection()

    async def __aenter__(self) -> Self:
        if self._connection is not None:
            raise RuntimeError("This unit of work is already open; make one per use.")
        try:
            connection = await self._open(self._engine)
        except StorageUnavailable:
            if self._fallback is None:
                raise
            connection = await self._open(self._fallback, self._fallback_check)
        self._connection = connection
        self.accounts = SqlAccountRepository(connection, read_only=self._read_only)
        self.transactions = SqlTransactionRepository(connection, read_only=self._read_only)
        self.api_keys = SqlApiKeyRepository(connection, read_only=self._read_only)
        self.events = SqlEventRepository(connection, read_only=self._read_only)
        self.journal = SqlJournalRepository(connection)
        self.idempotency = SqlIdempotencyRepository(connection, read_only=self._read_only)
        return self

    async def _open(self, engine: AsyncEngine, check: TextClause | None = None) -> AsyncConnection:
        """A connection of ``engine`` with this unit's transaction begun (and ``check`` true)."""
        with storage_errors():
            connection = await connect_observed(engine, self._observer)
        try:
            with storage_errors():
                await self._begin(connection)
                acceptable = True if check is None else (await connection.scalar(check))
            if not acceptable:
                raise StorageUnavailable(
                    "The primary database does not answer, and the standby has not yet applied "
                    "all it received from it."
                )
        except BaseException:
            await _close_quietly(connection)
            raise
        return connection

    async def _begin(self, connection: AsyncConnection) -> None:
        if not self._read_only:
            await connection.begin()
            return
        if connection.dialect.name == "sqlite":
            # The execution option lasts until the connection goes back to the pool.
            await connection.execution_options(**{BEGIN_MODE_OPTION: "DEFERRED"})
            await connection.begin()
            return
        # postgresql_readonly makes the driver's BEGIN a "BEGIN READ ONLY"; the pool resets it.
        await connection.execution_options(postgresql_readonly=True)
        await connection.begin()
        await connection.execute(text(f"SET LOCAL statement_timeout = {self._read_timeout_ms}"))

    async def commit(self) -> None:
        if self._read_only:
            raise RuntimeError("A read-only unit of work has nothing to commit.")
        with storage_errors():
            await self._open_connection().commit()

    async def add_postings(
        self,
        transactions: Sequence[Transaction],
        accounts: Sequence[Account],
        events: Sequence[Event],
    ) -> None:
        """In as few statements as the database allows (``sql/postings.py``): one on
        PostgreSQL."""
        if self._read_only:
            raise RuntimeError("add_postings changes the ledger: not in a read-only unit of work.")
        await write_postings(self._open_connection(), transactions, accounts, events)

    async def rollback(self) -> None:
        connection = self._open_connection()
        if connection.in_transaction():
            with storage_errors():
                await connection.rollback()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        connection = self._open_connection()
        try:
            await self.rollback()
        except StorageUnavailable:
            # The error that ended the block says more than the failed rollback after it.
            if exc is None:
                raise
        finally:
            self._connection = None
            await _close_quietly(connection)

    def _open_connection(self) -> AsyncConnection:
        if self._connection is None:
            raise RuntimeError("Use the unit of work inside 'async with'.")
        return self._connection


async def _close_quietly(connection: AsyncConnection) -> None:
    """Hands the connection back to the pool, which discards it if it is broken."""
    try:
        with storage_errors():
            await connection.close()
    except StorageUnavailable:
        pass
