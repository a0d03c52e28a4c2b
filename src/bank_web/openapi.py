"""The OpenAPI document: FastAPI's, made exact and completed.

FastAPI's own schema models hold numeric bounds as floats, so money never goes through them:
the request bodies mark where a money schema goes (``MONEY_SCHEMA_MARK``), and this module puts
the schema there afterwards with Decimal bounds, as it puts in the examples of
bank_web.openapi_examples. The document is served by the exact codec, so no float ever stands
between the domain's constants and the JSON a client reads."""

from __future__ import annotations

import copy
from decimal import Decimal
from http import HTTPStatus
from importlib import resources
from pathlib import Path
from typing import Any, Final

from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles

from bank_domain.account import MAX_CUSTOMER_NAME_LENGTH
from bank_domain.money import CENT, MAX_AMOUNT
from bank_domain.text import invisible_character_ranges
from bank_web.authentication import SCOPE_EXTRA
from bank_web.idempotency import IDEMPOTENCY_KEY_HEADER, REPLAYED_HEADER, is_kept
from bank_web.json_codec import ExactJSONResponse
from bank_web.openapi_examples import (
    ENTITY_TAG_EXAMPLE,
    MONEY_EXAMPLES,
    REQUEST_EXAMPLES,
    REQUEST_ID_EXAMPLE,
    SCHEMA_EXAMPLES,
)
from bank_web.problems import PROBLEM_MEDIA_TYPE
from bank_web.request_bodies import MONEY_SCHEMA_MARK, TEXT_PATTERN_MARK
from bank_web.request_ids import REQUEST_ID_PATTERN
from bank_web.response_models import AccountOut, TransactionOut
from bank_web.routes._http import REQUIRED_PARAMETER_MARK

OPENAPI_URL: Final = "/openapi.json"
DOCS_URL: Final = "/docs"
REDOC_URL: Final = "/redoc"
DOCS_ASSETS_URL: Final = "/docs/assets"
DOCS_ASSETS: Final = Path(str(resources.files("fastapi_offline") / "static"))
"""Swagger UI's and ReDoc's scripts, style sheet and icon, as the fastapi-offline package ships
them, so that the docs work with no internet access (contract section 7)."""
SECURITY_SCHEME: Final = "bearer"

_MONEY_SCHEMAS: Final[dict[str, dict[str, Any]]] = {
    "amount": {
        "type": "number",
        "exclusiveMinimum": Decimal(0),
        "maximum": MAX_AMOUNT,
        "multipleOf": CENT,
        "description": "An exact amount above zero with at most 2 decimal places.",
        "examples": MONEY_EXAMPLES,
    },
    "deposit": {
        "type": "number",
        "minimum": Decimal(0),
        "maximum": MAX_AMOUNT,
        "multipleOf": CENT,
        "description": "An exact amount, zero or more, with at most 2 decimal places.",
        "examples": MONEY_EXAMPLES,
    },
    "out": {
        "type": "number",
        "description": "Exact, 2 decimal places.",
        "examples": MONEY_EXAMPLES,
    },
}

_REQUEST_ID_HEADER: Final = {
    "description": "The request's id: the client's own X-Request-Id when it is 1 to 128 "
    "characters of `A-Z a-z 0-9 . _ -`, else one the server made; a problem body's "
    "`request_id`, and what events and history name the change by.",
    "required": True,
    "schema": {"type": "string", "pattern": REQUEST_ID_PATTERN, "examples": [REQUEST_ID_EXAMPLE]},
}
_ENTITY_TAG_HEADER: Final = {
    "description": 'The version, as "<version>": send it back as If-Match.',
    "required": True,
    "schema": {"type": "string", "pattern": '^"[0-9]+"$', "examples": [ENTITY_TAG_EXAMPLE]},
}
_REPLAYED_HEADER: Final = {
    "description": "`true` when this is the kept answer to an earlier request with the same "
    "Idempotency-Key (the same status and body again; nothing changed by this one). Absent "
    "otherwise.",
    "required": False,
    "schema": {"type": "string", "enum": ["true"]},
}
_IDEMPOTENCY_CODES: Final = (("409", "idempotency_key_in_use"), ("422", "idempotency_key_reused"))
_ENTITY_TAGGED: Final = frozenset(
    f"#/components/schemas/{model.__name__}" for model in (AccountOut, TransactionOut)
)
"""The answers that are one account or one transaction, which bank_web.responses always gives
their ETag."""


def install_openapi(app: FastAPI) -> None:
    """Serves the exact document at /openapi.json and the interactive docs at /docs and
    /redoc, their assets from this service; the app must be made with ``openapi_url=None,
    docs_url=None, redoc_url=None``."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = exact_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    async def openapi_document(request: Request) -> Response:
        return ExactJSONResponse(app.openapi())

    async def docs(request: Request) -> Response:
        return get_swagger_ui_html(
            openapi_url=OPENAPI_URL,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{DOCS_URL}/oauth2-redirect",
            swagger_js_url=f"{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS_URL}/favicon.png",
        )

    async def redoc(request: Request) -> Response:
        return get_redoc_html(
            openapi_url=OPENAPI_URL,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{DOCS_ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )

    async def oauth2_redirect(request: Request) -> Response:
        return get_swagger_ui_oauth2_redirect_html()

    app.add_route(OPENAPI_URL, openapi_document, include_in_schema=False)
    app.add_route(DOCS_URL, docs, include_in_schema=False)
    app.add_route(REDOC_URL, redoc, include_in_schema=False)
    app.add_route(f"{DOCS_URL}/oauth2-redirect", oauth2_redirect, include_in_schema=False)
    app.mount(DOCS_ASSETS_URL, StaticFiles(directory=DOCS_ASSETS), name="docs-assets")


def exact_openapi(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    _with_security(schema)
    _with_required_parameters(schema)
    _with_idempotency(schema)
    _with_problem_media_type(schema)
    _with_response_headers(schema)
    _with_money(schema)
    _with_text_patterns(schema)
    _with_examples(schema)
    return schema


def _with_security(schema: dict[str, Any]) -> None:
    """The bearer scheme, and on every operation that names a scope (``x-scope``, from
    bank_web.authentication.requires) its security, its scope in words, and 401/403."""
    schema.setdefault("components", {})["securitySchemes"] = {
        SECURITY_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": "The master key (BANK_MASTER_KEY) or a key's secret (bk_...), as "
            "`Authorization: Bearer <key>`.",
        }
    }
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            scope = operation.get(SCOPE_EXTRA)
            if scope is None:
                continue
            operation["security"] = [{SECURITY_SCHEME: [scope]}]
            operation["description"] = (
                f"{operation.get('description', '')}\n\n**Scope:** `{scope}`."
            ).lstrip()
            responses = operation.setdefault("responses", {})
            responses.setdefault(
                "401",
                {
                    "description": "No key, a malformed header, or an unknown, revoked or "
                    "expired key (`unauthenticated`; WWW-Authenticate: Bearer)"
                },
            )
            responses.setdefault(
                "403", {"description": f"The key does not hold `{scope}` (`forbidden`)"}
            )


def _with_required_parameters(schema: dict[str, Any]) -> None:
    """A query parameter marked required (``REQUIRED_PARAMETER_MARK``) is shown so, though
    FastAPI takes it as optional: its absence is the domain's to refuse."""
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("schema", {}).pop(REQUIRED_PARAMETER_MARK, False):
                    parameter["required"] = True


def _with_idempotency(schema: dict[str, Any]) -> None:
    """On every operation that takes an Idempotency-Key (bank_web.idempotency): its 409 and 422
    name the key's codes, and every answer that is kept says how its replay is marked. Runs
    before the passes that add the problem media type and the headers of every answer."""
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            names = {parameter.get("name") for parameter in operation.get("parameters", [])}
            if IDEMPOTENCY_KEY_HEADER not in names:
                continue
            responses = operation.setdefault("responses", {})
            for status, code in _IDEMPOTENCY_CODES:
                phrase = HTTPStatus(int(status)).phrase
                response = responses.setdefault(status, {"description": phrase})
                response["description"] += f"; `{code}` (Idempotency-Key)"
            for status, response in responses.items():
                if is_kept(int(status)):
                    response.setdefault("headers", {})[REPLAYED_HEADER] = copy.deepcopy(
                        _REPLAYED_HEADER
                    )


def _with_problem_media_type(schema: dict[str, Any]) -> None:
    """Error responses are problem+json, not the JSON FastAPI assumes; 422 is ours too."""
    problem = {"$ref": "#/components/schemas/Problem"}
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for status, response in operation.get("responses", {}).items():
                if status.startswith(("4", "5")):
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": problem}}
            extra = {"500": "Unexpected error"}
            if "requestBody" in operation:
                extra |= {"413": "Body too large", "415": "Body is not JSON"}
            for status, description in extra.items():
                operation["responses"].setdefault(
                    status,
                    {
                        "description": description,
                        "content": {PROBLEM_MEDIA_TYPE: {"schema": problem}},
                    },
                )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)


def _with_response_headers(schema: dict[str, Any]) -> None:
    """X-Request-Id on every answer (bank_web.edge gives it to all, problems included), and
    ETag on each answer that is one account or one transaction. Runs after the passes that add
    responses, so that theirs get the header too."""
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for status, response in operation.get("responses", {}).items():
                headers = response.setdefault("headers", {})
                # Copies: the later passes edit the document in place.
                headers["X-Request-Id"] = copy.deepcopy(_REQUEST_ID_HEADER)
                body = response.get("content", {}).get("application/json", {}).get("schema", {})
                if status.startswith("2") and body.get("$ref") in _ENTITY_TAGGED:
                    headers["ETag"] = copy.deepcopy(_ENTITY_TAG_HEADER)


def _with_money(node: Any) -> Any:
    """Puts the exact money schema wherever a request body or answer marked one."""
    if isinstance(node, dict):
        kind = node.pop(MONEY_SCHEMA_MARK, None)
        for key, value in node.items():
            node[key] = _with_money(value)
        if kind is not None:
            default = node.get("default")
            node.update({**_MONEY_SCHEMAS[kind], **node})
            if isinstance(default, str):
                node["default"] = Decimal(default)
        return node
    if isinstance(node, list):
        return [_with_money(item) for item in node]
    return node


def _text_patterns() -> dict[str, str]:
    """What the domain's text rules (bank_domain.text) accept, as JSON-schema patterns: a name,
    once its surrounding white space is trimmed, is not empty and has no control or format
    character; a description's only control characters are line breaks. A customer's name is
    also at most 200 characters once trimmed: the white space around it is not counted, so no
    maxLength can say it, and its pattern does."""
    invisible = "".join(
        _regex_char(first) if first == last else f"{_regex_char(first)}-{_regex_char(last)}"
        for first, last in invisible_character_ranges()
    )
    shown = rf"[^\s{invisible}]"
    return {
        "name": rf"^\s*[^{invisible}]*{shown}[^{invisible}]*\s*$",
        "customer_name": (
            rf"^\s*{shown}(?:[^{invisible}]{{0,{MAX_CUSTOMER_NAME_LENGTH - 2}}}{shown})?\s*$"
        ),
        "description": rf"^(?:[^{invisible}]|\r?\n)*$",
    }


def _regex_char(character: str) -> str:
    code_point = ord(character)
    # Astral characters stand as themselves: \u escapes name only the first plane.
    return f"\\u{code_point:04x}" if code_point <= 0xFFFF else character


def _with_text_patterns(node: Any, patterns: dict[str, str] | None = None) -> None:
    """Puts the pattern of a name's or a description's characters wherever one was marked."""
    patterns = patterns if patterns is not None else _text_patterns()
    if isinstance(node, dict):
        kind = node.pop(TEXT_PATTERN_MARK, None)
        if kind is not None:
            node["pattern"] = patterns[kind]
        for value in node.values():
            _with_text_patterns(value, patterns)
    elif isinstance(node, list):
        for item in node:
            _with_text_patterns(item, patterns)


def _with_examples(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    for name, examples in SCHEMA_EXAMPLES.items():
        components[name]["examples"] = examples
    for (method, path), named in REQUEST_EXAMPLES.items():
        content = schema["paths"][path][method]["requestBody"]["content"]
        content["application/json"]["examples"] = named
