"""The limits ``bank-api serve`` sets on uvicorn itself, for deployments without the load
balancer: a head that is too slow (408), too large or with too many fields (431, before the
app sees it), requests over the concurrency limit (503), idle kept-alive connections closed;
and each setting's mistakes refused at start in one line."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Final

import httpx
import pytest

from tests.integration.edge.api_counts import requests_answered
from tests.integration.edge.haproxy import raw_exchange
from tests.support.keys import MASTER_KEY
from tests.support.server import ServerProcess, free_port

HEADER_TIMEOUT_SECONDS: Final = 1.0
CONCURRENCY_LIMIT: Final = 6
KEEP_ALIVE_SECONDS: Final = 1
REQUESTS_PER_CONNECTION: Final = 3
KIBIBYTE: Final = 1024
MEBIBYTE: Final = 1024 * KIBIBYTE
ROUTE: Final = "/v1/accounts"
WAIT_SECONDS: Final = 10.0
"""How long a test waits for the server to act on a deadline of about a second."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("server-limits")
    environment = {
        "BANK_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT_SECONDS),
        "BANK_CONCURRENCY_LIMIT": str(CONCURRENCY_LIMIT),
        "BANK_KEEP_ALIVE_SECONDS": str(KEEP_ALIVE_SECONDS),
        "BANK_REQUESTS_PER_CONNECTION": str(REQUESTS_PER_CONNECTION),
    }
    with ServerProcess("memory://", folder / "server.log", environment=environment) as running:
        yield running


def _port(server: ServerProcess) -> int:
    return int(server.base_url.rsplit(":", 1)[1])


def _request(extra_headers: bytes = b"") -> bytes:
    return (
        b"GET /v1/accounts HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"Authorization: Bearer " + MASTER_KEY.encode() + b"\r\n" + extra_headers + b"\r\n"
    )


def _status(answer: bytes) -> int | None:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None


def _one_answer(connection: socket.socket) -> bytes:
    """Reads one whole answer (its head, then as many bytes as its Content-Length says) from a
    connection that stays open."""
    answer = b""
    while True:
        head, _, body = answer.partition(b"\r\n\r\n")
        length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
        if length and len(body) >= int(length[1]):
            return answer
        chunk = connection.recv(65536)
        assert chunk, f"closed mid-answer: {answer!r}"
        answer += chunk


def _problem_code(answer: bytes) -> str:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: application/problem+json" in head.lower(), head
    code: str = json.loads(body)["code"]
    return code


@pytest.mark.parametrize(
    ("what", "headers"),
    [
        ("a 20 KiB header", b"X-Padding: " + b"a" * 20 * KIBIBYTE + b"\r\n"),
        ("many headers adding up", b"".join(b"X-P%d: %s\r\n" % (n, b"a" * 400) for n in range(50))),
        ("101 header fields", b"".join(b"X-Field-%d: 1\r\n" % n for n in range(101))),
        ("a 64 MiB header", b"X-Padding: " + b"a" * 64 * MEBIBYTE + b"\r\n"),
    ],
)
def test_a_head_over_the_limit_is_431_before_the_app_sees_it(
    server: ServerProcess, what: str, headers: bytes
) -> None:
    before = requests_answered(server.base_url, ROUTE)
    fine = raw_exchange(_port(server), _request(b"X-Padding: " + b"a" * 8 * KIBIBYTE + b"\r\n"))
    assert _status(fine) == 200, fine[:300]

    started = time.monotonic()
    answer = raw_exchange(_port(server), _request(headers))

    # A client still sending a huge header may see the connection reset before it reads the
    # 431; it never gets another answer.
    assert _status(answer) in (431, None), (what, answer[:300])
    if len(headers) < MEBIBYTE:
        assert _status(answer) == 431, (what, answer[:300])
        assert _problem_code(answer) == "request_header_too_large"
    assert time.monotonic() - started < WAIT_SECONDS
    assert requests_answered(server.base_url, ROUTE) == before + 1, what


def test_a_head_that_does_not_arrive_in_time_is_408(server: ServerProcess) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", _port(server)), WAIT_SECONDS) as connection:
        # A slowloris: the head a byte at a time, never finished, every fifth of a second.
        answer = b""
        for byte in b"GET /v1/accounts HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100:
            try:
                connection.sendall(bytes([byte]))
            except OSError:
                break
            connection.settimeout(0.2)
            with contextlib.suppress(TimeoutError):
                answer = connection.recv(65536)
                break
        connection.settimeout(WAIT_SECONDS)
        with contextlib.suppress(OSError):
            while chunk := connection.recv(65536):
                answer += chunk
    waited = time.monotonic() - started
    assert _status(answer) == 408, answer[:300]
    assert _problem_code(answer) == "request_timeout"
    assert HEADER_TIMEOUT_SECONDS <= waited < HEADER_TIMEOUT_SECONDS + 3, waited


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(
    server: ServerProcess,
) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", _port(server)), WAIT_SECONDS) as connection:
        assert connection.recv(65536) == b""
    assert HEADER_TIMEOUT_SECONDS <= time.monotonic() - started < HEADER_TIMEOUT_SECONDS + 3


def test_a_kept_alive_connections_next_head_has_its_deadline_too(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", _port(server)), WAIT_SECONDS) as connection:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = _one_answer(connection)
        assert _status(first) == 200, first
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
        started = time.monotonic()
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := connection.recv(65536):
                answer += chunk
    assert _status(answer) == 408, answer[:300]
    assert time.monotonic() - started < HEADER_TIMEOUT_SECONDS + 3


def test_an_idle_kept_alive_connection_is_closed(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", _port(server)), WAIT_SECONDS) as connection:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert _status(_one_answer(connection)) == 200
        started = time.monotonic()
        assert connection.recv(65536) == b""
    assert time.monotonic() - started < KEEP_ALIVE_SECONDS + 3


def test_a_connection_is_closed_after_its_last_request(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", _port(server)), WAIT_SECONDS) as connection:
        for _ in range(REQUESTS_PER_CONNECTION - 1):
            connection.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            kept = _one_answer(connection)
            assert _status(kept) == 200, kept
            assert b"connection: close" not in kept.lower(), kept
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        last = _one_answer(connection)
        assert _status(last) == 200, last
        assert b"\r\nconnection: close\r\n" in last.lower(), last
        started = time.monotonic()
        assert connection.recv(65536) == b""
    # Closed at once, not after the idle timeout.
    assert time.monotonic() - started < KEEP_ALIVE_SECONDS


def test_a_request_over_the_concurrency_limit_is_503(server: ServerProcess) -> None:
    # Idle connections count: uvicorn answers 503 once this many are open.
    idle = [
        socket.create_connection(("127.0.0.1", _port(server)), WAIT_SECONDS)
        for _ in range(CONCURRENCY_LIMIT)
    ]
    try:
        over = httpx.get(f"{server.base_url}/health", timeout=WAIT_SECONDS)
        assert over.status_code == 503, over.text
    finally:
        for connection in idle:
            connection.close()
    deadline = time.monotonic() + WAIT_SECONDS
    while (
        answer := httpx.get(f"{server.base_url}/health", timeout=WAIT_SECONDS)
    ).status_code == 503:
        assert time.monotonic() < deadline, "still 503 after the idle connections closed"
        time.sleep(0.1)
    assert answer.status_code == 200


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BANK_HEADER_TIMEOUT_SECONDS", "0"),
        ("BANK_HEADER_LIMIT_BYTES", "100"),
        ("BANK_HEADER_FIELDS_LIMIT", "0"),
        ("BANK_CONCURRENCY_LIMIT", "1"),
        ("BANK_KEEP_ALIVE_SECONDS", "0"),
        ("BANK_BACKLOG", "lots"),
        ("BANK_REQUESTS_PER_CONNECTION", "0"),
    ],
)
def test_a_limit_out_of_its_bounds_is_refused_at_start_in_one_line(
    variable: str, value: str
) -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "bank_web.cli", "serve", "--port", str(free_port())],
        env={**os.environ, "BANK_DATABASE_URL": "memory://", variable: value},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 2, finished
    assert finished.stderr.startswith(f"bank-api: {variable}: "), finished.stderr
    assert finished.stderr.strip().endswith("refusing to start."), finished.stderr
    assert len(finished.stderr.strip().splitlines()) == 1, finished.stderr
