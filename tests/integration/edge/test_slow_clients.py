"""One client holding thousands of slow connections (slowloris, from 127.0.0.2) does not
starve another (from 127.0.0.3): the edge caps the connections one address holds
(BANK_EDGE_CONNECTIONS_PER_ADDRESS) and cuts a head that has not arrived in time
(BANK_EDGE_HEADER_TIMEOUT), so the other client's requests keep being answered.

Without those limits, the attacker fills HAProxy's maxconn (BANK_EDGE_MAXCONN) and the other
client's connections wait in the kernel's queue until they time out."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Final

import httpx

from tests.integration.edge.haproxy import REPOSITORY, running_haproxy
from tests.support.keys import AUTH

ATTACKER: Final = "127.0.0.2"
VICTIM: Final = "127.0.0.3"
ATTACK_CONNECTIONS: Final = 5000
"""More than HAProxy's default maxconn (4000): without the per-address cap it takes them all."""
RAMP_SECONDS: Final = 8.0
"""By then the attacker has opened all its connections, even on a busy machine (its first ones
are already past the header timeout)."""
VICTIM_WINDOW_SECONDS: Final = 8.0
"""The other client sends one request after another for this long, all while the attack lasts."""
VICTIM_TIMEOUT_SECONDS: Final = 5.0
ATTACK_SECONDS: Final = RAMP_SECONDS + VICTIM_WINDOW_SECONDS + VICTIM_TIMEOUT_SECONDS + 5.0
GENEROUS_BOUND_SECONDS: Final = 3.0
MINIMUM_VICTIM_REQUESTS: Final = 10


def test_thousands_of_slow_connections_from_one_client_do_not_starve_another(
    api_address: str, tmp_path: Path
) -> None:
    with running_haproxy([api_address], tmp_path) as proxy:
        attacker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.edge.slowloris",
                "--port",
                str(proxy.port),
                "--source",
                ATTACKER,
                "--connections",
                str(ATTACK_CONNECTIONS),
                "--seconds",
                str(ATTACK_SECONDS),
            ],
            cwd=REPOSITORY,
            stdout=subprocess.PIPE,
        )
        try:
            time.sleep(RAMP_SECONDS)
            latencies, failures = _victim_requests(proxy.base_url)
            output, _ = attacker.communicate(timeout=ATTACK_SECONDS + 30)
        finally:
            attacker.kill()
            attacker.wait(timeout=10)
    tally = json.loads(output)
    print(
        f"attacker: {tally}; other client: {len(latencies)} answered 200, "
        f"median {statistics.median(latencies or [0]) * 1000:.0f} ms, "
        f"max {max(latencies or [0]) * 1000:.0f} ms; failures {failures}"
    )
    # The attack was one: thousands of connections tried, and the server closed them on it.
    assert tally["opened"] + tally["connect_failures"] >= ATTACK_CONNECTIONS, tally
    assert not failures, failures
    assert len(latencies) >= MINIMUM_VICTIM_REQUESTS
    assert max(latencies) < GENEROUS_BOUND_SECONDS, latencies


def _victim_requests(base_url: str) -> tuple[list[float], list[str]]:
    """Requests on a fresh connection each, from the victim's address, one after another for
    VICTIM_WINDOW_SECONDS."""
    latencies: list[float] = []
    failures: list[str] = []
    transport = httpx.HTTPTransport(local_address=VICTIM)
    with httpx.Client(
        base_url=base_url,
        transport=transport,
        headers={**AUTH, "connection": "close"},
        timeout=VICTIM_TIMEOUT_SECONDS,
    ) as client:
        until = time.monotonic() + VICTIM_WINDOW_SECONDS
        while time.monotonic() < until:
            started = time.monotonic()
            try:
                answer = client.get("/v1/accounts")
            except httpx.TransportError as error:
                failures.append(f"{type(error).__name__} after {time.monotonic() - started:.1f} s")
                continue
            if answer.status_code != 200:
                failures.append(f"{answer.status_code} {answer.text[:200]}")
                continue
            latencies.append(time.monotonic() - started)
            time.sleep(0.2)
    return latencies, failures
