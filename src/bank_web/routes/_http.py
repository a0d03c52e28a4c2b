"""Pieces every route module shares: the router class, error docs, preconditions."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final, TypeVar

from fastapi import APIRouter

from bank_domain.pagination import Page
from bank_web.exact_json_route import ExactJSONRoute
from bank_web.json_codec import ExactJSONResponse
from bank_web.problems import Problem

_ENTITY_TAG = re.compile(r'^\s*(?:W/)?"(\d{1,18})"\s*$')
NEVER_MATCHES: Final = -1


def router(**kwargs: Any) -> APIRouter:
    return APIRouter(route_class=ExactJSONRoute, **kwargs)


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem responses a route may give."""
    return {status: {"model": Problem} for status in statuses}


def entity_tag(version: int) -> str:
    return f'"{version}"'


def expected_version(if_match: str | None) -> int | None:
    """The version an If-Match header names: None when absent or '*'; a tag that is no version
    of ours can never match, so the request fails its precondition."""
    if if_match is None or if_match.strip() == "*":
        return None
    match = _ENTITY_TAG.match(if_match)
    return int(match.group(1)) if match else NEVER_MATCHES


Item = TypeVar("Item")


def page_response(page: Page[Item], render: Callable[[Item], dict[str, Any]]) -> ExactJSONResponse:
    """A page of a listing as the API returns every list: items and the next cursor."""
    return ExactJSONResponse(
        {"items": [render(item) for item in page.items], "next_cursor": page.next_cursor}
    )
