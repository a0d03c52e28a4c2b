"""JSON in and out with exact decimals: a number is read into a Decimal and written back from one,
so no amount ever passes through a float."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, NoReturn

import orjson
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


def _encode_other(value: object) -> orjson.Fragment:
    if isinstance(value, Decimal) and value.is_finite():
        # A Fragment goes into the document as it is: the Decimal's own digits, as a number.
        return orjson.Fragment(format(value, "f"))
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(content: Any) -> bytes:
    """Timestamps come out as RFC 3339 in UTC ("...Z"); the ledger's are all UTC already."""
    return orjson.dumps(content, default=_encode_other, option=orjson.OPT_UTC_Z)


class ExactJSONResponse(JSONResponse):
    """Writes Decimals as JSON numbers digit for digit (500.00, 0.30), never via float."""

    def render(self, content: Any) -> bytes:
        return dumps(content)
