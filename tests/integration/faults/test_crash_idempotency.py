"""The server is killed (SIGKILL, master and workers) while postings with Idempotency-Keys (and
no transaction ids: the server makes those) are in flight, then started again on the same
database, PostgreSQL and SQLite. Every posting is sent again with its key: one answered before
the crash gets that answer again, one cut off is applied now or was applied then, and either
way each is applied exactly once (balances, transactions listed, and every journal verified)."""

from __future__ import annotations

import dataclasses
import time
from decimal import Decimal
from pathlib import Path
from typing import Final

import httpx

from tests.integration.api.helpers import exact
from tests.integration.faults.crash import crash_mid_load
from tests.integration.faults.ledger_checks import assert_balances_hold
from tests.integration.faults.load import Posting, send_posting, status_counts
from tests.support.keys import AUTH
from tests.support.server import ServerProcess, assert_clean_log

CLIENTS: Final = 32
POSTINGS_PER_CLIENT: Final = 30
ANSWERS_BEFORE_THE_CRASH: Final = 100
HOT_ACCOUNTS: Final = 4
OPENING: Final = Decimal("100.00")
IN_USE_RETRIES: Final = 50


def test_a_crash_with_keyed_postings_in_flight_applies_each_exactly_once(
    sql_database_url: str, tmp_path: Path
) -> None:
    url = sql_database_url
    log = tmp_path / "server.log"
    accounts, load = crash_mid_load(
        url,
        log,
        accounts=HOT_ACCOUNTS,
        opening=OPENING,
        clients=CLIENTS,
        postings_per_client=POSTINGS_PER_CLIENT,
        answers_before_the_crash=ANSWERS_BEFORE_THE_CRASH,
        seed=3,
        keyed=True,
    )

    postings = load.postings
    statuses = status_counts(postings)
    cut_off = [p for p in postings if p.status is None]
    assert sum(p.status is not None for p in postings) >= ANSWERS_BEFORE_THE_CRASH, statuses
    assert cut_off, statuses
    failed = [p.describe() for p in postings if p.status not in (None, 201, 409)]
    assert not failed, f"{statuses}: " + "\n".join(failed[:20])

    with (
        ServerProcess(url, log, workers=2) as server,
        httpx.Client(base_url=server.base_url, timeout=30, headers=AUTH) as client,
    ):
        retries = [_retry(client, posting) for posting in postings]
        present = [
            applied
            for posting, answer in zip(postings, retries, strict=True)
            if (applied := _applied(posting, answer)) is not None
        ]
        kept = sum(
            answer.headers.get("idempotent-replayed") == "true"
            for posting, answer in zip(postings, retries, strict=True)
            if posting.status is None
        )
        print(f"answers {statuses}; of {len(cut_off)} cut off, {kept} had their answer kept")
        assert_balances_hold(client, accounts, present)
        # Once more: now every posting is a replay of what was just answered.
        for posting in postings:
            again = send_posting(client, posting)
            assert again.headers.get("idempotent-replayed") == "true", posting.describe()
        assert_balances_hold(client, accounts, present)
        for number in accounts:
            check = exact(client.get(f"/v1/accounts/{number}/verify"))
            assert (check["balance_matches"], check["chain_intact"]) == (True, True), check
    assert_clean_log(log)


def _retry(client: httpx.Client, posting: Posting) -> httpx.Response:
    """Sends the posting again with its key; one answered before the crash gets that answer.
    A key still held by a transaction that the crash left open is free once the database has
    noticed its connection is gone: the retry waits for that."""
    for _ in range(IN_USE_RETRIES):
        response = send_posting(client, posting)
        problem = response.headers.get("content-type", "").startswith("application/problem")
        if not (problem and response.json()["code"] == "idempotency_key_in_use"):
            break
        time.sleep(0.1)
    if posting.status is not None:
        assert response.status_code == posting.status, (posting.describe(), response.text)
        assert response.headers["idempotent-replayed"] == "true", posting.describe()
        assert response.content == posting.answer, posting.describe()
    else:
        assert response.status_code in (201, 409), (posting.describe(), response.text)
    return response


def _applied(posting: Posting, answer: httpx.Response) -> Posting | None:
    """The posting under the id the server gave it, when it was applied (answered 201)."""
    if answer.status_code != 201:
        return None
    return dataclasses.replace(posting, transaction_id=exact(answer)["transaction_id"])
