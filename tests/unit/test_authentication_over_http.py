"""Authentication over HTTP, in-process on memory://: every /v1 route against the contract's
scope table (section 9), the 401/403 matrix, a key restricted to one account route by route,
and the order of refusals (404/405 and 413 before 401; 401 before 415/422)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import pytest
from fastapi.testclient import TestClient

from bank_domain.api_keys import Scope
from bank_web.app import create_app
from bank_web.settings import Settings
from tests.support.keys import AUTH, MASTER_KEY, bearer

BODY_LIMIT: Final = 1000
OWN: Final = "1000000001"
OTHER: Final = "1000000002"
MATRIX: Final = "1000000003"
"""The account the scope matrix changes (closes, even), so that OWN and OTHER stay as made."""


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    scope: Scope
    body: dict[str, Any] | None = None
    query: str = ""
    """Sent with the path, filled in as it is: for a route that names an account only there."""

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    def url(self, account: str, transaction: str, key_id: str, transfer: str) -> str:
        url = f"{self.path}?{self.query}" if self.query else self.path
        return url.format(n=account, id=transaction, key_id=key_id, transfer_id=transfer)


_ACCOUNT_BODY: Final = {"customer_name": "Ada", "account_type": "checking"}
_TRANSACTION_BODY: Final = {"amount": 1, "transaction_type": "deposit"}
_WHOLE_SPAN: Final = "from=2000-01-01T00:00:00Z&to=2999-12-31T23:59:59Z"

# The contract's table (API.md section 9), for the routes this service serves.
ROUTES: Final = (
    Route("GET", "/v1/accounts", Scope.ACCOUNTS_READ),
    Route("GET", "/v1/accounts/{n}", Scope.ACCOUNTS_READ),
    Route("POST", "/v1/accounts", Scope.ACCOUNTS_WRITE, _ACCOUNT_BODY),
    Route("PATCH", "/v1/accounts/{n}", Scope.ACCOUNTS_WRITE, {"customer_name": "Ada King"}),
    Route("PUT", "/v1/accounts/{n}", Scope.ACCOUNTS_WRITE, _ACCOUNT_BODY),
    Route("DELETE", "/v1/accounts/{n}", Scope.ACCOUNTS_WRITE),
    Route("POST", "/v1/accounts/{n}/balance/recalculate", Scope.ACCOUNTS_WRITE),
    Route("GET", "/v1/accounts/{n}/entries", Scope.ACCOUNTS_READ),
    Route("GET", "/v1/accounts/{n}/balance", Scope.ACCOUNTS_READ),
    Route("GET", "/v1/accounts/{n}/statement", Scope.ACCOUNTS_READ, query=_WHOLE_SPAN),
    Route("GET", "/v1/accounts/{n}/verify", Scope.ACCOUNTS_READ),
    Route("GET", "/v1/accounts/{n}/transactions", Scope.TRANSACTIONS_READ),
    Route("GET", "/v1/transactions/{id}", Scope.TRANSACTIONS_READ),
    Route("GET", "/v1/transactions/{id}/history", Scope.TRANSACTIONS_READ),
    Route(
        "POST",
        "/v1/transactions",
        Scope.TRANSACTIONS_WRITE,
        {"account_number": OTHER, **_TRANSACTION_BODY},
    ),
    Route(
        "POST",
        "/v1/transactions/batch",
        Scope.TRANSACTIONS_WRITE,
        {"transactions": [{"account_number": OTHER, **_TRANSACTION_BODY}]},
    ),
    Route("PATCH", "/v1/transactions/{id}", Scope.TRANSACTIONS_WRITE, {"description": "x"}),
    Route("PUT", "/v1/transactions/{id}", Scope.TRANSACTIONS_WRITE, _TRANSACTION_BODY),
    Route("DELETE", "/v1/transactions/{id}", Scope.TRANSACTIONS_WRITE),
    Route(
        "POST",
        "/v1/transfers",
        Scope.TRANSACTIONS_WRITE,
        {"from_account": OTHER, "to_account": OWN, "amount": 1},
    ),
    Route("GET", "/v1/transfers/{transfer_id}", Scope.TRANSACTIONS_READ),
    Route("POST", "/v1/transfers/{transfer_id}/reversal", Scope.TRANSACTIONS_WRITE),
    Route("GET", "/v1/api-keys", Scope.KEYS_ADMIN),
    Route("GET", "/v1/api-keys/{key_id}", Scope.KEYS_ADMIN),
    Route("POST", "/v1/api-keys", Scope.KEYS_ADMIN, {"name": "n", "scopes": ["audit:read"]}),
    Route("DELETE", "/v1/api-keys/{key_id}", Scope.KEYS_ADMIN),
    Route("GET", "/v1/events", Scope.AUDIT_READ, query="account_number={n}"),
)
ROUTE_IDS: Final = [route.id for route in ROUTES]


def _table_path(path: str) -> str:
    return path.replace("{account_number}", "{n}").replace("{transaction_id}", "{id}")


def _document_path(path: str) -> str:
    return path.replace("{n}", "{account_number}").replace("{id}", "{transaction_id}")


@dataclass
class World:
    client: TestClient
    keys: dict[str, str]
    """Secrets by name: one key per scope, `all` (every scope), `revoked`, `expired`."""
    own_transaction: str
    other_transaction: str
    matrix_transaction: str
    key_id: str
    transfer_id: str
    """A transfer from OTHER to OWN."""


def _create_key(client: TestClient, **fields: Any) -> dict[str, Any]:
    answer = client.post("/v1/api-keys", json={"name": "test key", **fields})
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    app = create_app(Settings(database_url="memory://", body_limit_bytes=BODY_LIMIT))
    with TestClient(app, headers=AUTH) as client:
        transactions: dict[str, str] = {}
        for number in (OWN, OTHER, MATRIX):
            opened = client.post(
                "/v1/accounts",
                json={**_ACCOUNT_BODY, "account_number": number, "initial_deposit": 100},
            )
            assert opened.status_code == 201, opened.text
            listed = client.get(f"/v1/accounts/{number}/transactions").json()
            transactions[number] = listed["items"][0]["transaction_id"]
        moved = client.post(
            "/v1/transfers", json={"from_account": OTHER, "to_account": OWN, "amount": 1}
        )
        assert moved.status_code == 201, moved.text
        keys = {scope.value: _create_key(client, scopes=[scope.value])["secret"] for scope in Scope}
        keys["all"] = _create_key(client, scopes=[s.value for s in Scope])["secret"]
        revoked = _create_key(client, scopes=[s.value for s in Scope])
        assert client.delete(f"/v1/api-keys/{revoked['key_id']}").status_code == 204
        keys["revoked"] = revoked["secret"]
        soon = datetime.now(UTC) + timedelta(seconds=1)
        expiring = _create_key(client, scopes=[s.value for s in Scope], expires_at=soon.isoformat())
        keys["expired"] = expiring["secret"]
        # Used once while valid, so that a kept copy has to notice the expiry itself.
        assert client.get("/v1/accounts", headers=bearer(keys["expired"])).status_code == 200
        time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.05)
        keys["restricted"] = _create_key(
            client,
            scopes=[s.value for s in Scope if s is not Scope.KEYS_ADMIN],
            account_numbers=[OWN],
        )["secret"]
        yield World(
            client,
            keys,
            transactions[OWN],
            transactions[OTHER],
            transactions[MATRIX],
            expiring["key_id"],
            moved.json()["transfer_id"],
        )


def _send(world: World, route: Route, headers: Any, account: str = OTHER) -> Any:
    transaction = {
        OWN: world.own_transaction,
        OTHER: world.other_transaction,
        MATRIX: world.matrix_transaction,
    }[account]
    # A copy of the route's body each time: the client adds nothing to it.
    return world.client.request(
        route.method,
        route.url(account, transaction, world.key_id, world.transfer_id),
        json=None if route.body is None else dict(route.body),
        headers=headers,
    )


def _assert_problem(answer: Any, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, (answer.status_code, answer.text)
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = answer.json()
    assert problem["code"] == code, problem
    assert problem["request_id"] == answer.headers["x-request-id"]
    return problem


def _assert_unauthenticated(answer: Any) -> None:
    _assert_problem(answer, 401, "unauthenticated")
    assert answer.headers["www-authenticate"] == "Bearer"


def test_every_v1_route_is_in_the_table_and_declares_its_scope() -> None:
    app = create_app(Settings(database_url="memory://"))
    document = TestClient(app).get("/openapi.json").json()
    served = {
        f"{method.upper()} {_table_path(path)}"
        for path, item in document["paths"].items()
        if path.startswith("/v1")
        for method in item
    }
    assert served == set(ROUTE_IDS)
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearer"]["description"],
    }
    for route in ROUTES:
        operation = document["paths"][_document_path(route.path)][route.method.lower()]
        assert operation["x-scope"] == route.scope.value, route.id
        assert operation["security"] == [{"bearer": [route.scope.value]}], route.id
        assert {"401", "403"} <= operation["responses"].keys(), route.id
        assert f"`{route.scope.value}`" in operation["description"], route.id
    for path in ("/health", "/ready"):
        assert "security" not in document["paths"][path]["get"]


UNAUTHENTICATED_HEADERS: Final[dict[str, dict[str, str | bytes]]] = {
    "no key": {"authorization": ""},
    "basic": {"authorization": "Basic " + MASTER_KEY},
    "bearer alone": {"authorization": "Bearer"},
    "bearer and spaces": {"authorization": "Bearer    "},
    "two words": {"authorization": f"Bearer {MASTER_KEY} {MASTER_KEY}"},
    "unknown master-like": {"authorization": f"Bearer {MASTER_KEY}x"},
    "unknown secret": {"authorization": "Bearer bk_" + "A" * 43},
    "not ascii": {"authorization": "Bearer bk_\u00e9".encode()},
}


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize("case", list(UNAUTHENTICATED_HEADERS))
def test_no_valid_key_is_a_401(world: World, route: Route, case: str) -> None:
    headers = UNAUTHENTICATED_HEADERS[case]
    if not headers["authorization"]:
        answer = world.client.request(
            route.method,
            route.url(OTHER, world.other_transaction, world.key_id, world.transfer_id),
            json=route.body,
            headers={"authorization": ""},
        )
        # httpx sends an empty header as given: refused all the same; and with none at all:
        bare = TestClient(world.client.app).request(
            route.method,
            route.url(OTHER, world.other_transaction, world.key_id, world.transfer_id),
            json=route.body,
        )
        _assert_unauthenticated(bare)
    else:
        answer = _send(world, route, headers)
    _assert_unauthenticated(answer)


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize("kind", ["revoked", "expired"])
def test_a_revoked_or_expired_key_is_a_401(world: World, route: Route, kind: str) -> None:
    _assert_unauthenticated(_send(world, route, bearer(world.keys[kind])))


def test_two_authorization_headers_are_a_401(world: World) -> None:
    answer = world.client.get(
        "/v1/accounts", headers=[("authorization", AUTH["authorization"])] * 2
    )
    _assert_unauthenticated(answer)


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize("scope", list(Scope), ids=[s.value for s in Scope])
def test_a_key_needs_the_routes_scope(world: World, route: Route, scope: Scope) -> None:
    answer = _send(world, route, bearer(world.keys[scope.value]), account=MATRIX)
    if scope is route.scope:
        assert answer.status_code not in {401, 403}, answer.text
        assert answer.status_code < 500
    else:
        problem = _assert_problem(answer, 403, "forbidden")
        assert route.scope.value in problem["detail"]


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize("key", ["master", "all"])
def test_the_master_key_and_a_key_of_every_scope_pass(world: World, route: Route, key: str) -> None:
    headers = AUTH if key == "master" else bearer(world.keys["all"])
    answer = _send(world, route, headers, account=MATRIX)
    assert answer.status_code not in {401, 403}, answer.text
    assert answer.status_code < 500


# --- A key restricted to one account ----------------------------------------------------------

_NOT_FOUND: Final = {
    "/v1/accounts/{n}": "account_not_found",
    "/v1/accounts/{n}/balance/recalculate": "account_not_found",
    "/v1/accounts/{n}/entries": "account_not_found",
    "/v1/accounts/{n}/balance": "account_not_found",
    "/v1/accounts/{n}/statement": "account_not_found",
    "/v1/accounts/{n}/verify": "account_not_found",
    "/v1/accounts/{n}/transactions": "account_not_found",
    "/v1/transactions/{id}": "transaction_not_found",
    "/v1/transactions/{id}/history": "transaction_not_found",
    "/v1/transactions": "account_not_found",
    "/v1/transactions/batch": "account_not_found",
    "/v1/transfers": "account_not_found",
    "/v1/transfers/{transfer_id}": "transfer_not_found",
    "/v1/transfers/{transfer_id}/reversal": "transfer_not_found",
    "/v1/events": "account_not_found",
}
RESTRICTED_ROUTES: Final = [r for r in ROUTES if r.path in _NOT_FOUND]


@pytest.mark.parametrize("route", RESTRICTED_ROUTES, ids=[r.id for r in RESTRICTED_ROUTES])
def test_a_restricted_key_finds_no_other_account_nor_its_transactions(
    world: World, route: Route
) -> None:
    _assert_problem(
        _send(world, route, bearer(world.keys["restricted"])), 404, _NOT_FOUND[route.path]
    )
    # The master key sees it (this is the other account's own answer, not an unknown id).
    # DELETE of an account with money is a 409, and the others change nothing that matters.
    if route.method == "GET":
        assert _send(world, route, AUTH).status_code == 200


def test_a_restricted_key_sees_its_own_account(world: World) -> None:
    key = bearer(world.keys["restricted"])
    client = world.client
    assert client.get(f"/v1/accounts/{OWN}", headers=key).status_code == 200
    assert client.get(f"/v1/accounts/{OWN}/transactions", headers=key).status_code == 200
    assert client.get(f"/v1/transactions/{world.own_transaction}", headers=key).status_code == 200
    history = client.get(f"/v1/transactions/{world.own_transaction}/history", headers=key)
    assert [item["change"] for item in history.json()["items"]] == ["created"]
    posted = client.post(
        "/v1/transactions", json={"account_number": OWN, **_TRANSACTION_BODY}, headers=key
    )
    assert posted.status_code == 201, posted.text
    for journal_path in ("entries", "balance", f"statement?{_WHOLE_SPAN}", "verify"):
        answer = client.get(f"/v1/accounts/{OWN}/{journal_path}", headers=key)
        assert answer.status_code == 200, (journal_path, answer.text)
    events = client.get("/v1/events", params={"account_number": OWN}, headers=key)
    assert events.status_code == 200, events.text
    assert events.json()["items"][-1]["data"] == posted.json()


def _whole_feed(client: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = client.get("/v1/events", params={"cursor": cursor}, headers=headers).json()
        if not page["items"]:
            return events
        events += page["items"]
        cursor = page["next_cursor"]


def test_a_restricted_key_reads_only_its_accounts_events(world: World) -> None:
    everything = _whole_feed(world.client, AUTH)
    seen = _whole_feed(world.client, bearer(world.keys["restricted"]))
    assert {item["account_number"] for item in everything} >= {OWN, OTHER, None}
    assert seen == [item for item in everything if item["account_number"] == OWN]
    assert seen


def test_a_restricted_key_lists_only_its_accounts(world: World) -> None:
    listed = world.client.get("/v1/accounts", headers=bearer(world.keys["restricted"]))
    assert listed.status_code == 200
    assert [item["account_number"] for item in listed.json()["items"]] == [OWN]
    everything = world.client.get("/v1/accounts").json()["items"]
    assert {OWN, OTHER} <= {item["account_number"] for item in everything}


def test_a_restricted_key_cannot_open_accounts(world: World) -> None:
    answer = world.client.post(
        "/v1/accounts", json=_ACCOUNT_BODY, headers=bearer(world.keys["restricted"])
    )
    _assert_problem(answer, 403, "forbidden")


def test_a_restricted_key_changes_nothing_of_another_account(world: World) -> None:
    key = bearer(world.keys["restricted"])
    client = world.client
    before_account = client.get(f"/v1/accounts/{OTHER}").json()
    before_transaction = client.get(f"/v1/transactions/{world.other_transaction}").json()
    for route in ROUTES:
        if route.method != "GET" and route.path in {
            "/v1/accounts/{n}",
            "/v1/transactions/{id}",
        }:
            answer = _send(world, route, key)
            expected = "account_not_found" if "{n}" in route.path else "transaction_not_found"
            _assert_problem(answer, 404, expected)
    assert client.get(f"/v1/accounts/{OTHER}").json() == before_account
    assert client.get(f"/v1/transactions/{world.other_transaction}").json() == before_transaction


# --- The order of refusals --------------------------------------------------------------------


def test_an_unknown_route_or_method_comes_before_a_401(world: World) -> None:
    bare = TestClient(world.client.app)
    _assert_problem(bare.get("/v1/nowhere"), 404, "not_found")
    _assert_problem(bare.put("/v1/accounts"), 405, "method_not_allowed")
    _assert_problem(bare.post("/v1/transactions/abc"), 405, "method_not_allowed")


@pytest.mark.parametrize("path", ["/v1/accounts", "/v1/transactions", "/v1/api-keys"])
def test_a_body_too_large_comes_before_a_401(world: World, path: str) -> None:
    bare = TestClient(world.client.app)
    answer = bare.post(path, content=b"x" * BODY_LIMIT, headers={"content-type": "text/plain"})
    _assert_problem(answer, 413, "payload_too_large")


@pytest.mark.parametrize("path", ["/v1/accounts", "/v1/transactions", "/v1/api-keys"])
@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{not json", "application/json"),
        (b'{"a": 1, "a": 2}', "application/json"),
        (b"{}", "application/json"),
        (b"", "application/json"),
        (b"hello", "text/plain"),
    ],
)
def test_a_bad_body_without_a_key_is_a_401(
    world: World, path: str, content: bytes, content_type: str
) -> None:
    bare = TestClient(world.client.app)
    answer = bare.post(path, content=content, headers={"content-type": content_type})
    _assert_unauthenticated(answer)


@pytest.mark.parametrize(
    "url",
    [
        "/v1/accounts?limit=1&limit=2",
        "/v1/accounts?limit=0",
        "/v1/api-keys?cursor=forged",
        "/v1/events?type=bogus",
        "/v1/transactions/nonsense/history?limit=0",
    ],
)
def test_a_bad_query_without_a_key_is_a_401(world: World, url: str) -> None:
    _assert_unauthenticated(TestClient(world.client.app).get(url))


def test_a_bad_query_on_the_posting_path_without_a_key_is_a_401(world: World) -> None:
    answer = TestClient(world.client.app).post(
        "/v1/transactions?x=1&x=2", content=b"{", headers={"content-type": "application/json"}
    )
    _assert_unauthenticated(answer)


def test_service_paths_need_no_key(world: World) -> None:
    bare = TestClient(world.client.app)
    for path in ("/health", "/ready", "/openapi.json", "/docs"):
        assert bare.get(path).status_code == 200, path


# --- Keys over HTTP, and no secret anywhere ---------------------------------------------------


def test_keys_are_made_listed_read_and_revoked(world: World) -> None:
    client = world.client
    made = client.post(
        "/v1/api-keys",
        json={"name": "reader", "scopes": ["accounts:read"], "account_numbers": [OWN]},
    )
    assert made.status_code == 201, made.text
    key = made.json()
    assert set(key) == {
        "key_id",
        "name",
        "scopes",
        "account_numbers",
        "created_at",
        "expires_at",
        "revoked_at",
        "secret",
    }
    assert made.headers["location"] == f"/v1/api-keys/{key['key_id']}"
    assert key["secret"].startswith("bk_")
    assert (key["name"], key["scopes"], key["account_numbers"]) == (
        "reader",
        ["accounts:read"],
        [OWN],
    )
    shown = client.get(made.headers["location"])
    assert shown.status_code == 200
    assert shown.json() == {k: v for k, v in key.items() if k != "secret"}
    pages: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/api-keys", params=params).json()
        pages.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert key["key_id"] in [item["key_id"] for item in pages]
    assert all("secret" not in item for item in pages)
    assert client.delete(made.headers["location"]).status_code == 204
    assert client.delete(made.headers["location"]).status_code == 204
    assert client.get(made.headers["location"]).json()["revoked_at"] is not None
    _assert_unauthenticated(client.get("/v1/accounts", headers=bearer(key["secret"])))


@pytest.mark.parametrize("key_id", ["key_" + "0" * 32, "nonsense"])
def test_an_unknown_key_is_a_404(world: World, key_id: str) -> None:
    _assert_problem(world.client.get(f"/v1/api-keys/{key_id}"), 404, "api_key_not_found")
    _assert_problem(world.client.delete(f"/v1/api-keys/{key_id}"), 404, "api_key_not_found")


@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "scopes": ["accounts:read"]},
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["accounts:read", "accounts:read"]},
        {"name": "x", "scopes": ["root"]},
        {"name": "x", "scopes": ["keys:admin"], "account_numbers": [OWN]},
        {"name": "x", "scopes": ["audit:read"], "account_numbers": []},
        {"name": "x", "scopes": ["audit:read"], "expires_at": "2001-01-01T00:00:00Z"},
        {"name": "x", "scopes": ["audit:read"], "expires_at": "2999-01-01T00:00:00"},
        {"name": "x", "scopes": ["audit:read"], "expires_at": 5},
        {"name": "x", "scopes": ["audit:read"], "secret": "bk_" + "A" * 43},
    ],
)
def test_a_key_out_of_the_rules_is_a_422(world: World, body: dict[str, Any]) -> None:
    _assert_problem(world.client.post("/v1/api-keys", json=body), 422, "validation_error")


def test_at_most_1000_account_numbers_as_sent() -> None:
    """One account 1,001 times: the domain would count it once; the schema says 1,000 items."""
    with TestClient(create_app(Settings(database_url="memory://")), headers=AUTH) as client:
        body = {"name": "x", "scopes": ["audit:read"], "account_numbers": [OWN] * 1001}
        _assert_problem(client.post("/v1/api-keys", json=body), 422, "validation_error")
        body["account_numbers"] = [OWN] * 1000
        made = client.post("/v1/api-keys", json=body)
        assert made.status_code == 201, made.text
        assert made.json()["account_numbers"] == [OWN]


def test_no_secret_is_in_any_log_line_or_problem(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    client = world.client
    with caplog.at_level(logging.DEBUG):
        made = _create_key(client, scopes=["accounts:read"])
        secret = made["secret"]
        answers = [
            client.get("/v1/accounts", headers=bearer(secret)),
            client.post("/v1/accounts", json=_ACCOUNT_BODY, headers=bearer(secret)),
            client.get("/v1/api-keys"),
            client.get(f"/v1/api-keys/{made['key_id']}"),
            client.get("/v1/accounts", headers=bearer(secret + "x")),
            client.get("/v1/accounts", headers={"authorization": f"Basic {secret}"}),
            client.get("/v1/accounts", headers={"authorization": f"Bearer {MASTER_KEY}x"}),
        ]
        client.delete(f"/v1/api-keys/{made['key_id']}")
        answers.append(client.get("/v1/accounts", headers=bearer(secret)))
    for answer in answers:
        assert secret not in answer.text
        assert MASTER_KEY not in answer.text
    logged = caplog.text + "".join(str(record.__dict__) for record in caplog.records)
    assert secret not in logged
    assert MASTER_KEY not in logged
