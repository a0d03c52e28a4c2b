"""Prometheus metrics (contract section 16), counted by prometheus_client in every worker
process and served together by whichever worker answers ``GET /metrics``.

``bank-api serve`` gives its workers a fresh folder in ``PROMETHEUS_MULTIPROC_DIR`` (before any
of them imports prometheus_client, which reads it once): each process then writes its counts to
memory-mapped files there, and a scrape sums them (prometheus_client's multiprocess mode). An
app made without that variable (a library user's, the in-process tests') counts in a registry
of its own.

No label carries a customer's data: the route is the path's template (``/v1/accounts/
{account_number}``, never a number), the method one of the HTTP methods the service knows, and
a path that names no route is ``unmatched``.
"""

from __future__ import annotations

import os
from time import perf_counter
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bank_web.idempotency import REPLAYED_RAW_HEADER as _REPLAYED

MULTIPROCESS_FOLDER_VARIABLE: Final = "PROMETHEUS_MULTIPROC_DIR"
METRICS_CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
UNMATCHED_ROUTE: Final = "unmatched"
OTHER_METHOD: Final = "other"
_KNOWN_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
POSTING_ROUTE: Final = "/v1/transactions"
"""Answered by the posting fast path before any router runs: named here, as its template is
the path itself."""
DURATION_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


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
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def exposition(self) -> bytes:
        """Every metric of every worker process, in Prometheus' text format."""
        if self._registry is not None:
            return generate_latest(self._registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)

    def record(
        self, method: str, route: str, status: int, seconds: float, *, replayed: bool = False
    ) -> None:
        """``replayed``: the answer was a kept one given again (Idempotent-Replayed), which
        posted nothing."""
        method = method if method in _KNOWN_METHODS else OTHER_METHOD
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            # .labels() takes a lock and builds the key on every call: once per series is enough.
            children = self._children[key] = (
                self.requests.labels(method, route, str(status)),
                self.request_duration.labels(method, route),
            )
        requests, duration = children
        requests.inc()
        duration.observe(seconds)
        if status == 201 and route == POSTING_ROUTE and method == "POST" and not replayed:
            self.postings.inc()


class RequestMetrics:
    """ASGI middleware counting every HTTP request with its route's template, status and
    duration. It runs outside UnexpectedErrors, so a 500 is counted as one."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = perf_counter()
        status = 500  # what the client gets if nothing below starts an answer
        replayed = False

        async def send_noting_status(message: Message) -> None:
            nonlocal status, replayed
            if message["type"] == "http.response.start":
                status = message["status"]
                replayed = _REPLAYED in message.get("headers", ())
            await send(message)

        try:
            await self._app(scope, receive, send_noting_status)
        finally:
            self._metrics.record(
                scope["method"],
                _route_template(scope),
                status,
                perf_counter() - started,
                replayed=replayed,
            )


def _route_template(scope: Scope) -> str:
    """The template of the route that answered (Starlette puts the route it matched, or the
    one whose path matched but not its method, in the scope), never the path itself."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if isinstance(template, str):
        return template
    if scope["path"] == POSTING_ROUTE:
        return POSTING_ROUTE
    return UNMATCHED_ROUTE
