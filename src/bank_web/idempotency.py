"""Idempotency keys over HTTP (API.md section 15): what the web layer does for the domain's
``bank_domain.idempotency``, which keeps the answers and decides when one is replayed.

This module only translates:

- the ``Idempotency-Key`` header and the request into a claim's key and fingerprint: the
  actor's id is the key's scope; the fingerprint is the SHA-256 of the method, the path and the
  JSON body compared as a JSON value (``json_codec.canonical``: key order, white space and the
  way a number is written do not count; ``500.0`` and ``500.00`` are one value);
- a route's answer, and a refusal's problem, into the answer kept (its status, its body's bytes
  and its ``Content-Type``, ``Location`` and ``ETag``); 401, 403, 422 and 5xx are not kept;
- a replay into the kept answer again, with ``Idempotent-Replayed: true``.

Every POST route under /v1 takes ``IdempotencyDep`` (``ExactJSONRoute`` refuses one that does
not, at start) and hands ``idempotency.claim(render)`` to its command, where ``render`` is the
function that makes the route's own answer from the use case's result.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Annotated, Final, TypeVar

from fastapi import Depends, FastAPI, Header, Request, Response
from pydantic.json_schema import SkipJsonSchema
from starlette.types import Scope

from bank_domain.actors import Actor
from bank_domain.errors import IDEMPOTENCY_KEY_FIELD, InvalidValue, LedgerError, StorageUnavailable
from bank_domain.idempotency import (
    MAX_KEY_LENGTH,
    IdempotencyClaim,
    IdempotencyKey,
    IdempotentReplay,
    KeptAnswer,
)
from bank_domain.ledger import Ledger
from bank_web import json_codec
from bank_web.authentication import actor_of_request
from bank_web.problems import problem_response, status_of

logger = logging.getLogger("bank_web")

IDEMPOTENCY_KEY_HEADER: Final = IDEMPOTENCY_KEY_FIELD
REPLAYED_HEADER: Final = "Idempotent-Replayed"
REPLAYED_RAW_HEADER: Final = (REPLAYED_HEADER.lower().encode("ascii"), b"true")
"""The replay's mark as an ASGI answer carries it (what counts answers must not count twice)."""
KEY_PATTERN: Final = rf"^[\x21-\x7e]{{1,{MAX_KEY_LENGTH}}}$"
_RAW_HEADER: Final = IDEMPOTENCY_KEY_HEADER.lower().encode("ascii")
_KEPT_HEADERS: Final = ("content-type", "location", "etag")
_UNKEPT_STATUSES: Final = frozenset({401, 403, 422})

Result = TypeVar("Result")


def is_kept(status: int) -> bool:
    """Answers 401, 403, 422 and 5xx are not kept: a corrected retry may use the key again."""
    return status not in _UNKEPT_STATUSES and status < 500


def kept_answer(response: Response) -> KeptAnswer:
    headers = tuple(
        (name, response.headers[name]) for name in _KEPT_HEADERS if name in response.headers
    )
    return KeptAnswer(response.status_code, bytes(response.body), headers)


def problem_of(error: LedgerError) -> Response:
    """The problem a refusal is answered with, as the app's handler answers it."""
    return problem_response(status_of(error), error.code, error.detail)


def replayed(replay: IdempotentReplay) -> Response:
    answer = replay.answer
    return Response(
        content=answer.body,
        status_code=answer.status,
        headers={**dict(answer.headers), REPLAYED_HEADER: "true"},
    )


async def _replay_handler(request: Request, error: Exception) -> Response:
    assert isinstance(error, IdempotentReplay)
    return replayed(error)


class IdempotencyClaims:
    """A request's Idempotency-Key, if it sent one, ready to become its command's claim."""

    def __init__(self, key: IdempotencyKey | None, fingerprint: str) -> None:
        self.key = key
        self.fingerprint = fingerprint

    def claim(
        self,
        render: Callable[[Result], Response],
        problem: Callable[[LedgerError], Response] = problem_of,
    ) -> IdempotencyClaim[Result] | None:
        """The claim for the command; ``render`` makes the route's answer from the result
        (what is kept is what it renders), ``problem`` its answer to a refusal (a route whose
        problems carry more than the usual fields gives its own). None when the request sent
        no key."""
        if self.key is None:
            return None

        def answer(result: Result) -> KeptAnswer:
            return kept_answer(render(result))

        def refusal(error: LedgerError) -> KeptAnswer | None:
            response = problem(error)
            return kept_answer(response) if is_kept(response.status_code) else None

        return IdempotencyClaim(self.key, self.fingerprint, answer, refusal)


def fingerprint(method: str, path: str, body: bytes) -> str:
    """The request, as the key's answer is bound to it: method, path and the body as a JSON
    value (a body that is no JSON, which the routes refuse before, by its bytes)."""
    try:
        document = json_codec.canonical(json_codec.loads(body)) if body else b""
    except (ValueError, TypeError, RecursionError):
        document = b"raw:" + body
    digest = hashlib.sha256(f"{method} {path}\n".encode())
    digest.update(document)
    return digest.hexdigest()


def _key_of(headers: list[tuple[bytes, bytes]], actor: Actor) -> IdempotencyKey | None:
    given = [value for name, value in headers if name == _RAW_HEADER]
    if not given:
        return None
    if len(given) > 1:
        raise InvalidValue(IDEMPOTENCY_KEY_FIELD, "Send one Idempotency-Key header.")
    return IdempotencyKey(actor.actor_id, given[0].decode("latin-1"))


async def idempotency_claims(
    request: Request,
    idempotency_key: Annotated[
        str | SkipJsonSchema[None],
        Header(
            alias=IDEMPOTENCY_KEY_HEADER,
            description="1 to 255 visible ASCII characters, scoped to your API key. The first "
            "answer with it is kept for at least 24 hours: a repeat with the same method, path "
            "and JSON body gets it again (with `Idempotent-Replayed: true`) and changes "
            "nothing; another request with the key is a 422 `idempotency_key_reused`; a repeat "
            "while the first still runs a 409 `idempotency_key_in_use`. Answers 401, 403, 422 "
            "and 5xx are not kept.",
            json_schema_extra={"pattern": KEY_PATTERN},
        ),
    ] = None,
) -> IdempotencyClaims:
    """The request's key, read from its headers (``idempotency_key`` is what OpenAPI shows:
    the header is read here, given twice it is a 422)."""
    if not any(name == _RAW_HEADER for name, _ in request.scope["headers"]):
        return IdempotencyClaims(None, "")
    actor = actor_of_request(request.scope)
    body = await request.body()
    return claims_of(request.scope, actor, request.method, request.url.path, body)


def claims_of(scope: Scope, actor: Actor, method: str, path: str, body: bytes) -> IdempotencyClaims:
    """A request's key (None without one; a malformed one, or one given twice, a 422) and its
    fingerprint: for the route's dependency above, and the posting fast path, which reads the
    body itself."""
    key = _key_of(scope["headers"], actor)
    if key is None:
        return IdempotencyClaims(None, "")
    return IdempotencyClaims(key, fingerprint(method, path, body))


IdempotencyDep = Annotated[IdempotencyClaims, Depends(idempotency_claims)]


async def forget_expired_periodically(
    ledger: Ledger, retention: timedelta, interval_seconds: float
) -> None:
    """Removes expired kept answers every ``interval_seconds`` (the first time one interval
    after the start), for as long as the server runs (cancelled at shutdown). An outage only
    postpones it; a defect is logged, and the next round tries again."""
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            removed = await ledger.forget_expired_idempotency_keys(retention)
        except StorageUnavailable as error:
            logger.warning("Expired idempotency keys were not removed: %s", error)
        except Exception:
            logger.exception("Removing expired idempotency keys failed")
        else:
            if removed:
                logger.info("Removed %d expired idempotency keys.", removed)


@contextlib.asynccontextmanager
async def expired_keys_removed(
    ledger: Ledger, retention: timedelta, interval_seconds: float
) -> AsyncIterator[None]:
    """The periodic removal, running while the block runs (the server's lifespan)."""
    task = asyncio.create_task(forget_expired_periodically(ledger, retention, interval_seconds))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def install_idempotency(app: FastAPI) -> None:
    """Replays are answered as kept, wherever in a route they are raised."""
    app.add_exception_handler(IdempotentReplay, _replay_handler)
