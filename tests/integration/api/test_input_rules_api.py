"""How the API reads what a client sends, where a parser left to itself would be lenient: amounts
by the domain's rule alone, keys and query parameters given twice, floods of unknown keys,
If-Match values that are no ETag, empty cursors, and what 405 and OpenAPI promise."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

from bank_domain.errors import InvalidValue
from bank_domain.money import Money
from tests.integration.api.helpers import assert_problem, balance, exact, open_account, post

JSON = {"content-type": "application/json"}

REFUSED_AMOUNTS = ["1_000", "1_0.0_0", "\u0661\u0660\u0660", "\uff11\uff10\uff10"]
"""Strings pydantic's Decimal reads as numbers, and the domain's rule (Money.parse) refuses:
underscores, Arabic-Indic and fullwidth digits."""


def _money_rule(text: str) -> Decimal | None:
    try:
        return Money.parse(text).amount
    except InvalidValue:
        return None


@pytest.mark.parametrize("text", REFUSED_AMOUNTS)
def test_an_amount_the_domain_refuses_is_refused_on_every_route(
    client: httpx.Client, text: str
) -> None:
    assert _money_rule(text) is None
    account = open_account(client, initial_deposit="10.00")
    number = account["account_number"]
    literal = json.dumps(text)
    assert_problem(post(client, number, literal), 422, "validation_error")
    opened = client.post(
        "/v1/accounts",
        content=b'{"customer_name": "Ada", "account_type": "savings", "initial_deposit": %s}'
        % literal.encode(),
        headers=JSON,
    )
    assert_problem(opened, 422, "validation_error")
    transaction = exact(post(client, number, "1.00"))
    tx_path = f"/v1/transactions/{transaction['transaction_id']}"
    patched = client.patch(tx_path, content=b'{"amount": %s}' % literal.encode(), headers=JSON)
    assert_problem(patched, 422, "validation_error")
    put = client.put(
        tx_path,
        content=b'{"amount": %s, "transaction_type": "deposit"}' % literal.encode(),
        headers=JSON,
    )
    assert_problem(put, 422, "validation_error")
    assert balance(client, number) == Decimal("11.00")


@pytest.mark.parametrize("text", ["  +7.5e1  ", "\t5\n", "500.00", "1e2"])
def test_an_amount_string_is_worth_what_the_domain_reads(client: httpx.Client, text: str) -> None:
    """The domain's rule trims white space and reads exponents: the API does no more, no less."""
    expected = _money_rule(text)
    assert expected is not None
    account = open_account(client)
    response = post(client, account["account_number"], json.dumps(text))
    assert response.status_code == 201, response.text
    assert exact(response)["amount"] == expected


def test_a_key_given_twice_is_refused(client: httpx.Client) -> None:
    account = open_account(client, initial_deposit="10.00")
    number = account["account_number"]
    twice = b'{"account_number": "%s", "transaction_type": "deposit", ' % number.encode()
    twice += b'"amount": 1.00, "amount": 1000.00}'
    problem = assert_problem(
        client.post("/v1/transactions", content=twice, headers=JSON), 422, "validation_error"
    )
    assert "amount" in problem["detail"]
    nested_twice = b'{"customer_name": "Ada", "customer_name": "Eve"}'
    assert_problem(
        client.patch(f"/v1/accounts/{number}", content=nested_twice, headers=JSON),
        422,
        "validation_error",
    )
    assert balance(client, number) == Decimal("10.00")
    assert exact(client.get(f"/v1/accounts/{number}"))["customer_name"] == account["customer_name"]


def test_a_query_parameter_given_twice_is_refused(client: httpx.Client) -> None:
    account = open_account(client)
    for url in (
        "/v1/accounts?limit=1&limit=2",
        "/v1/accounts?status=active&status=frozen",
        f"/v1/accounts/{account['account_number']}/transactions?limit=5&limit=5",
    ):
        problem = assert_problem(client.get(url), 422, "validation_error")
        assert problem["errors"][0]["loc"][0] == "query", problem


def test_a_flood_of_unknown_keys_gets_a_short_answer(client: httpx.Client) -> None:
    keys = b", ".join(b'"k%d": 1' % i for i in range(60_000))
    body = b'{"account_type": "savings", ' + keys + b"}"
    assert len(body) < 1024 * 1024
    for path in ("/v1/accounts", "/v1/transactions"):
        response = client.post(path, content=body, headers=JSON)
        problem = assert_problem(response, 422, "validation_error")
        assert 1 <= len(problem["errors"]) <= 20, len(problem["errors"])
        assert len(response.content) < 10_000, len(response.content)


def test_a_405_names_every_method_of_the_path(client: httpx.Client) -> None:
    account = open_account(client)
    cases = {
        ("DELETE", "/v1/accounts"): {"GET", "POST"},
        ("PUT", "/v1/transactions"): {"POST"},
        ("POST", f"/v1/accounts/{account['account_number']}"): {"GET", "PATCH", "PUT", "DELETE"},
        ("POST", "/v1/transactions/abcdefghijk"): {"GET", "PATCH", "PUT", "DELETE"},
    }
    for (method, path), methods in cases.items():
        response = client.request(method, path)
        assert_problem(response, 405, "method_not_allowed")
        allowed = {m.strip() for m in response.headers["allow"].split(",")} - {"HEAD"}
        assert allowed == methods, (method, path, response.headers["allow"])


@pytest.mark.parametrize("if_match", ["5", "null", "", '"abc"', "W/5"])
def test_an_if_match_that_is_no_etag_is_a_412_that_shows_no_internal_value(
    client: httpx.Client, if_match: str
) -> None:
    account = open_account(client)
    number = account["account_number"]
    changed = client.patch(
        f"/v1/accounts/{number}",
        content=b'{"status": "frozen"}',
        headers={**JSON, "if-match": if_match},
    )
    problem = assert_problem(changed, 412, "version_mismatch")
    assert "-1" not in problem["detail"], problem
    closed = client.delete(f"/v1/accounts/{number}", headers={"if-match": if_match})
    assert "-1" not in assert_problem(closed, 412, "version_mismatch")["detail"]
    assert exact(client.get(f"/v1/accounts/{number}"))["version"] == account["version"]


def test_an_empty_cursor_is_the_first_page(client: httpx.Client) -> None:
    account = open_account(client, initial_deposit="5.00")
    number = account["account_number"]
    assert client.get("/v1/accounts?cursor=").status_code == 200
    page = client.get(f"/v1/accounts/{number}/transactions?cursor=")
    assert page.status_code == 200, page.text
    assert len(exact(page)["items"]) == 1


@pytest.mark.parametrize("moment", ["0.5", "1700000000", "2026-01-01", "2026-01-01T00:00:00"])
def test_since_and_until_are_rfc_3339_moments_only(client: httpx.Client, moment: str) -> None:
    account = open_account(client)
    url = f"/v1/accounts/{account['account_number']}/transactions"
    for bound in ("since", "until"):
        assert_problem(client.get(url, params={bound: moment}), 422, "validation_error")


def _schema(spec: dict[str, Any], name: str) -> dict[str, Any]:
    schema: dict[str, Any] = spec["components"]["schemas"][name]
    return schema


def test_openapi_publishes_money_as_the_server_reads_it(client: httpx.Client) -> None:
    spec = exact(client.get("/openapi.json"))
    amount = _schema(spec, "TransactionCreate")["properties"]["amount"]
    assert amount["exclusiveMinimum"] == 0
    assert amount["multipleOf"] == Decimal("0.01")
    # Written from the Decimal, digit for digit: a float would have given 1000000000000.0.
    assert str(amount["maximum"]) == "1000000000000.00"
    deposit = _schema(spec, "AccountCreate")["properties"]["initial_deposit"]
    assert deposit["minimum"] == 0
    assert "exclusiveMinimum" not in deposit
    assert deposit["multipleOf"] == Decimal("0.01")
    example = spec["paths"]["/v1/transactions"]["post"]["requestBody"]["content"][
        "application/json"
    ]["examples"]["challenge"]["value"]["amount"]
    assert str(example) == "500.00"
    opened = client.post(
        "/v1/accounts",
        content=b'{"customer_name": "Ada", "account_type": "savings", "initial_deposit": 0.0}',
        headers=JSON,
    )
    assert opened.status_code == 201, opened.text


def test_openapi_allows_null_only_where_the_server_does(client: httpx.Client) -> None:
    spec = exact(client.get("/openapi.json"))
    for name, refused in (
        ("AccountPatch", ("customer_name", "account_type", "status")),
        ("TransactionPatch", ("amount", "transaction_type", "status")),
    ):
        properties = _schema(spec, name)["properties"]
        for field in refused:
            assert "null" not in json.dumps(properties[field], default=str), (name, field)
    description = _schema(spec, "TransactionPatch")["properties"]["description"]
    assert {"type": "null"} in description["anyOf"]
