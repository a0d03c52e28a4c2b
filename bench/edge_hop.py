"""What the HAProxy hop and its limits cost in postings/s: one bank-api process on a throwaway
PostgreSQL database, loaded by wrk (bench/posting.lua, 32 connections) directly and through
HAProxy with deploy/haproxy's configuration, in turns within one run (the machine is shared:
only figures from one run compare).

    BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python bench/edge_hop.py

The rate limit is per key and wrk sends one key, so the run raises BANK_EDGE_KEY_RATE out of
reach: every rule is still evaluated on every request, none refuses.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from tests.integration.edge.haproxy import running_haproxy  # noqa: E402
from tests.support.postgres import throwaway_database  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402

MASTER_KEY = "bench-master-key-of-at-least-32-characters"
ACCOUNTS = 1000
FIRST_ACCOUNT = 1_000_000_000
SECONDS = 10
ROUNDS = 3
RESULT = re.compile(r"BENCH_RESULT (.*)")


def _open_accounts(base_url: str) -> None:
    with httpx.Client(
        base_url=base_url, headers={"authorization": f"Bearer {MASTER_KEY}"}, timeout=30
    ) as client:
        for number in range(FIRST_ACCOUNT, FIRST_ACCOUNT + ACCOUNTS):
            answer = client.post(
                "/v1/accounts",
                json={
                    "account_number": str(number),
                    "customer_name": "Bench",
                    "account_type": "checking",
                    "initial_deposit": "1000000.00",
                },
            )
            answer.raise_for_status()


def _wrk(base_url: str) -> dict[str, float]:
    finished = subprocess.run(
        [
            "wrk",
            "-t2",
            "-c32",
            f"-d{SECONDS}s",
            "--latency",
            "-s",
            str(REPOSITORY / "bench" / "posting.lua"),
            base_url,
            "--",
            str(FIRST_ACCOUNT),
            str(FIRST_ACCOUNT + ACCOUNTS - 1),
            "edge",
        ],
        env={**os.environ, "BANK_MASTER_KEY": MASTER_KEY},
        capture_output=True,
        text=True,
        timeout=SECONDS + 60,
        check=True,
    )
    match = RESULT.search(finished.stdout)
    assert match, finished.stdout
    fields = dict(part.split("=", 1) for part in match[1].split())
    return {name: float(value) for name, value in fields.items() if _number(value)}


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def main() -> None:
    server_url = os.environ["BENCH_POSTGRES_URL"]
    with tempfile.TemporaryDirectory(prefix="bench-edge-") as name:
        folder = Path(name)
        with (
            throwaway_database(server_url, "bench_edge") as database_url,
            ServerProcess(
                database_url,
                folder / "server.log",
                environment={"BANK_MASTER_KEY": MASTER_KEY, "BANK_ACCESS_LOG": "false"},
            ) as api,
        ):
            _open_accounts(api.base_url)
            limits = {"BANK_EDGE_KEY_RATE": "1000000000", "BANK_EDGE_LOG_TARGET": "stdout"}
            address = api.base_url.removeprefix("http://")
            with running_haproxy([address], folder, limits) as proxy:
                rates: dict[str, list[float]] = {"direct": [], "haproxy": []}
                _wrk(api.base_url)  # warm-up
                for round_number in range(ROUNDS):
                    for kind, url in (("direct", api.base_url), ("haproxy", proxy.base_url)):
                        result = _wrk(url)
                        rate = (result["status_2xx"] + result["status_409"]) / (
                            result["duration_us"] / 1e6
                        )
                        rates[kind].append(rate)
                        print(f"round {round_number + 1} {kind}: {rate:,.0f} postings/s, {result}")
        direct, hop = statistics.median(rates["direct"]), statistics.median(rates["haproxy"])
        print(
            f"median direct {direct:,.0f} postings/s, through HAProxy {hop:,.0f} "
            f"({hop / direct:.2f} of direct)"
        )


if __name__ == "__main__":
    main()
