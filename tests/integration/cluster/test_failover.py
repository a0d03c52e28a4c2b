"""The primary dies under load (kill -9 of its Patroni and its postmaster) in the cluster that
deploy/local-cluster builds: two bank-api processes behind HAProxy, PostgreSQL as a primary and
a synchronous standby under Patroni. Every posting carries an Idempotency-Key; each one left
without an answer (or answered 5xx) is sent again with its key afterwards. Then: no posting
acknowledged before or during the failover is lost (not even with the primary's WAL sender
stopped for a moment just before the kill), none is applied twice, every journal
verifies, and writes came back within 10 s without restarting any API process; postings
without a key (the grouped path, whose kept connections went to the old primary) succeed
straight after. Last, the old primary is started again and rejoins as the synchronous standby
(pg_rewind)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Final

import httpx
import pytest

from tests.integration.api.helpers import balance, exact, open_account, post
from tests.integration.cluster.local_cluster import ClusterStatus, LocalCluster, free_base_port
from tests.integration.faults.ledger_checks import assert_balances_hold, open_hot_accounts
from tests.integration.faults.load import Load, Posting, send_posting
from tests.support.keys import AUTH
from tests.support.postgres import postgres_server_url
from tests.support.server import assert_clean_log

API_PROCESSES: Final = 2
CLIENTS: Final = 32
HOT_ACCOUNTS: Final = 16
OPENING: Final = Decimal("1000.00")
ANSWERS_BEFORE_THE_KILL: Final = 200
WRITES_BACK_WITHIN_SECONDS: Final = 10.0
LOAD_AFTER_RECOVERY_SECONDS: Final = 3.0
WAL_SENDER_STALL_SECONDS: Final = 0.5
REJOIN_WITHIN_SECONDS: Final = 90.0
RETRY_ATTEMPTS: Final = 50
GROUPED_POSTINGS: Final = 8
ACCEPTED_DURING_FAILOVER: Final = {201, 409, 503}
"""409: a withdrawal refused for funds (kept, like a 201). 503: the database did not answer."""


@pytest.fixture
def cluster() -> Iterator[LocalCluster]:
    # The cluster needs no server of BANK_TEST_POSTGRES_URL's, but runs where the PostgreSQL
    # tests run (CI), and not on a developer's machine that has not asked for them.
    postgres_server_url()
    running = LocalCluster(free_base_port())
    try:
        running.up("--api-processes", str(API_PROCESSES))
        yield running
    finally:
        running.down()


def test_a_killed_primary_loses_no_acknowledged_posting_and_writes_come_back(
    cluster: LocalCluster,
) -> None:
    before = cluster.status()
    old_primary = before.leader
    assert old_primary is not None, before
    standby = next(m.name for m in before.members.values() if m.name != old_primary)
    assert before.members[standby].role == "sync_standby", before

    with httpx.Client(base_url=before.api_url, timeout=30, headers=AUTH) as client:
        accounts = open_hot_accounts(client, HOT_ACCOUNTS, OPENING)
        # Postings without a key take the grouped path, whose connections are kept open
        # between postings: these open them to the primary that is about to die.
        grouped = open_account(client)["account_number"]
        _post_without_keys(before.api_url, grouped)
        load = Load(
            before.api_url,
            list(accounts),
            clients=CLIENTS,
            postings_per_client=100_000,
            seed=11,
            timeout=30,
            keyed=True,
        )
        load.start()
        reads = StandbyReads(before.api_url, next(iter(accounts)))
        try:
            load.wait_for_answers(ANSWERS_BEFORE_THE_KILL, timeout=120)
            reads.start()
            # The standby falls behind just before the primary dies, as over a stalled
            # network: the primary's WAL sender stops for a moment, then dies with it.
            # Synchronous, the primary acknowledges no commit meanwhile; asynchronous, it
            # would, and the promoted standby would lack those postings.
            sender = before.wal_sender_pid(old_primary)
            os.kill(sender, signal.SIGSTOP)
            try:
                time.sleep(WAL_SENDER_STALL_SECONDS)
                killed = cluster.run("kill-primary")
            finally:
                os.kill(sender, signal.SIGKILL)
            # Taken once the script has killed both processes (and exited, a few ms later):
            # a posting started after this cannot have reached the old primary.
            killed_at = time.monotonic()
            assert old_primary in killed, killed
            first_write = load.wait_for_posting(
                lambda p: p.status == 201 and p.started >= killed_at, timeout=60
            )
            time.sleep(LOAD_AFTER_RECOVERY_SECONDS)
        finally:
            reads.stop()
            load.stop()
            load.join(timeout=60)
        recovery = first_write.finished - killed_at
        # The API reads from the standby (BANK_READ_DATABASE_URL, prefer-standby): while no
        # posting could be written, an account was still read.
        during_outage = reads.statuses_between(killed_at, first_write.started)
        print(f"reads while writes were down: {dict(Counter(during_outage))}")
        assert 200 in during_outage, during_outage

        postings = load.postings
        statuses = Counter(p.status for p in postings)
        print(
            f"\nfailover: writes back {recovery:.2f} s after kill -9 of {old_primary}; "
            f"{statuses[503]} answers 503, {statuses[None]} without an answer, of "
            f"{len(postings)} postings ({dict(statuses)})"
        )
        unexpected = [
            p.describe() for p in postings if p.status not in {None, *ACCEPTED_DURING_FAILOVER}
        ]
        assert not unexpected, "\n".join(unexpected[:20])

        after = cluster.status()
        assert after.api_pids == before.api_pids, "an API process was restarted"
        assert all(after.api_running), after
        assert after.leader not in (None, old_primary), after
        assert recovery <= WRITES_BACK_WITHIN_SECONDS, (
            f"writes came back after {recovery:.2f} s; what the new leader's Patroni did:\n"
            + _takeover_lines(after)
        )

        # The grouped path's kept connections went with the old primary: each process
        # replaces them by itself, and no posting fails for it.
        _post_without_keys(before.api_url, grouped)
        assert balance(client, grouped) == 2 * GROUPED_POSTINGS * Decimal("1.00")

        present = _settle(client, postings)
        assert_balances_hold(client, accounts, present)
        _assert_acknowledged_replay(client, postings)
        for number in [*accounts, grouped]:
            check = exact(client.get(f"/v1/accounts/{number}/verify"))
            assert (check["balance_matches"], check["chain_intact"]) == (True, True), check

        _rejoin(cluster, old_primary)
        assert post(client, next(iter(accounts)), "1.00").status_code == 201
    for log in sorted((after.folder / "api").glob("*.log")):
        assert_clean_log(log)  # every failure was answered (503), none was a 500 or a trace


class StandbyReads:
    """Reads one account through the load balancer every 50 ms, on a thread of its own, and
    notes when each read started and finished and what it was answered (None: no answer)."""

    def __init__(self, api_url: str, account_number: str) -> None:
        self._api_url = api_url
        self._path = f"/v1/accounts/{account_number}"
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self.reads: list[tuple[float, float, int | None]] = []

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=60)

    def statuses_between(self, start: float, end: float) -> list[int | None]:
        return [status for began, ended, status in self.reads if began >= start and ended <= end]

    def _read(self) -> None:
        with httpx.Client(base_url=self._api_url, timeout=5, headers=AUTH) as client:
            while not self._stopping.wait(0.05):
                began = time.monotonic()
                try:
                    status: int | None = client.get(self._path).status_code
                except httpx.HTTPError:
                    status = None
                self.reads.append((began, time.monotonic(), status))


def _takeover_lines(status: ClusterStatus) -> str:
    """The new leader's Patroni log lines that tell how it took over (to see, when writes came
    back late, where the time went)."""
    log = status.folder / (status.leader or "") / "patroni.log"
    if not log.is_file():
        return f"(no log at {log})"
    telling = ("promot", "leader", "lock", "synchronous", "ready to accept", "following")
    lines = [
        line
        for line in log.read_text(errors="replace").splitlines()
        if any(word in line.lower() for word in telling)
        and not any(noise in line.lower() for noise in ("watchdog", "no action"))
    ]
    return "\n".join(lines[-40:])


def _post_without_keys(api_url: str, account_number: str) -> None:
    """GROUPED_POSTINGS deposits of 1.00 without an Idempotency-Key, at once, each on a
    connection of its own, so that HAProxy spreads them over the API processes; each must be
    answered 201."""

    def deposit(_: int) -> int:
        with httpx.Client(base_url=api_url, timeout=30, headers=AUTH) as own:
            return post(own, account_number, "1.00").status_code

    with ThreadPoolExecutor(GROUPED_POSTINGS) as pool:
        statuses = list(pool.map(deposit, range(GROUPED_POSTINGS)))
    assert statuses == [201] * GROUPED_POSTINGS, statuses


def _settle(client: httpx.Client, postings: list[Posting]) -> list[Posting]:
    """Sends every posting that got no answer or a 5xx again with its key, until it is
    answered for good; returns every applied posting (answered 201, first or on its retry)
    under the id the server gave it."""

    def settle(posting: Posting) -> Posting | None:
        answer = posting.answer if posting.status in (201, 409) else None
        status = posting.status
        for _ in range(RETRY_ATTEMPTS):
            if answer is not None:
                break
            response = send_posting(client, posting)
            if response.status_code in (201, 409) and not _in_use(response):
                answer, status = response.content, response.status_code
            else:
                # 409 idempotency_key_in_use: a transaction of the dead primary still held the
                # key's lock; 503: not yet. Both pass.
                assert response.status_code in (409, 503), (posting.describe(), response.text)
                time.sleep(0.2)
        assert answer is not None, f"never settled: {posting.describe()}"
        if status != 201:
            return None
        return dataclasses.replace(posting, transaction_id=json.loads(answer)["transaction_id"])

    with ThreadPoolExecutor(8) as pool:
        return [applied for applied in pool.map(settle, postings) if applied is not None]


def _in_use(response: httpx.Response) -> bool:
    return (
        response.status_code == 409
        and response.headers.get("content-type", "").startswith("application/problem+json")
        and response.json().get("code") == "idempotency_key_in_use"
    )


def _assert_acknowledged_replay(client: httpx.Client, postings: list[Posting]) -> None:
    """Every posting acknowledged during the load (201 or 409) is known by its key: sent
    again, it gets the same answer, replayed, and changes nothing."""

    def replay(posting: Posting) -> str | None:
        again = send_posting(client, posting)
        if again.headers.get("idempotent-replayed") != "true" or again.content != posting.answer:
            return f"{posting.describe()}: now {again.status_code} {again.text[:200]}"
        return None

    acknowledged = [p for p in postings if p.status in (201, 409)]
    with ThreadPoolExecutor(8) as pool:
        lost = [wrong for wrong in pool.map(replay, acknowledged) if wrong is not None]
    assert not lost, f"{len(lost)} acknowledged postings not kept:\n" + "\n".join(lost[:20])


def _rejoin(cluster: LocalCluster, old_primary: str) -> ClusterStatus:
    """Starts the old primary's Patroni; it must come back as the synchronous standby on the
    new primary's timeline, rewound if its history had gone further."""
    cluster.run("start-node", old_primary)

    def synchronous_again(status: ClusterStatus) -> bool:
        old, leader = status.members.get(old_primary), status.members.get(status.leader or "")
        return (
            old is not None
            and leader is not None
            and old.role == "sync_standby"
            and old.state == "running"
            and old.timeline == leader.timeline
        )

    started = time.monotonic()
    status = cluster.wait_for("synchronous standby", synchronous_again, REJOIN_WITHIN_SECONDS)
    log = (status.folder / old_primary / "patroni.log").read_text()
    rewound = "running pg_rewind" in log
    if rewound:
        assert "pg_rewind exit code=0" in log, log[-4000:]
    print(
        f"{old_primary} rejoined as the synchronous standby of {status.leader} in "
        f"{time.monotonic() - started:.1f} s ({'pg_rewind ran' if rewound else 'no rewind needed'})"
    )
    return status
