"""A FastAPI route class whose requests are authenticated first (bank_web.authentication), then
read by bank_web.body_reader, as the posting fast path reads its own: FastAPI's own body parsing
then receives the model, already validated."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel

from bank_web.authentication import route_scope
from bank_web.body_reader import check_media_type, read_body, refuse_repeated_query_parameters
from bank_web.containers import Container
from bank_web.idempotency import idempotency_claims


class ExactJSONRequest(Request):
    """A request whose JSON is the body model bank_web.body_reader made of it."""

    body_model: BaseModel | None = None

    async def json(self) -> Any:
        return self.body_model


API_PREFIX = "/v1/"


class ExactJSONRoute(APIRoute):
    """Every route under /v1 names its scope (``openapi_extra=requires(...)``) and is
    authenticated before anything else of the request is read (401, 403); every POST under /v1
    takes an Idempotency-Key (``bank_web.idempotency.IdempotencyDep``). Bodies are JSON read
    with exact decimals (415 for another media type, or none named); a query parameter given
    twice is a 422."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        body_params = self.dependant.body_params
        model = _body_model(body_params[0].field_info.annotation) if body_params else None
        needed = route_scope(self.openapi_extra)
        if needed is None and self.path.startswith(API_PREFIX):
            raise TypeError(f"{self.path} names no scope: openapi_extra=requires(Scope...)")
        if "POST" in (self.methods or ()) and self.path.startswith(API_PREFIX):
            _require_idempotency(self)

        async def handle_exactly(request: Request) -> Response:
            if needed is not None:
                container: Container = request.app.state.container
                await container.authenticator().require(request.scope, needed)
            exact = ExactJSONRequest(request.scope, request.receive)
            refuse_repeated_query_parameters(request.scope["query_string"])
            body = await exact.body()
            content_type = exact.headers.get("content-type", "")
            if model is None:
                check_media_type(content_type, body)
            else:
                exact.body_model = read_body(model, content_type, body)
            return await handle(exact)

        return handle_exactly


def _require_idempotency(route: APIRoute) -> None:
    """Every POST under /v1 takes an Idempotency-Key (API.md section 15)."""
    if not any(
        dependency.call is idempotency_claims for dependency in route.dependant.dependencies
    ):
        raise TypeError(
            f"POST {route.path} takes no Idempotency-Key: give it an `IdempotencyDep` parameter "
            "and pass `idempotency.claim(render)` to its command (docs/ARCHITECTURE.md)."
        )


def _body_model(annotation: object) -> type[BaseModel]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    raise TypeError(f"A body is one pydantic model, not {annotation!r}")
