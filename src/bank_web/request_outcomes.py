"""What became of each HTTP request (method, route template, status, duration, who sent it),
measured once by the app's outermost middleware (bank_web.edge) and handed to whoever keeps
count: the metrics (bank_web.metrics) and, with ``BANK_LOG_FORMAT=json``, the access log
(bank_web.access_log).

No field carries a customer's data: the route is the path's template (``/v1/accounts/
{account_number}``, never a number), the method one the service knows (else ``other``), and a
path that matches no route is ``unmatched``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from starlette.types import Scope

from bank_web.authentication import ACTOR_KEY

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


def outcome_of(scope: Scope, status: int, seconds: float, *, replayed: bool) -> RequestOutcome:
    """What became of the request of ``scope``, answered with ``status`` after ``seconds``.
    ``bank_web.edge.RequestEdge`` measures it: it sees every answer, the 500s of
    UnexpectedErrors and its own refusals included, as the client gets it."""
    method: str = scope["method"]
    actor = scope.get(ACTOR_KEY)
    return RequestOutcome(
        method=method if method in KNOWN_METHODS else OTHER_METHOD,
        route=_route_template(scope),
        status=status,
        seconds=seconds,
        actor_id=None if actor is None else actor.actor_id,
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
