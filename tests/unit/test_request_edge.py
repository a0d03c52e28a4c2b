"""The request's edge (bank_web.edge), in process: request ids, the Host check, Location, and
the headers of every answer under /v1, whichever code gives the answer."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from dependency_injector import providers
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from bank_web import cli
from bank_web.access_line import ACCESS_LINE_FORMAT
from bank_web.app import create_app
from bank_web.edge import AllowedHosts
from bank_web.request_ids import RequestIdFilter, current_request_id, server_log_config
from bank_web.settings import LOOPBACK_HOSTS, Settings
from tests.support.keys import AUTH

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
    with TestClient(_app(), headers=AUTH) as test_client:
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
        "404 trailing slash": client.post("/v1/accounts/", json=OPENING),
        "405": client.put("/v1/transactions"),
        "413 fast path": client.post("/v1/transactions", content=b" " * 1000, headers=JSON),
        "413 route": client.post("/v1/accounts", content=b" " * 2000, headers=JSON),
        "415 fast path": client.post("/v1/transactions", content=POSTING),
        "422 fast path": client.post("/v1/transactions", content=b"{", headers=JSON),
        "422 route": client.post("/v1/accounts", json={"customer_name": 1}),
        "400 host": client.get(f"/v1/accounts/{ACCOUNT}", headers={"host": "evil.example"}),
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
    with TestClient(app, headers=AUTH) as client, caplog.at_level(logging.INFO):
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
    assert config["formatters"]["access"] == {"()": "bank_web.access_line.AccessLineFormatter"}
    assert "%(request_id)s" in ACCESS_LINE_FORMAT
    assert "%(request_id)s" in config["formatters"]["default"]["fmt"]
    assert all(handler["filters"] == ["request_id"] for handler in config["handlers"].values())
    assert config["loggers"]["bank_web"]["level"] == "WARNING"


# --- Host --------------------------------------------------------------------------------------


def test_the_default_allows_the_loopback_names_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BANK_ALLOWED_HOSTS")
    settings = Settings(database_url="memory://")
    assert settings.allowed_hosts == list(LOOPBACK_HOSTS)
    with TestClient(create_app(settings), base_url="http://localhost", headers=AUTH) as client:
        for host in ("localhost", "localhost:8000", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST"):
            assert client.get("/v1/accounts", headers={"host": host}).status_code == 200, host
        for host in ("evil.example", "evil.example:8000", "testserver", "127.0.0.2", "[::2]"):
            refused = client.get("/v1/accounts", headers={"host": host})
            assert refused.status_code == 400, host
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["code"] == "host_not_allowed"
            assert refused.json()["request_id"] == refused.headers["x-request-id"]
        assert client.get("/health", headers={"host": "evil.example"}).status_code == 400


@pytest.mark.parametrize(
    ("names", "host", "allowed"),
    [
        (["localhost"], b"localhost", True),
        (["localhost"], b"localhost:1", True),
        (["LocalHost"], b"LOCALHOST:1", True),
        (["localhost"], b"localhost.evil.example", False),
        (["localhost"], b"evil.example#localhost", False),
        (["localhost"], b"", False),
        (["localhost"], None, False),
        (["::1"], b"[::1]:8000", True),
        (["[::1]"], b"[::1]", True),
        (["[::1]"], b"[::1]x", False),
        (["[::1]"], b"[::1", False),
        (["*"], b"anything.example", True),
        (["*"], None, True),
        (["*.example.com"], b"api.example.com:443", True),
        (["*.example.com"], b"example.com", False),
        (["*.example.com"], b"evilexample.com", False),
        (["bank.example.com", "localhost"], b"bank.example.com", True),
    ],
)
def test_allowed_hosts(names: list[str], host: bytes | None, allowed: bool) -> None:
    assert AllowedHosts(names).allow(host) is allowed


def test_the_setting_is_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANK_ALLOWED_HOSTS", " bank.example.com , localhost,")
    assert Settings().allowed_hosts == ["bank.example.com", "localhost"]
    monkeypatch.setenv("BANK_ALLOWED_HOSTS", "")
    with pytest.raises(ValidationError):
        Settings()


def test_two_host_headers_are_refused() -> None:
    with TestClient(_app(), headers=AUTH) as client:
        answer = client.get("/v1/accounts", headers=[("host", "localhost"), ("host", "localhost")])
    assert answer.status_code == 400
    assert answer.json()["code"] == "host_not_allowed"


@pytest.mark.parametrize(
    ("bind", "hosts", "warned"),
    [
        ("0.0.0.0", None, True),
        ("192.0.2.1", None, True),
        ("0.0.0.0", "bank.example.com", False),
        ("127.0.0.1", None, False),
        ("::1", None, False),
        ("localhost", None, False),
    ],
)
def test_serving_beyond_loopback_with_the_default_hosts_warns(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    bind: str,
    hosts: str | None,
    warned: bool,
) -> None:
    served: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: served.append(kwargs))
    # main() writes both into the environment; monkeypatch puts them back afterwards.
    monkeypatch.setenv("BANK_DATABASE_URL", "memory://")
    monkeypatch.setenv("BANK_CURSOR_SECRET", "s" * 32)
    if hosts is None:
        monkeypatch.delenv("BANK_ALLOWED_HOSTS")
    else:
        monkeypatch.setenv("BANK_ALLOWED_HOSTS", hosts)
    with caplog.at_level(logging.WARNING, logger="bank_web"):
        assert cli.main(["serve", "--host", bind]) == 0
    assert served[0]["host"] == bind
    assert any("BANK_ALLOWED_HOSTS" in r.getMessage() for r in caplog.records) is warned


# --- Location ----------------------------------------------------------------------------------


def test_location_never_comes_from_the_host_header() -> None:
    with TestClient(
        _app(allowed_hosts=["*"]), base_url="http://evil.example", headers=AUTH
    ) as client:
        opened = client.post("/v1/accounts", json=OPENING)
        posted = client.post("/v1/transactions", content=POSTING, headers=JSON)
        slashed = client.post("/v1/accounts/", json=OPENING, follow_redirects=False)
        listed = client.get("/v1/accounts/", follow_redirects=False)
    assert opened.headers["location"] == f"/v1/accounts/{ACCOUNT}"
    assert posted.headers["location"] == f"/v1/transactions/{posted.json()['transaction_id']}"
    for answer in (slashed, listed):
        assert answer.status_code == 404
        assert "location" not in answer.headers
        assert answer.json()["code"] == "not_found"
