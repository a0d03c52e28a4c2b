"""What became of each HTTP request (method, route template, status, duration, who sent it),
measured once by one ASGI middleware and handed to whoever keeps count: the metrics
(bank_web.metrics) and, with ``BANK_LOG_FORMAT=json``, the access log (bank_web.access_log).

No field carries a customer's data: the route is the path's template (``/v1/accounts/
{account_number}``, never a number), the method one the service knows (else ``other``), and a
path that matches no route is ``unmatched``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bank_web.authentication import ACTOR_KEY
from bank_web.idempotency import REPLAYED_RAW_HEADER

UNMATCHED_ROUTE: Final = "unmatched"
OTHER_METHOD: Final = "other"
KNOWN_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
POSTING_ROUTE: Final = "/v1/transactions"
"""Answered by the posting fast path before any router runs: named here, as its template is
the path itself."""


@dataclass(frozen=True, slots=True)
class RequestOutcome:
    method: str
    route: str
    status: int
    seconds: float
    actor_id: str | None
    """The key's id, ``master``, or None when no key was accepted."""
    replayed: bool = False
    """The answer was a kept one given again (``Idempotent-Replayed``): nothing was done."""


RequestObserver = Callable[[RequestOutcome], None]


class RequestOutcomes:
    """ASGI middleware. It runs outside UnexpectedErrors, so that a 500 is seen as the status
    the client got."""

    def __init__(self, app: ASGIApp, observers: Sequence[RequestObserver]) -> None:
        self._app = app
        self._observers = tuple(observers)

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
                replayed = REPLAYED_RAW_HEADER in message.get("headers", ())
            await send(message)

        try:
            await self._app(scope, receive, send_noting_status)
        finally:
            method: str = scope["method"]
            actor = scope.get(ACTOR_KEY)
            outcome = RequestOutcome(
                method=method if method in KNOWN_METHODS else OTHER_METHOD,
                route=_route_template(scope),
                status=status,
                seconds=perf_counter() - started,
                actor_id=None if actor is None else actor.actor_id,
                replayed=replayed,
            )
            for observe in self._observers:
                observe(outcome)


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
