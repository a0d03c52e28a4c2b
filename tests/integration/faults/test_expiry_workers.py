"""Two server workers, each with its sweeper, record every hold's expiry exactly once, while
clients post to the same accounts (whose postings record the expiries they meet first)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import httpx
import pytest

from tests.integration.api.helpers import exact, open_account, post
from tests.support.feeds import FEED_WAIT_SECONDS
from tests.support.keys import AUTH
from tests.support.server import ServerProcess, assert_clean_log

pytestmark = pytest.mark.postgres

ACCOUNTS: Final = 4
HOLDS_PER_ACCOUNT: Final = 5


def _expired_events(client: httpx.Client, number: str) -> list[dict[str, Any]]:
    params = {"account_number": number, "type": "transaction.expired", "limit": "500"}
    events: list[dict[str, Any]] = exact(client.get("/v1/events", params=params))["items"]
    return events


def test_two_workers_sweeping_record_each_expiry_once(
    postgres_database: str, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    with (
        ServerProcess(postgres_database, log, workers=2) as server,
        httpx.Client(base_url=server.base_url, timeout=30, headers=AUTH) as client,
    ):
        assert len(server.worker_pids()) == 2
        numbers = [open_account(client, "100.00")["account_number"] for _ in range(ACCOUNTS)]
        expiry = datetime.now(UTC) + timedelta(seconds=3)
        expires_at = expiry.isoformat()
        holds = {
            number: [
                exact(
                    post(
                        client,
                        number,
                        "10.00",
                        "withdrawal",
                        status="pending",
                        expires_at=expires_at,
                    )
                )["transaction_id"]
                for _ in range(HOLDS_PER_ACCOUNT)
            ]
            for number in numbers
        }
        time.sleep(max(0.0, (expiry - datetime.now(UTC)).total_seconds()) + 0.05)

        def spend(number: str) -> int:
            with httpx.Client(base_url=server.base_url, timeout=30, headers=AUTH) as own:
                return post(own, number, "100.00", "withdrawal").status_code

        with ThreadPoolExecutor(ACCOUNTS) as pool:
            # Each account's holds have expired: all 100.00 is available.
            statuses = list(pool.map(spend, numbers))
        assert statuses == [201] * ACCOUNTS, statuses

        deadline = time.monotonic() + FEED_WAIT_SECONDS
        recorded = {number: _expired_events(client, number) for number in numbers}
        while time.monotonic() < deadline and any(
            len(events) < HOLDS_PER_ACCOUNT for events in recorded.values()
        ):
            time.sleep(0.2)
            recorded = {number: _expired_events(client, number) for number in numbers}
        for number in numbers:
            told = [event["data"]["transaction_id"] for event in recorded[number]]
            assert sorted(told) == sorted(holds[number])  # each once
            account = exact(client.get(f"/v1/accounts/{number}"))
            assert (account["balance"], account["available_balance"]) == (
                Decimal("0.00"),
                Decimal("0.00"),
            )
            for tid in holds[number]:
                history = exact(client.get(f"/v1/transactions/{tid}/history"))["items"]
                assert [version["change"] for version in history] == ["created", "expired"]
    assert_clean_log(log)
