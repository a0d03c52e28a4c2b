"""Reads from a streaming standby (``BANK_READ_DATABASE_URL``), on a private primary and its hot
standby (tests/support/standby_cluster.py): the read routes answer from the standby, every
write goes to the primary, reads go on answering while the primary is stopped, a key check
falls back to the standby only once it has applied everything it received, and the event feed's
horizon holds on the standby as on the primary."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Final

import asyncpg
import httpx
import pytest

from bank_adapters.sql import SqlStore, upgrade_to_head
from bank_domain import Ledger, ListEventsQuery
from tests.integration.api.helpers import assert_problem, balance, exact, open_account, post
from tests.integration.test_event_feed_order import an_account, open_in
from tests.support import refs
from tests.support.feeds import FeedFollower
from tests.support.keys import AUTH, bearer
from tests.support.postgres import postgres_server_url
from tests.support.server import ServerProcess
from tests.support.standby_cluster import StandbyCluster, wait_for

pytestmark = pytest.mark.postgres

DATABASE: Final = "bank"
CATCH_UP_SECONDS: Final = 20.0


def sql(url: str, query: str, *arguments: object) -> Any:
    """The first column of the first row ``query`` answers, on its own connection."""

    async def fetch() -> Any:
        connection = await asyncpg.connect(url, timeout=10)
        try:
            return await connection.fetchval(query, *arguments, timeout=10)
        finally:
            await connection.close()

    return asyncio.run(fetch())


@pytest.fixture(scope="module")
def cluster() -> Iterator[StandbyCluster]:
    postgres_server_url()  # the PostgreSQL tests' switch: unset, they skip and say why
    with StandbyCluster() as made:
        sql(made.primary_url(), f'CREATE DATABASE "{DATABASE}"')
        asyncio.run(upgrade_to_head(made.primary_url(DATABASE)))
        yield made


@pytest.fixture(scope="module")
def server(cluster: StandbyCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("standby-reads") / "server.log"
    environment = {"BANK_READ_DATABASE_URL": cluster.standby_url(DATABASE)}
    with ServerProcess(cluster.primary_url(DATABASE), log, environment=environment) as started:
        yield started.base_url


@pytest.fixture
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, headers=AUTH, timeout=15.0) as made:
        yield made


def standby_caught_up(cluster: StandbyCluster) -> None:
    """Waits until the standby has applied everything the primary has written so far."""
    target = sql(cluster.primary_url(), "SELECT pg_current_wal_lsn()::text")
    wait_for(
        "the standby applies the primary's WAL",
        lambda: sql(
            cluster.standby_url(), "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn", target
        ),
        CATCH_UP_SECONDS,
    )


def pause_replay(cluster: StandbyCluster) -> None:
    sql(cluster.standby_url(), "SELECT pg_wal_replay_pause()")
    wait_for(
        "the standby's replay pauses",
        lambda: sql(cluster.standby_url(), "SELECT pg_get_wal_replay_pause_state()") == "paused",
    )


def resume_replay(cluster: StandbyCluster) -> None:
    sql(cluster.standby_url(), "SELECT pg_wal_replay_resume()")


def make_key(client: httpx.Client, scopes: list[str]) -> tuple[str, str]:
    made = client.post("/v1/api-keys", json={"name": refs.customer_name(), "scopes": scopes})
    assert made.status_code == 201, made.text
    return made.json()["key_id"], made.json()["secret"]


def test_reads_come_from_the_standby_and_catch_up_once_replay_resumes(
    cluster: StandbyCluster, client: httpx.Client
) -> None:
    number = open_account(client, initial_deposit="100.00")["account_number"]
    standby_caught_up(cluster)
    assert balance(client, number) == Decimal("100.00")

    pause_replay(cluster)
    try:
        transaction_id = refs.transaction_id()
        written = post(client, number, "25.00", transaction_id=transaction_id)
        # The write succeeded, on the primary...
        assert written.status_code == 201, written.text
        assert exact(written)["balance_after"] == Decimal("125.00")
        stored = sql(
            cluster.primary_url(DATABASE),
            "SELECT balance_cents FROM accounts WHERE account_number = $1",
            number,
        )
        assert stored == 12500
        # ...and every read route answers from the standby, which has not applied it.
        assert balance(client, number) == Decimal("100.00")
        assert_problem(
            client.get(f"/v1/transactions/{transaction_id}"), 404, "transaction_not_found"
        )
        listed = client.get(f"/v1/accounts/{number}/transactions").json()["items"]
        assert transaction_id not in [item["transaction_id"] for item in listed]
        entries = client.get(f"/v1/accounts/{number}/entries").json()["items"]
        assert [entry["transaction_id"] for entry in entries].count(transaction_id) == 0
        events = client.get("/v1/events", params={"account_number": number}).json()["items"]
        assert transaction_id not in [event["data"].get("transaction_id") for event in events]
    finally:
        resume_replay(cluster)

    wait_for(
        "the read shows the write once the standby applies it",
        lambda: balance(client, number) == Decimal("125.00"),
        CATCH_UP_SECONDS,
    )
    assert client.get(f"/v1/transactions/{transaction_id}").status_code == 200


def test_reads_and_key_checks_go_on_while_the_primary_is_stopped(
    cluster: StandbyCluster, client: httpx.Client
) -> None:
    number = open_account(client, initial_deposit="40.00")["account_number"]
    # Made now and first used once the primary is down: no process has read them yet.
    _, reader = make_key(client, ["accounts:read"])
    revoked_id, revoked = make_key(client, ["accounts:read"])
    assert client.delete(f"/v1/api-keys/{revoked_id}").status_code == 204
    standby_caught_up(cluster)

    cluster.stop_primary()
    try:
        assert balance(client, number) == Decimal("40.00")
        assert client.get(f"/v1/accounts/{number}/entries").status_code == 200
        assert client.get("/v1/events", params={"account_number": number}).status_code == 200
        # Key checks read the primary, and the standby while the primary does not answer.
        as_reader = client.get(f"/v1/accounts/{number}", headers=bearer(reader))
        assert as_reader.status_code == 200, as_reader.text
        refused = client.get(f"/v1/accounts/{number}", headers=bearer(revoked))
        assert_problem(refused, 401, "unauthenticated")
        # Writes need the primary.
        assert_problem(post(client, number, "1.00"), 503, "service_unavailable")
    finally:
        cluster.start_primary()
    wait_for(
        "writes succeed again once the primary is back",
        lambda: post(client, number, "1.00").status_code == 201,
        CATCH_UP_SECONDS,
    )


def test_a_key_check_does_not_fall_back_to_a_standby_that_has_not_applied_all_it_received(
    cluster: StandbyCluster, client: httpx.Client
) -> None:
    """A key revoked on the primary just before it stopped, while the standby had received the
    revocation but not applied it: the key must not pass on the standby's older view."""
    number = open_account(client)["account_number"]
    revoked_id, revoked = make_key(client, ["accounts:read"])
    standby_caught_up(cluster)
    pause_replay(cluster)
    try:
        assert client.delete(f"/v1/api-keys/{revoked_id}").status_code == 204
        cluster.stop_primary()
        try:
            assert_problem(
                client.get(f"/v1/accounts/{number}", headers=bearer(revoked)),
                503,
                "service_unavailable",
            )
            resume_replay(cluster)
            wait_for(
                "the revoked key is refused once the standby has applied the revocation",
                lambda: (
                    client.get(f"/v1/accounts/{number}", headers=bearer(revoked)).status_code == 401
                ),
                CATCH_UP_SECONDS,
            )
        finally:
            cluster.start_primary()
    finally:
        resume_replay(cluster)


def test_reads_answer_from_the_primary_while_the_standby_is_stopped(
    cluster: StandbyCluster, client: httpx.Client
) -> None:
    number = open_account(client, initial_deposit="7.00")["account_number"]
    cluster.stop_standby()
    try:
        assert post(client, number, "3.00").status_code == 201
        # Read on the primary: current, the posting just made included.
        assert balance(client, number) == Decimal("10.00")
        assert client.get(f"/v1/accounts/{number}/entries").status_code == 200
    finally:
        cluster.start_standby()
    standby_caught_up(cluster)
    assert balance(client, number) == Decimal("10.00")


async def test_the_event_feed_read_on_the_standby_holds_back_an_event_committed_behind_one_running(
    cluster: StandbyCluster,
) -> None:
    """bank_adapters/sql/events.py's horizon, on a hot standby: a transaction that began writing
    first but commits last holds back the events committed after it, on the standby too."""
    store = SqlStore.from_url(
        cluster.primary_url(DATABASE), standby_url=cluster.standby_url(DATABASE)
    )
    ledger = Ledger(store.unit_of_work, reads=store.read_unit_of_work)
    reader = FeedFollower(ledger)
    try:
        while await reader.read_page():
            pass  # to the feed's end
        already_read = len(reader.seen)
        late, early = an_account(), an_account()
        async with store.unit_of_work() as slow_writer:
            await open_in(slow_writer, late)  # the lower transaction id
            async with store.unit_of_work() as quick_writer:
                await open_in(quick_writer, early)
                await quick_writer.commit()
            await asyncio.to_thread(standby_caught_up, cluster)
            # The standby shows the quick writer's account, yet its event waits in the feed.
            assert (await ledger.get_account(early.number.value)).number == early.number
            read_while_the_slow_writer_runs = await reader.read_page()
            await slow_writer.commit()
        await asyncio.to_thread(standby_caught_up, cluster)
        seen = (await reader.read_until(already_read + 2))[already_read:]
        early_alone = await ledger.list_events(
            ListEventsQuery(account_number=early.number.value, limit=10)
        )
    finally:
        await store.dispose()

    assert read_while_the_slow_writer_runs == []
    assert [str(event.account_number) for event in seen] == [str(late.number), str(early.number)]
    assert len(early_alone.items) == 1
