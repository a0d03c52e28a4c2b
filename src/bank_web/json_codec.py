"""JSON in and out with exact decimals: a number is read into a Decimal and written back from one,
so no amount ever passes through a float."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NoReturn

import simplejson
from starlette.responses import JSONResponse


def _refuse_constant(name: str) -> NoReturn:
    raise json.JSONDecodeError(f"{name} is not a JSON number", name, 0)


def loads(body: bytes) -> Any:
    """Parses a request body; every failure (bad syntax, NaN, nesting too deep, a number too
    long to read) is a JSONDecodeError, which FastAPI answers as a validation error."""
    try:
        return json.loads(body, parse_float=Decimal, parse_constant=_refuse_constant)
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as error:
        raise json.JSONDecodeError(str(error) or "unreadable JSON", "", 0) from None


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _encode_other(value: object) -> str:
    if isinstance(value, datetime):
        return rfc3339(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(content: Any) -> bytes:
    return simplejson.dumps(
        content,
        use_decimal=True,
        default=_encode_other,
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")


class ExactJSONResponse(JSONResponse):
    """Writes Decimals as JSON numbers digit for digit (500.00, 0.30), never via float."""

    def render(self, content: Any) -> bytes:
        return dumps(content)
