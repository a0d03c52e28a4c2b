"""The posting fast path answers POST /v1/transactions exactly as the FastAPI route it stands in
for."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from dependency_injector import providers
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bank_web.app import create_app
from bank_web.settings import Settings
from bank_web.transaction_posting_fast_path import POSTING_SCOPE, TransactionPostingFastPath
from tests.support.keys import AUTH, bearer

ACCOUNT = "1234567890"
JSON = {"content-type": "application/json"}

BODIES: list[tuple[bytes, dict[str, str]]] = [
    (b'{"account_number": "1234567890", "amount": 12.50, "transaction_type": "deposit"}', JSON),
    (b'{"account_number": "1234567890", "amount": 1e9, "transaction_type": "withdrawal"}', JSON),
    (b'{"account_number": "1234567890", "amount": 1.005, "transaction_type": "deposit"}', JSON),
    (b'{"account_number": "1234567890", "amount": NaN, "transaction_type": "deposit"}', JSON),
    (b'{"account_number": "1234567890", "amount": "abc", "transaction_type": "deposit"}', JSON),
    (b'{"account_number": "0000000000", "amount": 1, "transaction_type": "deposit"}', JSON),
    (b'{"account_number": "12", "amount": 1, "transaction_type": "deposit"}', JSON),
    (b'{"account_number": "1234567890", "amount": 1, "transaction_type": "loan"}', JSON),
    (b'{"account_number": "1234567890", "amount": 1, "transaction_type": "deposit", "x": 1}', JSON),
    (b'{"account_number": "1234567890"}', JSON),
    (
        b'{"account_number": "1234567890", "amount": 1, "transaction_type": "deposit",'
        b' "timestamp": "2020-01-01T00:00:00Z"}',
        JSON,
    ),
    (b"[1, 2]", JSON),
    (b"null", JSON),
    (b"{not json", JSON),
    (b"", JSON),
    (b"amount=1", {"content-type": "text/plain"}),
    (b'{"account_number": "1234567890", "amount": 2, "transaction_type": "deposit"}', {}),
    (b'{"account_number": "1234567890", "amount": "1_000", "transaction_type": "deposit"}', JSON),
    (b'{"account_number": "1234567890", "amount": " 7.5e1 ", "transaction_type": "deposit"}', JSON),
    (
        b'{"account_number": "1234567890", "amount": 1, "amount": 1000,'
        b' "transaction_type": "deposit"}',
        JSON,
    ),
    (
        b'{"transaction_type": "deposit", '
        + b", ".join(b'"k%d": 1' % i for i in range(500))
        + b"}",
        JSON,
    ),
]


def _without_lane(app: FastAPI) -> FastAPI:
    # Starlette types Middleware.cls with its __init__'s ParamSpec, unbound on the attribute,
    # so mypy sees no overlap with any class.
    app.user_middleware = [
        m
        for m in app.user_middleware
        if m.cls is not TransactionPostingFastPath  # type: ignore[comparison-overlap]
    ]
    return app


@pytest.fixture
def clients() -> Iterator[tuple[TestClient, TestClient]]:
    with (
        TestClient(create_app(Settings(database_url="memory://")), headers=AUTH) as lane,
        TestClient(
            _without_lane(create_app(Settings(database_url="memory://"))), headers=AUTH
        ) as route,
    ):
        for client in (lane, route):
            opened = client.post(
                "/v1/accounts",
                json={
                    "account_number": ACCOUNT,
                    "customer_name": "Ada",
                    "account_type": "checking",
                    "initial_deposit": 100,
                },
            )
            assert opened.status_code == 201
        yield lane, route


def _comparable(body: Any) -> Any:
    if isinstance(body, dict):
        return {
            k: v
            for k, v in body.items()
            if k not in {"transaction_id", "timestamp", "updated_at", "request_id"}
        }
    return body


@pytest.mark.parametrize(("content", "headers"), BODIES)
def test_the_lane_and_the_route_answer_alike(
    clients: tuple[TestClient, TestClient], content: bytes, headers: dict[str, str]
) -> None:
    lane, route = clients
    by_lane = lane.post("/v1/transactions", content=content, headers=headers)
    by_route = route.post("/v1/transactions", content=content, headers=headers)
    assert by_lane.status_code == by_route.status_code, (by_lane.text, by_route.text)
    assert by_lane.headers["content-type"] == by_route.headers["content-type"]
    assert _comparable(by_lane.json()) == _comparable(by_route.json())
    assert (by_lane.headers.get("location") is None) == (by_route.headers.get("location") is None)
    assert set(by_lane.headers) == set(by_route.headers)
    assert by_lane.headers.get("etag") == by_route.headers.get("etag")


def _reader_key(client: TestClient) -> str:
    made = client.post("/v1/api-keys", json={"name": "reader", "scopes": ["accounts:read"]})
    assert made.status_code == 201, made.text
    secret: str = made.json()["secret"]
    return secret


@pytest.mark.parametrize(
    "authorization",
    ["", "Basic abc", "Bearer", "Bearer bk_" + "A" * 43, "Bearer not-the-master-key", "reader"],
)
@pytest.mark.parametrize(
    "content",
    [
        b'{"account_number": "1234567890", "amount": 1, "transaction_type": "deposit"}',
        b"{not json",
        b"",
    ],
)
def test_the_lane_and_the_route_refuse_alike_and_before_reading(
    clients: tuple[TestClient, TestClient], authorization: str, content: bytes
) -> None:
    answers = []
    for client in clients:
        value = f"Bearer {_reader_key(client)}" if authorization == "reader" else authorization
        answer = client.post(
            "/v1/transactions", content=content, headers={**JSON, "authorization": value}
        )
        answers.append(answer)
        status, code = (403, "forbidden") if authorization == "reader" else (401, "unauthenticated")
        assert answer.status_code == status, answer.text
        assert answer.json()["code"] == code
        if status == 401:
            assert answer.headers["www-authenticate"] == "Bearer"
    by_lane, by_route = answers
    assert _comparable(by_lane.json()) == _comparable(by_route.json())
    assert set(by_lane.headers) == set(by_route.headers)
    for client in clients:
        assert client.get(f"/v1/accounts/{ACCOUNT}").json()["balance"] == 100


def test_the_lane_and_the_route_answer_a_retry_alike(
    clients: tuple[TestClient, TestClient],
) -> None:
    content = (
        b'{"transaction_id": "retry-me-1", "account_number": "1234567890", "amount": 5,'
        b' "transaction_type": "deposit"}'
    )
    answers = []
    for client in clients:
        first = client.post("/v1/transactions", content=content, headers=JSON)
        again = client.post("/v1/transactions", content=content, headers=JSON)
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json() == first.json()
        answers.append(
            [
                (a.status_code, sorted(a.headers), a.headers["etag"], a.headers["location"])
                for a in (first, again)
            ]
        )
    assert answers[0] == answers[1]
    assert answers[0][1][2:] == ('"1"', "/v1/transactions/retry-me-1")


KEYED_BODIES: list[bytes] = [
    b'{"account_number": "1234567890", "amount": 12.50, "transaction_type": "deposit"}',
    b'{"account_number": "1234567890", "amount": 1e9, "transaction_type": "withdrawal"}',
    b'{"account_number": "0000000000", "amount": 1, "transaction_type": "deposit"}',
    b'{"account_number": "1234567890", "amount": 1.005, "transaction_type": "deposit"}',
    b"{not json",
    (
        b'{"transaction_id": "keyed-1", "account_number": "1234567890", "amount": 5,'
        b' "transaction_type": "deposit"}'
    ),
]
KEYS: list[list[str]] = [["key-1"], ["not ok"], ["key-1", "key-2"], ["k" * 256]]


@pytest.mark.parametrize("keys", KEYS, ids=["key", "malformed", "twice", "too-long"])
@pytest.mark.parametrize("content", KEYED_BODIES)
def test_the_lane_and_the_route_answer_keyed_postings_alike(
    clients: tuple[TestClient, TestClient], content: bytes, keys: list[str]
) -> None:
    """A posting with an Idempotency-Key, then its repeat, then the key with another body:
    the same answers (kept, replayed, refused) whichever path serves them."""
    headers = [("content-type", "application/json"), *(("idempotency-key", k) for k in keys)]
    other = b'{"account_number": "1234567890", "amount": 3, "transaction_type": "deposit"}'
    answers = []
    for client in clients:
        first = client.post("/v1/transactions", content=content, headers=headers)
        again = client.post("/v1/transactions", content=content, headers=headers)
        reused = client.post("/v1/transactions", content=other, headers=headers)
        if again.headers.get("idempotent-replayed") == "true":
            assert again.content == first.content
        answers.append(
            [
                (
                    a.status_code,
                    _comparable(a.json()),
                    sorted(a.headers),
                    a.headers.get("idempotent-replayed"),
                    a.headers.get("etag"),
                )
                for a in (first, again, reused)
            ]
        )
        answers[-1].append(client.get(f"/v1/accounts/{ACCOUNT}").json()["balance"])
    assert answers[0] == answers[1]


def test_the_lane_and_the_route_record_the_same_actor_and_request_id(
    clients: tuple[TestClient, TestClient],
) -> None:
    """The event of a posting names who posted it and the request, whichever path served it."""
    content = b'{"account_number": "1234567890", "amount": 3, "transaction_type": "deposit"}'
    recorded = []
    for client in clients:
        made = client.post("/v1/api-keys", json={"name": "poster", "scopes": [POSTING_SCOPE]})
        key = made.json()
        posted = client.post(
            "/v1/transactions",
            content=content,
            headers={**JSON, **bearer(key["secret"]), "x-request-id": "posting-42"},
        )
        assert posted.status_code == 201, posted.text
        events = client.get("/v1/events", params={"type": "transaction.posted"}).json()["items"]
        last = events[-1]
        assert last["data"] == posted.json()
        assert (last["actor"], last["request_id"]) == (key["key_id"], "posting-42")
        recorded.append((sorted(last), last["type"], _comparable(last["data"])))
    assert recorded[0] == recorded[1]


def test_the_lane_takes_only_posting(clients: tuple[TestClient, TestClient]) -> None:
    lane, _ = clients
    assert lane.get(f"/v1/accounts/{ACCOUNT}").status_code == 200
    assert lane.put("/v1/transactions").status_code == 405


@pytest.mark.parametrize("path", ["/v1/transactions/", "/v1/transactions/x", "/v1/transactionsx"])
def test_the_fast_path_takes_no_path_the_router_would_not(
    clients: tuple[TestClient, TestClient], path: str
) -> None:
    lane, route = clients
    content = b'{"account_number": "1234567890", "amount": 1, "transaction_type": "deposit"}'
    by_lane = lane.post(path, content=content, headers=JSON, follow_redirects=False)
    by_route = route.post(path, content=content, headers=JSON, follow_redirects=False)
    assert by_lane.status_code == by_route.status_code, (by_lane.text, by_route.text)
    assert by_lane.status_code != 201
    assert lane.get(f"/v1/accounts/{ACCOUNT}").json()["balance"] == 100


class _BrokenLedger:
    """A ledger with a bug: every call fails as no ledger error would."""

    def __getattr__(self, name: str) -> Any:
        async def fail(*args: object) -> None:
            raise RuntimeError("a bug in the ledger")

        return fail


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "route"])
def test_an_unexpected_error_is_logged_once_and_answered_500(
    caplog: pytest.LogCaptureFixture, fast_path: bool
) -> None:
    app = create_app(Settings(database_url="memory://"))
    if not fast_path:
        _without_lane(app)
    app.state.container.ledger.override(providers.Object(_BrokenLedger()))
    content = b'{"account_number": "1234567890", "amount": 1, "transaction_type": "deposit"}'
    with TestClient(app, headers=AUTH) as client, caplog.at_level(logging.DEBUG):
        # The default TestClient raises whatever the app lets out, as a server would log it.
        response = client.post("/v1/transactions", content=content, headers=JSON)
        opened = client.post("/v1/accounts", json={"customer_name": "A", "account_type": "savings"})
    for answer in (response, opened):
        assert answer.status_code == 500
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["code"] == "internal_error"
        assert "a bug" not in answer.text
        assert "Traceback" not in answer.text
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert [record.getMessage() for record in errors] == [
        "Unexpected error on POST /v1/transactions",
        "Unexpected error on POST /v1/accounts",
    ]
