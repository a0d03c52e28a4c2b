"""The transactions half of the contract, over real HTTP, on every store."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from tests.integration.api.helpers import assert_problem, balance, exact, open_account, post
from tests.support import refs


def test_deposits_add_up_exactly(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    assert post(client, number, "0.1").status_code == 201
    assert post(client, number, "0.2").status_code == 201
    assert balance(client, number) == Decimal("0.30")
    assert b'"balance":0.30' in client.get(f"/v1/accounts/{number}").content


def test_amounts_out_of_the_rules_are_422_and_change_nothing(client: httpx.Client) -> None:
    number = open_account(client, initial_deposit="1")["account_number"]
    for amount in [
        "1.001",
        "0",
        "-5",
        "NaN",
        "Infinity",
        "-Infinity",
        '"abc"',
        "1000000000000.01",
        "1e400",
        "true",
        "null",
        "[]",
    ]:
        assert_problem(post(client, number, amount), 422, "validation_error")
    assert post(client, number, "1000000000000.00").status_code == 201
    assert balance(client, number) == Decimal("1000000000001.00")


def test_a_posted_transaction_is_readable(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    tid = refs.transaction_id()
    response = post(client, number, "500.00", transaction_id=tid, description="Salary")
    assert response.status_code == 201
    assert response.headers["location"] == f"/v1/transactions/{tid}"
    body = exact(response)
    assert body["transaction_id"] == tid
    assert body["status"] == "success"
    assert body["balance_after"] == Decimal("500.00")
    assert body["timestamp"].endswith("Z")
    assert exact(client.get(f"/v1/transactions/{tid}")) == body


def test_generated_transaction_ids_follow_the_rules(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    tid = post(client, number, "1").json()["transaction_id"]
    assert 8 <= len(tid) <= 64
    assert all(c.isascii() and (c.isalnum() or c in "_-") for c in tid)


def test_a_retry_with_the_same_id_moves_no_money(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    tid = refs.transaction_id()
    first = post(client, number, "70.00", transaction_id=tid, description="Rent")
    again = post(client, number, "70.00", transaction_id=tid, description="Rent")
    assert (first.status_code, again.status_code) == (201, 200)
    assert exact(again) == exact(first)
    assert balance(client, number) == Decimal("70.00")
    other = post(client, number, "71.00", transaction_id=tid, description="Rent")
    assert_problem(other, 409, "duplicate_transaction_id")
    assert balance(client, number) == Decimal("70.00")


def test_transaction_ids_are_checked(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    for tid in ["short", "x" * 65, "has space!", "ünïcode12"]:
        assert_problem(post(client, number, "1", transaction_id=tid), 422, "validation_error")
    assert post(client, number, "1", transaction_id="a" * 64).status_code == 201


def test_posting_to_a_missing_account_is_a_404(client: httpx.Client) -> None:
    assert_problem(post(client, refs.account_number(), "1"), 404, "account_not_found")


def test_an_overdraft_is_refused_and_nothing_is_stored(client: httpx.Client) -> None:
    number = open_account(client, initial_deposit="100")["account_number"]
    tid = refs.transaction_id()
    assert_problem(
        post(client, number, "100.01", "withdrawal", transaction_id=tid), 409, "insufficient_funds"
    )
    assert_problem(client.get(f"/v1/transactions/{tid}"), 404, "transaction_not_found")
    assert balance(client, number) == Decimal("100.00")
    assert post(client, number, "100.00", "withdrawal").status_code == 201
    assert balance(client, number) == Decimal("0.00")


def test_a_client_sent_timestamp_or_unknown_field_is_422(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    extras: list[dict[str, Any]] = [
        {"timestamp": "2020-01-01T00:00:00Z"},
        {"balance_after": 1},
        {"updated_at": "2020-01-01T00:00:00Z"},
        {"memo": "x"},
    ]
    for extra in extras:
        assert_problem(post(client, number, "1", **extra), 422, "validation_error")


def test_only_success_moves_the_balance(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    pending = exact(post(client, number, "40", status="pending"))
    assert pending["balance_after"] is None
    post(client, number, "5", status="failed")
    post(client, number, "6", status="cancelled")
    assert balance(client, number) == Decimal("0.00")
    applied = client.patch(
        f"/v1/transactions/{pending['transaction_id']}", json={"status": "success"}
    )
    assert applied.status_code == 200
    assert exact(applied)["balance_after"] == Decimal("40.00")
    assert balance(client, number) == Decimal("40.00")


def test_amending_moves_the_balance_by_the_difference(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    tid = post(client, number, "100").json()["transaction_id"]
    client.patch(
        f"/v1/transactions/{tid}",
        content=b'{"amount": 120.50}',
        headers={"content-type": "application/json"},
    )
    assert balance(client, number) == Decimal("120.50")
    to_withdrawal = client.patch(f"/v1/transactions/{tid}", json={"transaction_type": "withdrawal"})
    assert_problem(to_withdrawal, 409, "insufficient_funds")
    assert balance(client, number) == Decimal("120.50")
    described = client.patch(f"/v1/transactions/{tid}", json={"description": "Bonus"})
    assert described.json()["description"] == "Bonus"
    cleared = client.patch(f"/v1/transactions/{tid}", json={"description": None})
    assert cleared.json()["description"] is None
    assert cleared.json()["amount"] == 120.5


def test_cancelling_takes_the_money_back_and_is_final(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    tid = post(client, number, "30").json()["transaction_id"]
    cancelled = client.patch(f"/v1/transactions/{tid}", json={"status": "cancelled"})
    assert cancelled.json()["status"] == "cancelled"
    assert balance(client, number) == Decimal("0.00")
    for status in ["success", "pending", "failed"]:
        assert_problem(
            client.patch(f"/v1/transactions/{tid}", json={"status": status}),
            409,
            "invalid_status_change",
        )
    assert balance(client, number) == Decimal("0.00")


def test_cancelling_a_deposit_that_was_spent_is_refused(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    tid = post(client, number, "30").json()["transaction_id"]
    post(client, number, "20", "withdrawal")
    assert_problem(
        client.patch(f"/v1/transactions/{tid}", json={"status": "failed"}),
        409,
        "insufficient_funds",
    )
    assert client.get(f"/v1/transactions/{tid}").json()["status"] == "success"
    assert balance(client, number) == Decimal("10.00")


def test_put_replaces_the_editable_fields(client: httpx.Client) -> None:
    number = open_account(client, initial_deposit="100")["account_number"]
    tid = post(client, number, "10", "withdrawal", description="Coffee").json()["transaction_id"]
    replaced = client.put(
        f"/v1/transactions/{tid}", json={"amount": 15, "transaction_type": "withdrawal"}
    )
    assert replaced.status_code == 200
    assert replaced.json()["description"] is None
    assert balance(client, number) == Decimal("85.00")
    assert_problem(
        client.put(f"/v1/transactions/{tid}", json={"amount": 15}), 422, "validation_error"
    )
    moved = client.put(
        f"/v1/transactions/{tid}",
        json={
            "amount": 15,
            "transaction_type": "withdrawal",
            "account_number": refs.account_number(),
        },
    )
    assert_problem(moved, 422, "validation_error")


def test_deleting_takes_the_effect_back_and_keeps_the_id(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    tid = refs.transaction_id()
    post(client, number, "25", transaction_id=tid)
    assert client.delete(f"/v1/transactions/{tid}").status_code == 204
    assert balance(client, number) == Decimal("0.00")
    assert_problem(client.get(f"/v1/transactions/{tid}"), 404, "transaction_not_found")
    assert_problem(client.delete(f"/v1/transactions/{tid}"), 404, "transaction_not_found")
    assert_problem(post(client, number, "25", transaction_id=tid), 409, "duplicate_transaction_id")
    assert client.get(f"/v1/accounts/{number}/transactions").json()["items"] == []


def test_deleting_a_spent_deposit_is_refused(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    tid = post(client, number, "25").json()["transaction_id"]
    post(client, number, "20", "withdrawal")
    assert_problem(client.delete(f"/v1/transactions/{tid}"), 409, "insufficient_funds")
    assert client.get(f"/v1/transactions/{tid}").status_code == 200


def test_listing_transactions_oldest_first_with_filters(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    posted = [
        post(client, number, str(n), status="pending" if n % 3 == 0 else "success").json()
        for n in range(1, 8)
    ]
    walked: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = client.get(f"/v1/accounts/{number}/transactions", params=params).json()
        walked += [t["transaction_id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert walked == [t["transaction_id"] for t in posted]
    pending = client.get(f"/v1/accounts/{number}/transactions", params={"status": "pending"})
    assert [t["amount"] for t in pending.json()["items"]] == [3, 6]
    window = client.get(
        f"/v1/accounts/{number}/transactions",
        params={"since": posted[2]["timestamp"], "until": posted[4]["timestamp"]},
    )
    assert [t["transaction_id"] for t in window.json()["items"]] == [
        t["transaction_id"] for t in posted[2:5]
    ]
    assert_problem(
        client.get(f"/v1/accounts/{number}/transactions", params={"transaction_type": "loan"}),
        422,
        "validation_error",
    )
    assert_problem(
        client.get(f"/v1/accounts/{number}/transactions", params={"since": "yesterday"}),
        422,
        "validation_error",
    )
    assert_problem(
        client.get(f"/v1/accounts/{refs.account_number()}/transactions"), 404, "account_not_found"
    )


def test_unknown_transactions_are_404(client: httpx.Client) -> None:
    tid = refs.transaction_id()
    assert_problem(client.get(f"/v1/transactions/{tid}"), 404, "transaction_not_found")
    assert_problem(
        client.patch(f"/v1/transactions/{tid}", json={"description": "x"}),
        404,
        "transaction_not_found",
    )
    assert_problem(client.delete(f"/v1/transactions/{tid}"), 404, "transaction_not_found")
