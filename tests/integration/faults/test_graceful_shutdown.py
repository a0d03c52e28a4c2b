"""SIGTERM with postings in flight (issue 11): the server stops taking new requests, finishes
the postings it has (a group in flight on PostgreSQL's grouped path included) and answers
each of them before it exits.

To have postings surely in flight when the signal comes, the test holds their account's row
lock from a connection of its own: the postings' group waits for it inside the server. Only
after the signal (and a pause, in which the server must still be running) is the lock let go.
A server that dropped what it had in flight (SIGKILL, say) leaves the clients without answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Final

import asyncpg
import httpx
import pytest

from tests.integration.api.helpers import balance, open_account, post
from tests.support import refs
from tests.support.keys import AUTH
from tests.support.server import ServerProcess, assert_clean_log

pytestmark = pytest.mark.postgres

IN_FLIGHT: Final = 8
HELD_AFTER_THE_SIGNAL_SECONDS: Final = 1.5
EXIT_WITHIN_SECONDS: Final = 20.0


def test_sigterm_answers_the_postings_in_flight(postgres_database: str, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    server = ServerProcess(postgres_database, log, workers=1)
    with server, httpx.Client(base_url=server.base_url, timeout=30, headers=AUTH) as client:
        number = open_account(client)["account_number"]
        ids = [refs.transaction_id() for _ in range(IN_FLIGHT)]
        with (
            _row_locked(postgres_database, number) as release,
            ThreadPoolExecutor(IN_FLIGHT) as pool,
        ):
            answers = [pool.submit(_post_alone, server.base_url, number, tid) for tid in ids]
            time.sleep(1.0)  # sent, and waiting for the lock inside the server
            assert not any(answer.done() for answer in answers), "not held in flight"
            stopping = threading.Thread(target=server.stop)
            signalled = time.monotonic()
            stopping.start()  # SIGTERM, then waits for the process to end
            stopping.join(HELD_AFTER_THE_SIGNAL_SECONDS)
            assert stopping.is_alive(), "the server ended with postings in flight"
            release()
            stopping.join(EXIT_WITHIN_SECONDS)
            assert not stopping.is_alive(), "the server did not stop once its postings were done"
            took = time.monotonic() - signalled
            statuses = [_status(answer) for answer in answers]
    assert statuses == [201] * IN_FLIGHT, statuses
    assert took < EXIT_WITHIN_SECONDS
    with (
        ServerProcess(postgres_database, tmp_path / "again.log", workers=1) as again,
        httpx.Client(base_url=again.base_url, timeout=30, headers=AUTH) as client,
    ):
        for tid in ids:
            assert client.get(f"/v1/transactions/{tid}").status_code == 200
        assert balance(client, number) == IN_FLIGHT
    assert_clean_log(log)


def _post_alone(base_url: str, number: str, transaction_id: str) -> httpx.Response:
    with httpx.Client(base_url=base_url, timeout=30, headers=AUTH) as client:
        return post(client, number, "1", transaction_id=transaction_id)


def _status(answer: Future[httpx.Response]) -> int | str:
    try:
        return answer.result(timeout=30).status_code
    except httpx.HTTPError as error:
        return f"no answer: {error!r}"


@contextlib.contextmanager
def _row_locked(database_url: str, account_number: str) -> Iterator[Callable[[], None]]:
    """Holds the account's row lock (SELECT ... FOR UPDATE in a transaction of the test's own,
    on a thread of its own) until the yielded function is called, or the block ends."""
    locked, released = threading.Event(), threading.Event()

    async def hold() -> None:
        connection = await asyncpg.connect(database_url, timeout=10)
        try:
            async with connection.transaction():
                await connection.execute(
                    "SELECT 1 FROM accounts WHERE account_number = $1 FOR UPDATE", account_number
                )
                locked.set()
                # A threading.Event, set from the test's thread: waited for off the loop.
                await asyncio.to_thread(released.wait)
        finally:
            await connection.close()

    holder = threading.Thread(target=asyncio.run, args=(hold(),), daemon=True)
    holder.start()
    assert locked.wait(10), "could not lock the account's row"
    try:
        yield released.set
    finally:
        released.set()
        holder.join(10)
