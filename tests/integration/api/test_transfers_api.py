"""Transfers over HTTP on every store (API.md section 13): both legs or neither, retries,
reversal, legs that never change alone, and who sees a transfer."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.integration.api.helpers import (
    JSON,
    assert_problem,
    balance,
    exact,
    open_account,
    post,
)
from tests.integration.api.test_journal_api import entries_of
from tests.support import refs
from tests.support.journal import assert_chain_recomputes
from tests.support.keys import bearer

TRANSFER_FIELDS = {
    "transfer_id",
    "from_account",
    "to_account",
    "amount",
    "description",
    "status",
    "timestamp",
    "debit_transaction_id",
    "credit_transaction_id",
}


def send(client: httpx.Client, body: dict[str, Any], **headers: str) -> httpx.Response:
    """A transfer with its amount written into the JSON exactly as given (a string)."""
    amount = body.pop("amount", None)
    text = httpx.Request("POST", "/", json=body).content.decode()[:-1]
    if amount is not None:
        text += f', "amount": {amount}'
    return client.post("/v1/transfers", content=(text + "}").encode(), headers={**JSON, **headers})


def two_accounts(client: httpx.Client, first: str = "100.00") -> tuple[str, str]:
    return (
        open_account(client, initial_deposit=first)["account_number"],
        open_account(client)["account_number"],
    )


def events_of(
    client: httpx.Client,
    number: str,
    until: Callable[[list[dict[str, Any]]], bool] = lambda events: True,
) -> list[dict[str, Any]]:
    """The account's events, read again (for up to 10 s) until ``until`` holds: on PostgreSQL
    the feed holds back what committed while an older transaction anywhere on the server is
    still running (README, "The event feed on PostgreSQL")."""
    deadline = time.monotonic() + 10
    while True:
        events: list[dict[str, Any]] = []
        cursor = ""
        while True:
            page = exact(
                client.get("/v1/events", params={"account_number": number, "cursor": cursor})
            )
            if not page["items"]:
                break
            events += page["items"]
            cursor = page["next_cursor"]
        if until(events) or time.monotonic() > deadline:
            return events
        time.sleep(0.05)


def last_event_is(data: dict[str, Any]) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda events: bool(events) and events[-1]["data"] == data


def state_of(client: httpx.Client, *numbers: str) -> list[Any]:
    """What a refused request must leave as it was: each account's balance, its transactions,
    every version of each (their history: the events about them, read without the feed's
    wait) and its journal."""
    state = []
    for number in numbers:
        listed = exact(client.get(f"/v1/accounts/{number}/transactions", params={"limit": 500}))
        histories = [
            exact(client.get(f"/v1/transactions/{t['transaction_id']}/history"))["items"]
            for t in listed["items"]
        ]
        state.append((balance(client, number), listed, histories, entries_of(client, number)))
    return state


def test_a_transfer_posts_two_legs_both_carrying_its_id(client: httpx.Client) -> None:
    source, target = two_accounts(client)
    tid = refs.transaction_id()

    answer = send(
        client,
        {
            "transfer_id": tid,
            "from_account": source,
            "to_account": target,
            "amount": "30.25",
            "description": "Rent",
        },
    )

    assert answer.status_code == 201, answer.text
    assert answer.headers["location"] == f"/v1/transfers/{tid}"
    made = exact(answer)
    assert set(made) == TRANSFER_FIELDS
    assert (made["transfer_id"], made["amount"], made["status"], made["description"]) == (
        tid,
        Decimal("30.25"),
        "success",
        "Rent",
    )
    assert balance(client, source) == Decimal("69.75")
    assert balance(client, target) == Decimal("30.25")
    debit = exact(client.get(f"/v1/transactions/{made['debit_transaction_id']}"))
    credit = exact(client.get(f"/v1/transactions/{made['credit_transaction_id']}"))
    assert (debit["transaction_type"], debit["account_number"], debit["transfer_id"]) == (
        "withdrawal",
        source,
        tid,
    )
    assert (credit["transaction_type"], credit["account_number"], credit["transfer_id"]) == (
        "deposit",
        target,
        tid,
    )
    assert debit["status"] == credit["status"] == "success"
    assert debit["timestamp"] == credit["timestamp"] == made["timestamp"]
    assert (debit["balance_after"], credit["balance_after"]) == (Decimal("69.75"), Decimal("30.25"))
    shown = client.get(f"/v1/transfers/{tid}")
    assert shown.status_code == 200
    assert exact(shown) == made
    for number, leg in ((source, debit), (target, credit)):
        event = events_of(client, number, last_event_is(leg))[-1]
        assert (event["type"], event["data"]) == ("transfer.posted", leg)
        history = exact(client.get(f"/v1/transactions/{leg['transaction_id']}/history"))
        assert [v["change"] for v in history["items"]] == ["created"]
        entries = entries_of(client, number)
        assert entries[-1]["transaction_id"] == leg["transaction_id"]
        assert_chain_recomputes(entries, balance(client, number))
    other = post(client, source, "1.00").json()
    assert other["transfer_id"] is None


def test_a_transfer_without_an_id_gets_one(client: httpx.Client) -> None:
    source, target = two_accounts(client)
    answer = send(client, {"from_account": source, "to_account": target, "amount": "1"})
    assert answer.status_code == 201, answer.text
    made = exact(answer)
    assert made["description"] is None
    assert client.get(answer.headers["location"]).status_code == 200


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("same account", 422, "validation_error"),
        ("unknown to", 404, "account_not_found"),
        ("unknown from", 404, "account_not_found"),
        ("frozen from", 409, "account_frozen"),
        ("frozen to", 409, "account_frozen"),
        ("too much", 409, "insufficient_funds"),
        ("amount with 3 places", 422, "validation_error"),
        ("zero amount", 422, "validation_error"),
        ("read-only field", 422, "validation_error"),
        ("malformed from", 422, "validation_error"),
    ],
)
def test_a_refused_transfer_changes_nothing(
    client: httpx.Client, case: str, status: int, code: str
) -> None:
    source, target = two_accounts(client)
    body: dict[str, Any] = {"from_account": source, "to_account": target, "amount": "30.00"}
    if case == "same account":
        body["to_account"] = source
    elif case.startswith("unknown"):
        body["to_account" if case == "unknown to" else "from_account"] = refs.account_number()
    elif case.startswith("frozen"):
        frozen = source if case == "frozen from" else target
        assert client.patch(f"/v1/accounts/{frozen}", json={"status": "frozen"}).status_code == 200
    elif case == "too much":
        body["amount"] = "100.01"
    elif case == "amount with 3 places":
        body["amount"] = "1.001"
    elif case == "zero amount":
        body["amount"] = "0"
    elif case == "read-only field":
        body["status"] = "success"
    else:
        body["from_account"] = "12345"
    before = state_of(client, source, target)

    problem = assert_problem(send(client, body), status, code)

    assert state_of(client, source, target) == before
    if case == "same account":
        assert problem["errors"][0]["loc"] == ["body", "to_account"]


def test_the_same_transfer_id_is_a_safe_retry_or_a_conflict(client: httpx.Client) -> None:
    source, target = two_accounts(client)
    tid = refs.transaction_id()
    body = {"transfer_id": tid, "from_account": source, "to_account": target, "amount": "10.00"}
    first = send(client, dict(body))
    assert first.status_code == 201, first.text

    again = send(client, dict(body))

    assert again.status_code == 200, again.text
    assert exact(again) == exact(first)
    assert balance(client, source) == Decimal("90.00")
    for changed in ({"amount": "11.00"}, {"description": "other"}, {"to_account": source}):
        other = {**body, **changed}
        if changed.get("to_account") == source:
            other["from_account"] = target
        assert_problem(send(client, other), 409, "duplicate_transfer_id")
    assert balance(client, source) == Decimal("90.00")


def test_reversal_cancels_both_legs_and_gives_the_money_back(client: httpx.Client) -> None:
    source, target = two_accounts(client)
    made = exact(send(client, {"from_account": source, "to_account": target, "amount": "40.00"}))
    url = f"/v1/transfers/{made['transfer_id']}/reversal"

    answer = client.post(url)

    assert answer.status_code == 200, answer.text
    reversed_ = exact(answer)
    assert reversed_ == {**made, "status": "reversed"}
    assert balance(client, source) == Decimal("100.00")
    assert balance(client, target) == Decimal("0.00")
    for number, leg_id in (
        (source, made["debit_transaction_id"]),
        (target, made["credit_transaction_id"]),
    ):
        leg = exact(client.get(f"/v1/transactions/{leg_id}"))
        assert (leg["status"], leg["version"], leg["balance_after"]) == ("cancelled", 2, None)
        history = exact(client.get(f"/v1/transactions/{leg_id}/history"))
        assert [v["change"] for v in history["items"]] == ["created", "reversed"]
        event = events_of(client, number, last_event_is(leg))[-1]
        assert (event["type"], event["data"]) == ("transfer.reversed", leg)
        assert_chain_recomputes(entries_of(client, number), balance(client, number))
        verified = exact(client.get(f"/v1/accounts/{number}/verify"))
        assert verified["chain_intact"]
        assert verified["balance_matches"]
    assert exact(client.get(f"/v1/transfers/{made['transfer_id']}"))["status"] == "reversed"

    before = state_of(client, source, target)
    again = client.post(url)
    assert again.status_code == 200
    assert exact(again) == reversed_
    assert state_of(client, source, target) == before


def test_reversal_is_refused_when_to_account_cannot_give_it_back(client: httpx.Client) -> None:
    source, target = two_accounts(client)
    made = exact(send(client, {"from_account": source, "to_account": target, "amount": "40.00"}))
    assert post(client, target, "0.01", "withdrawal").status_code == 201
    before = state_of(client, source, target)

    answer = client.post(f"/v1/transfers/{made['transfer_id']}/reversal")

    assert_problem(answer, 409, "insufficient_funds")
    assert state_of(client, source, target) == before


@pytest.mark.parametrize("transfer_id", ["never-made-transfer", "x", "has space"])
def test_an_unknown_transfer_is_a_404(client: httpx.Client, transfer_id: str) -> None:
    assert_problem(client.get(f"/v1/transfers/{transfer_id}"), 404, "transfer_not_found")
    answer = client.post(f"/v1/transfers/{transfer_id}/reversal")
    assert_problem(answer, 404, "transfer_not_found")


def test_a_leg_is_not_changed_nor_deleted_alone(client: httpx.Client) -> None:
    source, target = two_accounts(client)
    made = exact(send(client, {"from_account": source, "to_account": target, "amount": "5.00"}))
    before = state_of(client, source, target)

    for leg_id in (made["debit_transaction_id"], made["credit_transaction_id"]):
        url = f"/v1/transactions/{leg_id}"
        assert_problem(client.patch(url, json={"status": "cancelled"}), 409, "transfer_leg")
        assert_problem(client.patch(url, json={"description": "x"}), 409, "transfer_leg")
        put = client.put(url, json={"amount": 5, "transaction_type": "deposit"})
        assert_problem(put, 409, "transfer_leg")
        assert_problem(client.delete(url), 409, "transfer_leg")
        assert_problem(client.patch(url, json={"transfer_id": None}), 422, "validation_error")

    assert state_of(client, source, target) == before


def test_a_restricted_key_sees_a_transfer_only_with_both_accounts(client: httpx.Client) -> None:
    source, target = two_accounts(client)
    made = exact(send(client, {"from_account": source, "to_account": target, "amount": "5.00"}))
    scopes = ["transactions:read", "transactions:write", "audit:read"]

    def key(*numbers: str) -> dict[str, str]:
        answer = client.post(
            "/v1/api-keys",
            json={"name": "transfers", "scopes": scopes, "account_numbers": list(numbers)},
        )
        assert answer.status_code == 201, answer.text
        return bearer(answer.json()["secret"])

    both, only_source = key(source, target), key(source)
    url = f"/v1/transfers/{made['transfer_id']}"

    assert exact(client.get(url, headers=both)) == made
    assert_problem(client.get(url, headers=only_source), 404, "transfer_not_found")
    assert_problem(client.post(f"{url}/reversal", headers=only_source), 404, "transfer_not_found")
    body = {"from_account": source, "to_account": target, "amount": "1.00"}
    assert_problem(send(client, dict(body), **only_source), 404, "account_not_found")
    assert balance(client, source) == Decimal("95.00")
    # It sees its own leg, and its account's events only.
    leg = client.get(f"/v1/transactions/{made['debit_transaction_id']}", headers=only_source)
    assert leg.status_code == 200
    other_leg = client.get(f"/v1/transactions/{made['credit_transaction_id']}", headers=only_source)
    assert_problem(other_leg, 404, "transaction_not_found")
    made_by_key = send(client, dict(body), **both)
    assert made_by_key.status_code == 201, made_by_key.text
    assert client.post(f"{url}/reversal", headers=both).status_code == 200
