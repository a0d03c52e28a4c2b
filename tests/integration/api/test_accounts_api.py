"""The accounts half of the contract, over real HTTP, on every store."""

from __future__ import annotations

from decimal import Decimal

import httpx

from tests.integration.api.helpers import assert_problem, balance, exact, open_account, post
from tests.support import refs


def test_the_challenge_walk_through(client: httpx.Client) -> None:
    number = refs.account_number()
    created = client.post(
        "/v1/accounts",
        json={
            "account_number": number,
            "customer_name": "Ada Lovelace",
            "account_type": "checking",
        },
    )
    assert created.status_code == 201
    assert created.headers["location"] == f"/v1/accounts/{number}"
    deposit = post(
        client,
        number,
        "500.00",
        transaction_id=refs.transaction_id(),
        description="Initial deposit",
        status="success",
    )
    assert deposit.status_code == 201, deposit.text
    withdrawal = post(client, number, "200.00", "withdrawal")
    assert withdrawal.status_code == 201
    assert exact(withdrawal)["balance_after"] == Decimal("300.00")
    assert balance(client, number) == Decimal("300.00")
    listed = client.get(f"/v1/accounts/{number}/transactions").json()
    assert [t["transaction_type"] for t in listed["items"]] == ["deposit", "withdrawal"]


def test_a_new_account_is_version_1_with_server_timestamps(client: httpx.Client) -> None:
    account = open_account(client)
    assert len(account["account_number"]) == 10
    assert account["account_number"].isdigit()
    assert account["version"] == 1
    assert account["status"] == "active"
    assert account["balance"] == Decimal("0.00")
    assert account["created_at"].endswith("Z")
    assert account["updated_at"].endswith("Z")


def test_the_initial_deposit_is_a_real_transaction(client: httpx.Client) -> None:
    account = open_account(client, initial_deposit="250.55")
    assert account["balance"] == Decimal("250.55")
    listed = exact(client.get(f"/v1/accounts/{account['account_number']}/transactions"))
    (deposit,) = listed["items"]
    assert deposit["description"] == "Initial deposit"
    assert deposit["amount"] == Decimal("250.55")
    assert deposit["status"] == "success"


def test_a_negative_initial_deposit_is_refused(client: httpx.Client) -> None:
    number = refs.account_number()
    response = client.post(
        "/v1/accounts",
        json={
            "account_number": number,
            "customer_name": "A",
            "account_type": "savings",
            "initial_deposit": -1,
        },
    )
    assert_problem(response, 422, "validation_error")
    assert_problem(client.get(f"/v1/accounts/{number}"), 404, "account_not_found")


def test_a_taken_account_number_is_a_409(client: httpx.Client) -> None:
    account = open_account(client)
    again = client.post(
        "/v1/accounts",
        json={
            "account_number": account["account_number"],
            "customer_name": "Other",
            "account_type": "savings",
        },
    )
    assert_problem(again, 409, "duplicate_account_number")


def test_customer_name_is_trimmed_and_bounded(client: httpx.Client) -> None:
    account = open_account(client, customer_name="   Grace Hopper  ")
    assert account["customer_name"] == "Grace Hopper"
    for name in ["   ", "", "x" * 201]:
        response = client.post(
            "/v1/accounts", json={"customer_name": name, "account_type": "savings"}
        )
        assert_problem(response, 422, "validation_error")
    assert open_account(client, customer_name="y" * 200)["customer_name"] == "y" * 200


def test_account_fields_are_checked(client: httpx.Client) -> None:
    bad_bodies = [
        {"customer_name": "A", "account_type": "gold"},
        {"customer_name": "A", "account_type": "savings", "account_number": "123"},
        {"customer_name": "A", "account_type": "savings", "account_number": "12345678901"},
        {"customer_name": "A", "account_type": "savings", "balance": 10},
        {"customer_name": "A", "account_type": "savings", "status": "active"},
        {"customer_name": "A", "account_type": "savings", "created_at": "2020-01-01T00:00:00Z"},
        {"customer_name": "A", "account_type": "savings", "nickname": "x"},
        {"customer_name": 7, "account_type": "savings"},
        {"account_type": "savings"},
    ]
    for body in bad_bodies:
        assert_problem(client.post("/v1/accounts", json=body), 422, "validation_error")


def test_get_of_an_unknown_account_is_a_404(client: httpx.Client) -> None:
    assert_problem(client.get(f"/v1/accounts/{refs.account_number()}"), 404, "account_not_found")
    assert_problem(client.get("/v1/accounts/not-a-number"), 404, "account_not_found")


def test_patch_changes_fields_and_bumps_the_version(client: httpx.Client) -> None:
    account = open_account(client)
    number = account["account_number"]
    response = client.patch(f"/v1/accounts/{number}", json={"customer_name": "New Name"})
    assert response.status_code == 200
    assert response.json()["customer_name"] == "New Name"
    assert response.json()["version"] == 2
    assert response.headers["etag"] == '"2"'
    assert response.json()["updated_at"] >= account["updated_at"]
    same = client.patch(f"/v1/accounts/{number}", json={"customer_name": "New Name"})
    assert same.json()["version"] == 2


def test_read_only_fields_cannot_be_patched(client: httpx.Client) -> None:
    number = open_account(client, initial_deposit="10")["account_number"]
    for body in [
        {"balance": 0},
        {"account_number": refs.account_number()},
        {"created_at": "2020-01-01T00:00:00Z"},
        {"updated_at": "2020-01-01T00:00:00Z"},
        {"version": 9},
        {"customer_name": None},
        {"status": "closed"},
    ]:
        assert_problem(client.patch(f"/v1/accounts/{number}", json=body), 422, "validation_error")
    assert balance(client, number) == Decimal("10.00")


def test_put_replaces_the_whole_account(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    response = client.put(
        f"/v1/accounts/{number}", json={"customer_name": "Put Name", "account_type": "savings"}
    )
    assert response.status_code == 200
    assert response.json()["account_type"] == "savings"
    missing = client.put(f"/v1/accounts/{number}", json={"customer_name": "Only name"})
    assert_problem(missing, 422, "validation_error")


def test_a_stale_if_match_is_a_412_and_changes_nothing(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    fresh = client.patch(
        f"/v1/accounts/{number}", json={"customer_name": "B"}, headers={"If-Match": '"1"'}
    )
    assert fresh.status_code == 200
    stale = client.patch(
        f"/v1/accounts/{number}", json={"customer_name": "C"}, headers={"If-Match": '"1"'}
    )
    assert_problem(stale, 412, "version_mismatch")
    garbage = client.patch(
        f"/v1/accounts/{number}", json={"customer_name": "C"}, headers={"If-Match": "nonsense"}
    )
    assert_problem(garbage, 412, "version_mismatch")
    current = client.get(f"/v1/accounts/{number}")
    assert current.json()["customer_name"] == "B"
    assert current.headers["etag"] == '"2"'


def test_a_frozen_account_takes_no_transactions(client: httpx.Client) -> None:
    number = open_account(client, initial_deposit="50")["account_number"]
    frozen = client.patch(f"/v1/accounts/{number}", json={"status": "frozen"})
    assert frozen.json()["status"] == "frozen"
    assert_problem(post(client, number, "1.00"), 409, "account_frozen")
    assert_problem(post(client, number, "1.00", "withdrawal"), 409, "account_frozen")
    client.patch(f"/v1/accounts/{number}", json={"status": "active"})
    assert post(client, number, "1.00").status_code == 201


def test_closing_an_account(client: httpx.Client) -> None:
    number = open_account(client, initial_deposit="5.00")["account_number"]
    first = client.get(f"/v1/accounts/{number}/transactions").json()["items"][0]
    assert_problem(client.delete(f"/v1/accounts/{number}"), 409, "account_not_empty")
    assert post(client, number, "5.00", "withdrawal").status_code == 201
    assert client.delete(f"/v1/accounts/{number}").status_code == 204
    assert_problem(client.get(f"/v1/accounts/{number}"), 404, "account_not_found")
    assert_problem(client.delete(f"/v1/accounts/{number}"), 404, "account_not_found")
    assert_problem(
        client.patch(f"/v1/accounts/{number}", json={"customer_name": "X"}),
        404,
        "account_not_found",
    )
    assert_problem(client.get(f"/v1/accounts/{number}/transactions"), 404, "account_not_found")
    assert_problem(post(client, number, "1.00"), 404, "account_not_found")
    assert_problem(
        client.post(f"/v1/accounts/{number}/balance/recalculate"), 404, "account_not_found"
    )
    reopened = client.post(
        "/v1/accounts",
        json={"account_number": number, "customer_name": "Again", "account_type": "checking"},
    )
    assert_problem(reopened, 409, "duplicate_account_number")
    kept = client.get(f"/v1/transactions/{first['transaction_id']}")
    assert kept.status_code == 200
    listing = client.get("/v1/accounts", params={"limit": 500}).json()
    assert number not in [a["account_number"] for a in listing["items"]]


def test_listing_accounts_pages_without_gaps_and_filters(client: httpx.Client) -> None:
    name = refs.customer_name()
    mine = {
        open_account(client, customer_name=name, account_type=kind)["account_number"]
        for kind in ["savings", "checking", "savings", "savings", "checking"]
    }
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"customer_name": name, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/accounts", params=params).json()
        assert len(page["items"]) <= 2
        seen += [a["account_number"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(mine)
    savings = client.get(
        "/v1/accounts", params={"customer_name": name, "account_type": "savings"}
    ).json()
    assert len(savings["items"]) == 3
    assert_problem(client.get("/v1/accounts", params={"limit": 0}), 422, "validation_error")
    assert_problem(client.get("/v1/accounts", params={"limit": 501}), 422, "validation_error")
    assert_problem(
        client.get("/v1/accounts", params={"cursor": "garbage!"}), 422, "validation_error"
    )
    assert_problem(client.get("/v1/accounts", params={"status": "closed"}), 422, "validation_error")


def test_recalculate_reports_no_drift_on_a_healthy_account(client: httpx.Client) -> None:
    number = open_account(client, initial_deposit="0.10")["account_number"]
    post(client, number, "0.20")
    result = exact(client.post(f"/v1/accounts/{number}/balance/recalculate"))
    assert result == {
        "account_number": number,
        "balance": Decimal("0.30"),
        "previous_balance": Decimal("0.30"),
        "corrected": False,
    }
