"""One Idempotency-Key sent by many clients at once to a server of two worker processes, on
SQLite and PostgreSQL: the change is applied once, and every answer is that change's answer
(replayed) or a 409 `idempotency_key_in_use` while it runs; none is another change or a 5xx."""

from __future__ import annotations

import threading
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Final

import httpx

from tests.integration.api.helpers import balance, exact, open_account, post
from tests.support.keys import AUTH
from tests.support.server import ServerProcess, assert_clean_log

CLIENTS: Final = 16
ROUNDS: Final = 5


def test_one_key_sent_at_once_to_two_workers_is_applied_once(
    sql_database_url: str, tmp_path: Path
) -> None:
    url = sql_database_url
    log = tmp_path / "server.log"
    with (
        ServerProcess(url, log, workers=2) as server,
        httpx.Client(base_url=server.base_url, timeout=30, headers=AUTH) as client,
    ):
        number = open_account(client)["account_number"]
        answers: list[tuple[int, str | None, bytes]] = []
        for round_ in range(ROUNDS):
            key = {"Idempotency-Key": f"together-{round_}"}
            start = threading.Barrier(CLIENTS)

            def send(key: dict[str, str] = key, start: threading.Barrier = start) -> None:
                with httpx.Client(base_url=server.base_url, timeout=30, headers=AUTH) as own:
                    start.wait()
                    response = post(own, number, "1.00", headers=key)
                    code = None
                    if response.status_code != 201:
                        code = response.json()["code"]
                    answers.append((response.status_code, code, response.content))

            threads = [threading.Thread(target=send) for _ in range(CLIENTS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            created = {content for status, _, content in answers if status == 201}
            assert len(created) == round_ + 1, "one answer per key, whoever got it"
        statuses = Counter((status, code) for status, code, _ in answers)
        assert set(statuses) <= {(201, None), (409, "idempotency_key_in_use")}, statuses
        assert balance(client, number) == Decimal(ROUNDS)
        listed = exact(client.get(f"/v1/accounts/{number}/transactions"))["items"]
        assert len(listed) == ROUNDS
        print(f"{url.split(':')[0]}: {dict(statuses)}")
    assert_clean_log(log)
