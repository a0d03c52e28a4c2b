"""Idempotency keys over HTTP on the memory store (API.md section 15): every rule, on every POST."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from bank_adapters.memory import InMemoryStore
from bank_domain.api_keys import Scope
from bank_domain.idempotency import IdempotencyKey, KeptAnswer, KeptRequest
from bank_domain.identifiers import AccountNumber
from bank_web.app import create_app
from bank_web.authentication import requires
from bank_web.exact_json_route import ExactJSONRoute
from bank_web.settings import Settings
from tests.integration.api.helpers import assert_problem, exact
from tests.support.keys import AUTH, bearer

JSON = {"content-type": "application/json"}


def _key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


@pytest.fixture
def app() -> FastAPI:
    return create_app(Settings(database_url="memory://"))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, headers=AUTH) as http:
        yield http


def _open(client: TestClient, deposit: str = "100.00", **headers: str) -> dict[str, Any]:
    response = client.post(
        "/v1/accounts",
        content=f'{{"customer_name": "Ada", "account_type": "checking", '
        f'"initial_deposit": {deposit}}}'.encode(),
        headers={**JSON, **headers},
    )
    assert response.status_code == 201, response.text
    account: dict[str, Any] = exact(response)
    return account


def _post(client: TestClient, body: str, key: str, **headers: str) -> httpx.Response:
    response: httpx.Response = client.post(
        "/v1/transactions", content=body.encode(), headers={**JSON, **_key(key), **headers}
    )
    return response


def _post_keyed(client: TestClient, number: str, *keys: bytes) -> httpx.Response:
    """A deposit of 500.00 with these Idempotency-Key headers, as raw bytes."""
    headers = [(b"content-type", b"application/json")]
    headers += [(b"idempotency-key", key) for key in keys]
    response: httpx.Response = client.post(
        "/v1/transactions", content=_deposit(number).encode(), headers=headers
    )
    return response


def _deposit(number: str, amount: str = "500.00", kind: str = "deposit") -> str:
    return f'{{"account_number": "{number}", "amount": {amount}, "transaction_type": "{kind}"}}'


def _transactions(client: TestClient, number: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/accounts/{number}/transactions")
    assert response.status_code == 200
    items: list[dict[str, Any]] = exact(response)["items"]
    return items


def _balance(client: TestClient, number: str) -> Decimal:
    value: Decimal = exact(client.get(f"/v1/accounts/{number}"))["balance"]
    return value


def test_a_repeat_gets_the_same_status_and_body_and_changes_nothing(client: TestClient) -> None:
    number = _open(client)["account_number"]
    first = _post(client, _deposit(number), "deposit-1")
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    again = _post(client, _deposit(number), "deposit-1")
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["etag"] == first.headers["etag"]
    assert _balance(client, number) == Decimal("600.00")
    assert len(_transactions(client, number)) == 2  # the initial deposit and this one


@pytest.mark.parametrize(
    "same",
    [
        '{"transaction_type": "deposit", "amount": 500.0, "account_number": "%s"}',
        '{ "account_number" : "%s" ,\n "amount": 5E+2, "transaction_type": "deposit" }',
        '{"account_number": "%s", "amount": 500, "transaction_type": "deposit"}',
    ],
)
def test_bodies_are_compared_as_json_values(client: TestClient, same: str) -> None:
    number = _open(client)["account_number"]
    first = _post(client, _deposit(number, "500.00"), "as-values")
    assert first.status_code == 201
    again = _post(client, same % number, "as-values")
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert _balance(client, number) == Decimal("600.00")


def test_a_string_is_not_the_number_it_spells(client: TestClient) -> None:
    number = _open(client)["account_number"]
    assert _post(client, _deposit(number, "500"), "string-number").status_code == 201
    other = _post(client, _deposit(number, '"500"'), "string-number")
    assert_problem(other, 422, "idempotency_key_reused")


def test_the_same_key_with_another_body_or_path_is_refused(client: TestClient) -> None:
    number = _open(client)["account_number"]
    assert _post(client, _deposit(number), "reused").status_code == 201
    other_body = _post(client, _deposit(number, "1.00"), "reused")
    problem = assert_problem(other_body, 422, "idempotency_key_reused")
    assert problem["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    other_path = client.post(f"/v1/accounts/{number}/balance/recalculate", headers=_key("reused"))
    assert_problem(other_path, 422, "idempotency_key_reused")
    assert _balance(client, number) == Decimal("600.00")


@pytest.mark.parametrize("bad", ["", " ", "a b", "é", "k" * 256, "tab\there"])
def test_a_malformed_key_is_a_validation_error_and_changes_nothing(
    client: TestClient, bad: str
) -> None:
    number = _open(client)["account_number"]
    problem = assert_problem(_post_keyed(client, number, bad.encode()), 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert _balance(client, number) == Decimal("100.00")


def test_a_key_given_twice_is_refused(client: TestClient) -> None:
    number = _open(client)["account_number"]
    assert_problem(_post_keyed(client, number, b"one", b"two"), 422, "validation_error")
    assert _balance(client, number) == Decimal("100.00")


def test_the_longest_key_and_every_visible_character_are_taken(client: TestClient) -> None:
    number = _open(client)["account_number"]
    visible = "".join(chr(code) for code in range(0x21, 0x7F))
    for key in ["k" * 255, visible, "x"]:
        assert _post(client, _deposit(number, "1.00"), key).status_code == 201
        assert _post(client, _deposit(number, "1.00"), key).headers["idempotent-replayed"] == "true"
    assert _balance(client, number) == Decimal("103.00")


def test_refusals_of_the_request_itself_are_not_kept(client: TestClient) -> None:
    """422 (a body the API refuses, a value the ledger refuses) and 401 are not kept: the
    corrected request may use the key again."""
    number = _open(client)["account_number"]
    unreadable = _post(client, _deposit(number, "1.005"), "fix-me")
    assert_problem(unreadable, 422, "validation_error")
    unknown_field = _post(client, _deposit(number)[:-1] + ', "x": 1}', "fix-me")
    assert_problem(unknown_field, 422, "validation_error")
    no_key = _post(client, _deposit(number), "fix-me", authorization="Bearer nobody-at-all")
    assert_problem(no_key, 401, "unauthenticated")
    corrected = _post(client, _deposit(number), "fix-me")
    assert corrected.status_code == 201
    assert "idempotent-replayed" not in corrected.headers


def test_a_forbidden_answer_is_not_kept(client: TestClient) -> None:
    """403: a key restricted to accounts may not open one; its corrected request, a posting
    to its own account, may use the same Idempotency-Key."""
    number = _open(client)["account_number"]
    made = client.post(
        "/v1/api-keys",
        json={
            "name": "teller",
            "scopes": ["accounts:write", "transactions:write"],
            "account_numbers": [number],
        },
    )
    teller = bearer(made.json()["secret"])
    refused = client.post(
        "/v1/accounts",
        json={"customer_name": "Eve", "account_type": "checking"},
        headers={**teller, **_key("teller-1")},
    )
    assert_problem(refused, 403, "forbidden")
    posted = _post(client, _deposit(number), "teller-1", **teller)
    assert posted.status_code == 201, posted.text


def test_not_found_and_conflicts_are_kept(client: TestClient) -> None:
    missing = _post(client, _deposit("0000000000"), "missing")
    assert_problem(missing, 404, "account_not_found")
    again = _post(client, _deposit("0000000000"), "missing")
    assert again.status_code == 404
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == missing.content
    assert_problem(_post(client, _deposit("1111111111"), "missing"), 422, "idempotency_key_reused")

    number = _open(client, "10.00")["account_number"]
    overdraw = _deposit(number, "50.00", "withdrawal")
    refused = _post(client, overdraw, "overdraw")
    assert_problem(refused, 409, "insufficient_funds")
    assert _post(client, _deposit(number, "100.00"), "top-up").status_code == 201
    # The money is there now, but the key's answer is kept: the same request is that 409.
    replay = _post(client, overdraw, "overdraw")
    assert replay.status_code == 409
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == refused.content
    assert _balance(client, number) == Decimal("110.00")


def test_a_retry_by_transaction_id_with_a_key_keeps_its_200(client: TestClient) -> None:
    number = _open(client)["account_number"]
    body = _deposit(number)[:-1] + ', "transaction_id": "retry-by-id-1"}'
    assert client.post("/v1/transactions", content=body.encode(), headers=JSON).status_code == 201
    first = _post(client, body, "by-id")
    assert first.status_code == 200
    again = _post(client, body, "by-id")
    assert (again.status_code, again.headers["idempotent-replayed"]) == (200, "true")
    assert again.content == first.content
    assert _balance(client, number) == Decimal("600.00")


def test_every_post_keeps_its_answer(client: TestClient) -> None:
    opened = client.post(
        "/v1/accounts",
        json={"customer_name": "Ada", "account_type": "savings", "initial_deposit": 5},
        headers=_key("open-1"),
    )
    assert opened.status_code == 201
    reopened = client.post(
        "/v1/accounts",
        json={"customer_name": "Ada", "account_type": "savings", "initial_deposit": 5},
        headers=_key("open-1"),
    )
    assert (reopened.status_code, reopened.headers["idempotent-replayed"]) == (201, "true")
    assert reopened.content == opened.content
    assert reopened.headers["location"] == opened.headers["location"]
    listed = exact(client.get("/v1/accounts", params={"limit": 500}))["items"]
    assert [a["account_number"] for a in listed] == [exact(opened)["account_number"]]

    number = exact(opened)["account_number"]
    path = f"/v1/accounts/{number}/balance/recalculate"
    checked = client.post(path, headers=_key("check-1"))
    assert checked.status_code == 200
    rechecked = client.post(path, headers=_key("check-1"))
    assert (rechecked.status_code, rechecked.headers["idempotent-replayed"]) == (200, "true")
    assert rechecked.content == checked.content


def test_a_kept_new_key_is_replayed_without_its_secret(client: TestClient) -> None:
    body = {"name": "reader", "scopes": ["accounts:read"]}
    made = client.post("/v1/api-keys", json=body, headers=_key("key-1"))
    assert made.status_code == 201
    secret = made.json()["secret"]
    assert secret.startswith("bk_")
    again = client.post("/v1/api-keys", json=body, headers=_key("key-1"))
    assert (again.status_code, again.headers["idempotent-replayed"]) == (201, "true")
    replayed = again.json()
    assert replayed["secret"] is None
    assert {**replayed, "secret": secret} == made.json()
    assert secret.encode() not in again.content
    assert again.headers["location"] == made.headers["location"]
    keys = client.get("/v1/api-keys").json()["items"]
    assert [k["key_id"] for k in keys] == [made.json()["key_id"]]
    assert client.get("/v1/accounts", headers=bearer(secret)).status_code == 200


def test_keys_are_scoped_to_the_api_key_that_sends_them(client: TestClient) -> None:
    number = _open(client)["account_number"]
    made = client.post(
        "/v1/api-keys", json={"name": "poster", "scopes": ["transactions:write"]}
    ).json()
    poster = bearer(made["secret"])
    by_master = _post(client, _deposit(number, "1.00"), "shared")
    by_poster = _post(client, _deposit(number, "2.00"), "shared", **poster)
    assert by_master.status_code == by_poster.status_code == 201
    assert "idempotent-replayed" not in by_poster.headers
    assert _balance(client, number) == Decimal("103.00")
    replay = _post(client, _deposit(number, "2.00"), "shared", **poster)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == by_poster.content


def test_without_a_key_nothing_is_kept(client: TestClient, app: FastAPI) -> None:
    number = _open(client)["account_number"]
    for _ in range(2):
        response = client.post("/v1/transactions", content=_deposit(number).encode(), headers=JSON)
        assert response.status_code == 201
        assert "idempotent-replayed" not in response.headers
    store = app.state.container.store()
    assert isinstance(store, InMemoryStore)
    assert store.kept_requests == {}
    assert _balance(client, number) == Decimal("1100.00")


@pytest.fixture
async def async_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=AUTH
    ) as http:
        yield http


async def test_a_repeat_while_the_first_runs_is_in_use(
    app: FastAPI, async_client: httpx.AsyncClient
) -> None:
    opened = await async_client.post(
        "/v1/accounts", json={"customer_name": "Ada", "account_type": "checking"}
    )
    number = opened.json()["account_number"]
    store = app.state.container.store()
    assert isinstance(store, InMemoryStore)
    body = _deposit(number, "7.00").encode()
    headers = {**JSON, **_key("slow")}
    # Another unit of work holds the account: the first request waits for it, holding its key.
    async with store.unit_of_work() as holder:
        await holder.accounts.get_for_update(AccountNumber(number))
        first = asyncio.create_task(
            async_client.post("/v1/transactions", content=body, headers=headers)
        )
        for _ in range(50):
            await asyncio.sleep(0)
        assert not first.done()
        second = await async_client.post("/v1/transactions", content=body, headers=headers)
        assert_problem(second, 409, "idempotency_key_in_use")
    assert (await first).status_code == 201
    third = await async_client.post("/v1/transactions", content=body, headers=headers)
    assert (third.status_code, third.headers["idempotent-replayed"]) == (201, "true")
    assert exact(await async_client.get(f"/v1/accounts/{number}"))["balance"] == Decimal("7.00")


def test_openapi_declares_the_key_on_every_post(app: FastAPI) -> None:
    document = app.openapi()
    posts = [
        (path, item["post"])
        for path, item in document["paths"].items()
        if path.startswith("/v1/") and "post" in item
    ]
    assert {path for path, _ in posts} >= {
        "/v1/accounts",
        "/v1/transactions",
        "/v1/api-keys",
        "/v1/accounts/{account_number}/balance/recalculate",
    }
    for path, operation in posts:
        (header,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
        assert (header["in"], header["required"]) == ("header", False), path
        pattern = header["schema"]["pattern"]
        for value, valid in [("k", True), ("~" * 255, True), ("a b", False), ("k" * 256, False)]:
            assert bool(re.fullmatch(pattern, value)) is valid, (path, value)
        responses = operation["responses"]
        assert "idempotency_key_in_use" in responses["409"]["description"], path
        assert "idempotency_key_reused" in responses["422"]["description"], path
        for status, response in responses.items():
            replayed = "Idempotent-Replayed" in response.get("headers", {})
            # Kept: the route's own answers and its refusals (not 401, 403, 413, 415, 422, 5xx).
            assert replayed is (status in {"200", "201", "404", "409"}), (path, status)


def test_a_post_route_without_the_key_is_refused_at_start() -> None:
    router = APIRouter(route_class=ExactJSONRoute)

    async def forgetful() -> None:
        return None

    with pytest.raises(TypeError, match="Idempotency-Key"):
        router.post("/v1/forgetful", openapi_extra=requires(Scope.ACCOUNTS_WRITE))(forgetful)


def test_the_server_removes_expired_answers_periodically() -> None:
    app = create_app(Settings(database_url="memory://", idempotency_cleanup_seconds=0.05))
    with TestClient(app, headers=AUTH):
        store = app.state.container.store()
        assert isinstance(store, InMemoryStore)
        now = datetime.now(UTC)
        for name, age in [("old", timedelta(hours=24, minutes=1)), ("young", timedelta(hours=23))]:
            key = IdempotencyKey("master", name)
            store.kept_requests[key] = KeptRequest(key, "f", KeptAnswer(201, b"{}"), now - age)
        deadline = time.monotonic() + 10
        while len(store.kept_requests) > 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [key.value for key in store.kept_requests] == ["young"]


def test_a_retention_below_a_day_is_refused_at_start() -> None:
    with pytest.raises(ValidationError):
        Settings(database_url="memory://", idempotency_retention_hours=23)


@pytest.mark.parametrize(
    "body",
    [b"", b"{not json", b"[" * 100_000 + b"]" * 100_000, b"[" * 990 + b"]" * 990],
)
def test_any_body_of_a_post_without_a_body_model_is_fingerprinted(
    client: TestClient, body: bytes
) -> None:
    number = _open(client)["account_number"]
    path = f"/v1/accounts/{number}/balance/recalculate"
    headers = {**JSON, "Idempotency-Key": "any-body"}
    first = client.post(path, content=body, headers=headers)
    assert first.status_code == 200, first.text
    again = client.post(path, content=body, headers=headers)
    assert (again.status_code, again.headers["idempotent-replayed"]) == (200, "true")


def test_a_replayed_posting_is_not_counted_as_posted(client: TestClient) -> None:
    number = _open(client)["account_number"]
    for _ in range(3):
        assert _post(client, _deposit(number, "1.00"), "counted-once").status_code == 201
    exposition = client.get("/metrics").text
    (posted,) = re.findall(r"^bank_postings_total (\S+)$", exposition, flags=re.MULTILINE)
    assert posted == "1.0"
    assert (
        'bank_http_requests_total{method="POST",route="/v1/transactions",status="201"} 3.0'
        in exposition
    )
