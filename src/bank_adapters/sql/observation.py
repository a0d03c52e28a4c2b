"""What the SQL store tells an observer about its own work: the size of each group of postings
it commits, and how long each taking of a connection from the pool waited. The web layer's
metrics implement it (bank_web.metrics); the store imports no metrics library."""

from __future__ import annotations

import time
from typing import Final, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


class StoreObserver(Protocol):
    def group_committed(self, postings: int) -> None:
        """A group of the grouped posting path committed ``postings`` new transactions."""

    def connection_waited(self, seconds: float) -> None:
        """Taking a connection from the pool took ``seconds``: waiting for a free one, or
        opening a new one, and the pool's ping of it."""


class _Unobserved:
    def group_committed(self, postings: int) -> None:
        pass

    def connection_waited(self, seconds: float) -> None:
        pass


UNOBSERVED: Final[StoreObserver] = _Unobserved()


async def connect_observed(engine: AsyncEngine, observer: StoreObserver) -> AsyncConnection:
    """``engine.connect()``, its wait told to ``observer`` when it succeeds (a failure is
    told by the error it raises)."""
    started = time.perf_counter()
    connection = await engine.connect()
    observer.connection_waited(time.perf_counter() - started)
    return connection
