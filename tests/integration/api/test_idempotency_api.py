"""Idempotency keys over HTTP (API.md section 15), against the real server on every store."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx

from tests.integration.api.helpers import JSON, assert_problem, balance, exact, open_account, post
from tests.support.keys import bearer


def _key() -> dict[str, str]:
    return {"Idempotency-Key": f"it-{uuid.uuid4().hex}"}


def test_a_posting_is_applied_once_however_often_it_is_sent(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    key = _key()
    first = post(client, number, "500.00", headers=key)
    assert first.status_code == 201
    again = post(client, number, "500.0", headers=key)  # the same JSON value
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert balance(client, number) == Decimal("500.00")
    assert_problem(post(client, number, "5.00", headers=key), 422, "idempotency_key_reused")
    assert_problem(
        post(client, number, "5.00", headers={"Idempotency-Key": "not ok"}),
        422,
        "validation_error",
    )
    assert balance(client, number) == Decimal("500.00")


def test_refusals_are_kept_but_not_422(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    key = _key()
    refused = post(client, number, "9.00", "withdrawal", headers=key)
    assert_problem(refused, 409, "insufficient_funds")
    assert post(client, number, "20.00").status_code == 201
    replay = post(client, number, "9.00", "withdrawal", headers=key)
    assert (replay.status_code, replay.headers["idempotent-replayed"]) == (409, "true")
    assert replay.content == refused.content

    corrected = _key()
    assert_problem(post(client, number, "1.001", headers=corrected), 422, "validation_error")
    assert post(client, number, "1.00", headers=corrected).status_code == 201
    assert balance(client, number) == Decimal("21.00")


def test_every_post_replays_its_answer(client: httpx.Client) -> None:
    key = _key()
    body = b'{"customer_name": "Ada", "account_type": "savings", "initial_deposit": 12.5}'
    opened = client.post("/v1/accounts", content=body, headers={**JSON, **key})
    assert opened.status_code == 201
    reopened = client.post(
        "/v1/accounts",
        content=b'{"initial_deposit": 12.50, "account_type": "savings", "customer_name": "Ada"}',
        headers={**JSON, **key},
    )
    assert (reopened.status_code, reopened.headers["idempotent-replayed"]) == (201, "true")
    assert reopened.content == opened.content
    number = exact(opened)["account_number"]
    assert balance(client, number) == Decimal("12.50")

    path = f"/v1/accounts/{number}/balance/recalculate"
    recalculation_key = _key()
    checked = client.post(path, headers=recalculation_key)
    rechecked = client.post(path, headers=recalculation_key)
    assert (checked.status_code, rechecked.status_code) == (200, 200)
    assert rechecked.headers["idempotent-replayed"] == "true"
    assert rechecked.content == checked.content

    made_key = _key()
    new_key = {"name": "r", "scopes": ["accounts:read"]}
    made = client.post("/v1/api-keys", json=new_key, headers=made_key)
    remade = client.post("/v1/api-keys", json=new_key, headers=made_key)
    assert (made.status_code, remade.status_code) == (201, 201)
    assert made.json()["secret"].startswith("bk_")
    assert remade.json() == {**made.json(), "secret": None}
    assert remade.headers["idempotent-replayed"] == "true"


def test_keys_are_scoped_to_the_api_key_that_sends_them(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    secret = client.post(
        "/v1/api-keys", json={"name": "poster", "scopes": ["transactions:write"]}
    ).json()["secret"]
    key = _key()
    assert post(client, number, "1.00", headers=key).status_code == 201
    by_other = post(client, number, "2.00", headers={**key, **bearer(secret)})
    assert by_other.status_code == 201
    assert "idempotent-replayed" not in by_other.headers
    assert balance(client, number) == Decimal("3.00")
