"""Two server processes on one PostgreSQL database, 32 clients sending opposite transfers
between the same accounts at once (and batches across them): no deadlock, no request fails,
and not a cent is lost or made (API.md section 5: several accounts are locked in
account-number order)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Final

import httpx
import pytest

from tests.integration.api.helpers import exact, open_account
from tests.integration.api.test_journal_api import entries_of
from tests.support.journal import assert_chain_recomputes
from tests.support.keys import AUTH
from tests.support.server import ServerProcess, assert_clean_log

pytestmark = pytest.mark.postgres

CLIENTS: Final = 32
TRANSFERS_PER_CLIENT: Final = 12
ACCOUNTS: Final = 3
OPENING: Final = Decimal("100.00")


def test_opposite_transfers_on_two_servers_never_deadlock_nor_lose_a_cent(
    postgres_database: str, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    with (
        ServerProcess(postgres_database, log, workers=2) as server,
        httpx.Client(base_url=server.base_url, timeout=60, headers=AUTH) as client,
    ):
        assert len(server.worker_pids()) == 2
        numbers = [
            open_account(client, initial_deposit=str(OPENING))["account_number"]
            for _ in range(ACCOUNTS)
        ]
        total_before = sum(exact(client.get(f"/v1/accounts/{n}"))["balance"] for n in numbers)

        def one_client(index: int) -> list[tuple[int, str]]:
            outcomes = []
            with httpx.Client(base_url=server.base_url, timeout=60, headers=AUTH) as own:
                for step in range(TRANSFERS_PER_CLIENT):
                    # Half the clients one way round, half the other, on the same accounts.
                    first, second = numbers[step % 2], numbers[2]
                    source, target = (first, second) if index % 2 else (second, first)
                    if step % 4 == 3:
                        # A batch over every account, given in descending order.
                        items = [
                            {"account_number": n, "amount": "1.00", "transaction_type": kind}
                            for n in reversed(numbers)
                            for kind in ("deposit", "withdrawal")
                        ]
                        answer = own.post("/v1/transactions/batch", json={"transactions": items})
                    else:
                        body = {
                            "from_account": source,
                            "to_account": target,
                            "amount": str(Decimal(7 + index % 5)),
                        }
                        answer = own.post("/v1/transfers", json=body)
                    code = answer.json().get("code", "") if answer.status_code >= 400 else ""
                    outcomes.append((answer.status_code, code))
            return outcomes

        with ThreadPoolExecutor(CLIENTS) as pool:
            outcomes = [o for mine in pool.map(one_client, range(CLIENTS)) for o in mine]

        statuses = {status for status, _ in outcomes}
        assert statuses <= {201, 409}, outcomes
        assert {code for status, code in outcomes if status == 409} <= {"insufficient_funds"}
        assert sum(status == 201 for status, _ in outcomes) > len(outcomes) // 2
        balances = [exact(client.get(f"/v1/accounts/{n}"))["balance"] for n in numbers]
        assert sum(balances) == total_before
        assert all(b >= 0 for b in balances)
        for number, held in zip(numbers, balances, strict=True):
            assert_chain_recomputes(entries_of(client, number), held)
            verified = exact(client.get(f"/v1/accounts/{number}/verify"))
            assert verified["chain_intact"]
            assert verified["balance_matches"]
        recalculated = [
            exact(client.post(f"/v1/accounts/{n}/balance/recalculate"))["corrected"]
            for n in numbers
        ]
        assert recalculated == [False] * ACCOUNTS
    assert_clean_log(log)
