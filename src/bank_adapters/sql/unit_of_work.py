"""A unit of work in SQL: one connection and one database transaction."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bank_adapters.sql.accounts import SqlAccountRepository
from bank_adapters.sql.errors import storage_errors
from bank_adapters.sql.transactions import SqlTransactionRepository
from bank_domain.errors import StorageUnavailable
from bank_domain.ports import UnitOfWork


class SqlUnitOfWork(UnitOfWork):
    """``async with`` takes a pooled connection and begins its transaction (on SQLite, the write
    transaction); ``commit()`` ends it durably; leaving the block any other way rolls it back
    and hands the connection back. Serves one task: a connection is not shared."""

    accounts: SqlAccountRepository
    transactions: SqlTransactionRepository

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None

    async def __aenter__(self) -> Self:
        if self._connection is not None:
            raise RuntimeError("This unit of work is already open; make one per use.")
        with storage_errors():
            connection = await self._engine.connect()
        try:
            with storage_errors():
                await connection.begin()
        except BaseException:
            await _close_quietly(connection)
            raise
        self._connection = connection
        self.accounts = SqlAccountRepository(connection)
        self.transactions = SqlTransactionRepository(connection)
        return self

    async def commit(self) -> None:
        with storage_errors():
            await self._open_connection().commit()

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
