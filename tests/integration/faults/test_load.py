"""Two server processes on one PostgreSQL database, 64 clients at once on 5 hot accounts: no
update is lost, no balance goes below zero, no request fails."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Final

import httpx
import pytest

from tests.integration.faults.ledger_checks import (
    assert_balances_hold,
    assert_fates,
    open_hot_accounts,
    stored_postings,
)
from tests.integration.faults.load import Load, Posting, status_counts
from tests.support.keys import AUTH
from tests.support.server import ServerProcess, assert_clean_log

pytestmark = pytest.mark.postgres

CLIENTS: Final = 64
POSTINGS_PER_CLIENT: Final = 10
MIXED_STEPS_PER_CLIENT: Final = 6
HOT_ACCOUNTS: Final = 5
OPENING: Final = Decimal("100.00")
LOAD_TIMEOUT_SECONDS: Final = 120.0


def test_two_servers_and_64_clients_lose_no_update(postgres_database: str, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with (
        ServerProcess(postgres_database, log, workers=2) as server,
        httpx.Client(base_url=server.base_url, timeout=30, headers=AUTH) as client,
    ):
        assert len(server.worker_pids()) == 2
        accounts = open_hot_accounts(client, HOT_ACCOUNTS, OPENING)

        # Deposits and withdrawals only.
        load = Load(
            server.base_url,
            list(accounts),
            clients=CLIENTS,
            postings_per_client=POSTINGS_PER_CLIENT,
            seed=1,
        )
        postings = load.run(timeout=LOAD_TIMEOUT_SECONDS)
        assert len(postings) == CLIENTS * POSTINGS_PER_CLIENT
        _assert_only_accepted_or_overdrawn(postings)
        stored = stored_postings(client, postings)
        assert_fates(postings, stored, stored_when={201}, absent_when={409})
        assert_balances_hold(client, accounts, [p for p in postings if p.status == 201])

        # Postings while other clients cancel accepted ones: another way to move a balance,
        # which must take the same lock.
        accepted = [[p for p in mine if p.status == 201] for mine in load.postings_by_client]
        mixed = Load(
            server.base_url,
            list(accounts),
            clients=CLIENTS,
            postings_per_client=MIXED_STEPS_PER_CLIENT,
            seed=2,
            cancelling=accepted,
        )
        more = mixed.run(timeout=LOAD_TIMEOUT_SECONDS)
        _assert_only_accepted_or_overdrawn(more)
        cancellations = mixed.cancellations
        refused = [c.describe() for c in cancellations if c.status != 200]
        assert all(c.status in (200, 409) for c in cancellations), "\n".join(refused[:20])
        assert {c.code for c in cancellations if c.status == 409} <= {"insufficient_funds"}
        assert sum(c.status == 200 for c in cancellations) > CLIENTS // 2, len(refused)

        everything = postings + more
        stored = stored_postings(client, everything)
        assert_fates(everything, stored, stored_when={201}, absent_when={409})
        present = [p for p in everything if p.status == 201]
        assert_balances_hold(client, accounts, present, chained=False)
    assert_clean_log(log)


def _assert_only_accepted_or_overdrawn(postings: list[Posting]) -> None:
    statuses = status_counts(postings)
    failed = [p.describe() for p in postings if p.status not in (201, 409)]
    assert not failed, f"{statuses}: " + "\n".join(failed[:20])
    assert {p.code for p in postings if p.status == 409} == {"insufficient_funds"}
    # The load took both paths: postings that moved money, and overdrafts refused.
    assert statuses[201] > len(postings) // 4, statuses
    assert statuses[409] > 0, statuses
