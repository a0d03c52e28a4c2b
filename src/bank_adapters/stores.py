"""Opening a store from a URL: ``memory://``, ``sqlite:///path`` or ``postgresql://...``."""

from __future__ import annotations

from typing import Protocol

from bank_adapters.memory import InMemoryStore
from bank_domain.ports import PostingUnitOfWork, UnitOfWork


class Store(Protocol):
    """What the service needs of a store beyond its units of work."""

    def unit_of_work(self, *, read_only: bool = False) -> UnitOfWork: ...

    def posting_unit_of_work(self) -> PostingUnitOfWork:
        """A unit of work for PostTransaction alone; a store may serve it more leanly."""

    async def ping(self) -> None:
        """Raises StorageUnavailable when the store does not answer."""

    async def dispose(self) -> None: ...


MEMORY_URL = "memory://"


def open_store(url: str, read_timeout_seconds: float | None = None) -> Store:
    """``read_timeout_seconds`` bounds a read's statements on PostgreSQL (None: the default)."""
    if url.strip() == MEMORY_URL:
        return InMemoryStore()
    from bank_adapters.sql import open_sql_store

    if read_timeout_seconds is None:
        return open_sql_store(url)
    return open_sql_store(url, read_timeout_seconds=read_timeout_seconds)


def migrate(url: str) -> None:
    """Brings a SQL database to the newest schema; memory needs none."""
    if url.strip() == MEMORY_URL:
        return
    from bank_adapters.sql import migrate_to_newest

    migrate_to_newest(url)
