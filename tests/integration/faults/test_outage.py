"""The database goes away under load and comes back: the API answers 503 problem+json at once
(never 500, never a hang), /ready says so, nothing is half-written, and the API recovers by
itself, without a restart. A proxy between the API and PostgreSQL plays the outage; the
machine's PostgreSQL server itself is never touched."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.integration.api.helpers import assert_problem, exact, post
from tests.integration.faults.ledger_checks import (
    assert_balances_hold,
    assert_fates,
    open_hot_accounts,
    stored_postings,
)
from tests.integration.faults.load import Load, Posting, status_counts
from tests.integration.faults.proxy import TcpProxy
from tests.support.keys import AUTH
from tests.support.server import ServerProcess, assert_clean_log

pytestmark = pytest.mark.postgres

CLIENTS: Final = 24
HOT_ACCOUNTS: Final = 5
OPENING: Final = Decimal("100.00")
OUTAGE_SECONDS: Final = 3.0
ANSWER_WITHIN_SECONDS: Final = 12.0
"""The longest an answer may take while the database is gone (the store's connect timeout is
10 s; refused connections should be answered far sooner)."""
RECOVERY_SECONDS: Final = 10.0
SILENCE_BOUND_SECONDS: Final = 25.0
"""The longest an answer may take while the database holds its connections open but says
nothing: the driver gives up on a silent database after its command timeout (20 s); later than
that, and a margin, it hangs."""


@pytest.fixture
def proxy(postgres_database: str) -> Iterator[TcpProxy]:
    server = urlsplit(postgres_database)
    with TcpProxy(server.hostname or "127.0.0.1", server.port or 5432) as running:
        yield running


def _through(proxy: TcpProxy, database_url: str) -> str:
    parts = urlsplit(database_url)
    credentials, _, _ = parts.netloc.rpartition("@")
    netloc = f"{credentials}@127.0.0.1:{proxy.port}" if credentials else f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def test_an_outage_is_answered_503_and_the_api_recovers_by_itself(
    postgres_database: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    with (
        ServerProcess(_through(proxy, postgres_database), log, workers=2) as server,
        httpx.Client(
            base_url=server.base_url, timeout=ANSWER_WITHIN_SECONDS + 8, headers=AUTH
        ) as client,
    ):
        accounts = open_hot_accounts(client, HOT_ACCOUNTS, OPENING)
        some_account = next(iter(accounts))
        load = Load(
            server.base_url,
            list(accounts),
            clients=CLIENTS,
            postings_per_client=100_000,
            seed=3,
            timeout=ANSWER_WITHIN_SECONDS + 8,
            pause_seconds=0.1,
        )
        load.start()
        try:
            load.wait_for_answers(60, timeout=60)

            proxy.cut()
            cut_at = time.monotonic()
            assert proxy.connections_dropped > 0
            outage_answers = [
                client.get("/ready"),
                client.get(f"/v1/accounts/{some_account}"),
                client.get(f"/v1/accounts/{some_account}/transactions"),
                post(client, some_account, "1.00"),
            ]
            time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - cut_at)))
            proxy.restore()
            restored_at = time.monotonic()

            ready_after = _seconds_until_ready(client)
            first_success = load.wait_for_posting(
                lambda p: p.started >= restored_at and p.status == 201, timeout=RECOVERY_SECONDS
            )
        finally:
            load.stop()
            load.join(timeout=ANSWER_WITHIN_SECONDS + 10)

        for response in outage_answers:
            problem = assert_problem(response, 503, "service_unavailable")
            assert response.headers.get("retry-after") == "1", problem
        assert ready_after <= RECOVERY_SECONDS

        postings = load.postings
        statuses = status_counts(postings)
        summary = f"{statuses}; /ready came back after {ready_after:.2f} s"
        print(summary)
        unexpected = [p.describe() for p in postings if p.status not in (201, 409, 503)]
        assert not unexpected, summary + "\n" + "\n".join(unexpected[:20])
        assert {p.code for p in postings if p.status == 409} <= {"insufficient_funds"}
        _assert_unavailable_answers_are_problems(postings)

        during = [p for p in postings if cut_at <= p.started and p.finished <= restored_at]
        assert len(during) >= CLIENTS, summary
        assert {p.status for p in during} == {503}, "\n".join(p.describe() for p in during)
        slow = [p.describe() for p in postings if p.latency > ANSWER_WITHIN_SECONDS]
        assert not slow, "\n".join(slow[:20])
        assert first_success.finished - restored_at <= RECOVERY_SECONDS, summary

        # Nothing half-written: 201 is stored, 409 is not, and a 503 (whose commit may or may
        # not have reached the database before the connection dropped) is all or nothing.
        stored = stored_postings(client, postings)
        assert_fates(postings, stored, stored_when={201}, absent_when={409})
        assert_balances_hold(client, accounts, [p for p in postings if stored[p.transaction_id]])
        assert client.get("/ready").status_code == 200
    assert_clean_log(log)


def test_a_database_that_stops_answering_gets_503_not_a_hang(
    postgres_database: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    """The database (or the network to it) goes silent: connections stay open, nothing comes
    back. Requests on pooled connections and on new ones must still be answered 503 within a
    bound, and the API must work again once the database answers."""
    log = tmp_path / "server.log"
    with (
        ServerProcess(_through(proxy, postgres_database), log, workers=1) as server,
        httpx.Client(
            base_url=server.base_url, timeout=ANSWER_WITHIN_SECONDS, headers=AUTH
        ) as client,
    ):
        accounts = open_hot_accounts(client, 1, OPENING)
        number = next(iter(accounts))
        # Open connections in the pool, for the silence to fall on.
        with ThreadPoolExecutor(4) as pool:
            warm = list(pool.map(lambda _: client.get(f"/v1/accounts/{number}"), range(8)))
        assert {response.status_code for response in warm} == {200}

        deposit = Posting("silent-deposit-" + number, number, "deposit", Decimal("1.00"))
        requests: dict[str, Callable[[httpx.Client], httpx.Response]] = {
            "GET /ready": lambda http: http.get("/ready"),
            "GET account": lambda http: http.get(f"/v1/accounts/{number}"),
            "GET transactions": lambda http: http.get(f"/v1/accounts/{number}/transactions"),
            "POST deposit": lambda http: post(
                http, number, "1.00", transaction_id=deposit.transaction_id
            ),
        }
        proxy.freeze()
        try:
            with ThreadPoolExecutor(len(requests)) as pool:
                answers = dict(
                    zip(
                        requests,
                        pool.map(lambda send: _timed(server.base_url, send), requests.values()),
                        strict=True,
                    )
                )
        finally:
            proxy.thaw()

        hung = {name: answer for name, answer in answers.items() if isinstance(answer, str)}
        assert not hung, f"no answer within {SILENCE_BOUND_SECONDS:g} s: {hung}"
        for name, answer in answers.items():
            assert isinstance(answer, httpx.Response)
            assert_problem(answer, 503, "service_unavailable")
            assert answer.headers.get("retry-after") == "1", name

        assert _seconds_until_ready(client) <= RECOVERY_SECONDS
        after = post(client, number, "2.00")
        assert after.status_code == 201, after.text
        # The deposit answered 503 may have reached the database when it spoke again: it is
        # then wholly there, else wholly absent.
        stored = stored_postings(client, [deposit])
        present = [deposit] if stored[deposit.transaction_id] else []
        assert_balances_hold(
            client,
            accounts,
            [*present, Posting(exact(after)["transaction_id"], number, "deposit", Decimal("2.00"))],
        )
    assert_clean_log(log)


def _timed(base_url: str, send: Callable[[httpx.Client], httpx.Response]) -> httpx.Response | str:
    """The answer, or what went wrong when none came within the bound."""
    with httpx.Client(base_url=base_url, timeout=SILENCE_BOUND_SECONDS, headers=AUTH) as http:
        started = time.monotonic()
        try:
            return send(http)
        except httpx.TransportError as error:
            return f"{error!r} after {time.monotonic() - started:.1f} s"


def _seconds_until_ready(client: httpx.Client) -> float:
    started = time.monotonic()
    while time.monotonic() - started < RECOVERY_SECONDS:
        if client.get("/ready").status_code == 200:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"/ready still not 200 {RECOVERY_SECONDS:g} s after the database returned")


def _assert_unavailable_answers_are_problems(postings: list[Posting]) -> None:
    wrong = [
        p.describe()
        for p in postings
        if p.status == 503
        and (
            not p.content_type.startswith("application/problem+json")
            or p.code != "service_unavailable"
            or p.retry_after != "1"
        )
    ]
    assert not wrong, "\n".join(wrong[:20])
