"""GET /metrics covers every worker process (contract section 16): with two workers, whichever
answers a scrape counts the requests both of them served."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from tests.integration.api.helpers import open_account, post
from tests.support.keys import AUTH
from tests.support.server import assert_clean_log, running_server

POSTINGS = 60
CREATED = 'bank_http_requests_total{method="POST",route="/v1/transactions",status="201"}'


def _value(text: str, sample: str) -> float:
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        if name == sample:
            return float(value)
    return 0.0


def _per_process(folder: Path, scratch: Path) -> list[float]:
    """What each worker counted on its own: its file alone, collected."""
    counts = []
    for index, file in enumerate(sorted(folder.glob("counter_*.db"))):
        alone = scratch / str(index)
        alone.mkdir(parents=True)
        shutil.copy(file, alone)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))  # type: ignore[no-untyped-call]
        counts.append(_value(generate_latest(registry).decode(), CREATED))
    return counts


def test_a_scrape_counts_every_worker(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    folder = tmp_path / "metrics"
    folder.mkdir()
    environment = {"PROMETHEUS_MULTIPROC_DIR": str(folder)}
    with (
        running_server(f"sqlite:///{tmp_path / 'bank.db'}", log, 2, environment) as url,
        httpx.Client(base_url=url, headers=AUTH, timeout=30) as client,
    ):
        number = open_account(client)["account_number"]
        for _ in range(POSTINGS):
            # A connection each, so that the kernel hands them to both workers.
            with httpx.Client(base_url=url, headers=AUTH, timeout=30) as once:
                assert post(once, number, "1").status_code == 201
        scrapes = [httpx.get(f"{url}/metrics", timeout=30).text for _ in range(6)]
        per_worker = _per_process(folder, tmp_path / "scratch")
    assert len([count for count in per_worker if count > 0]) == 2, per_worker
    assert sum(per_worker) == POSTINGS
    for text in scrapes:
        assert _value(text, CREATED) == POSTINGS
        assert _value(text, "bank_postings_total") == POSTINGS
        # Each posting's unit of work took a connection from its worker's pool (SQLite has no
        # grouped path); both workers' waits are summed.
        assert _value(text, "bank_db_pool_wait_seconds_count") >= POSTINGS + 1
    assert_clean_log(log)
