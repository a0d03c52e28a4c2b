"""Service routes: liveness, readiness and metrics."""

from fastapi import APIRouter, Response

from bank_web.dependencies import MetricsDep, StoreDep
from bank_web.json_codec import ExactJSONResponse
from bank_web.metrics import METRICS_CONTENT_TYPE
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


@service.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {METRICS_CONTENT_TYPE: {"schema": {"type": "string"}}}}},
)
async def metrics(metrics: MetricsDep) -> Response:
    """Prometheus' text format, every worker process counted: `bank_http_requests_total`
    (`method`, `route` as the path's template, `status`), `bank_http_request_duration_seconds`
    (a histogram by `method` and `route`) and `bank_postings_total`. No label names a customer's
    data. Needs no key, as `/health` and `/ready`: keep it off the public side of a proxy."""
    return Response(metrics.exposition(), media_type=METRICS_CONTENT_TYPE)
