"""With ``BANK_LOG_FORMAT=json``, one JSON line per request, written by the service instead of
uvicorn's access line: its request id, the key that sent it, the method, the route's template,
the status and the duration. Never the path or the query, which may name an account or a
customer (``?customer_name=``), and never a header, which may carry a secret."""

from __future__ import annotations

import logging
from typing import Final

from bank_web.request_outcomes import RequestOutcome

ACCESS_LOGGER: Final = "bank_web.access"

_logger = logging.getLogger(ACCESS_LOGGER)


def log_request(outcome: RequestOutcome) -> None:
    _logger.info(
        "request",
        extra={
            "key_id": outcome.actor_id,
            "method": outcome.method,
            "route": outcome.route,
            "status": outcome.status,
            "duration_ms": round(outcome.seconds * 1000, 3),
        },
    )
