"""One pooled connection kept open for a hot path, handed out as the asyncpg driver connection.

Taking a connection from the pool for every use costs a checkout and a ping; on the posting
path that costs more than the statements themselves. A kept connection is taken once, used by
one task at a time (its owner serializes), and dropped after a failure, so that the next use
takes a fresh one and the store recovers from an outage by itself.
"""

from __future__ import annotations

import contextlib
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


class KeptConnection:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None

    async def driver(self) -> Any:
        """The asyncpg connection, taken from the pool on first use or after a drop."""
        if self._connection is None:
            self._connection = await self._engine.connect()
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
        """Hands the connection back to the pool."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()
