"""The database URLs people write become the async-driver URLs the store uses."""

from __future__ import annotations

import pytest

from bank_adapters.sql import async_database_url
from bank_adapters.sql.engine import create_engine


@pytest.mark.parametrize(
    ("given", "driver", "database"),
    [
        ("sqlite:///bank.db", "sqlite+aiosqlite", "bank.db"),
        ("sqlite:///data/bank.db", "sqlite+aiosqlite", "data/bank.db"),
        ("sqlite:////var/lib/bank/bank.db", "sqlite+aiosqlite", "/var/lib/bank/bank.db"),
        ("sqlite+aiosqlite:///bank.db", "sqlite+aiosqlite", "bank.db"),
        ("postgresql://postgres@127.0.0.1:5432/test", "postgresql+asyncpg", "test"),
        ("postgres://postgres@db/bank", "postgresql+asyncpg", "bank"),
        ("postgresql+asyncpg://postgres@db/bank", "postgresql+asyncpg", "bank"),
    ],
)
def test_known_urls_name_the_async_driver(given: str, driver: str, database: str) -> None:
    url = async_database_url(given)

    assert (url.drivername, url.database) == (driver, database)


def test_credentials_host_port_and_options_are_kept() -> None:
    url = async_database_url("postgres://ledger:p%40ss%3Aword@db.internal:6432/bank?ssl=require")

    assert (url.username, url.password, url.host, url.port) == (
        "ledger",
        "p@ss:word",
        "db.internal",
        6432,
    )
    assert dict(url.query) == {"ssl": "require"}
    assert url.render_as_string(hide_password=False) == (
        "postgresql+asyncpg://ledger:p%40ss%3Aword@db.internal:6432/bank?ssl=require"
    )


@pytest.mark.parametrize(
    "given",
    [
        "mysql://root@localhost/bank",
        "postgresql+psycopg2://postgres@localhost/bank",
        "sqlite://",
        "sqlite:///:memory:",
        "memory://",
        "not a url",
        "postgresql://postgres@db/bank?pooler=pgpool",
        "postgresql://postgres@db/bank?pooler=pgbouncer&pooler=pgbouncer",
        "sqlite:///bank.db?pooler=pgbouncer",
    ],
)
def test_other_urls_are_refused_with_a_reason(given: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        async_database_url(given)


@pytest.mark.parametrize(
    ("given", "hosts", "rendered"),
    [
        (
            "postgresql://ledger@h1:5432,h2:5433/bank",
            ("h1:5432", "h2:5433"),
            "postgresql+asyncpg://ledger@/bank?host=h1%3A5432&host=h2%3A5433",
        ),
        (
            "postgres://ledger:p%40ss@h1,h2:6432/bank?target_session_attrs=read-write",
            ("h1", "h2:6432"),
            "postgresql+asyncpg://ledger:p%40ss@/bank?host=h1&host=h2%3A6432"
            "&target_session_attrs=read-write",
        ),
    ],
)
def test_libpqs_list_of_hosts_becomes_repeated_host_parameters(
    given: str, hosts: tuple[str, ...], rendered: str
) -> None:
    url = async_database_url(given)

    assert url.query["host"] == hosts
    assert url.render_as_string(hide_password=False) == rendered


async def test_pooler_is_read_and_not_handed_to_the_driver() -> None:
    """``pooler=pgbouncer`` (bank_adapters.sql.pooler) changes how the engine connects; asyncpg,
    which would refuse an argument it does not know, never sees it."""
    url = "postgresql://ledger@pgbouncer:6432/bank?pooler=pgbouncer&ssl=require"
    engine = create_engine(url)
    try:
        assert dict(engine.url.query) == {"ssl": "require"}
        assert async_database_url(url).query["pooler"] == "pgbouncer"
    finally:
        await engine.dispose()
