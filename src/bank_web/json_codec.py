"""JSON in and out with exact decimals: a number is read into a Decimal and written back from one,
so no amount ever passes through a float."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Final, NoReturn

import orjson
from starlette.responses import JSONResponse


def _refuse_constant(name: str) -> NoReturn:
    raise json.JSONDecodeError(f"{name} is not a JSON number", name, 0)


class DuplicateKey(ValueError):
    """A JSON object gives one key twice; the stdlib would keep the last value silently."""

    def __init__(self, key: str) -> None:
        super().__init__(f"The key {key!r} is given more than once.")
        self.key = key


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return document


_DECODER: Final = json.JSONDecoder(
    parse_float=Decimal, parse_constant=_refuse_constant, object_pairs_hook=_refuse_duplicate_keys
)


def loads(body: bytes) -> Any:
    """Parses a request body. A key given twice in one object is a DuplicateKey; every other
    failure (bad syntax, NaN, nesting too deep, a number too long to read) a JSONDecodeError."""
    try:
        # What json.loads does with bytes, with one decoder made once instead of per call.
        return _DECODER.decode(body.decode(json.detect_encoding(body), "surrogatepass"))
    except DuplicateKey:
        raise
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
