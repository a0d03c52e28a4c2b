"""Keys over HTTP on every store (memory, SQLite, PostgreSQL): made, listed, revoked; a key
restricted to one account sees nothing of another, lists included (the store's query)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.api.helpers import assert_problem, open_account, post
from tests.support.keys import bearer

ALL_BUT_ADMIN = [
    "accounts:read",
    "accounts:write",
    "transactions:read",
    "transactions:write",
    "audit:read",
]


def _key(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    made = client.post("/v1/api-keys", json={"name": "test", **fields})
    assert made.status_code == 201, made.text
    assert made.headers["location"] == f"/v1/api-keys/{made.json()['key_id']}"
    key: dict[str, Any] = made.json()
    return key


def test_a_restricted_key_sees_only_its_account(client: httpx.Client) -> None:
    own = open_account(client, initial_deposit="50")["account_number"]
    other = open_account(client, initial_deposit="50")["account_number"]
    others = post(client, other, "5.00").json()["transaction_id"]
    mine = post(client, own, "5.00").json()["transaction_id"]
    secret = _key(client, scopes=ALL_BUT_ADMIN, account_numbers=[own])["secret"]
    key = bearer(secret)

    for method, path, code in [
        ("GET", f"/v1/accounts/{other}", "account_not_found"),
        ("PATCH", f"/v1/accounts/{other}", "account_not_found"),
        ("PUT", f"/v1/accounts/{other}", "account_not_found"),
        ("DELETE", f"/v1/accounts/{other}", "account_not_found"),
        ("POST", f"/v1/accounts/{other}/balance/recalculate", "account_not_found"),
        ("GET", f"/v1/accounts/{other}/transactions", "account_not_found"),
        ("GET", f"/v1/transactions/{others}", "transaction_not_found"),
        ("PATCH", f"/v1/transactions/{others}", "transaction_not_found"),
        ("PUT", f"/v1/transactions/{others}", "transaction_not_found"),
        ("DELETE", f"/v1/transactions/{others}", "transaction_not_found"),
    ]:
        body: dict[str, Any] | None = None
        if method in {"PATCH", "PUT"}:
            body = (
                {"customer_name": "X", "account_type": "savings"}
                if "accounts" in path
                else {"amount": 1, "transaction_type": "deposit"}
            )
        answer = client.request(method, path, json=body, headers=key)
        assert_problem(answer, 404, code)
    posted = client.post(
        "/v1/transactions",
        json={"account_number": other, "amount": 1, "transaction_type": "deposit"},
        headers=key,
    )
    assert_problem(posted, 404, "account_not_found")
    assert_problem(
        client.post(
            "/v1/accounts", json={"customer_name": "X", "account_type": "savings"}, headers=key
        ),
        403,
        "forbidden",
    )
    assert_problem(client.get("/v1/api-keys", headers=key), 403, "forbidden")

    listed = client.get("/v1/accounts", params={"limit": 500}, headers=key).json()
    assert [item["account_number"] for item in listed["items"]] == [own]
    own_list = client.get(f"/v1/accounts/{own}/transactions", headers=key)
    assert mine in [item["transaction_id"] for item in own_list.json()["items"]]
    assert client.get(f"/v1/transactions/{mine}", headers=key).status_code == 200
    # Nothing of the other account changed.
    assert client.get(f"/v1/transactions/{others}").json()["amount"] == 5


def test_keys_are_made_listed_and_revoked(client: httpx.Client) -> None:
    made = _key(client, scopes=["accounts:read"])
    secret = made.pop("secret")
    assert secret.startswith("bk_")
    assert client.get("/v1/accounts?limit=1", headers=bearer(secret)).status_code == 200
    assert_problem(client.post("/v1/api-keys", headers=bearer(secret), json={}), 403, "forbidden")
    assert client.get(f"/v1/api-keys/{made['key_id']}").json() == made
    found = []
    cursor: str | None = ""
    while cursor is not None:
        page = client.get("/v1/api-keys", params={"limit": 50, "cursor": cursor}).json()
        found += page["items"]
        cursor = page["next_cursor"]
    assert made in found
    assert secret not in str(found)
    assert client.delete(f"/v1/api-keys/{made['key_id']}").status_code == 204
    assert client.delete(f"/v1/api-keys/{made['key_id']}").status_code == 204
    # This process forgets it at once (the contract allows 5 s for the others).
    refused = client.get("/v1/accounts?limit=1", headers=bearer(secret))
    assert_problem(refused, 401, "unauthenticated")
    assert refused.headers["www-authenticate"] == "Bearer"
    assert client.get(f"/v1/api-keys/{made['key_id']}").json()["revoked_at"] is not None
    assert_problem(client.get("/v1/api-keys/key_" + "0" * 32), 404, "api_key_not_found")


def test_without_a_key_nothing_answers_but_the_service_paths(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as bare:
        for path in ("/v1/accounts", "/v1/api-keys"):
            answer = bare.get(path)
            assert_problem(answer, 401, "unauthenticated")
            assert answer.headers["www-authenticate"] == "Bearer"
        refused = bare.post(
            "/v1/transactions", content=b"{", headers={"content-type": "application/json"}
        )
        assert_problem(refused, 401, "unauthenticated")
        assert_problem(
            bare.post("/v1/accounts", content=b"x" * (1024 * 1024)), 413, "payload_too_large"
        )
        for path in ("/health", "/ready", "/openapi.json", "/docs"):
            assert bare.get(path).status_code == 200, path
