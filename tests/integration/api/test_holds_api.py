"""Available balance, overdraft limits and holds over HTTP (API.md section 12, and the v2 lines
of sections 2 and 3), on every store. Expiries use an ``expires_at`` a second or so ahead: the
server's clock is the real one."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.integration.api.helpers import JSON, assert_problem, exact, open_account, post
from tests.support.feeds import FEED_WAIT_SECONDS
from tests.support.keys import AUTH


def moment(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def account_of(client: httpx.Client, number: str) -> dict[str, Any]:
    response = client.get(f"/v1/accounts/{number}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = exact(response)
    return found


def figures(client: httpx.Client, number: str) -> tuple[Decimal, Decimal, Decimal]:
    account = account_of(client, number)
    return account["balance"], account["overdraft_limit"], account["available_balance"]


def hold(client: httpx.Client, number: str, amount: str, **fields: Any) -> dict[str, Any]:
    response = post(client, number, amount, "withdrawal", status="pending", **fields)
    assert response.status_code == 201, response.text
    posted: dict[str, Any] = exact(response)
    return posted


def patch(client: httpx.Client, transaction_id: str, body: str, **headers: str) -> httpx.Response:
    return client.patch(
        f"/v1/transactions/{transaction_id}", content=body, headers={**JSON, **headers}
    )


def transactions_of(client: httpx.Client, number: str, **params: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/accounts/{number}/transactions", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = exact(response)["items"]
    return items


def events_of(
    client: httpx.Client, number: str, *, count: int, **filters: str
) -> list[dict[str, Any]]:
    """The account's events, read again until ``count`` are there (or FEED_WAIT_SECONDS have
    passed): on PostgreSQL a transaction running anywhere on the server holds later events back
    from the feed until it ends (bank_adapters/sql/events.py)."""
    deadline = time.monotonic() + FEED_WAIT_SECONDS
    while True:
        params = {"account_number": number, "limit": "500", **filters}
        events: list[dict[str, Any]] = exact(client.get("/v1/events", params=params))["items"]
        if len(events) >= count or time.monotonic() > deadline:
            return events
        time.sleep(0.1)


def test_an_account_shows_its_overdraft_limit_and_available_balance(
    client: httpx.Client,
) -> None:
    account = open_account(client, "10.10")
    assert (account["overdraft_limit"], account["available_balance"]) == (
        Decimal("0.00"),
        Decimal("10.10"),
    )
    with_limit = client.post(
        "/v1/accounts",
        content=b'{"customer_name": "Ada", "account_type": "checking", "overdraft_limit": 0.30,'
        b' "initial_deposit": 0.10}',
        headers=JSON,
    )
    assert with_limit.status_code == 201, with_limit.text
    assert b'"overdraft_limit":0.30' in with_limit.content
    assert b'"available_balance":0.40' in with_limit.content


@pytest.mark.parametrize("method", ["POST", "PATCH", "PUT"])
def test_available_balance_is_read_only(client: httpx.Client, method: str) -> None:
    number = open_account(client, "5.00")["account_number"]
    body = {"customer_name": "Ada", "account_type": "checking", "available_balance": 1}
    path = "/v1/accounts" if method == "POST" else f"/v1/accounts/{number}"
    response = client.request(method, path, content=json.dumps(body), headers=JSON)
    assert_problem(response, 422, "validation_error")
    assert figures(client, number) == (Decimal("5.00"), Decimal("0.00"), Decimal("5.00"))


@pytest.mark.parametrize("limit", ["-0.01", "1000000000000.01", "0.001", '"ten"', "null"])
def test_an_overdraft_limit_outside_an_amount_s_bounds_is_a_422(
    client: httpx.Client, limit: str
) -> None:
    number = open_account(client)["account_number"]
    response = client.patch(
        f"/v1/accounts/{number}", content=f'{{"overdraft_limit": {limit}}}', headers=JSON
    )
    assert_problem(response, 422, "validation_error")
    assert account_of(client, number)["version"] == 1


def test_a_balance_goes_below_zero_within_the_limit_and_the_journal_follows(
    client: httpx.Client,
) -> None:
    number = open_account(client, "10.00")["account_number"]
    assert_problem(post(client, number, "10.01", "withdrawal"), 409, "insufficient_funds")
    put = client.put(
        f"/v1/accounts/{number}",
        content=b'{"customer_name": "Ada", "account_type": "checking", "overdraft_limit": 25}',
        headers=JSON,
    )
    assert put.status_code == 200, put.text
    withdrawal = post(client, number, "15.00", "withdrawal")
    assert withdrawal.status_code == 201, withdrawal.text
    assert exact(withdrawal)["balance_after"] == Decimal("-5.00")
    assert figures(client, number) == (Decimal("-5.00"), Decimal("25.00"), Decimal("20.00"))
    assert_problem(post(client, number, "20.01", "withdrawal"), 409, "insufficient_funds")

    entries = exact(client.get(f"/v1/accounts/{number}/entries"))["items"]
    assert [e["balance_after"] for e in entries] == [Decimal("10.00"), Decimal("-5.00")]
    assert b'"balance_after":-5.00' in client.get(f"/v1/accounts/{number}/entries").content
    verify = exact(client.get(f"/v1/accounts/{number}/verify"))
    assert (verify["chain_intact"], verify["balance_matches"]) == (True, True)
    recalculated = exact(client.post(f"/v1/accounts/{number}/balance/recalculate"))
    assert (recalculated["balance"], recalculated["corrected"]) == (Decimal("-5.00"), False)

    # Lowering the limit below what the account uses: 409, nothing changed.
    before = account_of(client, number)
    lowered = client.patch(
        f"/v1/accounts/{number}", content=b'{"overdraft_limit": 4.99}', headers=JSON
    )
    assert_problem(lowered, 409, "overdraft_limit_in_use")
    assert account_of(client, number) == before
    ok = client.patch(f"/v1/accounts/{number}", content=b'{"overdraft_limit": 5}', headers=JSON)
    assert ok.status_code == 200, ok.text
    assert exact(ok)["available_balance"] == Decimal("0.00")


def test_a_hold_that_does_not_fit_is_a_409_and_nothing_is_stored(client: httpx.Client) -> None:
    number = open_account(client, "100.00")["account_number"]
    refused = post(
        client, number, "100.01", "withdrawal", status="pending", transaction_id="refused-hold-1"
    )
    assert_problem(refused, 409, "insufficient_funds")
    assert transactions_of(client, number, status="pending") == []
    assert_problem(client.get("/v1/transactions/refused-hold-1"), 404, "transaction_not_found")
    # A hold refused once is never applied later.
    later = patch(client, "refused-hold-1", '{"status": "success"}')
    assert_problem(later, 404, "transaction_not_found")
    assert figures(client, number) == (Decimal("100.00"), Decimal("0.00"), Decimal("100.00"))


def test_a_hold_is_captured_in_part_and_released_once(client: httpx.Client) -> None:
    number = open_account(client, "100.00")["account_number"]
    first = hold(client, number, "80.00")
    assert first["balance_after"] is None
    assert figures(client, number)[2] == Decimal("20.00")
    assert_problem(post(client, number, "20.01", "withdrawal"), 409, "insufficient_funds")
    # Captured above the hold without the funds for the difference: 409, nothing changed.
    over = patch(client, first["transaction_id"], '{"amount": 100.01, "status": "success"}')
    assert_problem(over, 409, "insufficient_funds")
    captured = patch(client, first["transaction_id"], '{"amount": 30, "status": "success"}')
    assert captured.status_code == 200, captured.text
    assert (exact(captured)["status"], exact(captured)["balance_after"]) == (
        "success",
        Decimal("70.00"),
    )
    assert figures(client, number) == (Decimal("70.00"), Decimal("0.00"), Decimal("70.00"))

    second = hold(client, number, "70.00")
    assert patch(client, second["transaction_id"], '{"status": "cancelled"}').status_code == 200
    again = patch(client, second["transaction_id"], '{"status": "cancelled"}')
    assert again.status_code == 200, again.text  # no change: released once
    assert exact(again)["version"] == 2
    assert_problem(
        patch(client, second["transaction_id"], '{"status": "success"}'),
        409,
        "invalid_status_change",
    )
    assert figures(client, number) == (Decimal("70.00"), Decimal("0.00"), Decimal("70.00"))

    third = hold(client, number, "50.00")
    deleted = client.delete(f"/v1/transactions/{third['transaction_id']}")
    assert deleted.status_code == 204
    assert figures(client, number)[2] == Decimal("70.00")


def test_a_pending_deposit_adds_nothing_and_a_pending_transaction_keeps_an_account_open(
    client: httpx.Client,
) -> None:
    number = open_account(client)["account_number"]
    deposit = post(client, number, "500.00", "deposit", status="pending")
    assert deposit.status_code == 201, deposit.text
    assert figures(client, number)[2] == Decimal("0.00")
    assert_problem(client.delete(f"/v1/accounts/{number}"), 409, "account_not_empty")
    assert patch(client, exact(deposit)["transaction_id"], '{"status": "failed"}').is_success
    assert client.delete(f"/v1/accounts/{number}").status_code == 204


def test_a_frozen_account_releases_holds_and_takes_descriptions_but_moves_nothing(
    client: httpx.Client,
) -> None:
    number = open_account(client, "100.00")["account_number"]
    first, second = hold(client, number, "10.00"), hold(client, number, "20.00")
    frozen = client.patch(f"/v1/accounts/{number}", content=b'{"status": "frozen"}', headers=JSON)
    assert frozen.status_code == 200
    assert_problem(
        post(client, number, "1.00", "withdrawal", status="pending"), 409, "account_frozen"
    )
    assert_problem(
        patch(client, first["transaction_id"], '{"status": "success"}'), 409, "account_frozen"
    )
    assert patch(client, first["transaction_id"], '{"description": "noted"}').status_code == 200
    assert patch(client, second["transaction_id"], '{"status": "failed"}').status_code == 200
    assert figures(client, number) == (Decimal("100.00"), Decimal("0.00"), Decimal("90.00"))


@pytest.mark.parametrize(
    ("status", "expires_at"),
    [
        ("pending", "2000-01-01T00:00:00Z"),
        ("pending", "in 31 days"),
        ("pending", "2030-01-01T00:00:00"),  # no offset
        ("pending", "1767225600"),
        ("success", "in an hour"),
    ],
)
def test_a_wrong_expiry_is_a_422_and_nothing_is_stored(
    client: httpx.Client, status: str, expires_at: str
) -> None:
    number = open_account(client, "10.00")["account_number"]
    given = {
        "in 31 days": moment(timedelta(days=31)),
        "in an hour": moment(timedelta(hours=1)),
    }.get(expires_at, expires_at)
    response = post(client, number, "1.00", "withdrawal", status=status, expires_at=given)
    assert_problem(response, 422, "validation_error")
    assert transactions_of(client, number)[1:] == []
    assert figures(client, number)[2] == Decimal("10.00")


def test_an_expired_hold_is_cancelled_for_every_read_and_then_recorded_by_the_system(
    client: httpx.Client,
) -> None:
    number = open_account(client, "100.00")["account_number"]
    expires_at = datetime.now(UTC) + timedelta(seconds=1)
    held = hold(client, number, "60.00", expires_at=expires_at.isoformat())
    tid = held["transaction_id"]
    assert held["expires_at"] is not None
    assert figures(client, number)[2] == Decimal("40.00")
    time.sleep(max(0.0, (expires_at - datetime.now(UTC)).total_seconds()) + 0.05)

    transaction = exact(client.get(f"/v1/transactions/{tid}"))
    assert (transaction["status"], transaction["version"]) == ("cancelled", 2)
    assert figures(client, number)[2] == Decimal("100.00")
    assert [t["transaction_id"] for t in transactions_of(client, number, status="cancelled")] == [
        tid
    ]
    assert transactions_of(client, number, status="pending") == []
    history = exact(client.get(f"/v1/transactions/{tid}/history"))["items"]
    assert [(v["change"], v["changed_by"], v["request_id"]) for v in history] == [
        ("created", "master", history[0]["request_id"]),
        ("expired", "system", None),
    ]
    assert history[1]["expires_at"] == history[0]["expires_at"] == transaction["expires_at"]
    assert_problem(patch(client, tid, '{"status": "success"}'), 409, "invalid_status_change")

    # The server's sweeper records it (a transaction.expired event by system) within seconds,
    # and the reads do not change when it does.
    expired_events = events_of(client, number, count=1, type="transaction.expired")
    assert [(e["actor"], e["request_id"], e["data"]["status"]) for e in expired_events] == [
        ("system", None, "cancelled")
    ]
    assert exact(client.get(f"/v1/transactions/{tid}")) == transaction
    assert exact(client.get(f"/v1/transactions/{tid}/history"))["items"] == history
    assert figures(client, number)[2] == Decimal("100.00")


def test_events_and_history_carry_the_new_fields(client: httpx.Client) -> None:
    number = open_account(client, "10.00")["account_number"]
    expires_at = moment(timedelta(days=2))
    held = hold(client, number, "4.00", expires_at=expires_at)
    events = events_of(client, number, count=3)
    opened = next(e for e in events if e["type"] == "account.opened")
    assert {"overdraft_limit", "available_balance"} <= opened["data"].keys()
    posted = [e for e in events if e["type"] == "transaction.posted"][-1]
    assert posted["data"]["expires_at"] == held["expires_at"]
    history = exact(client.get(f"/v1/transactions/{held['transaction_id']}/history"))["items"]
    assert history[0]["expires_at"] == held["expires_at"]
    assert datetime.fromisoformat(held["expires_at"]) == datetime.fromisoformat(expires_at)


def test_concurrent_captures_and_cancels_of_one_hold_exactly_one_wins(
    base_url: str, client: httpx.Client
) -> None:
    number = open_account(client, "100.00")["account_number"]
    held = hold(client, number, "100.00")
    tid = held["transaction_id"]
    bodies = [
        '{"status": "success"}',
        '{"status": "cancelled"}',
        '{"amount": 40, "status": "success"}',
    ] * 8

    def change(body: str) -> int:
        with httpx.Client(base_url=base_url, timeout=60, headers=AUTH) as own:
            return patch(own, tid, body, **{"if-match": '"1"'}).status_code

    with ThreadPoolExecutor(len(bodies)) as pool:
        statuses = list(pool.map(change, bodies))

    assert statuses.count(200) == 1, statuses
    assert statuses.count(412) == len(bodies) - 1, statuses
    final = exact(client.get(f"/v1/transactions/{tid}"))
    balance, _, available = figures(client, number)
    if final["status"] == "cancelled":
        assert (balance, available) == (Decimal("100.00"), Decimal("100.00"))
    else:
        assert balance == available == Decimal("100.00") - final["amount"]
    verify = exact(client.get(f"/v1/accounts/{number}/verify"))
    assert (verify["chain_intact"], verify["balance_matches"]) == (True, True)


def test_a_capture_racing_the_expiry_either_wins_or_finds_the_hold_expired(
    base_url: str, client: httpx.Client
) -> None:
    number = open_account(client, "100.00")["account_number"]
    expires_at = datetime.now(UTC) + timedelta(seconds=1)
    tid = hold(client, number, "100.00", expires_at=expires_at.isoformat())["transaction_id"]
    time.sleep(max(0.0, (expires_at - datetime.now(UTC)).total_seconds() - 0.02))

    def capture(_: int) -> int:
        with httpx.Client(base_url=base_url, timeout=60, headers=AUTH) as own:
            return patch(own, tid, '{"status": "success"}').status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(capture, range(8)))

    assert set(statuses) <= {200, 409}, statuses
    final = exact(client.get(f"/v1/transactions/{tid}"))
    history = exact(client.get(f"/v1/transactions/{tid}/history"))["items"]
    changes = [v["change"] for v in history]
    balance, _, available = figures(client, number)
    if final["status"] == "success":
        # The first capture won before the expiry; the others changed nothing (200, no change).
        assert changes == ["created", "amended"]
        assert 409 not in statuses
        assert balance == available == Decimal("0.00")
    else:
        assert final["status"] == "cancelled"
        assert changes == ["created", "expired"]
        assert statuses == [409] * 8
        assert balance == available == Decimal("100.00")
    verify = exact(client.get(f"/v1/accounts/{number}/verify"))
    assert (verify["chain_intact"], verify["balance_matches"]) == (True, True)
