"""The fuzzer's one hook (test_hostile_input.py loads it through SCHEMATHESIS_HOOKS).

A new key's expires_at must be a future moment (API.md section 9): a rule of the moment, which
no schema can say, refused with a 422. So a schema-valid expires_at that the server must refuse
never goes out as valid input: in the positive cases of POST /v1/api-keys alone, a moment that
is not in the future (or past the last UTC instant the server can store) is moved by whole
400-year steps, the Gregorian calendar's cycle, so that the same text stays a valid date,
29 February included. Everything else is sent as generated, so a 422 for valid input stays a
failure on every operation, this one included.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import schemathesis
from schemathesis import Case, HookContext

KEY_CREATION: Final = "POST /v1/api-keys"
CALENDAR_CYCLE_YEARS: Final = 400
MARGIN: Final = timedelta(days=1)
"""Future by at least this much when generated, so still future when the server reads it."""

_YEAR: Final = re.compile(r"[0-9]{4}-")


@schemathesis.hook("map_case")
def future_expiry_for_new_keys(context: HookContext, case: Case[Any]) -> Case[Any]:
    """Runs on the cases of every phase (examples written in the schema excepted: they are the
    API's own, and must hold as published)."""
    if case.operation.label != KEY_CREATION or case.meta is None:
        return case
    if not case.meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return case
    expires_at = case.body.get("expires_at")
    if isinstance(expires_at, str):
        case.body = {**case.body, "expires_at": a_future_moment(expires_at)}
    return case


def a_future_moment(text: str, now: datetime | None = None) -> str:
    """``text`` if it is a moment after ``now`` plus the margin that UTC can hold; otherwise
    the first such moment with only its year moved by 400-year steps. Text that is no moment
    with an offset is left as it is: what the server makes of it is for the checks to judge."""
    if not _YEAR.match(text):
        return text
    try:
        moment = datetime.fromisoformat(text.upper())  # RFC 3339 allows "t" and "z" too
    except ValueError:
        return text
    if moment.utcoffset() is None:
        return text
    earliest = (now or datetime.now(UTC)) + MARGIN
    steps = (0, *range(1, 10_000 // CALENDAR_CYCLE_YEARS + 1), -1)
    for year in (moment.year + step * CALENDAR_CYCLE_YEARS for step in steps):
        if 1 <= year <= 9999 and _is_after(moment.replace(year=year), earliest):
            return f"{year:04d}{text[4:]}"
    return text


def _is_after(moment: datetime, earliest: datetime) -> bool:
    try:
        return moment.astimezone(UTC) > earliest
    except OverflowError:  # 9999-12-31T23:00:00-05:00 is after the last UTC instant
        return False
