"""Service routes: liveness and readiness."""

from fastapi import APIRouter, Response

from bank_web.dependencies import StoreDep
from bank_web.json_codec import ExactJSONResponse
from bank_web.response_models import Health
from bank_web.routes._http import problems

service = APIRouter(tags=["service"])


@service.get("/health", response_model=Health)
async def health() -> Response:
    """200 while the process runs."""
    return ExactJSONResponse({"status": "ok"})


@service.get("/ready", response_model=Health, responses=problems(503))
async def ready(store: StoreDep) -> Response:
    """200 when the database answers; 503 `service_unavailable` otherwise."""
    await store.ping()
    return ExactJSONResponse({"status": "ready"})
