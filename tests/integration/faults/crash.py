"""A server killed in the middle of a load: what the crash tests share."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import httpx

from tests.integration.faults.ledger_checks import HotAccount, open_hot_accounts
from tests.integration.faults.load import Load
from tests.support.keys import AUTH
from tests.support.server import ServerProcess


def crash_mid_load(
    database_url: str,
    log: Path,
    *,
    accounts: int,
    opening: Decimal,
    clients: int,
    postings_per_client: int,
    answers_before_the_crash: int,
    seed: int,
    keyed: bool = False,
) -> tuple[dict[str, HotAccount], Load]:
    """Serves the database with two workers, opens ``accounts`` accounts of ``opening``, starts
    a load of postings on them (``keyed``: each with an Idempotency-Key instead of an id) and
    kills the server (SIGKILL, master and workers) once ``answers_before_the_crash`` came back;
    returns the accounts and the load, ended."""
    with (
        ServerProcess(database_url, log, workers=2) as server,
        httpx.Client(base_url=server.base_url, timeout=30, headers=AUTH) as client,
    ):
        assert len(server.worker_pids()) == 2
        hot = open_hot_accounts(client, accounts, opening)
        load = Load(
            server.base_url,
            list(hot),
            clients=clients,
            postings_per_client=postings_per_client,
            seed=seed,
            timeout=30,
            stop_on_broken_connection=True,
            keyed=keyed,
        )
        load.start()
        load.wait_for_answers(answers_before_the_crash, timeout=90)
        server.kill()
        load.join(timeout=60)
    return hot, load
