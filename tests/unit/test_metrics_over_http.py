"""GET /metrics (contract section 16) in one process: every request counted by method, route
template and status, its duration observed, postings counted, and no customer's data in any
label."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bank_web.app import create_app
from bank_web.settings import Settings
from tests.support.keys import AUTH

ACCOUNT = "5550001111"
CUSTOMER = "Grace Metrics"


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = create_app(Settings(database_url="memory://"))
    with TestClient(app, headers=AUTH) as http:
        yield http


def _samples(client: TestClient) -> dict[str, float]:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples: dict[str, float] = {}
    for line in answer.text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def test_requests_are_counted_by_route_template_and_status(client: TestClient) -> None:
    opened = client.post(
        "/v1/accounts",
        json={"account_number": ACCOUNT, "customer_name": CUSTOMER, "account_type": "savings"},
    )
    assert opened.status_code == 201
    for _ in range(3):
        assert client.get(f"/v1/accounts/{ACCOUNT}").status_code == 200
    assert client.get("/v1/accounts/5550002222").status_code == 404
    assert client.get("/no/such/path/5550003333").status_code == 404
    assert client.delete("/v1/transactions").status_code == 405

    samples = _samples(client)

    account_route = 'route="/v1/accounts/{account_number}"'
    assert samples[f'bank_http_requests_total{{method="GET",{account_route},status="200"}}'] == 3
    assert samples[f'bank_http_requests_total{{method="GET",{account_route},status="404"}}'] == 1
    assert samples['bank_http_requests_total{method="POST",route="/v1/accounts",status="201"}'] == 1
    assert samples['bank_http_requests_total{method="GET",route="unmatched",status="404"}'] == 1
    assert (
        samples['bank_http_requests_total{method="DELETE",route="/v1/transactions",status="405"}']
        == 1
    )
    count = f'bank_http_request_duration_seconds_count{{method="GET",{account_route}}}'
    assert samples[count] == 4
    assert (
        samples[
            f'bank_http_request_duration_seconds_bucket{{le="+Inf",method="GET",{account_route}}}'
        ]
        == 4
    )


def test_postings_are_counted_once_each_and_retries_not(client: TestClient) -> None:
    client.post(
        "/v1/accounts",
        json={"account_number": ACCOUNT, "customer_name": CUSTOMER, "account_type": "savings"},
    )
    posting = {
        "transaction_id": "metrics-posting-1",
        "account_number": ACCOUNT,
        "amount": 5,
        "transaction_type": "deposit",
    }
    assert client.post("/v1/transactions", json=posting).status_code == 201
    assert client.post("/v1/transactions", json=posting).status_code == 200  # a safe retry
    overdraw = {
        **posting,
        "transaction_id": "metrics-posting-2",
        "transaction_type": "withdrawal",
        "amount": 1000,
    }
    assert client.post("/v1/transactions", json=overdraw).status_code == 409

    samples = _samples(client)

    created = samples[
        'bank_http_requests_total{method="POST",route="/v1/transactions",status="201"}'
    ]
    assert samples["bank_postings_total"] == created
    assert (
        samples['bank_http_requests_total{method="POST",route="/v1/transactions",status="200"}']
        == 1
    )
    assert (
        samples['bank_http_requests_total{method="POST",route="/v1/transactions",status="409"}']
        == 1
    )


def test_no_label_carries_a_customers_data(client: TestClient) -> None:
    client.post(
        "/v1/accounts",
        json={"account_number": ACCOUNT, "customer_name": CUSTOMER, "account_type": "savings"},
    )
    client.post(
        "/v1/transactions",
        json={"account_number": ACCOUNT, "amount": 123.45, "transaction_type": "deposit"},
    )
    client.get(f"/v1/accounts/{ACCOUNT}/transactions")
    client.request("BREW", f"/v1/accounts/{ACCOUNT}")

    text = client.get("/metrics").text

    assert ACCOUNT not in text
    assert "Grace" not in text
    assert "123.45" not in text
    assert "BREW" not in text
    assert re.search(r'method="other",route="/v1/accounts/\{account_number\}"', text)


def test_metrics_need_no_key(client: TestClient) -> None:
    answer = TestClient(client.app).get("/metrics")
    assert answer.status_code == 200
    assert "bank_postings_total" in answer.text


def test_a_request_refused_for_its_host_is_counted(client: TestClient) -> None:
    refused = client.get(f"/v1/accounts/{ACCOUNT}", headers={"host": "evil.example"})
    assert refused.status_code == 400

    samples = _samples(client)

    # Refused before any router ran: no route matched it.
    assert samples['bank_http_requests_total{method="GET",route="unmatched",status="400"}'] == 1
