"""The server is killed (SIGKILL, master and workers) in the middle of a load and started again
on the same PostgreSQL database: what was answered 2xx is there, what was refused is not, what
was cut off is wholly there or wholly absent, and every balance equals its transactions."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Final

import httpx
import pytest

from tests.integration.api.helpers import exact, post
from tests.integration.faults.crash import crash_mid_load
from tests.integration.faults.ledger_checks import (
    assert_balances_hold,
    assert_fates,
    stored_postings,
)
from tests.integration.faults.load import Posting, status_counts
from tests.support.keys import AUTH
from tests.support.server import ServerProcess, assert_clean_log

pytestmark = pytest.mark.postgres

CLIENTS: Final = 64
POSTINGS_PER_CLIENT: Final = 40
ANSWERS_BEFORE_THE_CRASH: Final = 150
HOT_ACCOUNTS: Final = 5
OPENING: Final = Decimal("100.00")


def test_a_crash_mid_load_leaves_nothing_half_written(
    postgres_database: str, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    accounts, load = crash_mid_load(
        postgres_database,
        log,
        accounts=HOT_ACCOUNTS,
        opening=OPENING,
        clients=CLIENTS,
        postings_per_client=POSTINGS_PER_CLIENT,
        answers_before_the_crash=ANSWERS_BEFORE_THE_CRASH,
        seed=2,
    )

    postings = load.postings
    statuses = status_counts(postings)
    cut_off = [p for p in postings if p.status is None]
    answered = [p for p in postings if p.status is not None]
    # The crash came in the middle: some postings were answered, some were in flight.
    assert len(answered) >= ANSWERS_BEFORE_THE_CRASH, statuses
    assert cut_off, statuses
    assert len(postings) < CLIENTS * POSTINGS_PER_CLIENT, "the load ended before the crash"
    failed = [p.describe() for p in answered if p.status not in (201, 409)]
    assert not failed, f"{statuses}: " + "\n".join(failed[:20])

    with (
        ServerProcess(postgres_database, log, workers=2) as server,
        httpx.Client(base_url=server.base_url, timeout=30, headers=AUTH) as client,
    ):
        stored = stored_postings(client, postings)
        assert_fates(postings, stored, stored_when={201}, absent_when={409})
        present = [p for p in postings if stored[p.transaction_id]]
        print(
            f"answers {statuses}; of {len(cut_off)} cut off, "
            f"{sum(stored[p.transaction_id] for p in cut_off)} were stored"
        )
        assert_balances_hold(client, accounts, present)

        # A careful client retries what was cut off, with the same id and fields: one that was
        # stored answers 200 with the stored transaction and moves no money; one that was not
        # is posted now.
        retried = [p for p in cut_off if _retry(client, p, was_stored=stored[p.transaction_id])]
        assert_balances_hold(client, accounts, present + retried)
    assert_clean_log(log)


def _retry(client: httpx.Client, posting: Posting, *, was_stored: bool) -> bool:
    """Posts the posting again; True when this retry stored it."""
    before = client.get(f"/v1/transactions/{posting.transaction_id}")
    response = post(
        client,
        posting.account_number,
        str(posting.amount),
        posting.transaction_type,
        transaction_id=posting.transaction_id,
    )
    if was_stored:
        assert response.status_code == 200, (posting.describe(), response.text)
        assert exact(response) == exact(before), posting.describe()
        return False
    assert response.status_code in (201, 409), (posting.describe(), response.text)
    return response.status_code == 201
