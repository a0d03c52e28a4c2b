"""The request's edge (bank_web.edge), in process: request ids and the headers of every answer
under /v1, whichever code gives the answer."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from dependency_injector import providers
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bank_web.app import create_app
from bank_web.request_ids import RequestIdFilter, current_request_id, server_log_config
from bank_web.settings import Settings

ACCOUNT = "1234567890"
JSON = {"content-type": "application/json"}
POSTING = b'{"account_number": "1234567890", "amount": 1, "transaction_type": "deposit"}'
OPENING = {"account_number": ACCOUNT, "customer_name": "Ada", "account_type": "checking"}


def _app(**settings: Any) -> FastAPI:
    app = create_app(Settings(database_url="memory://", body_limit_bytes=1000, **settings))

    @app.get("/v1/probe/request-id")
    async def probe() -> dict[str, str | None]:
        return {"request_id": current_request_id()}

    return app


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(_app()) as test_client:
        assert test_client.post("/v1/accounts", json=OPENING).status_code == 201
        yield test_client


def _answers(client: TestClient) -> dict[str, Any]:
    """One answer of each kind under /v1, by the code that gives it."""
    return {
        "200 route": client.get(f"/v1/accounts/{ACCOUNT}"),
        "201 fast path": client.post("/v1/transactions", content=POSTING, headers=JSON),
        "201 route": client.post("/v1/accounts", json={**OPENING, "account_number": None}),
        "404 route": client.get("/v1/accounts/0000000000"),
        "404 no route": client.get("/v1/nothing"),
        "405": client.put("/v1/transactions"),
        "413 fast path": client.post("/v1/transactions", content=b" " * 1000, headers=JSON),
        "413 route": client.post("/v1/accounts", content=b" " * 2000, headers=JSON),
        "415 fast path": client.post("/v1/transactions", content=POSTING),
        "422 fast path": client.post("/v1/transactions", content=b"{", headers=JSON),
        "422 route": client.post("/v1/accounts", json={"customer_name": 1}),
    }


def test_every_answer_under_v1_carries_a_request_id_and_the_safety_headers(
    client: TestClient,
) -> None:
    answers = _answers(client)
    seen = set()
    for kind, answer in answers.items():
        assert kind.split()[0] == str(answer.status_code), (kind, answer.text)
        request_id = answer.headers.get("x-request-id", "")
        assert re.fullmatch("[0-9a-f]{32}", request_id), kind
        seen.add(request_id)
        assert answer.headers.get("cache-control") == "no-store", kind
        assert answer.headers.get("x-content-type-options") == "nosniff", kind
        if answer.status_code >= 400:
            assert answer.headers["content-type"] == "application/problem+json", kind
            assert answer.json()["request_id"] == request_id, kind
    assert len(seen) == len(answers)  # each its own


@pytest.mark.parametrize(
    "given",
    ["a", "A-z.0_9", "x" * 128, "4bf92f3577b34da6a3ce929d0e0e4736", "..", "-"],
)
def test_a_valid_request_id_comes_back_as_given(client: TestClient, given: str) -> None:
    for answer in (
        client.get(f"/v1/accounts/{ACCOUNT}", headers={"x-request-id": given}),
        client.post("/v1/transactions", content=b"{", headers={**JSON, "x-request-id": given}),
        client.get("/v1/probe/request-id", headers={"x-request-id": given}),
    ):
        assert answer.headers["x-request-id"] == given
    assert answer.json() == {"request_id": given}
    problem = client.get("/v1/accounts/0000000000", headers={"x-request-id": given})
    assert problem.json()["request_id"] == given


@pytest.mark.parametrize(
    "given",
    ["", "x" * 129, "a b", "a/b", "a,b", "ünï", "a\tb", "id:1", "{id}"],
)
def test_an_invalid_request_id_is_replaced_by_one_the_server_makes(
    client: TestClient, given: str
) -> None:
    answer = client.get(
        f"/v1/accounts/{ACCOUNT}", headers=[("x-request-id", given.encode("utf-8"))]
    )
    made = answer.headers["x-request-id"]
    assert made != given
    assert re.fullmatch("[0-9a-f]{32}", made)


def test_a_request_id_sent_twice_is_replaced(client: TestClient) -> None:
    answer = client.get(
        f"/v1/accounts/{ACCOUNT}", headers=[("x-request-id", "one"), ("x-request-id", "two")]
    )
    assert answer.headers["x-request-id"] not in {"one", "two", "one, two", "one,two"}


def test_the_request_id_is_the_current_one_only_while_serving(client: TestClient) -> None:
    made = client.get("/v1/probe/request-id")
    assert made.json() == {"request_id": made.headers["x-request-id"]}
    assert current_request_id() is None


def test_service_paths_carry_the_id_but_keep_their_caching(client: TestClient) -> None:
    health = client.get("/health", headers={"x-request-id": "probe-1"})
    assert health.headers["x-request-id"] == "probe-1"
    assert "cache-control" not in health.headers
    assert "x-content-type-options" not in health.headers


class _BrokenLedger:
    """A ledger with a bug: every call fails as no ledger error would."""

    def __getattr__(self, name: str) -> Any:
        async def fail(*args: object) -> None:
            logging.getLogger("bank_web.test").warning("the ledger is about to fail")
            raise RuntimeError("a bug in the ledger")

        return fail


def test_a_500_carries_the_id_which_every_log_record_of_the_request_has(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = _app()
    app.state.container.ledger.override(providers.Object(_BrokenLedger()))
    caplog.handler.addFilter(RequestIdFilter())
    with TestClient(app) as client, caplog.at_level(logging.INFO):
        by_lane = client.post(
            "/v1/transactions", content=POSTING, headers={**JSON, "x-request-id": "lane-500"}
        )
        by_route = client.post("/v1/accounts", json=OPENING, headers={"x-request-id": "route-500"})
    for answer, request_id in ((by_lane, "lane-500"), (by_route, "route-500")):
        assert answer.status_code == 500
        assert answer.headers["x-request-id"] == request_id
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.json()["code"] == "internal_error"
        assert answer.json()["request_id"] == request_id
    logged = [
        (record.getMessage(), record.request_id)  # type: ignore[attr-defined]
        for record in caplog.records
        if record.name.startswith("bank_web")
    ]
    assert logged == [
        ("the ledger is about to fail", "lane-500"),
        ("Unexpected error on POST /v1/transactions", "lane-500"),
        ("the ledger is about to fail", "route-500"),
        ("Unexpected error on POST /v1/accounts", "route-500"),
    ]


def test_log_records_outside_a_request_show_a_dash() -> None:
    record = logging.LogRecord("bank_web", logging.INFO, __file__, 1, "started", (), None)
    assert RequestIdFilter().filter(record)
    assert record.request_id == "-"  # type: ignore[attr-defined]


def test_the_server_log_config_shows_the_id_on_every_line() -> None:
    config = server_log_config("warning")
    assert "%(request_id)s" in config["formatters"]["access"]["fmt"]
    assert "%(request_id)s" in config["formatters"]["default"]["fmt"]
    assert all(handler["filters"] == ["request_id"] for handler in config["handlers"].values())
    assert config["loggers"]["bank_web"]["level"] == "WARNING"
