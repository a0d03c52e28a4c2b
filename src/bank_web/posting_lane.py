"""POST /v1/transactions without FastAPI's per-request machinery.

Posting is the ledger's hot path, and under load FastAPI's routing, dependency solving and
exception plumbing cost more CPU than the posting itself (bench/README.md). This ASGI middleware
answers that one route directly: it reads the body with the same exact-decimal parser, validates
it with the same pydantic model, calls the same endpoint function (`routes.transactions.
post_transaction`) with the ledger from the same container, and turns errors into the same
problem responses. The FastAPI route stays registered: it is what `/openapi.json` describes,
and every other request still goes through FastAPI.
"""

from __future__ import annotations

import json
from typing import Final

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from bank_web import json_codec
from bank_web.containers import Container
from bank_web.exact_json_route import ExactJSONRequest, is_json
from bank_web.problems import expected_problem, problem_response
from bank_web.routes.transactions import post_transaction
from bank_web.schemas import TransactionCreate

POSTING_PATH: Final = "/v1/transactions"


class PostingLane:
    def __init__(self, app: ASGIApp, container: Container) -> None:
        self._app = app
        self._container = container

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] not in (POSTING_PATH, POSTING_PATH + "/")
        ):
            await self._app(scope, receive, send)
            return
        request = ExactJSONRequest(scope, receive)
        try:
            response = await self._post(request)
        except Exception as error:
            problem = await expected_problem(request, error)
            if problem is None:
                raise  # the server's catch-all logs it and answers 500 without a trace
            response = problem
        await response(scope, receive, send)

    async def _post(self, request: ExactJSONRequest) -> Response:
        body = await request.body()
        if body and not is_json(request.headers.get("content-type", "")):
            return problem_response(
                415, "unsupported_media_type", "Request bodies are application/json."
            )
        if not body:
            raise RequestValidationError(
                [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
            )
        try:
            document = json_codec.loads(body)
        except json.JSONDecodeError as error:
            raise RequestValidationError(
                [
                    {
                        "type": "json_invalid",
                        "loc": ("body", error.pos),
                        "msg": "JSON decode error",
                        "input": {},
                        "ctx": {"error": error.msg},
                    }
                ]
            ) from None
        try:
            posting = TransactionCreate.model_validate(document, from_attributes=True)
        except ValidationError as error:
            raise RequestValidationError(
                [{**item, "loc": ("body", *item["loc"])} for item in error.errors()]
            ) from None
        return await post_transaction(request, posting, self._container.ledger())
