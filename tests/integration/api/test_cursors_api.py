"""Cursors over HTTP: a forged one is a 422 on every store, never taken for an outage."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from tests.integration.api.helpers import assert_problem, open_account, post


def unsigned(position: list[str]) -> str:
    """A cursor as the API made them before they were signed."""
    raw = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "timestamp", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2024-03-01T09:00:00Z"]
)
def test_a_forged_transactions_cursor_is_a_422(client: httpx.Client, timestamp: str) -> None:
    number = open_account(client)["account_number"]
    for _ in range(2):
        assert post(client, number, "1").status_code == 201
    response = client.get(
        f"/v1/accounts/{number}/transactions",
        params={"cursor": unsigned([timestamp, "abcdefgh"])},
    )
    assert_problem(response, 422, "validation_error")


def test_a_forged_accounts_cursor_is_a_422(client: httpx.Client) -> None:
    open_account(client)
    response = client.get("/v1/accounts", params={"cursor": unsigned(["0000000000"])})
    assert_problem(response, 422, "validation_error")


def test_the_api_s_own_cursors_still_page(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    for _ in range(3):
        assert post(client, number, "1").status_code == 201
    first = client.get(f"/v1/accounts/{number}/transactions", params={"limit": 2}).json()
    rest = client.get(
        f"/v1/accounts/{number}/transactions", params={"cursor": first["next_cursor"]}
    ).json()
    assert len(first["items"]) == 2
    assert len(rest["items"]) == 1
    assert rest["next_cursor"] is None
