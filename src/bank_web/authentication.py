"""Who sends a request: the ``Authorization: Bearer <secret>`` of every route under ``/v1``.

A route declares the one scope it needs, once, with ``requires(Scope...)`` in its decorator's
``openapi_extra`` (it is also what OpenAPI shows, as ``x-scope``). The check runs as soon as the
route is matched and before the body is read: only the route's existence (404, 405) and the
body's size (413) come before a 401. The posting fast path runs the same check.

- No key, a malformed header, an unknown, revoked or expired key: 401 ``unauthenticated`` with
  ``WWW-Authenticate: Bearer``. A key without the route's scope: 403 ``forbidden``.
- The master key (``BANK_MASTER_KEY``) is compared in constant time and is the actor ``master``
  (every scope, every account); any other secret is the ledger's to recognise
  (``Ledger.authenticate``: one cached look-up, no database read per request).
- The actor, with the request's id, is kept in the request's scope for the route
  (``bank_web.dependencies.ActorDep``). No secret is ever logged or put in an answer.
"""

from __future__ import annotations

import hmac
from typing import Any, Final

from starlette.exceptions import HTTPException
from starlette.types import Scope as AsgiScope

from bank_domain.actors import MASTER, Actor
from bank_domain.api_keys import Scope
from bank_domain.errors import Forbidden
from bank_domain.ledger import Ledger
from bank_web.request_ids import current_request_id

SCOPE_EXTRA: Final = "x-scope"
"""The key in a route's ``openapi_extra`` that names the scope it needs."""
ACTOR_KEY: Final = "bank.actor"
"""Where the request's actor is kept in its ASGI scope."""
MIN_MASTER_KEY_LENGTH: Final = 32
BEARER_CHALLENGE: Final = {"WWW-Authenticate": "Bearer"}

_AUTHORIZATION: Final = b"authorization"
_BEARER: Final = b"bearer "


def requires(scope: Scope) -> dict[str, Any]:
    """The route metadata naming the scope a route needs: ``openapi_extra=requires(...)``."""
    return {SCOPE_EXTRA: scope.value}


def route_scope(openapi_extra: dict[str, Any] | None) -> Scope | None:
    value = (openapi_extra or {}).get(SCOPE_EXTRA)
    return None if value is None else Scope(value)


class Unauthenticated(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(401, detail, headers=BEARER_CHALLENGE)


class Authenticator:
    """Turns a request's Authorization header into its actor, or refuses it."""

    def __init__(self, master_key: str | None, ledger: Ledger) -> None:
        self._master = None if not master_key else master_key.encode("utf-8")
        self._ledger = ledger

    async def require(self, scope: AsgiScope, needed: Scope) -> Actor:
        """The actor of the request, allowed ``needed``; kept in the scope for the route."""
        actor = await self._actor(_bearer_secret(scope["headers"]))
        if needed not in actor.scopes:
            raise Forbidden(f"This key does not hold the {needed.value} scope.")
        actor = actor.with_request_id(current_request_id())
        scope[ACTOR_KEY] = actor
        return actor

    async def _actor(self, secret: bytes) -> Actor:
        if self._master is not None and hmac.compare_digest(secret, self._master):
            return MASTER
        try:
            text = secret.decode("ascii")
        except UnicodeDecodeError:
            text = ""
        actor = await self._ledger.authenticate(text) if text else None
        if actor is None:
            raise Unauthenticated("The key is unknown, revoked or expired.")
        return actor


def _bearer_secret(headers: list[tuple[bytes, bytes]]) -> bytes:
    """The secret of the one ``Authorization: Bearer <secret>`` header; else a 401."""
    found: bytes | None = None
    for name, value in headers:
        if name == _AUTHORIZATION:
            if found is not None:
                raise Unauthenticated("Send one Authorization header.")
            found = value
    if found is None:
        raise Unauthenticated("Send the key as Authorization: Bearer <key>.")
    value = found.strip()
    if value[:7].lower() != _BEARER:
        raise Unauthenticated("The Authorization header is Bearer <key>.")
    secret = value[7:].strip()
    if not secret or b" " in secret or b"\t" in secret:
        raise Unauthenticated("The Authorization header is Bearer <key>.")
    return secret


def actor_of_request(scope: AsgiScope) -> Actor:
    """The actor the authentication kept for this request."""
    actor: Actor = scope[ACTOR_KEY]
    return actor
