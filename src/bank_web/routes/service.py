"""Service routes: liveness and readiness."""

from typing import Annotated

from dependency_injector.wiring import Provide, inject
from fastapi import APIRouter, Depends, Response

from bank_adapters.stores import Store
from bank_web.containers import Container
from bank_web.json_codec import ExactJSONResponse
from bank_web.routes._http import problems
from bank_web.schemas import Health

service = APIRouter(tags=["service"])


@service.get("/health", response_model=Health)
async def health() -> Response:
    """200 while the process runs."""
    return ExactJSONResponse({"status": "ok"})


@service.get("/ready", response_model=Health, responses=problems(503))
@inject
async def ready(store: Annotated[Store, Depends(Provide[Container.store])]) -> Response:
    """200 when the database answers; 503 `service_unavailable` otherwise."""
    await store.ping()
    return ExactJSONResponse({"status": "ready"})
