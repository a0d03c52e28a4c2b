"""Statements prepared while a table is small still find rows by index once it has grown.

PostgreSQL plans a prepared statement anew for its first five executions, then may settle on a
generic plan, made with the statistics of that moment, and keep it for the life of the
connection. The store keeps connections for hours (the grouped posting path keeps its own), so a
plan made while ``transactions`` held a thousand rows (a sequential scan, the cheapest there)
would still scan the table when it holds millions. Measured: one server's postings with their own
``transaction_id`` fell from 1,700 to 620 a second within six 15 s loads (bench/README.md, soak).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from bank_adapters.sql import SqlStore
from bank_adapters.sql.engine import PoolSettings
from bank_adapters.sql.grouped.driver_statements import (
    GET_TRANSACTIONS,
    KEYS_KEPT,
    LOCK_ACCOUNTS,
    TRY_KEY_LOCKS,
)
from bank_adapters.sql.grouped.kept_connection import KeptConnection
from bank_adapters.sql.idempotency import ADVISORY_LOCK_SPACE

pytestmark = pytest.mark.postgres

SMALL, GROWN = 1_000, 60_000
ACCOUNT = "1000000001"


async def driver_of(connection: AsyncConnection) -> Any:
    """The asyncpg connection under a SQLAlchemy one (asyncpg has no types: Any)."""
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None, "an open connection has its driver's connection"
    return driver


@asynccontextmanager
async def kept_driver(store: SqlStore) -> AsyncIterator[Any]:
    """The connection the grouped posting path keeps (its look-ups and writers)."""
    kept = KeptConnection(store.engine)
    try:
        yield await kept.driver()
    finally:
        await kept.close()


@asynccontextmanager
async def pooled_driver(store: SqlStore) -> AsyncIterator[Any]:
    """A connection from the pool, as every unit of work takes one."""
    async with store.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        yield raw.driver_connection


async def add_transactions(driver: Any, first: int, last: int) -> None:
    await driver.execute(
        """INSERT INTO transactions (transaction_id, account_number, amount_cents,
            transaction_type, description, status, "timestamp", updated_at, balance_after_cents)
        SELECT 'plan-' || n, $1, 1, 'deposit', NULL, 'success', now(), now(), 1
        FROM generate_series($2::int, $3::int) AS n""",
        ACCOUNT,
        first,
        last,
    )


def scans(plan: dict[str, Any]) -> list[str]:
    """The node types of a plan, depth first."""
    return [plan["Node Type"], *(node for child in plan.get("Plans", []) for node in scans(child))]


def nodes_of(explained: Any) -> list[str]:
    """The node types of an ``EXPLAIN (FORMAT JSON)`` answer, depth first."""
    # SQLAlchemy's asyncpg dialect decodes json on its connections; a bare one would not.
    plan = json.loads(explained) if isinstance(explained, str) else explained
    return scans(plan[0]["Plan"])


async def restore_autovacuum(store: SqlStore, table: str) -> None:
    """Undoes a test's ``ALTER TABLE ... SET (autovacuum_enabled = off)``."""
    async with store.engine.begin() as cleanup:
        await (await driver_of(cleanup)).execute(f"ALTER TABLE {table} RESET (autovacuum_enabled)")


@pytest.mark.parametrize("connection", [kept_driver, pooled_driver], ids=["kept", "pooled"])
async def test_a_look_up_prepared_on_a_small_table_uses_the_index_once_it_has_grown(
    postgres_store: SqlStore,
    connection: Callable[[SqlStore], AbstractAsyncContextManager[Any]],
) -> None:
    async with postgres_store.engine.begin() as setup:
        driver = await driver_of(setup)
        await driver.execute(
            """INSERT INTO accounts VALUES ($1, 'Ada Lovelace', 'checking', 'active', 100,
                now(), now(), 1, NULL)""",
            ACCOUNT,
        )
        await add_transactions(driver, 1, SMALL)
        # No analyze in the middle of the test: a new one would make the plan anew and hide it.
        await driver.execute("ALTER TABLE transactions SET (autovacuum_enabled = off)")
        await driver.execute("ANALYZE transactions")
    try:
        async with connection(postgres_store) as driver:
            # The store's own statement, named at the SQL level so that EXPLAIN can run it.
            await driver.execute(f"PREPARE look_up AS {GET_TRANSACTIONS.sql}")
            ids = "{" + ",".join(f"plan-{n}" for n in range(1, 33)) + "}"  # a full batch
            for _ in range(6):  # past the first five, after which PostgreSQL may go generic
                await driver.execute(f"EXECUTE look_up('{ids}')")
            async with postgres_store.engine.begin() as grow:
                await add_transactions(await driver_of(grow), SMALL + 1, GROWN)
            # Plans made for the grown table cost more, and once their mean passes the cost that
            # the generic plan had on the small table (kept, never made anew), it takes over.
            for _ in range(10):
                await driver.execute(f"EXECUTE look_up('{ids}')")

            explained = await driver.fetchval(f"EXPLAIN (FORMAT JSON) EXECUTE look_up('{ids}')")
            await driver.execute("DEALLOCATE look_up")
    finally:
        await restore_autovacuum(postgres_store, "transactions")

    nodes = nodes_of(explained)
    assert "Seq Scan" not in nodes, f"{GROWN:,} rows read one by one for 32 ids: {nodes}"


@asynccontextmanager
async def plan_reusing_writer(
    url: str, store: SqlStore, table: str, small_rows: str
) -> AsyncIterator[tuple[SqlStore, KeptConnection]]:
    """A writer that reuses generic plans, on a store of one pooled connection, over ``table``
    with ``small_rows`` added, analyzed, and its autovacuum off (its statistics stay those of
    the small table); the store closed and autovacuum back on after."""
    one_connection = SqlStore.from_url(url, PoolSettings(size=1, max_overflow=0))
    writer = KeptConnection(one_connection.engine, reuse_plans=True)
    try:
        async with store.engine.begin() as setup:
            driver = await driver_of(setup)
            await driver.execute(small_rows)
            await driver.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = off)")
            await driver.execute(f"ANALYZE {table}")
        yield one_connection, writer
    finally:
        await writer.close()
        await one_connection.dispose()
        await restore_autovacuum(store, table)


def add_accounts(first: int, last: int) -> str:
    return f"""INSERT INTO accounts
        SELECT n::text, 'Plan ' || n, 'checking', 'active', 0, now(), now(), 1, NULL
        FROM generate_series({first}, {last}) AS n"""


async def test_a_writer_reuses_plans_while_kept_and_makes_them_anew_at_each_take(
    postgres_store_url: str, postgres_store: SqlStore
) -> None:
    """The grouped path's writers let PostgreSQL reuse generic plans (planning each of a
    group's executions cost more than running them), so a plan may be as old as the writer's
    take: each take discards the plans made before it, and a pooled connection plans every
    execution again once the writer hands it back."""
    first, small, grown = 2_000_000_001, 2_000_000_010, 2_000_060_000
    numbers = "{" + ",".join(str(n) for n in range(first, first + 4)) + "}"
    async with plan_reusing_writer(
        postgres_store_url, postgres_store, "accounts", add_accounts(first, small)
    ) as (one_connection, writer):
        driver = await writer.driver()
        assert await driver.fetchval("SHOW plan_cache_mode") == "auto"
        await driver.execute(f"PREPARE lock_accounts AS {LOCK_ACCOUNTS.sql}")
        for _ in range(6):  # past the first five: from here the generic plan is reused
            await driver.execute(f"BEGIN; EXECUTE lock_accounts('{numbers}'); COMMIT")
        async with postgres_store.engine.begin() as grow:
            await (await driver_of(grow)).execute(add_accounts(small + 1, grown))
        stale = await driver.fetchval(f"EXPLAIN (FORMAT JSON) EXECUTE lock_accounts('{numbers}')")

        await writer.close()  # handed back: the next take is a new one, on the same connection
        async with one_connection.engine.connect() as pooled:
            assert await (await driver_of(pooled)).fetchval("SHOW plan_cache_mode") == (
                "force_custom_plan"
            )
        driver = await writer.driver()
        fresh = await driver.fetchval(f"EXPLAIN (FORMAT JSON) EXECUTE lock_accounts('{numbers}')")
        await driver.execute("DEALLOCATE lock_accounts")

    assert "Seq Scan" in nodes_of(stale), "the generic plan made on the small table is reused"
    assert "Seq Scan" not in nodes_of(fresh), f"made anew at the take: {nodes_of(fresh)}"


def add_kept_answers(first: int, last: int) -> str:
    return f"""INSERT INTO idempotency_keys
        SELECT 'master', 'plan-' || n, 'f', 201, '[]', '\\x00'::bytea, now()
        FROM generate_series({first}, {last}) AS n"""


async def test_a_groups_check_of_kept_answers_is_planned_for_the_table_as_it_is(
    postgres_store_url: str, postgres_store: SqlStore
) -> None:
    """A writer reuses generic plans, but kept answers grow by one a keyed posting: the group's
    check of its keys (KEYS_KEPT) must not keep a plan made while they were few. The statement
    that takes the keys' locks makes the rest of the group's transaction plan every statement
    for its parameters, and the writer's session reuses plans again after it."""
    keys = ("{master,master}", "{plan-1,plan-2}")
    explain = f"EXPLAIN (FORMAT JSON) EXECUTE keys_kept('{keys[0]}', '{keys[1]}')"
    async with plan_reusing_writer(
        postgres_store_url, postgres_store, "idempotency_keys", add_kept_answers(1, 10)
    ) as (_, writer):
        driver = await writer.driver()
        await driver.execute(f"PREPARE keys_kept AS {KEYS_KEPT.sql}")
        for _ in range(6):  # past the first five: from here the generic plan is reused
            await driver.execute(f"BEGIN; EXECUTE keys_kept('{keys[0]}', '{keys[1]}'); COMMIT")
        async with postgres_store.engine.begin() as grow:
            await (await driver_of(grow)).execute(add_kept_answers(11, 60_000))
        async with driver.transaction():
            stale = await driver.fetchval(explain)
            await driver.fetch(TRY_KEY_LOCKS.sql, ADVISORY_LOCK_SPACE, [1, 2])
            fresh = await driver.fetchval(explain)
        mode_after = await driver.fetchval("SHOW plan_cache_mode")
        await driver.execute("DEALLOCATE keys_kept")

    assert "Seq Scan" in nodes_of(stale), "the generic plan made on the small table is reused"
    assert "Seq Scan" not in nodes_of(fresh), f"planned for 60,000 answers: {nodes_of(fresh)}"
    assert mode_after == "auto", "the writer's session reuses plans again after the group"
