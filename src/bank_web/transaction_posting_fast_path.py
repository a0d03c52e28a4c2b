"""POST /v1/transactions without FastAPI's per-request machinery.

Posting is the ledger's hot path, and under load FastAPI's routing, dependency solving and
exception plumbing cost more CPU than the posting itself (bench/README.md). This ASGI middleware
answers that one route directly, with the pieces the FastAPI route uses too: the authentication
(bank_web.authentication, first), the request reader (bank_web.body_reader), the ledger from
the same container, the response builder (bank_web.responses) and the problem responses. The
FastAPI route stays registered: it is what `/openapi.json` describes, and every other request
still goes through FastAPI. A posting with an ``Idempotency-Key`` is answered here too, as the
route answers it (bank_web.idempotency: its claim, read after the body as the route's
dependency reads it, and its replay): careful clients send a key with every posting.
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from bank_domain.api_keys import Scope as KeyScope
from bank_domain.idempotency import IdempotentReplay
from bank_web.body_reader import read_body, refuse_repeated_query_parameters
from bank_web.containers import Container
from bank_web.idempotency import claims_of, replayed
from bank_web.problems import expected_problem
from bank_web.request_bodies import TransactionCreate
from bank_web.responses import posting_response

POSTING_PATH: Final = "/v1/transactions"
POSTING_SCOPE: Final = KeyScope.TRANSACTIONS_WRITE
"""The posting route's scope, declared here once: its FastAPI route takes it from here too."""


class TransactionPostingFastPath:
    def __init__(self, app: ASGIApp, container: Container) -> None:
        self._app = app
        self._container = container

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Exactly what the router would match, and nothing more: no trailing slash, no mount.
        if (
            scope["type"] != "http"
            or scope["path"] != POSTING_PATH
            or scope["method"] != "POST"
            or scope.get("root_path")
        ):
            await self._app(scope, receive, send)
            return
        request = Request(scope, receive)
        response: Response
        try:
            # First, before the body is read: one cached look-up (bank_web.authentication).
            actor = await self._container.authenticator().require(scope, POSTING_SCOPE)
            refuse_repeated_query_parameters(scope["query_string"])
            body = await request.body()
            posting = read_body(TransactionCreate, request.headers.get("content-type", ""), body)
            claims = claims_of(scope, actor, "POST", POSTING_PATH, body)
            command = posting.command(actor, claims.claim(posting_response))
            response = posting_response(await self._container.ledger().post_transaction(command))
        except IdempotentReplay as replay:
            response = replayed(replay)
        except Exception as error:
            problem = await expected_problem(request, error)
            if problem is None:
                raise  # the app's UnexpectedErrors logs it and answers 500 without a trace
            response = problem
        await response(scope, receive, send)
