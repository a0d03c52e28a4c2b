"""A change the database refuses for a rule other than a unique key (a CHECK) is the ledger's
defect: the server logs it with the request and answers 500 ``internal_error``, never 503
"retry later". Checked on a real server over PostgreSQL, with a CHECK added on purpose that the
domain knows nothing of, on both paths: opening an account and a (grouped) posting."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import httpx
import pytest

from bank_adapters.sql import upgrade_to_head
from tests.support.keys import AUTH
from tests.support.postgres import postgres_server_url, throwaway_database
from tests.support.server import running_server

pytestmark = pytest.mark.postgres

FORBIDDEN = "defect on purpose"


async def _add_checks(url: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            "ALTER TABLE accounts ADD CONSTRAINT ck_test_name"
            f" CHECK (customer_name <> '{FORBIDDEN}')"
        )
        await connection.execute(
            "ALTER TABLE transactions ADD CONSTRAINT ck_test_description"
            f" CHECK (description IS DISTINCT FROM '{FORBIDDEN}')"
        )
    finally:
        await connection.close()


def test_a_broken_check_is_answered_500_and_logged_with_the_request(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with throwaway_database(postgres_server_url(), "bank_defects") as database_url:
        asyncio.run(upgrade_to_head(database_url))
        asyncio.run(_add_checks(database_url))
        with running_server(database_url, log) as base_url:
            # A connection each: the server closes one after an unexpected error.
            def post(path: str, body: dict[str, str]) -> httpx.Response:
                return httpx.post(f"{base_url}{path}", json=body, timeout=30, headers=AUTH)

            refused_account = post(
                "/v1/accounts", {"customer_name": FORBIDDEN, "account_type": "checking"}
            )
            opened = post(
                "/v1/accounts", {"customer_name": "Ada Lovelace", "account_type": "checking"}
            )
            assert opened.status_code == 201, opened.text
            refused_posting = post(
                "/v1/transactions",
                {
                    "account_number": opened.json()["account_number"],
                    "amount": "1.00",
                    "transaction_type": "deposit",
                    "description": FORBIDDEN,
                },
            )

    for answer in (refused_account, refused_posting):
        assert answer.status_code == 500, answer.text
        assert answer.json()["code"] == "internal_error"
        assert "retry-after" not in answer.headers
    text = log.read_text(errors="replace")
    for logged in ("POST /v1/accounts", "ck_test_name", "POST /v1/transactions"):
        assert logged in text
    assert "ck_test_description" in text
