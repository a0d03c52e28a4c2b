"""The ledger through PgBouncer in transaction mode (``?pooler=pgbouncer``,
``bank_adapters.sql.pooler``): a private PgBouncer with a small pool in front of the test
server.

- Two server processes and 16 concurrent clients through it, with every kind of write (the
  grouped postings, with and without their own ids, idempotency keys, transfers, batches, holds
  captured and cancelled): every answer as expected, every cent where it belongs, each journal
  sound, each change once in the event feed, and never more server connections than the pool.
- The timeouts, which PgBouncer would refuse as startup parameters, still hold: each
  transaction sets them for itself, on every path (units of work, the grouped writers, their
  look-ups), and they end with it (no other client of the pool gets them).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bank_adapters.sql import SqlStore, engine, upgrade_to_head
from bank_adapters.sql.grouped.kept_connection import KeptConnection
from bank_domain import Ledger, OpenAccountCommand, PostTransactionCommand
from bank_domain.errors import StorageUnavailable
from tests.integration.api.helpers import exact, open_account
from tests.integration.api.test_journal_api import entries_of
from tests.integration.faults.ledger_checks import all_transactions, effect_of
from tests.support.feeds import FEED_WAIT_SECONDS
from tests.support.journal import assert_chain_recomputes
from tests.support.keys import AUTH
from tests.support.pgbouncer import POOL_SIZE, PgBouncer, running_pgbouncer
from tests.support.postgres import postgres_server_url, throwaway_database
from tests.support.server import ServerProcess, assert_clean_log

pytestmark = pytest.mark.postgres

CLIENTS: Final = 16
ROUNDS: Final = 2
ACCOUNTS: Final = 4
OPENING: Final = Decimal("10000.00")
LOCK_TIMEOUT: Final = "300ms"
STATEMENT_TIMEOUT: Final = "700ms"
BOUND_SECONDS: Final = 8.0
"""Far below the driver's own command timeout (20 s): a wait cut off within this bound was cut
off by PostgreSQL's timeout."""


@pytest.fixture(scope="module")
def pgbouncer() -> Iterator[PgBouncer]:
    with running_pgbouncer(postgres_server_url()) as bouncer:
        yield bouncer


@pytest.fixture
def database_url() -> Iterator[str]:
    """A fresh database on the test server, reached directly (not through PgBouncer)."""
    with throwaway_database(postgres_server_url(), "bank_pgbouncer") as url:
        yield url


# --- The API through PgBouncer ----------------------------------------------------------------


class Expected:
    """What the clients' answers say each account must hold."""

    def __init__(self, numbers: list[str]) -> None:
        self.balances = dict.fromkeys(numbers, OPENING)

    def add(self, number: str, amount: str) -> None:
        self.balances[number] += Decimal(amount)


def _one_client(base_url: str, index: int, numbers: list[str]) -> list[tuple[str, Any]]:
    """Every kind of write, in turn, on the accounts; returns (account, amount) per effect."""
    effects: list[tuple[str, Any]] = []
    mine, next_one, other = (numbers[(index + k) % ACCOUNTS] for k in (0, 1, 2))
    with httpx.Client(base_url=base_url, timeout=60, headers=AUTH) as http:

        def ok(response: httpx.Response, *statuses: int) -> dict[str, Any]:
            assert response.status_code in statuses, response.text
            answer: dict[str, Any] = exact(response)
            return answer

        def posting(number: str, amount: str, kind: str, **fields: Any) -> httpx.Response:
            body = {"account_number": number, "amount": amount, "transaction_type": kind}
            return http.post("/v1/transactions", json={**body, **fields})

        for round_ in range(ROUNDS):
            tag = f"pgb-{index}-{round_}"
            # The grouped path, the database making the id.
            ok(posting(mine, "3.00", "deposit"), 201)
            effects.append((mine, "3.00"))
            # The grouped path with the client's id (its batched look-up), then a retry.
            ok(posting(mine, "1.00", "withdrawal", transaction_id=f"{tag}-own"), 201)
            ok(posting(mine, "1.00", "withdrawal", transaction_id=f"{tag}-own"), 200)
            effects.append((mine, "-1.00"))
            # An idempotency key: the ordinary unit of work, its advisory lock; then a replay.
            keyed = {"idempotency-key": f"{tag}-key"}
            deposit = {"account_number": other, "amount": "2.00", "transaction_type": "deposit"}
            first = http.post("/v1/transactions", json=deposit, headers=keyed)
            again = http.post("/v1/transactions", json=deposit, headers=keyed)
            assert ok(first, 201) == ok(again, 201)
            assert again.headers["idempotent-replayed"] == "true"
            effects.append((other, "2.00"))
            # A transfer, both accounts locked in one unit of work.
            transfer = {"from_account": mine, "to_account": next_one, "amount": "5.00"}
            ok(http.post("/v1/transfers", json=transfer), 201)
            effects += [(mine, "-5.00"), (next_one, "5.00")]
            # A batch over two accounts.
            items = [
                {"account_number": next_one, "amount": "1.50", "transaction_type": "deposit"},
                {"account_number": other, "amount": "0.50", "transaction_type": "withdrawal"},
            ]
            ok(http.post("/v1/transactions/batch", json={"transactions": items}), 201)
            effects += [(next_one, "1.50"), (other, "-0.50")]
            # A hold captured in part, and one cancelled.
            for outcome in ("success", "cancelled"):
                hold_id = f"{tag}-hold-{outcome}"
                ok(
                    posting(mine, "4.00", "withdrawal", transaction_id=hold_id, status="pending"),
                    201,
                )
                change = {"status": outcome, **({"amount": "3.00"} if outcome == "success" else {})}
                ok(http.patch(f"/v1/transactions/{hold_id}", json=change), 200)
            effects.append((mine, "-3.00"))
    return effects


def _events_until(client: httpx.Client, count: int) -> list[dict[str, Any]]:
    """Follows the feed over HTTP, cursor after cursor, until ``count`` events in all have been
    read or FEED_WAIT_SECONDS are over (a transaction running anywhere on the shared server
    holds later events back until it ends: delayed, never lost), then returns every one read."""
    events: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 500}
    deadline = time.monotonic() + FEED_WAIT_SECONDS
    while len(events) < count and time.monotonic() < deadline:
        page = exact(client.get("/v1/events", params=params))
        events += page["items"]
        params["cursor"] = page["next_cursor"]
        if not page["items"]:
            time.sleep(0.1)
    return events


async def _server_connections(database_url: str) -> int:
    """The connections to the database that the API made (through PgBouncer or not)."""
    connection = await asyncpg.connect(database_url, timeout=10)
    try:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = 'bank-ledger'"
        )
        return count
    finally:
        await connection.close()


def test_two_workers_through_pgbouncer_keep_every_cent_and_every_event(
    pgbouncer: PgBouncer, database_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    with (
        ServerProcess(pgbouncer.url_for(database_url), log, workers=2) as server,
        httpx.Client(base_url=server.base_url, timeout=60, headers=AUTH) as client,
    ):
        numbers = [
            open_account(client, initial_deposit=str(OPENING))["account_number"]
            for _ in range(ACCOUNTS)
        ]
        expected = Expected(numbers)
        with ThreadPoolExecutor(CLIENTS) as pool:
            runs = pool.map(
                _one_client,
                itertools.repeat(server.base_url),
                range(CLIENTS),
                itertools.repeat(numbers),
            )
            for number, amount in itertools.chain.from_iterable(runs):
                expected.add(number, amount)

        # Two workers keep 3 connections each for the grouped path alone, and more for their
        # units of work: the server saw no more than PgBouncer's pool.
        assert 0 < asyncio.run(_server_connections(database_url)) <= POOL_SIZE

        listed: dict[str, list[dict[str, Any]]] = {}
        for number in numbers:
            account = exact(client.get(f"/v1/accounts/{number}"))
            assert account["balance"] == expected.balances[number]
            assert account["available_balance"] == expected.balances[number]  # no hold left
            listed[number] = all_transactions(client, number)
            assert sum(map(effect_of, listed[number])) == expected.balances[number]
            assert_chain_recomputes(entries_of(client, number), expected.balances[number])
            verified = exact(client.get(f"/v1/accounts/{number}/verify"))
            assert verified["chain_intact"]
            assert verified["balance_matches"]

        stored = [item for items in listed.values() for item in items]
        amendments = CLIENTS * ROUNDS * 2
        events = _events_until(client, ACCOUNTS + len(stored) + amendments)
        assert len({event["event_id"] for event in events}) == len(events)
        posted = [e["data"]["transaction_id"] for e in events if e["type"] == "transaction.posted"]
        legs = [e["data"]["transaction_id"] for e in events if e["type"] == "transfer.posted"]
        assert sorted(posted) == sorted(i["transaction_id"] for i in stored if not i["transfer_id"])
        assert sorted(legs) == sorted(i["transaction_id"] for i in stored if i["transfer_id"])
        amended = [e for e in events if e["type"] == "transaction.amended"]
        assert len(amended) == amendments
    assert_clean_log(log)


# --- The timeouts through PgBouncer ---------------------------------------------------------


@pytest.fixture
async def pooled_store(
    pgbouncer: PgBouncer, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[SqlStore]:
    """A store through PgBouncer whose timeouts are short enough to wait for (the engine reads
    them when it is made); migrated through PgBouncer too."""
    monkeypatch.setattr(engine, "POSTGRES_LOCK_TIMEOUT", LOCK_TIMEOUT)
    monkeypatch.setattr(engine, "POSTGRES_STATEMENT_TIMEOUT", STATEMENT_TIMEOUT)
    pooled = pgbouncer.url_for(database_url)
    await upgrade_to_head(pooled)
    store = SqlStore.from_url(pooled)
    try:
        yield store
    finally:
        await store.dispose()


async def _locked(database_url: str, account_number: str) -> asyncpg.Connection:
    """A direct connection holding the account's row lock in an open transaction."""
    connection = await asyncpg.connect(database_url, timeout=10)
    await connection.execute("BEGIN")
    await connection.execute(
        "SELECT 1 FROM accounts WHERE account_number = $1 FOR UPDATE", account_number
    )
    return connection


async def test_a_locked_account_times_out_through_pgbouncer_on_every_path(
    pooled_store: SqlStore, database_url: str
) -> None:
    ledger = Ledger(pooled_store.unit_of_work, postings=pooled_store.posting_unit_of_work)
    account = await ledger.open_account(OpenAccountCommand("Ada Lovelace", "checking"))
    number = account.number.value
    holder = await _locked(database_url, number)
    try:
        async with asyncio.timeout(BOUND_SECONDS):
            # The grouped path (its writer's SELECT ... FOR UPDATE).
            with pytest.raises(StorageUnavailable) as grouped:
                await ledger.post_transaction(PostTransactionCommand(number, "1.00", "deposit"))
            # An ordinary unit of work (an account's change).
            with pytest.raises(StorageUnavailable) as ordinary:
                async with pooled_store.unit_of_work() as uow:
                    await uow.accounts.get_for_update(account.number)
    finally:
        await holder.close()
    assert "lock timeout" in _causes(grouped.value)
    assert "lock timeout" in _causes(ordinary.value)
    await ledger.post_transaction(PostTransactionCommand(number, "1.00", "deposit"))
    assert (await ledger.get_account(number)).balance.amount == Decimal("1.00")


async def test_a_long_statement_is_cancelled_through_pgbouncer(pooled_store: SqlStore) -> None:
    async with asyncio.timeout(BOUND_SECONDS), pooled_store.engine.connect() as connection:
        with pytest.raises(DBAPIError, match="statement timeout"):
            await connection.execute(text("SELECT pg_sleep(5)"))


async def test_the_grouped_paths_transactions_set_their_timeouts_through_pgbouncer(
    pooled_store: SqlStore,
) -> None:
    kept = KeptConnection(pooled_store.engine, reuse_plans=True)
    try:
        driver = await kept.driver()
        transaction = await kept.begin(driver)
        assert await driver.fetchval("SHOW lock_timeout") == LOCK_TIMEOUT
        await transaction.rollback()
        [row] = await kept.read("SELECT current_setting('statement_timeout') AS timeout")
        assert row["timeout"] == STATEMENT_TIMEOUT
    finally:
        await kept.close()


async def test_no_setting_outlives_its_transaction_in_pgbouncers_pool(
    pgbouncer: PgBouncer, pooled_store: SqlStore, database_url: str
) -> None:
    ledger = Ledger(pooled_store.unit_of_work, postings=pooled_store.posting_unit_of_work)
    account = await ledger.open_account(OpenAccountCommand("Ada Lovelace", "checking"))
    await asyncio.gather(
        *(
            ledger.post_transaction(PostTransactionCommand(account.number.value, "1.00", "deposit"))
            for _ in range(20)
        )
    )
    await pooled_store.dispose()
    # As many transactions open at once as the pool has server connections: each of them.
    clients = [
        await asyncpg.connect(_through(pgbouncer, database_url), statement_cache_size=0, timeout=10)
        for _ in range(POOL_SIZE)
    ]
    try:
        for client in clients:
            await client.execute("BEGIN")
        settings = [
            await client.fetchrow(
                "SELECT current_setting('lock_timeout') AS lock,"
                " current_setting('statement_timeout') AS statement"
            )
            for client in clients
        ]
        assert {(row["lock"], row["statement"]) for row in settings} == {("0", "0")}
    finally:
        for client in clients:
            await client.close()


def _through(pgbouncer: PgBouncer, database_url: str) -> str:
    """The database through PgBouncer, for a plain asyncpg client (no ``pooler=``)."""
    return pgbouncer.url_for(database_url).replace("?pooler=pgbouncer", "")


def _causes(error: BaseException) -> str:
    """The error and every error it was raised from, as text."""
    texts = []
    cause: BaseException | None = error
    while cause is not None:
        texts.append(repr(cause))
        cause = cause.__cause__
    return " <- ".join(texts)
