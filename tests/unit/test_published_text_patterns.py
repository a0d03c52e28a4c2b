"""The OpenAPI document's patterns for names and descriptions say what the domain accepts."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from bank_domain.account import customer_name
from bank_domain.errors import InvalidValue
from bank_domain.transaction import description
from bank_web.app import create_app
from bank_web.settings import Settings

NAMES = [
    "Ada Lovelace",
    "  Zoë 李 \t\n",
    "\u200b",
    "a\u202eb",
    "\x1b[31mred",
    "line\r\nbreak",
    "   ",
    "a\U000e0001",
    "\u00a0Ada\u2003",
    "e\u0301",
]
DESCRIPTIONS = ["one\ntwo", "one\r\ntwo", "one\rtwo", "tab\there", "\u2066x", "plain"]


def _accepts(rule: Callable[[str], object], value: str) -> bool:
    try:
        rule(value)
    except InvalidValue:
        return False
    return True


@pytest.fixture(scope="module")
def schemas() -> dict[str, Any]:
    document = create_app(Settings(database_url="memory://")).openapi()
    found: dict[str, Any] = document["components"]["schemas"]
    return found


@pytest.mark.parametrize("name", NAMES)
def test_the_name_pattern_accepts_what_the_domain_accepts(
    schemas: dict[str, Any], name: str
) -> None:
    pattern = schemas["AccountCreate"]["properties"]["customer_name"]["pattern"]
    assert bool(re.match(pattern, name)) == _accepts(customer_name, name)


LONG_NAMES = [
    "a" * 200,
    "a" * 201,
    "\n\t  " + "a" * 200 + " \u3000",
    "\n\t  " + "a" * 201 + " ",
    "a" + " " * 198 + "b",
    "a" + " " * 199 + "b",
    " " * 300 + "a",
]


@pytest.mark.parametrize("name", LONG_NAMES, ids=lambda name: f"{len(name)}-{len(name.strip())}")
def test_the_name_pattern_counts_as_the_domain_does_after_trimming(
    schemas: dict[str, Any], name: str
) -> None:
    """200 characters once trimmed (API.md section 2): the schema has no maxLength for it,
    which would count the white space around the name."""
    customer_name_schema = schemas["AccountCreate"]["properties"]["customer_name"]
    assert "maxLength" not in customer_name_schema
    assert bool(re.match(customer_name_schema["pattern"], name)) == _accepts(customer_name, name)


@pytest.mark.parametrize("text", DESCRIPTIONS)
def test_the_description_pattern_accepts_what_the_domain_accepts(
    schemas: dict[str, Any], text: str
) -> None:
    (string,) = [
        choice
        for choice in schemas["TransactionCreate"]["properties"]["description"]["anyOf"]
        if choice.get("type") == "string"
    ]
    assert bool(re.match(string["pattern"], text)) == _accepts(description, text)
