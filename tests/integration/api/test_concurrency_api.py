"""Many clients posting to one account at once lose no update and never overdraw."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx

from tests.integration.api.helpers import balance, exact, open_account, post
from tests.support.keys import AUTH

CLIENTS = 64
POSTINGS_PER_CLIENT = 5


def _all_transactions(client: httpx.Client, number: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 500}
        if cursor:
            params["cursor"] = cursor
        page = exact(client.get(f"/v1/accounts/{number}/transactions", params=params))
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def test_64_clients_posting_at_once_lose_nothing(base_url: str, client: httpx.Client) -> None:
    number = open_account(client, initial_deposit="50.00")["account_number"]

    def one_client(index: int) -> list[tuple[int, str, Decimal]]:
        outcomes = []
        with httpx.Client(base_url=base_url, timeout=60, headers=AUTH) as own:
            for step in range(POSTINGS_PER_CLIENT):
                kind = "withdrawal" if (index + step) % 2 else "deposit"
                amount = Decimal("7.00") if kind == "withdrawal" else Decimal("3.00")
                response = post(own, number, str(amount), kind)
                outcomes.append((response.status_code, kind, amount))
        return outcomes

    with ThreadPoolExecutor(CLIENTS) as pool:
        outcomes = [o for result in pool.map(one_client, range(CLIENTS)) for o in result]

    statuses = {status for status, _, _ in outcomes}
    assert statuses <= {201, 409}, statuses
    accepted = [(kind, amount) for status, kind, amount in outcomes if status == 201]
    expected = Decimal("50.00") + sum(
        (amount if kind == "deposit" else -amount for kind, amount in accepted), Decimal(0)
    )
    assert balance(client, number) == expected >= 0
    stored = _all_transactions(client, number)
    assert len(stored) == len(accepted) + 1
    assert all(t["balance_after"] >= 0 for t in stored)
    recalculated = client.post(f"/v1/accounts/{number}/balance/recalculate").json()
    assert recalculated["corrected"] is False


def test_64_clients_draining_one_account_never_overdraw(
    base_url: str, client: httpx.Client
) -> None:
    number = open_account(client, initial_deposit="100.00")["account_number"]

    def withdraw(_: int) -> int:
        with httpx.Client(base_url=base_url, timeout=60, headers=AUTH) as own:
            return post(own, number, "10.00", "withdrawal").status_code

    with ThreadPoolExecutor(CLIENTS) as pool:
        statuses = list(pool.map(withdraw, range(CLIENTS)))

    assert statuses.count(201) == 10
    assert statuses.count(409) == CLIENTS - 10
    assert balance(client, number) == Decimal("0.00")
