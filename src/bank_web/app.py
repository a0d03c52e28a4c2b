"""Builds the FastAPI application around one container."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from bank_web.body_limit import BodySizeLimit
from bank_web.containers import Container
from bank_web.posting_lane import PostingLane
from bank_web.problems import PROBLEM_MEDIA_TYPE, install_problem_handlers
from bank_web.routes.accounts import accounts
from bank_web.routes.service import service
from bank_web.routes.transactions import transactions
from bank_web.settings import Settings

DESCRIPTION = """
Bank accounts and their transactions, exact to the cent.

Amounts are exact decimals with at most 2 places, sent and returned as JSON numbers. Errors are
`application/problem+json` with a stable `code`. Account responses carry `ETag: "<version>"`;
send it back as `If-Match` to refuse a change to an account someone else changed first (412).
"""


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    settings = settings or Settings()
    container = container or Container()
    container.config.from_dict(settings.model_dump())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Everything loaded so far lives as long as the process: keep it out of the collector's
        # full passes, which otherwise walk it all and stall every request for tens of ms.
        gc.freeze()
        try:
            yield
        finally:
            await container.store().dispose()

    app = FastAPI(
        title="Bank ledger",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
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
    app.include_router(service)
    install_problem_handlers(app)
    # Added first, so it runs inside the body size limit.
    app.add_middleware(PostingLane, container=container)
    app.add_middleware(BodySizeLimit, limit_bytes=settings.body_limit_bytes)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _with_problem_media_type(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def create_app_from_environment() -> FastAPI:
    """The factory server workers call: settings come from BANK_* environment variables."""
    return create_app(Settings())


def _with_problem_media_type(schema: dict[str, Any]) -> dict[str, Any]:
    """Error responses are problem+json, not the JSON FastAPI assumes; 422 is ours too."""
    problem = {"$ref": "#/components/schemas/Problem"}
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for status, response in operation.get("responses", {}).items():
                if status.startswith(("4", "5")):
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": problem}}
            extra = {"500": "Unexpected error"}
            if "requestBody" in operation:
                extra |= {"413": "Body too large", "415": "Body is not JSON"}
            for status, description in extra.items():
                operation["responses"].setdefault(
                    status,
                    {
                        "description": description,
                        "content": {PROBLEM_MEDIA_TYPE: {"schema": problem}},
                    },
                )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    return schema
