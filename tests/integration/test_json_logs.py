"""BANK_LOG_FORMAT=json: every line the server writes is one JSON object, each request has
one access line with its request id, key id, route template, status and duration, and no line
carries a secret, a customer's name or the path of the request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.integration.api.helpers import open_account, post
from tests.support.keys import AUTH, MASTER_KEY, bearer
from tests.support.server import assert_no_secret_in_log, running_server

CUSTOMER = "Hedwig Jsonlines"


def test_every_line_is_json_and_names_no_customer(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    environment = {"BANK_LOG_FORMAT": "json", "BANK_LOG_LEVEL": "info"}
    with (
        running_server(f"sqlite:///{tmp_path / 'bank.db'}", log, 1, environment) as url,
        httpx.Client(base_url=url, headers=AUTH, timeout=30) as client,
    ):
        number = open_account(client, customer_name=CUSTOMER)["account_number"]
        posted = post(client, number, "12.50", headers={"x-request-id": "json-log-posting"})
        assert posted.status_code == 201
        listed = client.get("/v1/accounts", params={"customer_name": CUSTOMER})
        assert listed.status_code == 200
        made = client.post("/v1/api-keys", json={"name": "reader", "scopes": ["accounts:read"]})
        key = made.json()
        read = httpx.get(f"{url}/v1/accounts/{number}", headers=bearer(key["secret"]))
        assert read.status_code == 200
        refused = httpx.get(f"{url}/v1/accounts/{number}")
        assert refused.status_code == 401
    written = [line for line in log.read_text().splitlines() if not line.startswith("--- ")]
    lines = [json.loads(line) for line in written]
    assert all(isinstance(line, dict) for line in lines)
    requests = [line for line in lines if line.get("logger") == "bank_web.access"]
    posting = _one(requests, request_id="json-log-posting")
    assert posting["route"] == "/v1/transactions"
    assert (posting["method"], posting["status"], posting["key_id"]) == ("POST", 201, "master")
    assert isinstance(posting["duration_ms"], float)
    by_key = _one(requests, request_id=read.headers["x-request-id"])
    assert (by_key["route"], by_key["key_id"]) == ("/v1/accounts/{account_number}", key["key_id"])
    anonymous = _one(requests, request_id=refused.headers["x-request-id"])
    assert (anonymous["status"], anonymous["key_id"]) == (401, None)
    text = log.read_text()
    assert "Hedwig" not in text
    assert number not in "\n".join(json.dumps(line) for line in requests)
    assert all("timestamp" in line and "level" in line for line in lines)
    assert not any("color_message" in line for line in lines)
    assert_no_secret_in_log(log, MASTER_KEY, key["secret"])


def _one(requests: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    found = [line for line in requests if all(line.get(k) == v for k, v in fields.items())]
    assert len(found) == 1, (fields, requests)
    return found[0]
