"""The database URLs people write, turned into the async-driver URLs SQLAlchemy needs."""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import quote

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from bank_adapters.sql.pooler import pooler_of

_ASYNC_DRIVERS: Final = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}
_IN_MEMORY_SQLITE: Final = ("", ":memory:")
_LIBPQ_HOST_LIST: Final = re.compile(
    r"^(?P<scheme>[^:/?#]+)://(?P<userinfo>[^@/?#]*@)?(?P<hosts>[^@/?#]*,[^/?#]*)(?P<rest>[/?].*)?$"
)
"""``scheme://[user[:password]@]h1[:p1],h2[:p2][/database][?query]``: libpq's form, which the
failover tools print."""


def async_database_url(url: str | URL) -> URL:
    """``sqlite:///path.db`` -> ``sqlite+aiosqlite:///path.db`` and ``postgresql://`` (or
    ``postgres://``) -> ``postgresql+asyncpg://``; a URL already naming these drivers is kept.

    Raises ValueError for any other database or driver, for an in-memory SQLite database (each
    pooled connection would see its own empty database: use the in-memory store instead), and
    for a ``pooler=`` other than ``pgbouncer`` on PostgreSQL (``bank_adapters.sql.pooler``).
    """
    try:
        parsed = make_url(_hosts_as_parameters(url) if isinstance(url, str) else url)
    except (ArgumentError, ValueError) as error:
        raise ValueError(f"Not a database URL: {error}") from None
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    if driver is None:
        raise ValueError(
            f"Unsupported database URL scheme {parsed.drivername!r}: "
            "use sqlite:///path/to/file.db or postgresql://user@host:port/database."
        )
    if driver.startswith("sqlite") and (parsed.database or "") in _IN_MEMORY_SQLITE:
        raise ValueError("A SQLite URL names a database file, e.g. sqlite:///bank.db.")
    database_url = parsed.set(drivername=driver)
    pooler_of(database_url)
    return database_url


def _hosts_as_parameters(url: str) -> str:
    """libpq's list of hosts (``postgresql://u@h1:5432,h2:5433/db``), which SQLAlchemy cannot
    parse, as the repeated ``host`` parameters it takes for the same thing
    (``postgresql://u@/db?host=h1:5432&host=h2:5433``). The driver tries them in order;
    ``target_session_attrs=read-write`` then picks the primary."""
    match = _LIBPQ_HOST_LIST.match(url)
    if match is None:
        return url
    hosts = match["hosts"].split(",")
    if not all(hosts):
        raise ValueError("a list of hosts has an empty one")
    path, _, query = (match["rest"] or "/").partition("?")
    parameters = "&".join(f"host={quote(host, safe=':[]')}" for host in hosts)
    return f"{match['scheme']}://{match['userinfo'] or ''}{path}?{parameters}" + (
        f"&{query}" if query else ""
    )
