"""Service routes, the documentation, and errors that no input may turn into a 500."""

from __future__ import annotations

from collections.abc import Iterator

import httpx

from tests.integration.api.helpers import assert_problem, exact, open_account


def test_health_and_ready(client: httpx.Client) -> None:
    assert client.get("/health").status_code == 200
    assert client.get("/ready").status_code == 200


def test_openapi_describes_every_route_with_examples(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert {
        "/v1/accounts",
        "/v1/accounts/{account_number}",
        "/v1/transactions",
        "/v1/transactions/{transaction_id}",
        "/v1/accounts/{account_number}/transactions",
        "/v1/accounts/{account_number}/balance/recalculate",
        "/v1/events",
        "/v1/transactions/{transaction_id}/history",
        "/v1/transactions/batch",
        "/v1/transfers",
        "/v1/transfers/{transfer_id}",
        "/v1/transfers/{transfer_id}/reversal",
        "/health",
        "/ready",
    } <= paths.keys()
    post_body = paths["/v1/transactions"]["post"]["requestBody"]["content"]["application/json"]
    assert post_body["examples"]["challenge"]["value"]["transaction_id"] == "abcdefghijk"
    assert (
        "application/problem+json"
        in paths["/v1/transactions"]["post"]["responses"]["409"]["content"]
    )
    transfer = paths["/v1/transfers"]["post"]["requestBody"]["content"]["application/json"]
    assert transfer["examples"]["rent"]["value"]["from_account"] == "1234567890"
    transfer_out = spec["components"]["schemas"]["TransferOut"]
    assert transfer_out["examples"][0]["status"] == "success"
    assert client.get("/docs").status_code == 200


# The operations whose answer is one account or one transaction, with its ETag.
ENTITY_TAGGED = {
    ("post", "/v1/accounts"),
    ("get", "/v1/accounts/{account_number}"),
    ("patch", "/v1/accounts/{account_number}"),
    ("put", "/v1/accounts/{account_number}"),
    ("post", "/v1/transactions"),
    ("get", "/v1/transactions/{transaction_id}"),
    ("patch", "/v1/transactions/{transaction_id}"),
    ("put", "/v1/transactions/{transaction_id}"),
}


def test_openapi_declares_the_headers_every_answer_carries(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    tagged = set()
    for path, item in paths.items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                headers = response["headers"]
                assert headers["X-Request-Id"]["required"] is True, (method, path, status)
                assert headers["X-Request-Id"]["schema"]["pattern"] == "^[A-Za-z0-9._-]{1,128}$"
                if "ETag" in headers:
                    assert status.startswith("2"), (method, path, status)
                    assert headers["ETag"]["required"] is True
                    tagged.add((method, path))
    assert tagged == ENTITY_TAGGED
    posting = paths["/v1/transactions"]["post"]["responses"]
    assert {"200", "201"} <= {status for status in posting if "ETag" in posting[status]["headers"]}
    # What the document declares, the answers carry.
    number = open_account(client)["account_number"]
    opened = client.get(f"/v1/accounts/{number}")
    assert opened.headers["etag"] == f'"{opened.json()["version"]}"'
    assert client.get("/v1/events", params={"limit": 1}).headers["x-request-id"]


def test_openapi_describes_the_audit_trail_exactly(client: httpx.Client) -> None:
    spec = exact(client.get("/openapi.json"))
    schemas = spec["components"]["schemas"]
    events = spec["paths"]["/v1/events"]["get"]
    assert events["x-scope"] == "audit:read"
    assert {parameter["name"] for parameter in events["parameters"]} == {
        "limit",
        "cursor",
        "account_number",
        "type",
    }
    history = spec["paths"]["/v1/transactions/{transaction_id}/history"]["get"]
    assert history["x-scope"] == "transactions:read"
    # The feed's cursor is never null; a history's is null on its last page.
    feed_cursor = schemas["EventPage"]["properties"]["next_cursor"]
    assert (feed_cursor["type"], "anyOf" in feed_cursor) == ("string", False)
    assert "next_cursor" in schemas["EventPage"]["required"]
    assert {"type": "null"} in schemas["TransactionHistoryPage"]["properties"]["next_cursor"][
        "anyOf"
    ]
    kinds = {
        schemas[name]["examples"][0]["type"]
        for name in ("AccountEventOut", "TransactionEventOut", "ApiKeyEventOut")
    }
    assert kinds == {"account.updated", "transaction.posted", "api_key.created"}
    # Examples hold exact amounts, digit for digit (a float would have written 500.0).
    posted = schemas["TransactionEventOut"]["examples"][0]["data"]
    assert str(posted["amount"]) == "500.00"
    version = schemas["TransactionVersionOut"]["examples"][0]
    assert (str(version["amount"]), str(version["balance_after"])) == ("450.00", "250.00")
    amount = schemas["TransactionVersionOut"]["properties"]["amount"]
    assert (amount["type"], [str(example) for example in amount["examples"]]) == (
        "number",
        ["500.00"],
    )


def test_bodies_of_a_megabyte_are_refused_unread(client: httpx.Client) -> None:
    response = client.post(
        "/v1/accounts", content=b" " * (1024 * 1024), headers={"content-type": "application/json"}
    )
    assert_problem(response, 413, "payload_too_large")


def test_a_streamed_body_that_grows_too_large_is_refused(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b" " * 65536

    response = client.post(
        "/v1/accounts", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_problem(response, 413, "payload_too_large")


def test_hostile_bodies_get_a_4xx_problem(client: httpx.Client) -> None:
    number = open_account(client)["account_number"]
    bodies = [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b"not json",
        b"",
        b"null",
        b"[]",
        b'{"customer_name": "A\\u0000B", "account_type": "savings"}',
        b'{"customer_name": "\\ud800", "account_type": "savings"}',
        b'{"customer_name": "A", "account_type": "savings", "initial_deposit": '
        + b"9" * 5000
        + b"}",
        b'{"customer_name": "A", "account_type": "savings", "initial_deposit": 1e999999}',
        b"\xff\xfe",
    ]
    for body in bodies:
        response = client.post(
            "/v1/accounts", content=body, headers={"content-type": "application/json"}
        )
        assert 400 <= response.status_code < 500, (body[:60], response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    description = client.post(
        "/v1/transactions",
        json={
            "account_number": number,
            "amount": 1,
            "transaction_type": "deposit",
            "description": "nul\x00here",
        },
    )
    assert_problem(description, 422, "validation_error")


def test_wrong_content_types_are_refused(client: httpx.Client) -> None:
    response = client.post(
        "/v1/accounts",
        content=b"customer_name=A",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_problem(response, 415, "unsupported_media_type")


def test_unknown_routes_and_methods_are_problems(client: httpx.Client) -> None:
    assert_problem(client.get("/v1/nothing-here"), 404, "not_found")
    assert_problem(client.put("/v1/accounts"), 405, "method_not_allowed")
