"""Prometheus metrics (contract section 16), counted by prometheus_client in every worker
process and served together by whichever worker answers ``GET /metrics``.

``bank-api serve`` gives its workers a fresh folder in ``PROMETHEUS_MULTIPROC_DIR`` (before any
of them imports prometheus_client, which reads it once): each process then writes its counts to
memory-mapped files there, and a scrape sums them (prometheus_client's multiprocess mode). An
app made without that variable (a library user's, the in-process tests') counts in a registry
of its own.

No label carries a customer's data: each request is counted by its outcome
(bank_web.request_outcomes): the route's template, never the path.

The store's own work is observed through its port (bank_adapters.sql.observation.StoreObserver,
which ``Metrics`` implements and the container hands the store): the size of each group the
grouped posting path commits, and how long each taking of a connection from the pool waited.
"""

from __future__ import annotations

import os
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from bank_web.request_outcomes import POSTING_ROUTE, RequestOutcome

MULTIPROCESS_FOLDER_VARIABLE: Final = "PROMETHEUS_MULTIPROC_DIR"
METRICS_CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
DURATION_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
GROUP_SIZE_BUCKETS: Final = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
"""Postings per group, up to the most a group takes (grouped.committer.MAX_GROUP_SIZE)."""
POOL_WAIT_BUCKETS: Final = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0,
)  # fmt: skip
"""From a free pooled connection's ping (a fraction of a millisecond) to the pool's timeout."""


class Metrics:
    """The service's metrics: one per app."""

    def __init__(self) -> None:
        multiprocess = MULTIPROCESS_FOLDER_VARIABLE in os.environ
        # In multiprocess mode the values live in the folder's files, not in a registry.
        self._registry = None if multiprocess else CollectorRegistry()
        self.requests = Counter(
            "bank_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self._registry,
        )
        self.request_duration = Histogram(
            "bank_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by method and route.",
            ["method", "route"],
            buckets=DURATION_BUCKETS,
            registry=self._registry,
        )
        self.postings = Counter(
            "bank_postings",
            "Transactions posted: each new one made by POST /v1/transactions (201; a repeat "
            "answered 200, or a kept 201 replayed for its Idempotency-Key, moves no money and "
            "is not counted).",
            registry=self._registry,
        )
        self.group_sizes = Histogram(
            "bank_group_commit_postings",
            "New transactions committed per group by the grouped posting path (PostgreSQL).",
            buckets=GROUP_SIZE_BUCKETS,
            registry=self._registry,
        )
        self.pool_waits = Histogram(
            "bank_db_pool_wait_seconds",
            "Time a unit of work (or a kept connection of the posting path) waited for a "
            "connection from the SQLAlchemy pool: a free one's ping, opening a new one, or "
            "waiting for one to be handed back.",
            buckets=POOL_WAIT_BUCKETS,
            registry=self._registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def exposition(self) -> bytes:
        """Every metric of every worker process, in Prometheus' text format."""
        if self._registry is not None:
            return generate_latest(self._registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)

    def group_committed(self, postings: int) -> None:
        self.group_sizes.observe(postings)

    def connection_waited(self, seconds: float) -> None:
        self.pool_waits.observe(seconds)

    def record(self, outcome: RequestOutcome) -> None:
        key = (outcome.method, outcome.route, outcome.status)
        children = self._children.get(key)
        if children is None:
            # .labels() takes a lock and builds the key on every call: once per series is enough.
            children = self._children[key] = (
                self.requests.labels(outcome.method, outcome.route, str(outcome.status)),
                self.request_duration.labels(outcome.method, outcome.route),
            )
        requests, duration = children
        requests.inc()
        duration.observe(outcome.seconds)
        if (
            outcome.status == 201
            and outcome.route == POSTING_ROUTE
            and outcome.method == "POST"
            and not outcome.replayed  # a kept answer given again posted nothing
        ):
            self.postings.inc()
