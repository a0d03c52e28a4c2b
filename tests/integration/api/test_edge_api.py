"""The request's edge over real HTTP, on every store: X-Request-Id and the safety headers on every
answer under /v1, request_id in problems, the Host check, Location without the Host, and the id
in the server's log line."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.api.helpers import open_account
from tests.support.keys import AUTH
from tests.support.server import running_server

JSON = {"content-type": "application/json"}
MEBIBYTE = 1024 * 1024


def _answers(client: httpx.Client, number: str) -> dict[str, httpx.Response]:
    posting = b'{"account_number": "%s", "amount": 1, "transaction_type": "deposit"}' % (
        number.encode()
    )
    return {
        "200": client.get(f"/v1/accounts/{number}"),
        "201 fast path": client.post("/v1/transactions", content=posting, headers=JSON),
        "201 route": client.post(
            "/v1/accounts", json={"customer_name": "Ada", "account_type": "savings"}
        ),
        "404": client.get("/v1/accounts/0000000000"),
        "404 unknown route": client.get("/v1/nothing"),
        "405": client.delete("/v1/accounts"),
        "413": client.post("/v1/transactions", content=b" " * MEBIBYTE, headers=JSON),
        "415": client.post("/v1/transactions", content=posting),
        "422 fast path": client.post("/v1/transactions", content=b"{", headers=JSON),
        "422 route": client.patch(f"/v1/accounts/{number}", json={"status": "asleep"}),
        "400 host": client.get("/v1/accounts", headers={"host": "evil.example"}),
    }


def test_every_answer_under_v1_carries_its_request_id_and_no_store(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    answers = _answers(client, number)
    ids = set()
    for kind, answer in answers.items():
        assert kind.split()[0] == str(answer.status_code), (kind, answer.text)
        request_id = answer.headers.get("x-request-id", "")
        assert re.fullmatch("[0-9a-f]{32}", request_id), (kind, request_id)
        ids.add(request_id)
        assert answer.headers.get("cache-control") == "no-store", kind
        assert answer.headers.get("x-content-type-options") == "nosniff", kind
        if answer.status_code >= 400:
            assert answer.headers["content-type"] == "application/problem+json", kind
            assert answer.json()["request_id"] == request_id, kind
    assert len(ids) == len(answers)


def test_the_clients_request_id_comes_back(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    posting = b'{"account_number": "%s", "amount": 1, "transaction_type": "deposit"}' % (
        number.encode()
    )
    given = "trace-" + "A.b_9-" * 20  # 126 characters
    for answer in (
        client.post("/v1/transactions", content=posting, headers={**JSON, "x-request-id": given}),
        client.get(f"/v1/accounts/{number}", headers={"x-request-id": given}),
        client.get("/v1/accounts/0000000000", headers={"x-request-id": given}),
    ):
        assert answer.headers["x-request-id"] == given
    assert answer.json()["request_id"] == given
    too_long = client.get(f"/v1/accounts/{number}", headers={"x-request-id": "x" * 129})
    assert re.fullmatch("[0-9a-f]{32}", too_long.headers["x-request-id"])
    odd = client.get(f"/v1/accounts/{number}", headers={"x-request-id": "a b"})
    assert re.fullmatch("[0-9a-f]{32}", odd.headers["x-request-id"])


def test_a_host_header_of_another_site_is_refused(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    for host in ("evil.example", "evil.example:8000", "127.0.0.1.evil.example"):
        refused = client.get(f"/v1/accounts/{number}", headers={"host": host})
        assert refused.status_code == 400, host
        assert refused.json()["code"] == "host_not_allowed"
        assert number not in refused.text
    for host in ("localhost", "127.0.0.1:1", "[::1]:8000"):
        assert client.get(f"/v1/accounts/{number}", headers={"host": host}).status_code == 200


def test_location_is_relative_and_a_trailing_slash_is_no_redirect(client: httpx.Client) -> None:
    account = open_account(client)
    number = account["account_number"]
    posted = client.post(
        "/v1/transactions",
        json={"account_number": number, "amount": 5, "transaction_type": "deposit"},
    )
    assert posted.headers["location"] == f"/v1/transactions/{posted.json()['transaction_id']}"
    for answer in (
        client.get("/v1/accounts/", follow_redirects=False),
        client.post(
            "/v1/accounts/",
            json={"customer_name": "Ada", "account_type": "savings"},
            follow_redirects=False,
        ),
        client.get(f"/v1/accounts/{number}/", follow_redirects=False),
    ):
        assert answer.status_code == 404, answer.headers
        assert "location" not in answer.headers
        assert answer.json()["code"] == "not_found"


# One server that allows every Host and logs every request, on the memory store.


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    log = tmp_path_factory.mktemp("open-server") / "server.log"
    environment = {"BANK_ALLOWED_HOSTS": "*", "BANK_LOG_LEVEL": "info", "BANK_ACCESS_LOG": "1"}
    with running_server("memory://", log, environment=environment) as url:
        yield url, log


def test_with_every_host_allowed_location_still_names_no_host(
    open_server: tuple[str, Path],
) -> None:
    url, _ = open_server
    with httpx.Client(base_url=url, headers={**AUTH, "host": "evil.example"}) as client:
        opened = client.post("/v1/accounts", json={"customer_name": "A", "account_type": "savings"})
        assert opened.status_code == 201
        number = opened.json()["account_number"]
        assert opened.headers["location"] == f"/v1/accounts/{number}"
        slashed = client.get("/v1/accounts/", follow_redirects=False)
        assert slashed.status_code == 404
        assert "location" not in slashed.headers


def test_the_servers_log_line_for_a_request_shows_its_id(open_server: tuple[str, Path]) -> None:
    url, log = open_server
    with httpx.Client(base_url=url, headers=AUTH) as client:
        given = client.get("/v1/accounts/0000000000", headers={"x-request-id": "edge-log-1"})
        made = client.get("/v1/accounts?limit=1")
    assert given.status_code == 404
    lines = []
    for _ in range(50):
        lines = log.read_text().splitlines()
        if any(made.headers["x-request-id"] in line for line in lines):
            break
        time.sleep(0.1)
    [given_line] = [line for line in lines if "[edge-log-1]" in line]
    assert '"GET /v1/accounts/0000000000 HTTP/1.1" 404' in given_line
    [made_line] = [line for line in lines if f"[{made.headers['x-request-id']}]" in line]
    assert '"GET /v1/accounts?limit=1 HTTP/1.1" 200' in made_line
