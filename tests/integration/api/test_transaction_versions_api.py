"""A transaction's version, ETag and If-Match (contract v2, section 3), over real HTTP, on every
store: If-Match on a transaction works exactly as on an account."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.integration.api.helpers import assert_problem, balance, exact, open_account, post
from tests.support import refs

JSON = {"content-type": "application/json"}


def posted(client: httpx.Client, amount: str = "10", **fields: Any) -> tuple[str, str]:
    """A new account with this deposit on it: the account's number and the transaction's id."""
    number = open_account(client)["account_number"]
    response = post(client, number, amount, **fields)
    assert response.status_code == 201, response.text
    return number, str(response.json()["transaction_id"])


def test_every_answer_with_a_transaction_carries_its_version_as_etag(
    client: httpx.Client,
) -> None:
    number = open_account(client)["account_number"]
    tid = refs.transaction_id()
    created = post(client, number, "10", transaction_id=tid, description="Lunch")
    retried = post(client, number, "10", transaction_id=tid, description="Lunch")
    read = client.get(f"/v1/transactions/{tid}")
    for response, status in ((created, 201), (retried, 200), (read, 200)):
        assert response.status_code == status, response.text
        assert response.headers["etag"] == '"1"'
        assert response.json()["version"] == 1

    patched = client.patch(f"/v1/transactions/{tid}", json={"description": "Dinner"})
    assert (patched.status_code, patched.headers["etag"]) == (200, '"2"')
    assert patched.json()["version"] == 2
    put = client.put(f"/v1/transactions/{tid}", json={"amount": 12, "transaction_type": "deposit"})
    assert (put.status_code, put.headers["etag"], put.json()["version"]) == (200, '"3"', 3)
    unchanged = client.patch(f"/v1/transactions/{tid}", json={"amount": "12.00"})
    assert (unchanged.headers["etag"], unchanged.json()["version"]) == ('"3"', 3)
    assert client.get(f"/v1/transactions/{tid}").headers["etag"] == '"3"'
    listed = client.get(f"/v1/accounts/{number}/transactions").json()["items"]
    assert [item["version"] for item in listed] == [3]


@pytest.mark.parametrize("method", ["PATCH", "PUT", "DELETE"])
def test_a_stale_if_match_is_a_412_and_changes_nothing(client: httpx.Client, method: str) -> None:
    number, tid = posted(client, "10", description="Lunch")
    assert client.patch(f"/v1/transactions/{tid}", json={"status": "success"}).status_code == 200
    assert client.patch(f"/v1/transactions/{tid}", json={"description": "x"}).status_code == 200
    before = client.get(f"/v1/transactions/{tid}")
    assert before.headers["etag"] == '"2"'

    body = {"amount": 99, "transaction_type": "withdrawal", "description": "stale"}
    for stale in ('"1"', 'W/"1"', '"3"'):
        refused = client.request(
            method,
            f"/v1/transactions/{tid}",
            json=None if method == "DELETE" else body,
            headers={"if-match": stale},
        )
        problem = assert_problem(refused, 412, "version_mismatch")
        assert "-1" not in problem["detail"]

    after = client.get(f"/v1/transactions/{tid}")
    assert after.status_code == 200
    assert exact(after) == exact(before)
    assert after.headers["etag"] == '"2"'
    assert balance(client, number) == Decimal("10.00")


@pytest.mark.parametrize("if_match", ['"1"', 'W/"1"', "*"])
@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_a_current_weak_or_any_if_match_lets_an_amendment_through(
    client: httpx.Client, method: str, if_match: str
) -> None:
    number, tid = posted(client, "10")
    changed = client.request(
        method,
        f"/v1/transactions/{tid}",
        json={"amount": 7, "transaction_type": "deposit"},
        headers={"if-match": if_match},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.headers["etag"], changed.json()["version"]) == ('"2"', 2)
    assert balance(client, number) == Decimal("7.00")


@pytest.mark.parametrize("if_match", ['"2"', 'W/"2"', "*"])
def test_a_current_weak_or_any_if_match_lets_a_deletion_through(
    client: httpx.Client, if_match: str
) -> None:
    number, tid = posted(client, "10")
    assert client.patch(f"/v1/transactions/{tid}", json={"description": "x"}).status_code == 200
    deleted = client.delete(f"/v1/transactions/{tid}", headers={"if-match": if_match})
    assert deleted.status_code == 204, deleted.text
    assert balance(client, number) == Decimal("0.00")
    assert_problem(client.get(f"/v1/transactions/{tid}"), 404, "transaction_not_found")


@pytest.mark.parametrize("if_match", ["5", "null", "", '"abc"', "W/5", "nonsense"])
def test_an_if_match_that_is_no_etag_is_a_412_that_shows_no_internal_value(
    client: httpx.Client, if_match: str
) -> None:
    number, tid = posted(client, "10")
    patched = client.patch(
        f"/v1/transactions/{tid}",
        content=b'{"status": "cancelled"}',
        headers={**JSON, "if-match": if_match},
    )
    put = client.put(
        f"/v1/transactions/{tid}",
        json={"amount": 1, "transaction_type": "deposit"},
        headers={"if-match": if_match},
    )
    deleted = client.delete(f"/v1/transactions/{tid}", headers={"if-match": if_match})
    for refused in (patched, put, deleted):
        assert "-1" not in assert_problem(refused, 412, "version_mismatch")["detail"]
    stored = client.get(f"/v1/transactions/{tid}")
    assert (stored.json()["status"], stored.headers["etag"]) == ("success", '"1"')
    assert balance(client, number) == Decimal("10.00")


def test_if_match_on_an_unknown_transaction_is_still_a_404(client: httpx.Client) -> None:
    tid = refs.transaction_id()
    for method in ("PATCH", "DELETE"):
        response = client.request(
            method,
            f"/v1/transactions/{tid}",
            json={"description": "x"} if method == "PATCH" else None,
            headers={"if-match": '"1"'},
        )
        assert_problem(response, 404, "transaction_not_found")
