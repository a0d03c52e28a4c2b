"""Batches over HTTP on every store (API.md section 14): all or nothing, in order, the refused
item named by its index, retries answered as stored."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.integration.api.helpers import JSON, assert_problem, balance, exact, open_account, post
from tests.integration.api.test_journal_api import entries_of
from tests.integration.api.test_transfers_api import events_of, last_event_is, state_of
from tests.support import refs
from tests.support.journal import assert_chain_recomputes


def item(number: str, amount: str, kind: str = "deposit", **fields: Any) -> str:
    """One item's JSON, its amount written exactly as given."""
    text = httpx.Request(
        "POST", "/", json={"account_number": number, "transaction_type": kind, **fields}
    ).content.decode()
    return f'{text[:-1]}, "amount": {amount}}}'


def send(client: httpx.Client, *items: str) -> httpx.Response:
    body = '{"transactions": [' + ", ".join(items) + "]}"
    return client.post("/v1/transactions/batch", content=body.encode(), headers=JSON)


def test_a_batch_applies_its_items_in_order(client: httpx.Client) -> None:
    first = open_account(client)["account_number"]
    second = open_account(client, initial_deposit="5.00")["account_number"]
    tid = refs.transaction_id()

    answer = send(
        client,
        item(first, "100.00", transaction_id=tid, description="pay"),
        item(first, "60.00", "withdrawal"),
        item(second, "5.00", "withdrawal"),
        item(first, "0.10", status="pending"),
        item(first, "40.00", "withdrawal"),
    )

    assert answer.status_code == 201, answer.text
    items = exact(answer)["items"]
    assert [(i["account_number"], i["amount"], i["balance_after"]) for i in items] == [
        (first, Decimal("100.00"), Decimal("100.00")),
        (first, Decimal("60.00"), Decimal("40.00")),
        (second, Decimal("5.00"), Decimal("0.00")),
        (first, Decimal("0.10"), None),
        (first, Decimal("40.00"), Decimal("0.00")),
    ]
    assert (items[0]["transaction_id"], items[0]["description"]) == (tid, "pay")
    assert all(i["transfer_id"] is None and i["version"] == 1 for i in items)
    assert balance(client, first) == Decimal("0.00")
    assert balance(client, second) == Decimal("0.00")
    for shown in items:
        stored = client.get(f"/v1/transactions/{shown['transaction_id']}")
        assert exact(stored) == shown
    listed = exact(client.get(f"/v1/accounts/{first}/transactions"))["items"]
    assert [t["transaction_id"] for t in listed] == [
        items[i]["transaction_id"] for i in (0, 1, 3, 4)
    ]
    told = events_of(client, first, last_event_is(items[4]))
    posted = [e["data"] for e in told if e["type"] == "transaction.posted"]
    assert posted == [items[i] for i in (0, 1, 3, 4)]
    history = exact(client.get(f"/v1/transactions/{items[1]['transaction_id']}/history"))
    assert [v["change"] for v in history["items"]] == ["created"]
    for number in (first, second):
        assert_chain_recomputes(entries_of(client, number), balance(client, number))


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("overdraw", 409, "insufficient_funds"),
        ("unknown account", 404, "account_not_found"),
        ("frozen account", 409, "account_frozen"),
        ("taken id", 409, "duplicate_transaction_id"),
        ("id twice", 422, "validation_error"),
        ("three places", 422, "validation_error"),
        ("unknown field", 422, "validation_error"),
        ("short account number", 422, "validation_error"),
    ],
)
def test_a_batch_refused_at_item_k_stores_nothing(
    client: httpx.Client, case: str, status: int, code: str
) -> None:
    number = open_account(client, initial_deposit="10.00")["account_number"]
    frozen = open_account(client, initial_deposit="10.00")["account_number"]
    assert client.patch(f"/v1/accounts/{frozen}", json={"status": "frozen"}).status_code == 200
    taken = refs.transaction_id()
    assert post(client, number, "1.00", transaction_id=taken).status_code == 201
    twice = refs.transaction_id()
    good = [
        item(number, "10.00", transaction_id=twice),
        item(number, "1.00", "withdrawal"),
        item(number, "2.00"),
    ]
    bad = {
        "overdraw": item(number, "22.01", "withdrawal"),
        "unknown account": item(refs.account_number(), "1.00"),
        "frozen account": item(frozen, "1.00"),
        "taken id": item(number, "2.00", transaction_id=taken),
        "id twice": item(number, "10.00", transaction_id=twice),
        "three places": item(number, "1.001"),
        "unknown field": item(number, "1.00", transfer_id="abcdefgh"),
        "short account number": item("123", "1.00"),
    }[case]
    before = state_of(client, number, frozen)

    answer = send(client, *good, bad, item(number, "1.00"))

    problem = assert_problem(answer, status, code)
    assert problem["index"] == 3
    if status == 422:
        assert problem["errors"]
        assert all(e["loc"][:3] == ["body", "transactions", 3] for e in problem["errors"])
    assert state_of(client, number, frozen) == before


def test_a_repeated_batch_answers_200_as_stored(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    items = [item(number, "3.00", transaction_id=refs.transaction_id()) for _ in range(3)]
    first = send(client, *items)
    assert first.status_code == 201, first.text
    before = state_of(client, number)

    again = send(client, *items)

    assert again.status_code == 200, again.text
    assert exact(again) == exact(first)
    assert state_of(client, number) == before
    mixed = send(client, *items, item(number, "1.00"))
    assert mixed.status_code == 201, mixed.text
    assert exact(mixed)["items"][:3] == exact(first)["items"]
    assert balance(client, number) == Decimal("10.00")


@pytest.mark.parametrize("size", [0, 1001])
def test_a_batch_holds_1_to_1000_items(client: httpx.Client, size: int) -> None:
    number = open_account(client)["account_number"]
    problem = assert_problem(send(client, *[item(number, "1.00")] * size), 422, "validation_error")
    assert problem["errors"][0]["loc"][:2] == ["body", "transactions"]
    assert "index" not in problem
    assert balance(client, number) == Decimal("0.00")


def test_a_batch_of_1000_postings_is_stored_whole(client: httpx.Client) -> None:
    numbers = [open_account(client)["account_number"] for _ in range(20)]
    answer = send(client, *[item(numbers[i % 20], "0.01") for i in range(1000)])
    assert answer.status_code == 201, answer.text
    assert len(exact(answer)["items"]) == 1000
    for number in numbers:
        assert balance(client, number) == Decimal("0.50")
        assert_chain_recomputes(entries_of(client, number), Decimal("0.50"))


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b'{"transactions": {}}',
        b'{"transactions": [], "x": 1}',
        b"[]",
        b'{"transactions": [1]}',
    ],
)
def test_a_malformed_batch_is_a_422(client: httpx.Client, body: bytes) -> None:
    answer = client.post("/v1/transactions/batch", content=body, headers=JSON)
    assert_problem(answer, 422, "validation_error")


def test_the_batch_path_allows_post_alone(client: httpx.Client) -> None:
    answer = client.request("OPTIONS", "/v1/transactions/batch")
    assert_problem(answer, 405, "method_not_allowed")
    assert answer.headers["allow"] == "POST"
    # A transaction's own path still names every method it serves.
    other = client.request("OPTIONS", "/v1/transactions/abcdefghijk")
    assert other.headers["allow"] == "DELETE, GET, PATCH, PUT"


def test_a_422_names_the_first_refused_item_and_only_its_errors(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    answer = send(
        client,
        item(number, "1.00"),
        item(number, "1.001", note="x"),
        item(number, "1.00"),
        item(number, "-1"),
    )
    problem = assert_problem(answer, 422, "validation_error")
    assert problem["index"] == 1
    assert sorted(tuple(e["loc"]) for e in problem["errors"]) == [
        ("body", "transactions", 1, "amount"),
        ("body", "transactions", 1, "note"),
    ]
    assert balance(client, number) == Decimal("0.00")
