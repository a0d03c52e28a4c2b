"""Builds the FastAPI application around one container."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from bank_web.access_log import log_request
from bank_web.body_limit import BodySizeLimit
from bank_web.containers import Container
from bank_web.edge import RequestEdge
from bank_web.expiry_sweeper import expiry_sweeper
from bank_web.idempotency import expired_keys_removed, install_idempotency
from bank_web.openapi import install_openapi
from bank_web.problems import UnexpectedErrors, install_problem_handlers
from bank_web.request_outcomes import RequestObserver
from bank_web.routes.accounts import accounts
from bank_web.routes.api_keys import api_keys
from bank_web.routes.audit import audit
from bank_web.routes.journal import journal
from bank_web.routes.service import service
from bank_web.routes.transactions import transactions
from bank_web.routes.transfers import transfers
from bank_web.settings import Settings
from bank_web.transaction_posting_fast_path import TransactionPostingFastPath

DESCRIPTION = """
Bank accounts and their transactions, exact to the cent.

Amounts are exact decimals with at most 2 places, sent and returned as JSON numbers. Errors are
`application/problem+json` with a stable `code`. Account and transaction responses carry
`ETag: "<version>"`; send it back as `If-Match` to refuse a change to one that someone else
changed first (412). Every answer carries `X-Request-Id` (yours, when you send a valid one):
problems, events and a transaction's history name the request by it.

An account's `available_balance` is `balance + overdraft_limit - held` (its `pending`
withdrawals, holds, that have not expired) and no change takes it below 0 (409
`insufficient_funds`); lowering `overdraft_limit` below what the account uses is a 409
`overdraft_limit_in_use`. A pending transaction whose `expires_at` has come is `cancelled`
from that instant (a later status change: 409 `invalid_status_change`).

Every route under `/v1` needs `Authorization: Bearer <key>`: the master key (`BANK_MASTER_KEY`)
or a key made with `POST /v1/api-keys`. Each operation names the scope it needs (`x-scope`, and
its `security`): no valid key is a 401 `unauthenticated`, a key without the scope a 403
`forbidden`. A key restricted to accounts sees no other account (404, as if absent).

Every `POST` takes an `Idempotency-Key` header (1 to 255 visible ASCII characters, scoped to
your key): the first answer with it is kept for at least 24 hours, and a repeat of the same
request (method, path, and JSON body compared as a JSON value) gets it again, with
`Idempotent-Replayed: true`, and changes nothing. The same key with another request is a 422
`idempotency_key_reused`; a repeat while the first still runs, a 409 `idempotency_key_in_use`.
Answers 401, 403, 422 and 5xx are not kept.
"""


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    settings = settings or Settings()
    container = container or Container()
    container.config.from_dict(settings.model_dump())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The store, the ledger and what checks keys live as long as the process, and so does
        # every module they load (SQLAlchemy, the driver, Alembic): made now, they are frozen
        # with the rest below. Made by the first request, in a worker that imported only the
        # app, they were walked by every full collection: 40 to 70 ms each (bench/README.md).
        container.ledger()
        container.authenticator()
        # Everything loaded so far lives as long as the process: keep it out of the collector's
        # full passes, which otherwise walk it all and stall every request for tens of ms. The
        # garbage goes first: frozen, it would never be collected.
        gc.collect()
        gc.freeze()
        try:
            async with (
                expiry_sweeper(container.ledger(), settings.expiry_sweep_seconds),
                expired_keys_removed(
                    container.ledger(),
                    timedelta(hours=settings.idempotency_retention_hours),
                    settings.idempotency_cleanup_seconds,
                ),
            ):
                yield
        finally:
            await container.store().dispose()

    app = FastAPI(
        title="Bank ledger",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # Served by bank_web.openapi instead: exact, with money as decimals.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        # A trailing slash is another path (404), not a redirect: Starlette's redirect writes
        # an absolute Location from the request's Host header.
        redirect_slashes=False,
        # Off unless asked for: even unconfigured, it looks up its providers on every request.
        telemetry={
            "tracing": settings.opentelemetry,
            "metrics": settings.opentelemetry,
            "logs": settings.opentelemetry,
        },
    )
    app.state.container = container
    app.include_router(accounts)
    app.include_router(transactions)
    app.include_router(transfers)
    app.include_router(api_keys)
    app.include_router(audit)
    app.include_router(journal)
    app.include_router(service)
    install_problem_handlers(app)
    install_idempotency(app)
    install_openapi(app)
    # Added first, so it runs inside the body size limit; the last added runs outermost.
    app.add_middleware(TransactionPostingFastPath, container=container)
    app.add_middleware(BodySizeLimit, limit_bytes=settings.body_limit_bytes)
    app.add_middleware(UnexpectedErrors)
    observers: list[RequestObserver] = [container.metrics().record]
    if settings.log_format == "json" and settings.access_log:
        observers.append(log_request)
    # Outermost: its id and headers go on every answer, and its observers see every status
    # as the client got it, UnexpectedErrors' 500 included.
    app.add_middleware(RequestEdge, allowed_hosts=settings.allowed_hosts, observers=observers)
    return app


def create_app_from_environment() -> FastAPI:
    """The factory server workers call: settings come from BANK_* environment variables."""
    return create_app(Settings())
