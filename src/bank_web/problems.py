"""Errors as application/problem+json: one table from domain error kinds to HTTP statuses."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bank_domain.errors import (
    IDEMPOTENCY_KEY_FIELD,
    Conflict,
    Forbidden,
    InvalidValue,
    ItemRefused,
    LedgerError,
    NotFound,
    StorageUnavailable,
    VersionMismatch,
)
from bank_web.json_codec import ExactJSONResponse
from bank_web.request_ids import current_request_id

logger = logging.getLogger("bank_web")

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
MAX_LISTED_ERRORS: Final = 20
BATCH_ITEMS: Final = "transactions"
"""The field of a batch's body that holds its items (bank_web.request_bodies.BatchCreate)."""
"""A 422 lists at most this many errors; whoever finds them stops looking after that many."""


class InvalidInput(Exception):
    """A request the API cannot read: a body that is no JSON, has unknown fields or wrong
    types, a query parameter given twice. ``errors`` are ``{"loc", "msg"}`` items."""

    def __init__(self, errors: list[dict[str, Any]], index: int | None = None) -> None:
        super().__init__("The request is not valid.")
        self.errors = errors[:MAX_LISTED_ERRORS]
        self.index = index
        """The item of a batch the errors are about, when they are about one."""


_STATUS_BY_ERROR_KIND: Final[tuple[tuple[type[LedgerError], HTTPStatus], ...]] = (
    (InvalidValue, HTTPStatus.UNPROCESSABLE_ENTITY),
    (NotFound, HTTPStatus.NOT_FOUND),
    (Forbidden, HTTPStatus.FORBIDDEN),
    (VersionMismatch, HTTPStatus.PRECONDITION_FAILED),
    (Conflict, HTTPStatus.CONFLICT),
    (StorageUnavailable, HTTPStatus.SERVICE_UNAVAILABLE),
)

_CODE_BY_HTTP_STATUS: Final = {
    401: "unauthenticated",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


class ProblemDetail(BaseModel):
    loc: list[str | int]
    msg: str


class Problem(BaseModel):
    """An error, as RFC 9457 problem details; ``code`` is stable and meant for programs."""

    type: str = Field(examples=["https://bank-ledger.example/problems/insufficient_funds"])
    title: str = Field(examples=["Conflict"])
    status: int = Field(examples=[409])
    detail: str = Field(
        examples=["Account 1234567890 holds 100.00; taking 200.00 would overdraw it."]
    )
    code: str = Field(examples=["insufficient_funds"])
    errors: list[ProblemDetail] | None = None
    request_id: str | None = Field(
        default=None,
        description="The request's id, as in its X-Request-Id answer header and the server's log.",
        examples=["4bf92f3577b34da6a3ce929d0e0e4736"],
    )
    index: int | None = Field(
        default=None,
        description="A batch's refused item, by its 0-based place: nothing of the batch was "
        "stored. Only on the answers of POST /v1/transactions/batch.",
    )


def problem_response(
    status: int,
    code: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    index: int | None = None,
) -> ExactJSONResponse:
    body: dict[str, Any] = {
        "type": f"https://bank-ledger.example/problems/{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors is not None:
        body["errors"] = errors
    if index is not None:
        body["index"] = index
    request_id = current_request_id()
    if request_id is not None:
        body["request_id"] = request_id
    return ExactJSONResponse(
        body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


def status_of(error: LedgerError) -> HTTPStatus:
    for kind, status in _STATUS_BY_ERROR_KIND:
        if isinstance(error, kind):
            return status
    return HTTPStatus.INTERNAL_SERVER_ERROR


def _where(request: Request, field: str) -> str:
    if field == IDEMPOTENCY_KEY_FIELD:
        return "header"
    if field in request.path_params:
        return "path"
    if field in request.query_params or request.method in ("GET", "HEAD", "DELETE"):
        return "query"
    return "body"


async def _ledger_error(request: Request, error: Exception) -> ExactJSONResponse:
    assert isinstance(error, LedgerError)
    if (
        isinstance(error, ItemRefused)
        and status_of(error.error) is not HTTPStatus.INTERNAL_SERVER_ERROR
    ):
        return item_refusal_problem(error)
    status = status_of(error)
    if status is HTTPStatus.INTERNAL_SERVER_ERROR:
        return await _unexpected_ledger_error(request, error)
    errors = None
    if isinstance(error, InvalidValue):
        errors = [{"loc": [_where(request, error.field), error.field], "msg": error.detail}]
    headers = {"Retry-After": "1"} if status is HTTPStatus.SERVICE_UNAVAILABLE else None
    return problem_response(status, error.code, error.detail, errors, headers)


def item_refusal_problem(error: LedgerError) -> ExactJSONResponse:
    """A batch's refusal: an item's is that item's own problem (its status and code), with its
    ``index``, and a 422's ``loc`` pointing into the item; any other, the usual problem."""
    if not isinstance(error, ItemRefused):
        return problem_response(status_of(error), error.code, error.detail)
    refused, index = error.error, error.index
    errors = None
    if isinstance(refused, InvalidValue):
        errors = [{"loc": ["body", BATCH_ITEMS, index, refused.field], "msg": refused.detail}]
    return problem_response(status_of(refused), refused.code, error.detail, errors, None, index)


def _readable(location: tuple[Any, ...]) -> list[str | int]:
    return [part if isinstance(part, int) else str(part) for part in location]


async def _validation_error(request: Request, error: Exception) -> ExactJSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [
        {"loc": _readable(tuple(item.get("loc", ()))), "msg": _message(item)}
        for item in error.errors()[:MAX_LISTED_ERRORS]
    ]
    return _invalid(errors)


async def _invalid_input(request: Request, error: Exception) -> ExactJSONResponse:
    assert isinstance(error, InvalidInput)
    return _invalid(error.errors, error.index)


def _invalid(errors: list[dict[str, Any]], index: int | None = None) -> ExactJSONResponse:
    summary = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5])
    detail = summary or "The request is not valid."
    return problem_response(422, "validation_error", detail, errors, index=index)


def _message(item: Mapping[str, Any]) -> str:
    if item.get("type") == "json_invalid":
        return f"The body is not valid JSON: {item.get('ctx', {}).get('error', 'unreadable')}"
    return str(item.get("msg", "invalid"))


async def _http_error(request: Request, error: Exception) -> ExactJSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = _CODE_BY_HTTP_STATUS.get(error.status_code, "http_error")
    detail = error.detail if isinstance(error.detail, str) else HTTPStatus(error.status_code).phrase
    headers = error.headers
    if error.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
        # Starlette names only the methods of the first route that matched the path.
        headers = {**(headers or {}), "Allow": ", ".join(sorted(_allowed_methods(request)))}
    return problem_response(error.status_code, code, detail, headers=headers)


def _allowed_methods(request: Request) -> set[str]:
    """Every method some route serves on the request's path; where a route names the path
    itself (``/v1/transactions/batch``), only that route's, as the API documents the path
    (a route with a parameter that also matches it, ``/v1/transactions/{transaction_id}``,
    is another path)."""
    methods: set[str] = set()
    named: set[str] = set()
    for route in _every_route(request.app.router.routes):
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            served = getattr(route, "methods", None) or set()
            methods |= served
            if getattr(route, "path", None) == request.scope["path"]:
                named |= served
    return named or methods


def _every_route(routes: list[BaseRoute]) -> list[BaseRoute]:
    """The routes of the app and of the routers it includes (FastAPI keeps an included router
    as one entry that holds the router's own routes)."""
    found: list[BaseRoute] = []
    for route in routes:
        included = getattr(route, "original_router", None)
        found += _every_route(included.routes) if included is not None else [route]
    return found


def _unexpected_error(scope: Scope, error: BaseException) -> ExactJSONResponse:
    logger.error(
        "Unexpected error on %s %s", scope.get("method"), scope.get("path"), exc_info=error
    )
    return problem_response(500, "internal_error", "The server met an unexpected error.")


async def _unexpected_ledger_error(request: Request, error: LedgerError) -> ExactJSONResponse:
    return _unexpected_error(request.scope, error)


async def expected_problem(request: Request, error: Exception) -> ExactJSONResponse | None:
    """The problem response for an error the API answers on purpose; None for any other."""
    if isinstance(error, LedgerError):
        return await _ledger_error(request, error)
    if isinstance(error, InvalidInput):
        return await _invalid_input(request, error)
    if isinstance(error, RequestValidationError):
        return await _validation_error(request, error)
    if isinstance(error, StarletteHTTPException):
        return await _http_error(request, error)
    return None


def install_problem_handlers(app: FastAPI) -> None:
    """The handlers for errors answered on purpose; the app's middleware must include
    UnexpectedErrors (just inside bank_web.edge.RequestEdge), which answers every other error."""
    app.add_exception_handler(LedgerError, _ledger_error)
    app.add_exception_handler(InvalidInput, _invalid_input)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


class UnexpectedErrors:
    """ASGI middleware, just inside RequestEdge: an error no handler answered is logged once at
    ERROR with the request's method and path, and answered 500 ``internal_error`` without a
    trace; nothing re-raises it to the server (which would log it a second time). A client
    that left in the middle of its request is no error: logged at debug, once."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        response_started = False

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, receive, tracking_send)
        except ClientDisconnect:
            logger.debug(
                "The client left during %s %s; nothing answered.", scope["method"], scope["path"]
            )
        except Exception as error:
            response = _unexpected_error(scope, error)
            if not response_started:
                await response(scope, receive, send)
