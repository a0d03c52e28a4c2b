"""Service routes, the documentation, and errors that no input may turn into a 500."""

from __future__ import annotations

from collections.abc import Iterator

import httpx

from tests.integration.api.helpers import assert_problem, open_account


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
        "/health",
        "/ready",
    } <= paths.keys()
    post_body = paths["/v1/transactions"]["post"]["requestBody"]["content"]["application/json"]
    assert post_body["examples"]["challenge"]["value"]["transaction_id"] == "abcdefghijk"
    assert (
        "application/problem+json"
        in paths["/v1/transactions"]["post"]["responses"]["409"]["content"]
    )
    assert client.get("/docs").status_code == 200


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
