"""One pooled connection kept open for a hot path, handed out as the asyncpg driver connection.

Taking a connection from the pool for every use costs a checkout and a ping; on the posting
path that costs more than the statements themselves. A kept connection is taken once, used by
one task at a time (its owner serializes), and dropped after a failure, so that the next use
takes a fresh one and the store recovers from an outage by itself.

Skipping the pool also skips its pre-ping: a connection the database dropped while it sat idle
(a restart, an idle timeout, ``pg_terminate_backend``) is found out by the first statement of
its next use. ``started`` runs that statement, and, on such a connection only, runs it again
once on a fresh one, so that nobody fails for it. And it skips the pool's recycling: so a kept
connection goes back to the pool once it has been kept for ``hand_back_after_seconds``, and the
next use checks one out again, with the pool's ping and recycle.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bank_adapters.sql.observation import UNOBSERVED, StoreObserver, connect_observed
from bank_adapters.sql.pooler import transaction_settings

DROPPED_CONNECTION_ERRORS: Final = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.AdminShutdownError,
    OSError,
)
"""What the first statement on a connection the database dropped raises."""

HAND_BACK_AFTER_SECONDS: Final = 60.0
"""How long a connection is kept before it goes back to the pool: a checkout a minute costs
nothing on the hot path, and the pool's recycle (and ping) then reach kept connections too."""

REUSE_PLANS: Final = "SET plan_cache_mode = auto; DISCARD PLANS"
"""Lets PostgreSQL reuse a prepared statement's generic plan, made on the tables as they are now."""
PLAN_EVERY_EXECUTION: Final = "RESET plan_cache_mode"
"""Back to the engine's ``force_custom_plan`` (bank_adapters.sql.engine), before the pool has it."""

_Result = TypeVar("_Result")


class KeptConnection:
    """``reuse_plans``: while kept, the connection lets PostgreSQL reuse generic plans (``auto``)
    instead of planning every execution, as the engine's connections do (``force_custom_plan``,
    whose docstring says why). Only for statements whose best plan the growth of a table cannot
    change much within ``hand_back_after_seconds``: every take starts with ``DISCARD PLANS``, so
    a plan is never older than that, and is made on the tables as they are at the time.

    Behind a pooler (``bank_adapters.sql.pooler``) no session setting would stay with the
    connection, so ``reuse_plans`` does nothing there, and every transaction begins by setting
    the timeouts for itself (``begin``, ``read``)."""

    def __init__(
        self,
        engine: AsyncEngine,
        hand_back_after_seconds: float = HAND_BACK_AFTER_SECONDS,
        *,
        reuse_plans: bool = False,
        observer: StoreObserver = UNOBSERVED,
    ) -> None:
        self._engine = engine
        self._observer = observer
        self._hand_back_after_seconds = hand_back_after_seconds
        self._transaction_settings = transaction_settings(engine)
        self._reuse_plans = reuse_plans and self._transaction_settings is None
        self._connection: AsyncConnection | None = None
        self._taken_at = 0.0

    async def driver(self) -> Any:
        """The asyncpg connection, taken from the pool on first use, after a drop, or once the
        one kept has been kept long enough."""
        await self._take()
        return await self._driver_connection()

    async def started(self, first_statement: Callable[[Any], Awaitable[_Result]]) -> _Result:
        """Runs ``first_statement`` on the driver connection; it must be one that is safe to
        run twice (a BEGIN, a read). A connection kept from an earlier use that turns out
        dropped is replaced by a fresh one from the pool (which pings it), and run on once more."""
        fresh = await self._take()
        try:
            return await first_statement(await self._driver_connection())
        except DROPPED_CONNECTION_ERRORS:
            if fresh:
                raise
            await self.drop()
        return await first_statement(await self.driver())

    async def begin(self, driver: Any) -> Any:
        """Begins a transaction on the driver connection (``driver()``'s) and returns asyncpg's
        transaction object; behind a pooler, the transaction first sets its own timeouts."""
        transaction = driver.transaction()
        await transaction.start()
        if self._transaction_settings is not None:
            await driver.execute(self._transaction_settings)
        return transaction

    async def read(self, sql: str, *arguments: Any) -> list[Any]:
        """The rows of one read on the driver connection. Behind a pooler it runs in a
        transaction of its own: asyncpg prepares a statement and runs it in two round trips, and
        between two transactions the pooler may hand the next one to another server connection."""
        driver = await self.driver()
        if self._transaction_settings is None:
            rows: list[Any] = await driver.fetch(sql, *arguments)
        else:
            async with driver.transaction():
                await driver.execute(self._transaction_settings)
                rows = await driver.fetch(sql, *arguments)
        return rows

    async def _take(self) -> bool:
        """Checks a connection out of the pool unless one is kept; returns whether it did."""
        if (
            self._connection is not None
            and time.monotonic() - self._taken_at >= self._hand_back_after_seconds
        ):
            await self.close()
        if self._connection is not None:
            return False
        self._connection = await connect_observed(self._engine, self._observer)
        self._taken_at = time.monotonic()
        if self._reuse_plans:
            try:
                await (await self._driver_connection()).execute(REUSE_PLANS)
            except BaseException:
                await self.drop()
                raise
        return True

    async def _driver_connection(self) -> Any:
        assert self._connection is not None
        raw = await self._connection.get_raw_connection()
        return raw.driver_connection

    async def drop(self) -> None:
        """After a failure: the connection may be broken, so it is discarded, not pooled."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.invalidate()
                await connection.close()

    async def close(self) -> None:
        """Hands the connection back to the pool, as the pool gave it."""
        if self._reuse_plans and self._connection is not None:
            try:
                await (await self._driver_connection()).execute(PLAN_EVERY_EXECUTION)
            except Exception:
                await self.drop()  # not pooled with settings of its own
                return
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()
