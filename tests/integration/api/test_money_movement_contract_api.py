"""Sections 12 to 15 of the contract (holds, overdraft, transfers, batches, idempotency keys),
read from API.md alone and held over real HTTP on every store, as an outside client sees them."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import httpx

from tests.integration.api.helpers import JSON, assert_problem, exact, open_account, post
from tests.support import refs
from tests.support.keys import bearer


def _account(client: httpx.Client, number: str) -> dict[str, Any]:
    response = client.get(f"/v1/accounts/{number}")
    assert response.status_code == 200, response.text
    account: dict[str, Any] = exact(response)
    return account


def _patch(client: httpx.Client, path: str, body: str) -> httpx.Response:
    return client.patch(path, content=body.encode(), headers=JSON)


def _post_json(
    client: httpx.Client, path: str, body: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return client.post(path, content=body.encode(), headers={**JSON, **(headers or {})})


def _funds(client: httpx.Client, number: str) -> tuple[Decimal, Decimal]:
    account = _account(client, number)
    return account["balance"], account["available_balance"]


# Section 2 and 12: overdraft limits and the available balance


def test_an_overdraft_limit_lets_the_balance_go_below_zero_and_no_further(
    client: httpx.Client,
) -> None:
    account = open_account(client, initial_deposit="50.00", overdraft_limit=100)
    number = account["account_number"]
    assert account["overdraft_limit"] == Decimal("100")
    assert account["available_balance"] == Decimal("150.00")
    assert_problem(post(client, number, "150.01", "withdrawal"), 409, "insufficient_funds")
    assert _funds(client, number) == (Decimal("50.00"), Decimal("150.00"))
    moved = post(client, number, "120.00", "withdrawal")
    assert moved.status_code == 201, moved.text
    assert exact(moved)["balance_after"] == Decimal("-70.00")
    assert _funds(client, number) == (Decimal("-70.00"), Decimal("30.00"))
    verify = exact(client.get(f"/v1/accounts/{number}/verify"))
    assert verify["chain_intact"] is True
    assert verify["balance_matches"] is True


def test_overdraft_limits_follow_the_rules_of_an_amount(client: httpx.Client) -> None:
    for limit in ["-1", "1.001", "1000000000000.01", '"ten"', "null"]:
        response = client.post(
            "/v1/accounts",
            content=(
                '{"customer_name": "Ada", "account_type": "checking", '
                f'"overdraft_limit": {limit}}}'
            ).encode(),
            headers=JSON,
        )
        assert_problem(response, 422, "validation_error")
    assert open_account(client)["overdraft_limit"] == Decimal("0")


def test_the_available_balance_is_read_only(client: httpx.Client) -> None:
    number = open_account(client, initial_deposit="10")["account_number"]
    response = _patch(client, f"/v1/accounts/{number}", '{"available_balance": 1000}')
    assert_problem(response, 422, "validation_error")
    assert _funds(client, number) == (Decimal("10"), Decimal("10"))


def test_lowering_an_overdraft_limit_below_its_use_is_refused(client: httpx.Client) -> None:
    number = open_account(client, overdraft_limit=100)["account_number"]
    assert post(client, number, "60", "withdrawal").status_code == 201
    response = _patch(client, f"/v1/accounts/{number}", '{"overdraft_limit": 59.99}')
    assert_problem(response, 409, "overdraft_limit_in_use")
    assert _account(client, number)["overdraft_limit"] == Decimal("100")
    lowered = _patch(client, f"/v1/accounts/{number}", '{"overdraft_limit": 60}')
    assert lowered.status_code == 200, lowered.text
    assert exact(lowered)["available_balance"] == Decimal("0")


# Section 12: holds


def _hold(client: httpx.Client, number: str, amount: str, **fields: Any) -> dict[str, Any]:
    response = post(client, number, amount, "withdrawal", status="pending", **fields)
    assert response.status_code == 201, response.text
    hold: dict[str, Any] = exact(response)
    assert hold["balance_after"] is None
    return hold


def test_a_hold_lowers_the_available_balance_and_not_the_balance(
    client: httpx.Client,
) -> None:
    number = open_account(client, initial_deposit="100")["account_number"]
    _hold(client, number, "60")
    assert _funds(client, number) == (Decimal("100"), Decimal("40"))
    refused = post(client, number, "50", "withdrawal", status="pending")
    assert_problem(refused, 409, "insufficient_funds")
    assert_problem(post(client, number, "41", "withdrawal"), 409, "insufficient_funds")
    assert _funds(client, number) == (Decimal("100"), Decimal("40"))


def test_a_pending_deposit_adds_nothing_to_the_available_balance(client: httpx.Client) -> None:
    number = open_account(client, initial_deposit="10")["account_number"]
    assert post(client, number, "500", status="pending").status_code == 201
    assert _funds(client, number) == (Decimal("10"), Decimal("10"))
    assert_problem(post(client, number, "11", "withdrawal"), 409, "insufficient_funds")


def test_a_hold_captured_whole_needs_no_second_funds_check(client: httpx.Client) -> None:
    number = open_account(client, initial_deposit="100")["account_number"]
    hold = _hold(client, number, "100")
    assert _funds(client, number) == (Decimal("100"), Decimal("0"))
    path = f"/v1/transactions/{hold['transaction_id']}"
    captured = _patch(client, path, '{"status": "success"}')
    assert captured.status_code == 200, captured.text
    assert exact(captured)["balance_after"] == Decimal("0")
    assert _funds(client, number) == (Decimal("0"), Decimal("0"))


def test_a_hold_captured_in_part_releases_the_rest(client: httpx.Client) -> None:
    number = open_account(client, initial_deposit="100")["account_number"]
    hold = _hold(client, number, "60")
    path = f"/v1/transactions/{hold['transaction_id']}"
    captured = _patch(client, path, '{"amount": 25.50, "status": "success"}')
    assert captured.status_code == 200, captured.text
    assert exact(captured)["amount"] == Decimal("25.50")
    assert _funds(client, number) == (Decimal("74.50"), Decimal("74.50"))
    entries = exact(client.get(f"/v1/accounts/{number}/entries"))["items"]
    assert [entry["amount"] for entry in entries] == [Decimal("100.00"), Decimal("-25.50")]


def test_a_hold_resolves_exactly_once(client: httpx.Client) -> None:
    number = open_account(client, initial_deposit="100")["account_number"]
    hold = _hold(client, number, "60")
    path = f"/v1/transactions/{hold['transaction_id']}"
    assert _patch(client, path, '{"status": "cancelled"}').status_code == 200
    assert _funds(client, number) == (Decimal("100"), Decimal("100"))
    for status in ["cancelled", "failed", "success", "pending"]:
        response = _patch(client, path, json.dumps({"status": status}))
        if status == "cancelled":
            assert response.status_code == 200  # asks for what it is: no change
        else:
            assert_problem(response, 409, "invalid_status_change")
    assert _funds(client, number) == (Decimal("100"), Decimal("100"))


def test_raising_a_hold_must_fit_and_lowering_it_releases(client: httpx.Client) -> None:
    number = open_account(client, initial_deposit="100")["account_number"]
    hold = _hold(client, number, "60")
    path = f"/v1/transactions/{hold['transaction_id']}"
    assert_problem(_patch(client, path, '{"amount": 100.01}'), 409, "insufficient_funds")
    assert _funds(client, number) == (Decimal("100"), Decimal("40"))
    assert _patch(client, path, '{"amount": 100}').status_code == 200
    assert _funds(client, number) == (Decimal("100"), Decimal("0"))
    assert _patch(client, path, '{"amount": 10}').status_code == 200
    assert _funds(client, number) == (Decimal("100"), Decimal("90"))


def test_deleting_a_hold_releases_it(client: httpx.Client) -> None:
    number = open_account(client, initial_deposit="100")["account_number"]
    hold = _hold(client, number, "60")
    assert client.delete(f"/v1/transactions/{hold['transaction_id']}").status_code == 204
    assert _funds(client, number) == (Decimal("100"), Decimal("100"))


def test_an_account_with_a_pending_transaction_does_not_close(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    pending = post(client, number, "5", status="pending")
    assert pending.status_code == 201
    assert_problem(client.delete(f"/v1/accounts/{number}"), 409, "account_not_empty")
    tid = pending.json()["transaction_id"]
    assert _patch(client, f"/v1/transactions/{tid}", '{"status": "failed"}').status_code == 200
    assert client.delete(f"/v1/accounts/{number}").status_code == 204


def test_a_frozen_account_releases_holds_but_moves_no_money(client: httpx.Client) -> None:
    number = open_account(client, initial_deposit="100")["account_number"]
    first = _hold(client, number, "10")
    second = _hold(client, number, "20")
    assert _patch(client, f"/v1/accounts/{number}", '{"status": "frozen"}').status_code == 200
    first_path = f"/v1/transactions/{first['transaction_id']}"
    second_path = f"/v1/transactions/{second['transaction_id']}"
    assert_problem(_patch(client, first_path, '{"status": "success"}'), 409, "account_frozen")
    assert_problem(post(client, number, "1"), 409, "account_frozen")
    assert _patch(client, first_path, '{"description": "Corrected"}').status_code == 200
    assert _patch(client, second_path, '{"status": "cancelled"}').status_code == 200
    assert _funds(client, number) == (Decimal("100"), Decimal("90"))


def test_expires_at_is_only_for_a_pending_transaction_in_the_next_30_days(
    client: httpx.Client,
) -> None:
    number = open_account(client, initial_deposit="100")["account_number"]
    soon = _utc_in(3600)
    for status, expires_at in [
        ("success", soon),
        ("pending", "2000-01-01T00:00:00Z"),
        ("pending", _utc_in(31 * 86400)),
        ("pending", soon.removesuffix("Z")),
        ("pending", "tomorrow"),
    ]:
        response = post(client, number, "1", "withdrawal", status=status, expires_at=expires_at)
        assert_problem(response, 422, "validation_error")
    assert _funds(client, number) == (Decimal("100"), Decimal("100"))
    hold = _hold(client, number, "1", expires_at=soon)
    assert hold["expires_at"] is not None


def test_an_expired_hold_reads_as_cancelled_at_once_and_is_recorded(
    client: httpx.Client,
) -> None:
    number = open_account(client, initial_deposit="100")["account_number"]
    hold = _hold(client, number, "60", expires_at=_utc_in(2))
    path = f"/v1/transactions/{hold['transaction_id']}"
    assert _funds(client, number) == (Decimal("100"), Decimal("40"))
    time.sleep(2.5)
    assert exact(client.get(path))["status"] == "cancelled"
    assert _funds(client, number) == (Decimal("100"), Decimal("100"))
    assert_problem(_patch(client, path, '{"status": "success"}'), 409, "invalid_status_change")
    deadline = time.monotonic() + 15
    while True:
        history = exact(client.get(f"{path}/history"))["items"]
        if history[-1]["change"] == "expired" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    expired = history[-1]
    assert expired["change"] == "expired"
    assert expired["changed_by"] == "system"
    assert expired["request_id"] is None
    assert expired["status"] == "cancelled"
    events = _events(client, number, "transaction.expired")
    assert [event["actor"] for event in events] == ["system"]
    assert [
        entry["amount"] for entry in exact(client.get(f"/v1/accounts/{number}/entries"))["items"]
    ] == [Decimal("100.00")]


def _events(client: httpx.Client, number: str, event_type: str) -> list[dict[str, Any]]:
    """The account's events of one type, waited for: on PostgreSQL the feed shows an event once
    every transaction that began before it committed has ended (a moment, under load)."""
    deadline = time.monotonic() + 10
    while True:
        query = {"account_number": number, "type": event_type}
        events: list[dict[str, Any]] = exact(client.get("/v1/events", params=query))["items"]
        if events or time.monotonic() > deadline:
            return events
        time.sleep(0.2)


def _utc_in(seconds: int) -> str:
    moment = time.gmtime(time.time() + seconds)
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", moment)


# Section 13: transfers


def _transfer(client: httpx.Client, body: dict[str, Any], amount: str) -> httpx.Response:
    text = json.dumps(body)[:-1] + f', "amount": {amount}}}'
    return _post_json(client, "/v1/transfers", text)


def test_a_transfer_moves_money_in_one_step_and_is_readable(client: httpx.Client) -> None:
    source = open_account(client, initial_deposit="100")["account_number"]
    target = open_account(client)["account_number"]
    transfer_id = refs.transaction_id()
    body = {"transfer_id": transfer_id, "from_account": source, "to_account": target}
    response = _transfer(client, {**body, "description": "Rent"}, "30.25")
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/v1/transfers/{transfer_id}"
    transfer = exact(response)
    assert transfer["status"] == "success"
    assert transfer["amount"] == Decimal("30.25")
    assert transfer["description"] == "Rent"
    assert (transfer["from_account"], transfer["to_account"]) == (source, target)
    assert _funds(client, source)[0] == Decimal("69.75")
    assert _funds(client, target)[0] == Decimal("30.25")
    debit = exact(client.get(f"/v1/transactions/{transfer['debit_transaction_id']}"))
    credit = exact(client.get(f"/v1/transactions/{transfer['credit_transaction_id']}"))
    assert (debit["transaction_type"], debit["account_number"]) == ("withdrawal", source)
    assert (credit["transaction_type"], credit["account_number"]) == ("deposit", target)
    assert debit["transfer_id"] == credit["transfer_id"] == transfer_id
    assert exact(client.get(f"/v1/transfers/{transfer_id}")) == transfer
    retry = _transfer(client, {**body, "description": "Rent"}, "30.25")
    assert retry.status_code == 200
    assert exact(retry) == transfer
    other = _transfer(client, body, "30.26")
    assert_problem(other, 409, "duplicate_transfer_id")
    assert _funds(client, source)[0] == Decimal("69.75")
    types = [event["type"] for event in _events(client, target, "transfer.posted")]
    assert "transfer.posted" in types


def test_a_transfer_is_refused_whole(client: httpx.Client) -> None:
    source = open_account(client, initial_deposit="10")["account_number"]
    target = open_account(client)["account_number"]
    pair = {"from_account": source, "to_account": target}
    assert_problem(_transfer(client, pair, "10.01"), 409, "insufficient_funds")
    same = {"from_account": source, "to_account": source}
    assert_problem(_transfer(client, same, "1"), 422, "validation_error")
    unknown = {"from_account": source, "to_account": refs.account_number()}
    assert_problem(_transfer(client, unknown, "1"), 404, "account_not_found")
    assert _patch(client, f"/v1/accounts/{target}", '{"status": "frozen"}').status_code == 200
    assert_problem(_transfer(client, pair, "1"), 409, "account_frozen")
    assert _funds(client, source)[0] == Decimal("10")
    assert _funds(client, target)[0] == Decimal("0")
    assert_problem(client.get(f"/v1/transfers/{refs.transaction_id()}"), 404, "transfer_not_found")


def test_a_leg_is_not_changed_alone_and_a_reversal_undoes_both(client: httpx.Client) -> None:
    source = open_account(client, initial_deposit="100")["account_number"]
    target = open_account(client)["account_number"]
    transfer = exact(_transfer(client, {"from_account": source, "to_account": target}, "40"))
    debit_path = f"/v1/transactions/{transfer['debit_transaction_id']}"
    assert_problem(_patch(client, debit_path, '{"amount": 1}'), 409, "transfer_leg")
    assert_problem(client.delete(debit_path), 409, "transfer_leg")
    reversal_path = f"/v1/transfers/{transfer['transfer_id']}/reversal"
    reversed_ = _post_json(client, reversal_path, "{}")
    assert reversed_.status_code == 200, reversed_.text
    assert exact(reversed_)["status"] == "reversed"
    assert _funds(client, source)[0] == Decimal("100")
    assert _funds(client, target)[0] == Decimal("0")
    debit = exact(client.get(debit_path))
    assert debit["status"] == "cancelled"
    assert exact(client.get(f"{debit_path}/history"))["items"][-1]["change"] == "reversed"
    again = _post_json(client, reversal_path, "{}")
    assert again.status_code == 200
    assert exact(again) == exact(reversed_)
    assert _funds(client, source)[0] == Decimal("100")


def test_a_reversal_needs_the_money_back(client: httpx.Client) -> None:
    source = open_account(client, initial_deposit="100")["account_number"]
    target = open_account(client)["account_number"]
    transfer = exact(_transfer(client, {"from_account": source, "to_account": target}, "40"))
    assert post(client, target, "1", "withdrawal").status_code == 201
    reversal = _post_json(client, f"/v1/transfers/{transfer['transfer_id']}/reversal", "{}")
    assert_problem(reversal, 409, "insufficient_funds")
    assert exact(client.get(f"/v1/transfers/{transfer['transfer_id']}"))["status"] == "success"


# Section 14: batches


def _batch(client: httpx.Client, items: list[str]) -> httpx.Response:
    return _post_json(
        client, "/v1/transactions/batch", '{"transactions": [' + ",".join(items) + "]}"
    )


def _item(number: str, amount: str, kind: str = "deposit", **fields: Any) -> str:
    body = {"account_number": number, "transaction_type": kind, **fields}
    return json.dumps(body)[:-1] + f', "amount": {amount}}}'


def test_a_batch_applies_in_order_all_together(client: httpx.Client) -> None:
    first = open_account(client)["account_number"]
    second = open_account(client, initial_deposit="5")["account_number"]
    ids = [refs.transaction_id() for _ in range(3)]
    items = [
        _item(second, "10", transaction_id=ids[0]),
        _item(first, "7.50", transaction_id=ids[1]),
        _item(first, "7.50", "withdrawal", transaction_id=ids[2]),
    ]
    response = _batch(client, items)
    assert response.status_code == 201, response.text
    stored = exact(response)["items"]
    assert [item["transaction_id"] for item in stored] == ids
    assert [item["balance_after"] for item in stored] == [
        Decimal("15"),
        Decimal("7.50"),
        Decimal("0.00"),
    ]
    assert _funds(client, first)[0] == Decimal("0")
    assert _funds(client, second)[0] == Decimal("15")
    again = _batch(client, items)
    assert again.status_code == 200, again.text
    assert exact(again)["items"] == stored


def test_a_refused_item_stores_nothing_and_is_named(client: httpx.Client) -> None:
    number = open_account(client, initial_deposit="5")["account_number"]
    first_id = refs.transaction_id()
    items = [
        _item(number, "10", transaction_id=first_id),
        _item(number, "1", "withdrawal"),
        _item(number, "100", "withdrawal"),
    ]
    problem = assert_problem(_batch(client, items), 409, "insufficient_funds")
    assert problem["index"] == 2
    assert _funds(client, number)[0] == Decimal("5")
    assert client.get(f"/v1/transactions/{first_id}").status_code == 404
    missing = _item(refs.account_number(), "1")
    assert (
        assert_problem(_batch(client, [items[1], missing]), 404, "account_not_found")["index"] == 1
    )
    invalid = assert_problem(
        _batch(client, [items[1], _item(number, "1.001")]), 422, "validation_error"
    )
    assert invalid["errors"][0]["loc"][:3] == ["body", "transactions", 1]
    twice = _item(number, "1", transaction_id=first_id)
    assert_problem(_batch(client, [twice, twice]), 422, "validation_error")
    assert_problem(_batch(client, []), 422, "validation_error")
    too_many = [_item(number, "1")] * 1001
    assert _batch(client, too_many).status_code in (413, 422)
    assert _funds(client, number)[0] == Decimal("5")


# Section 15: idempotency keys


def test_a_repeated_key_replays_the_first_answer_and_moves_nothing(
    client: httpx.Client,
) -> None:
    number = open_account(client)["account_number"]
    key = {"idempotency-key": f"pay-{refs.transaction_id()}"}
    body = f'{{"account_number": "{number}", "transaction_type": "deposit", "amount": 12.34}}'
    first = _post_json(client, "/v1/transactions", body, key)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    reordered = (
        f'{{ "amount": 12.34, "transaction_type": "deposit", "account_number": "{number}" }}'
    )
    again = _post_json(client, "/v1/transactions", reordered, key)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert exact(again) == exact(first)
    assert _funds(client, number)[0] == Decimal("12.34")
    other = body.replace("12.34", "12.35")
    assert_problem(
        _post_json(client, "/v1/transactions", other, key), 422, "idempotency_key_reused"
    )
    assert _funds(client, number)[0] == Decimal("12.34")


def test_malformed_keys_are_refused(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    body = f'{{"account_number": "{number}", "transaction_type": "deposit", "amount": 1}}'
    for key in ["x" * 256, "two words", ""]:
        response = _post_json(client, "/v1/transactions", body, {"idempotency-key": key})
        assert_problem(response, 422, "validation_error")
    assert _funds(client, number)[0] == Decimal("0")


def test_refusals_are_kept_but_not_422s(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    key = {"idempotency-key": refs.transaction_id()}
    bad = f'{{"account_number": "{number}", "transaction_type": "deposit", "amount": 1.001}}'
    assert_problem(_post_json(client, "/v1/transactions", bad, key), 422, "validation_error")
    good = bad.replace("1.001", "1")
    assert _post_json(client, "/v1/transactions", good, key).status_code == 201
    key = {"idempotency-key": refs.transaction_id()}
    withdraw = f'{{"account_number": "{number}", "transaction_type": "withdrawal", "amount": 5}}'
    refused = _post_json(client, "/v1/transactions", withdraw, key)
    assert_problem(refused, 409, "insufficient_funds")
    assert post(client, number, "10").status_code == 201
    replay = _post_json(client, "/v1/transactions", withdraw, key)
    assert replay.status_code == 409
    assert replay.headers["idempotent-replayed"] == "true"
    # The same body: the first answer's, its request_id included (the replay's own is in
    # its X-Request-Id header).
    assert replay.content == refused.content
    assert _funds(client, number)[0] == Decimal("11")


def test_keys_are_scoped_to_the_api_key_and_secrets_are_never_replayed(
    client: httpx.Client,
) -> None:
    key = {"idempotency-key": refs.transaction_id()}
    body = '{"name": "replayed", "scopes": ["accounts:read", "accounts:write"]}'
    created = _post_json(client, "/v1/api-keys", body, key)
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    assert secret
    replay = _post_json(client, "/v1/api-keys", body, key)
    assert replay.status_code == 201
    assert replay.json()["secret"] is None
    assert replay.json()["key_id"] == created.json()["key_id"]
    account_body = '{"customer_name": "Scoped", "account_type": "savings"}'
    mine = _post_json(client, "/v1/accounts", account_body, key)
    assert_problem(mine, 422, "idempotency_key_reused")
    theirs = client.post(
        "/v1/accounts", content=account_body.encode(), headers={**JSON, **key, **bearer(secret)}
    )
    assert theirs.status_code == 201, theirs.text


def test_transfers_reversals_and_batches_take_idempotency_keys(client: httpx.Client) -> None:
    source = open_account(client, initial_deposit="100")["account_number"]
    target = open_account(client)["account_number"]
    key = {"idempotency-key": refs.transaction_id()}
    body = f'{{"from_account": "{source}", "to_account": "{target}", "amount": 10}}'
    made = _post_json(client, "/v1/transfers", body, key)
    assert made.status_code == 201, made.text
    again = _post_json(client, "/v1/transfers", body, key)
    assert again.headers["idempotent-replayed"] == "true"
    assert exact(again) == exact(made)
    assert _funds(client, source)[0] == Decimal("90")
    reversal = f"/v1/transfers/{made.json()['transfer_id']}/reversal"
    reversal_key = {"idempotency-key": refs.transaction_id()}
    first = _post_json(client, reversal, "{}", reversal_key)
    assert first.status_code == 200, first.text
    assert _post_json(client, reversal, "{}", reversal_key).headers["idempotent-replayed"] == "true"
    batch_key = {"idempotency-key": refs.transaction_id()}
    items = '{"transactions": [' + ",".join([_item(target, "5"), _item(target, "6", "withdrawal")])
    refused = _post_json(client, "/v1/transactions/batch", items + "]}", batch_key)
    assert assert_problem(refused, 409, "insufficient_funds")["index"] == 1
    assert post(client, target, "50").status_code == 201
    replayed = _post_json(client, "/v1/transactions/batch", items + "]}", batch_key)
    assert replayed.status_code == 409
    assert replayed.content == refused.content
    assert replayed.headers["idempotent-replayed"] == "true"
    assert _funds(client, target)[0] == Decimal("50")
