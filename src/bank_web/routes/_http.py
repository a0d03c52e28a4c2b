"""Pieces every route module shares: the router class, error docs, preconditions, pages."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, Final, TypeVar

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel, BeforeValidator
from pydantic.json_schema import SkipJsonSchema

from bank_domain.errors import VersionMismatch
from bank_domain.pagination import MAX_PAGE_SIZE, Page
from bank_web.exact_json_route import ExactJSONRoute
from bank_web.json_codec import ExactJSONResponse
from bank_web.problems import Problem

_ENTITY_TAG = re.compile(r'^\s*(?:W/)?"(\d{1,18})"\s*$')
_RFC_3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
NEVER_MATCHES: Final = -1

PageLimit = Annotated[
    int | None,
    Query(
        description="1 to 500, default 50.",
        json_schema_extra={"minimum": 1, "maximum": MAX_PAGE_SIZE},
    ),
]
"""A list's page size; the domain reads it (bank_domain.pagination.page_size)."""
PageCursor = Annotated[str | None, Query(description="next_cursor of the previous page.")]
"""Where a list goes on; an empty one is the first page (``cursor_given``)."""

IfMatch = Annotated[
    str | SkipJsonSchema[None],
    Header(
        description='The ETag ("<version>") last seen; a stale one is refused with 412, and so '
        "is any value that is no ETag of ours (it never matches).",
        # Published, not enforced: any other value is read, and never matches (412).
        json_schema_extra={"pattern": r'^\s*(\*|(W/)?"[0-9]{1,18}")\s*$'},
    ),
]


def _rfc_3339(value: object) -> object:
    """Only RFC 3339 text, with its offset: pydantic alone would also read "0.5" as a Unix time."""
    if isinstance(value, str) and _RFC_3339.fullmatch(value):
        return value
    raise ValueError("A moment is an RFC 3339 date-time with a UTC offset.")


Moment = Annotated[
    datetime | None,
    BeforeValidator(_rfc_3339),
    Query(description="RFC 3339 with a UTC offset; inclusive."),
]

ONLY_RFC_3339: Final = BeforeValidator(_rfc_3339)
"""Reads a moment from RFC 3339 text with its offset alone (for parameters beside ``Moment``)."""

REQUIRED_PARAMETER_MARK: Final = "x-bank-required"
"""In a query parameter's ``json_schema_extra``: OpenAPI shows the parameter as required while
FastAPI lets it be left out (None), so that the domain refuses its absence in its own words
(422); bank_web.openapi moves the mark to the parameter's ``required``."""


def router(**kwargs: Any) -> APIRouter:
    return APIRouter(route_class=ExactJSONRoute, **kwargs)


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem responses a route may give."""
    return {status: {"model": Problem} for status in statuses}


def created_or_repeated(
    model: type[BaseModel], repeated: str, *statuses: int
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries of a POST that makes something (201) and answers a safe retry, which
    ``repeated`` describes, with 200; and the problems it may give."""
    return {200: {"model": model, "description": repeated}, **problems(*statuses)}


def expected_version(if_match: str | None) -> int | None:
    """The version an If-Match header names: None when absent or '*'; a tag that is no version
    of ours can never match, so the request fails its precondition."""
    if if_match is None or if_match.strip() == "*":
        return None
    match = _ENTITY_TAG.match(if_match)
    return int(match.group(1)) if match else NEVER_MATCHES


@contextmanager
def precondition(if_match: str | None) -> Iterator[int | None]:
    """The version to expect; a 412 for a tag that never matches says so, not which number
    stood in for it."""
    version = expected_version(if_match)
    try:
        yield version
    except VersionMismatch:
        if version != NEVER_MATCHES:
            raise
        raise VersionMismatch(
            'If-Match names no version of ours (an ETag is "<version>"), so it never matches.'
        ) from None


def cursor_given(cursor: str | None) -> str | None:
    """An empty cursor asks for the first page, as no cursor does."""
    return cursor or None


Item = TypeVar("Item")


def page_response(page: Page[Item], render: Callable[[Item], dict[str, Any]]) -> ExactJSONResponse:
    """A page of a listing as the API returns every list: items and the next cursor."""
    return ExactJSONResponse(
        {"items": [render(item) for item in page.items], "next_cursor": page.next_cursor}
    )
