"""The database URLs people write, turned into the async-driver URLs SQLAlchemy needs."""

from __future__ import annotations

from typing import Final

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

_ASYNC_DRIVERS: Final = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}
_IN_MEMORY_SQLITE: Final = ("", ":memory:")


def async_database_url(url: str | URL) -> URL:
    """``sqlite:///path.db`` -> ``sqlite+aiosqlite:///path.db`` and ``postgresql://`` (or
    ``postgres://``) -> ``postgresql+asyncpg://``; a URL already naming these drivers is kept.

    Raises ValueError for any other database or driver, and for an in-memory SQLite database:
    each pooled connection would see its own empty database (use the in-memory store instead).
    """
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise ValueError(f"Not a database URL: {error}") from None
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    if driver is None:
        raise ValueError(
            f"Unsupported database URL scheme {parsed.drivername!r}: "
            "use sqlite:///path/to/file.db or postgresql://user@host:port/database."
        )
    if driver.startswith("sqlite") and (parsed.database or "") in _IN_MEMORY_SQLITE:
        raise ValueError("A SQLite URL names a database file, e.g. sqlite:///bank.db.")
    return parsed.set(drivername=driver)
