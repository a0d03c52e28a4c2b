"""A request whose head is over HAProxy's limit (about 15 KiB: tune.bufsize less
tune.maxrewrite), or that has more header fields than it takes, is refused at the edge and
never reaches the API: the API's own count of requests on the route does not move."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.edge.api_counts import requests_answered
from tests.integration.edge.haproxy import raw_exchange, running_haproxy
from tests.support.keys import MASTER_KEY
from tests.support.server import ServerProcess

ROUTE = "/v1/accounts"
KIBIBYTE = 1024
MEBIBYTE = 1024 * KIBIBYTE


def _request(extra_headers: bytes) -> bytes:
    return (
        b"GET /v1/accounts HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"Authorization: Bearer " + MASTER_KEY.encode() + b"\r\n" + extra_headers + b"\r\n"
    )


def _one_header_of(size: int) -> bytes:
    return b"X-Padding: " + b"a" * size + b"\r\n"


def _status(answer: bytes) -> int | None:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None


@pytest.mark.parametrize(
    ("what", "headers"),
    [
        ("a head just over the limit", _one_header_of(16 * KIBIBYTE)),
        ("a 1 MiB header", _one_header_of(MEBIBYTE)),
        ("a 64 MiB header", _one_header_of(64 * MEBIBYTE)),
        ("many small headers adding up", b"".join(_one_header_of(100) for _ in range(60)) * 3),
        ("65 header fields", b"".join(b"X-Field-%d: 1\r\n" % n for n in range(65))),
    ],
)
def test_a_head_over_the_limit_is_refused_without_reaching_the_api(
    api_server: ServerProcess, api_address: str, tmp_path: Path, what: str, headers: bytes
) -> None:
    with running_haproxy([api_address], tmp_path) as proxy:
        # Within the limits, the same request reaches the API: the count moves.
        before = requests_answered(api_server.base_url, ROUTE)
        fine = raw_exchange(proxy.port, _request(_one_header_of(8 * KIBIBYTE)))
        assert _status(fine) == 200, fine[:300]
        assert requests_answered(api_server.base_url, ROUTE) == before + 1

        answer = raw_exchange(proxy.port, _request(headers))

        # HAProxy answers 400 and closes; a client still sending a huge header may see the
        # connection reset before it reads that answer, never another answer.
        assert _status(answer) in (400, None), (what, answer[:300])
        if len(headers) < MEBIBYTE:
            assert _status(answer) == 400, (what, answer[:300])
        assert requests_answered(api_server.base_url, ROUTE) == before + 1, what
        assert " 400 " in proxy.log_text()
