"""Small HTTP steps the API tests share."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

import httpx

from tests.support import refs

JSON: Final = {"content-type": "application/json"}


def exact(response: httpx.Response) -> Any:
    """The body with every number read as a Decimal, as a careful client would."""

    return json.loads(response.content, parse_float=Decimal)


def open_account(
    client: httpx.Client,
    initial_deposit: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer_name": refs.customer_name(),
        "account_type": "checking",
        **fields,
    }
    content = _json(body, initial_deposit=initial_deposit)
    response = client.post("/v1/accounts", content=content, headers={**JSON, **(headers or {})})
    assert response.status_code == 201, response.text
    account: dict[str, Any] = exact(response)
    return account


def post(
    client: httpx.Client,
    account_number: str,
    amount: str,
    transaction_type: str = "deposit",
    *,
    headers: Mapping[str, str] | None = None,
    **fields: Any,
) -> httpx.Response:
    """Posts a transaction with the amount written into the JSON exactly as given."""
    body = {"account_number": account_number, "transaction_type": transaction_type, **fields}
    return client.post(
        "/v1/transactions",
        content=_json(body, amount=amount),
        headers={**JSON, **(headers or {})},
    )


def balance(client: httpx.Client, account_number: str) -> Decimal:
    response = client.get(f"/v1/accounts/{account_number}")
    assert response.status_code == 200, response.text
    value: Decimal = exact(response)["balance"]
    return value


def _json(body: dict[str, Any], **raw_numbers: str | None) -> bytes:
    """JSON with some numbers spliced in verbatim, so no float ever rounds them on the way."""

    text = json.dumps(body)[:-1]
    for name, literal in raw_numbers.items():
        if literal is not None:
            text += f', "{name}": {literal}'
    return (text + "}").encode()


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["code"] == code, problem
    assert problem["status"] == status
    assert {"type", "title", "detail"} <= problem.keys()
    assert "Traceback" not in response.text
    if response.request.url.path.startswith("/v1/"):
        assert problem["request_id"] == response.headers["x-request-id"]
    return problem
