"""The CSV statement is a stream: the server holds a chunk of lines at a time however many the
statement has, and a statement whose reading fails midway is cut off, never ended as if whole.

A ledger stand-in makes the entries as they are read (the in-memory store would hold them
all, and so measure itself rather than the route)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator, MutableMapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

import httpx
import pytest
import uvicorn
from dependency_injector import providers
from fastapi import FastAPI

from bank_domain import AccountNumber, JournalEntry, Money, StatementQuery, TransactionId
from bank_domain.errors import StorageUnavailable
from bank_web.app import create_app
from bank_web.settings import Settings
from bank_web.statement_csv import CHUNK_BYTES, HEADER, StatementCutOff
from tests.support.keys import AUTH
from tests.support.server import free_port

ACCOUNT: Final = "1234567890"
SPAN: Final = "from=2000-01-01T00:00:00Z&to=2999-12-31T23:59:59Z"
START: Final = datetime(2024, 1, 1, tzinfo=UTC)
FAILING_LINE: Final = 5000
"""Where the failing statement's reading fails: some 300 kB in, several chunks sent."""


class _EntriesAsRead:
    """Answers statement_entries with ``count`` entries made one at a time as they are read;
    with ``fail_after``, the reading fails as a lost database would, after that many."""

    def __init__(self, count: int, fail_after: int | None = None) -> None:
        self._count = count
        self._fail_after = fail_after

    async def statement_entries(self, query: StatementQuery) -> AsyncIterator[JournalEntry]:
        return self._entries()

    async def _entries(self) -> AsyncIterator[JournalEntry]:
        cent = Money(Decimal("0.01"))
        balance = Money.zero()
        for entry_id in range(1, self._count + 1):
            if entry_id == self._fail_after:
                raise StorageUnavailable("The database stopped answering.")
            balance += cent
            yield JournalEntry(
                entry_id=entry_id,
                account_number=AccountNumber(ACCOUNT),
                transaction_id=TransactionId(f"tx-{entry_id:08d}"),
                amount=cent,
                balance_after=balance,
                posted_at=START + timedelta(microseconds=entry_id),
                hash="0" * 64,
            )


def _app(ledger: _EntriesAsRead) -> FastAPI:
    app = create_app(Settings(database_url="memory://"))
    app.state.container.ledger.override(providers.Object(ledger))
    return app


async def _stream(app: FastAPI) -> tuple[int, int, int, int]:
    """Sends the CSV statement request straight to the app; the answer's status, its bytes,
    lines and body messages, each body dropped as it comes, as a server sends it on."""
    status = size = lines = messages = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status, size, lines, messages
        if message["type"] == "http.response.start":
            status = message["status"]
        else:
            body = message.get("body", b"")
            size += len(body)
            lines += body.count(b"\n")
            messages += 1

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": f"/v1/accounts/{ACCOUNT}/statement",
        "raw_path": f"/v1/accounts/{ACCOUNT}/statement".encode(),
        "query_string": SPAN.encode(),
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", AUTH["authorization"].encode()),
            (b"accept", b"text/csv"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    return status, size, lines, messages


def _peak_while_streaming(lines: int) -> tuple[int, int]:
    """The most memory traced at once while the app streams a statement of ``lines`` lines,
    and the bytes it sent."""
    app = _app(_EntriesAsRead(lines))
    asyncio.run(_stream(app))  # the first request builds what every later one reuses
    tracemalloc.start()
    try:
        status, size, lines_sent, messages = asyncio.run(_stream(app))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 200
    assert lines_sent == 1 + lines
    assert messages > size // CHUNK_BYTES  # sent a chunk at a time, not at the end
    return peak, size


def test_the_servers_memory_does_not_grow_with_the_lines() -> None:
    small_peak, small_size = _peak_while_streaming(2_000)
    large_peak, large_size = _peak_while_streaming(20_000)
    assert large_size > 1_000_000
    assert large_size > 9 * small_size
    # Ten times the lines: the peak moves by less than two chunks (and one held, it is far
    # below the million bytes sent).
    assert large_peak < small_peak + 2 * CHUNK_BYTES, (small_peak, large_peak)
    assert large_peak < 512 * 1024, (large_peak, large_size)


@pytest.fixture
def serving() -> Iterator[tuple[str, FastAPI]]:
    """The app behind a real uvicorn (as ``bank-api serve`` runs it) in a thread, with the
    ledger a test puts in ``app.state.container``."""
    app = create_app(Settings(database_url="memory://"))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_statement_whose_reading_fails_midway_is_cut_off(
    serving: tuple[str, FastAPI], caplog: pytest.LogCaptureFixture
) -> None:
    base_url, app = serving
    app.state.container.ledger.override(providers.Object(_EntriesAsRead(10**6, FAILING_LINE)))
    received = bytearray()
    with (
        caplog.at_level(logging.ERROR),
        httpx.stream(
            "GET",
            f"{base_url}/v1/accounts/{ACCOUNT}/statement?{SPAN}",
            headers={**AUTH, "accept": "text/csv"},
            timeout=10,
        ) as answer,
    ):
        assert answer.status_code == 200
        assert answer.headers["transfer-encoding"] == "chunked"
        with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
            _read_into(received, answer)
    assert received.startswith(HEADER.encode())
    assert len(received) >= 2 * CHUNK_BYTES  # lines were sent before it failed
    assert received.count(b"\n") < FAILING_LINE  # and the last ones never came
    [logged] = [r for r in caplog.records if r.name == "bank_web"]
    assert logged.getMessage() == f"Unexpected error on GET /v1/accounts/{ACCOUNT}/statement"
    assert logged.exc_info is not None
    cut_off = logged.exc_info[1]
    assert isinstance(cut_off, StatementCutOff)
    assert isinstance(cut_off.__cause__, StorageUnavailable)
    assert cut_off.lines_sent == FAILING_LINE - 1


def _read_into(received: bytearray, answer: httpx.Response) -> None:
    for chunk in answer.iter_bytes():
        received += chunk


def test_a_whole_statement_ends_cleanly(serving: tuple[str, FastAPI]) -> None:
    base_url, app = serving
    lines = FAILING_LINE
    app.state.container.ledger.override(providers.Object(_EntriesAsRead(lines)))
    answer = httpx.get(
        f"{base_url}/v1/accounts/{ACCOUNT}/statement?{SPAN}",
        headers={**AUTH, "accept": "text/csv"},
        timeout=10,
    )
    assert answer.status_code == 200
    assert answer.text.count("\n") == lines + 1
    assert answer.text.endswith(f",0.01,{Decimal(lines).scaleb(-2)}\n")
