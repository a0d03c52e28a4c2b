"""The one reader of requests, shared by the FastAPI routes (through ExactJSONRoute) and the
posting fast path: the media type, exact JSON, keys given twice, the body model, and query
parameters given twice. What it refuses it raises as InvalidInput (422) or a 415."""

from __future__ import annotations

import json
from itertools import islice
from typing import Any, Final, TypeVar
from urllib.parse import parse_qsl

from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from bank_web import json_codec
from bank_web.problems import MAX_LISTED_ERRORS, InvalidInput

Body = TypeVar("Body", bound=BaseModel)

_JSON_MEDIA_TYPES: Final = ("application/json",)
_FIELDS: dict[type[BaseModel], frozenset[str]] = {}


def is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type in _JSON_MEDIA_TYPES or media_type.endswith("+json")


def check_media_type(content_type: str, body: bytes) -> None:
    """A body is JSON: one of another media type, or of none named, is a 415."""
    if body and not is_json(content_type):
        raise HTTPException(415, "Request bodies are application/json.")


def read_body(model: type[Body], content_type: str, body: bytes) -> Body:
    """The body as ``model``: numbers arrive as Decimal, never float."""
    check_media_type(content_type, body)
    if not body:
        raise InvalidInput([{"loc": ["body"], "msg": "Field required"}])
    try:
        document = json_codec.loads(body)
    except json_codec.DuplicateKey as error:
        raise InvalidInput([{"loc": ["body", error.key], "msg": str(error)}]) from None
    except json.JSONDecodeError as error:
        raise InvalidInput(
            [{"loc": ["body", error.pos], "msg": f"The body is not valid JSON: {error.msg}"}]
        ) from None
    return validate(model, document)


def validate(model: type[Body], document: Any) -> Body:
    fields = _FIELDS.get(model)
    if fields is None:
        fields = _FIELDS[model] = frozenset(model.model_fields)
    if isinstance(document, dict) and not document.keys() <= fields:
        # Unknown keys: list the first ones only, and check the known fields alone, so that a
        # body of a million unknown keys costs no more than one of twenty.
        unknown = islice((key for key in document if key not in fields), MAX_LISTED_ERRORS)
        known = {key: document[key] for key in fields if key in document}
        errors = _errors_of(model, known) + [
            {"loc": ["body", key], "msg": "Extra inputs are not permitted"} for key in unknown
        ]
        raise InvalidInput(errors)
    try:
        return model.model_validate(document)
    except ValidationError as error:
        raise _refusal(model, _listed(error)) from None


def _refusal(model: type[BaseModel], errors: list[dict[str, Any]]) -> InvalidInput:
    """A body of items (a batch: ``items_field`` names them) whose every error is in its
    items is refused as its first refused item: that item's errors, and its index."""
    items_field = getattr(model, "items_field", None)
    places = [
        error["loc"][2]
        for error in errors
        if len(error["loc"]) > 2
        and error["loc"][1] == items_field
        and isinstance(error["loc"][2], int)
    ]
    if items_field is None or len(places) != len(errors):
        return InvalidInput(errors)
    index = min(places)
    return InvalidInput([e for e in errors if e["loc"][2] == index], index)


def _errors_of(model: type[BaseModel], document: dict[str, Any]) -> list[dict[str, Any]]:
    try:
        model.model_validate(document)
    except ValidationError as error:
        return _listed(error)
    return []


def _listed(error: ValidationError) -> list[dict[str, Any]]:
    items = error.errors(include_url=False, include_context=False, include_input=False)
    return [
        {
            "loc": [
                "body",
                *(part if isinstance(part, int) else str(part) for part in item["loc"]),
            ],
            "msg": item["msg"],
        }
        for item in items[:MAX_LISTED_ERRORS]
    ]


def refuse_repeated_query_parameters(query_string: bytes) -> None:
    """A query parameter given twice is a 422: no value of the two is silently preferred."""
    if not query_string:
        return
    names = [name for name, _ in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)]
    if len(names) == len(set(names)):
        return
    seen: set[str] = set()
    repeated: list[str] = []
    for name in names:
        if name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    raise InvalidInput(
        [{"loc": ["query", name], "msg": "Given more than once."} for name in repeated]
    )
