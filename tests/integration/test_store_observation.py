"""The SQL store tells its observer (bank_adapters.sql.observation) the size of each group the
grouped posting path commits and how long each taking of a pooled connection waited; the web
layer's metrics serve both at /metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bank_adapters.sql import PoolSettings, SqlStore
from bank_domain import Ledger, OpenAccountCommand, PostTransactionCommand
from bank_web.app import create_app
from bank_web.settings import Settings
from tests.support.keys import AUTH


class RecordingObserver:
    def __init__(self) -> None:
        self.groups: list[int] = []
        self.waits: list[float] = []

    def group_committed(self, postings: int) -> None:
        self.groups.append(postings)

    def connection_waited(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.mark.postgres
async def test_every_posting_is_counted_in_the_size_of_the_group_that_committed_it(
    postgres_store_url: str,
) -> None:
    observer = RecordingObserver()
    store = SqlStore.from_url(postgres_store_url, observer=observer)
    try:
        ledger = Ledger(store.unit_of_work, postings=store.posting_unit_of_work)
        number = (await ledger.open_account(OpenAccountCommand("Ada", "checking"))).number.value
        await asyncio.gather(
            *(
                ledger.post_transaction(PostTransactionCommand(number, "1", "deposit"))
                for _ in range(40)
            )
        )
        # A retry moves nothing and writes nothing: no group counts it.
        first = await ledger.post_transaction(
            PostTransactionCommand(number, "2", "deposit", transaction_id="observed-0001")
        )
        await ledger.post_transaction(
            PostTransactionCommand(number, "2", "deposit", transaction_id="observed-0001")
        )
    finally:
        await store.dispose()

    assert first.created
    assert sum(observer.groups) == 41
    assert all(size >= 1 for size in observer.groups)
    assert len(observer.groups) < 41, "40 postings at once shared groups"


async def test_a_wait_for_a_pooled_connection_is_told_including_one_for_a_busy_pool(
    sqlite_store_url: str,
) -> None:
    observer = RecordingObserver()
    store = SqlStore.from_url(
        sqlite_store_url, PoolSettings(size=1, max_overflow=0, timeout_seconds=5), observer=observer
    )
    try:
        async with store.unit_of_work(read_only=True):
            pass
        assert len(observer.waits) == 1

        async def hold_the_only_connection() -> None:
            async with store.unit_of_work(read_only=True):
                await asyncio.sleep(0.3)

        holder = asyncio.ensure_future(hold_the_only_connection())
        await asyncio.sleep(0.05)
        async with store.unit_of_work(read_only=True):
            pass
        await holder
    finally:
        await store.dispose()

    assert len(observer.waits) == 3
    assert observer.waits[-1] >= 0.2, "the last one waited for the holder to hand it back"


@pytest.fixture
def postgres_client(postgres_store_url: str) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=postgres_store_url))
    with TestClient(app, headers=AUTH) as http:
        yield http


def _samples(client: TestClient) -> dict[str, float]:
    samples: dict[str, float] = {}
    for line in client.get("/metrics").text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


@pytest.mark.postgres
def test_metrics_serve_group_sizes_and_pool_waits(postgres_client: TestClient) -> None:
    before = _samples(postgres_client)
    opened = postgres_client.post(
        "/v1/accounts", json={"customer_name": "Ada", "account_type": "checking"}
    )
    number = opened.json()["account_number"]
    for _ in range(3):
        posted = postgres_client.post(
            "/v1/transactions",
            json={"account_number": number, "amount": "5.00", "transaction_type": "deposit"},
        )
        assert posted.status_code == 201, posted.text
    assert postgres_client.get(f"/v1/accounts/{number}").status_code == 200
    after = _samples(postgres_client)

    def grew(name: str) -> float:
        return after[name] - before.get(name, 0.0)

    assert grew("bank_group_commit_postings_sum") == 3
    assert 1 <= grew("bank_group_commit_postings_count") <= 3
    assert grew('bank_group_commit_postings_bucket{le="512.0"}') == grew(
        "bank_group_commit_postings_count"
    )
    # At least the account's opening and its read took a connection from the pool.
    assert grew("bank_db_pool_wait_seconds_count") >= 2
    assert grew("bank_db_pool_wait_seconds_sum") > 0
