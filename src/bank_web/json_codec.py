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


def canonical(document: Any) -> bytes:
    """One text per JSON value, whatever the order of an object's keys, the white space, or the
    way a number is written: ``500``, ``500.0``, ``500.00`` and ``5E+2`` are one number. (A
    string is never a number: ``"500"`` stays apart.) For comparing documents, not for sending."""
    parts: list[str] = []
    _canonical_into(document, parts)
    return "".join(parts).encode("utf-8", "surrogatepass")


def _canonical_into(value: Any, parts: list[str]) -> None:
    if isinstance(value, dict):
        parts.append("{")
        for index, key in enumerate(sorted(value)):
            parts.append("," if index else "")
            parts.append(json.dumps(key))
            parts.append(":")
            _canonical_into(value[key], parts)
        parts.append("}")
    elif isinstance(value, list):
        parts.append("[")
        for index, item in enumerate(value):
            parts.append("," if index else "")
            _canonical_into(item, parts)
        parts.append("]")
    elif value is None or isinstance(value, bool | str):
        parts.append(json.dumps(value))
    elif isinstance(value, int | Decimal):
        parts.append(_canonical_number(Decimal(value)))
    else:
        raise TypeError(f"{type(value).__name__} is no value of a parsed JSON document")


def _canonical_number(number: Decimal) -> str:
    """The number's digits without trailing zeros and its exponent: exact for any size (no
    rounding to a context's precision, and no expansion of 1E+999999 into a million digits)."""
    sign, digits, exponent = number.as_tuple()
    if not isinstance(exponent, int):  # NaN and Infinity: the reader refuses them already
        raise TypeError("Not a finite number")
    significant = "".join(map(str, digits)).rstrip("0")
    if not significant:
        return "0"
    exponent += len(digits) - len(significant)
    return f"{'-' if sign else ''}{significant}e{exponent}"
