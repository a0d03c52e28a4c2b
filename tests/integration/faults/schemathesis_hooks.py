"""The fuzzer's hook (test_hostile_input.py loads it through SCHEMATHESIS_HOOKS): six rules of
valid input that no schema can say, each refused with a 422, kept out of the valid cases.

- A new key's expires_at must be a future moment (API.md section 9). In the positive cases of
  POST /v1/api-keys alone, a moment that is not in the future (or past the last UTC instant
  the server can store) is moved by whole 400-year steps, the Gregorian calendar's cycle, so
  that the same text stays a valid date, 29 February included.
- A statement's `from` is at or before its `to` (API.md section 11). In the positive cases of
  GET /v1/accounts/{account_number}/statement alone, two moments in the wrong order are
  swapped.
- A transaction's expires_at is only on a pending one, in the next 30 days (API.md section
  12). In the positive cases of POST /v1/transactions and PATCH and PUT of a transaction, an
  expires_at given with `"status": "pending"` becomes a moment a day ahead; with any other
  status, or none (the stored one, which the hook cannot know), null (no expiry). The items
  of a batch, each shaped like the body of POST /v1/transactions, alike.
- A transfer moves money between two different accounts (API.md section 13). In the positive
  cases of POST /v1/transfers alone, a to_account equal to from_account gets its last digit
  changed.
- The items of a batch have different transaction ids (API.md section 14). In the positive
  cases of POST /v1/transactions/batch alone, an id given by an earlier item gets the item's
  index at its end.
- An Idempotency-Key is used for one request only (API.md section 15): the same key with
  another body is a 422 `idempotency_key_reused`. In the positive cases of every POST, a key
  gets a part of its own appended (staying 1 to 255 visible ASCII characters), so that no two
  generated requests share one.

Everything else is sent as generated, so a 422 for valid input stays a failure on every
operation, these two included.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import schemathesis
from schemathesis import Case, HookContext

KEY_CREATION: Final = "POST /v1/api-keys"
STATEMENT: Final = "GET /v1/accounts/{account_number}/statement"
TRANSACTION_WRITES: Final = frozenset(
    {
        "POST /v1/transactions",
        "PATCH /v1/transactions/{transaction_id}",
        "PUT /v1/transactions/{transaction_id}",
    }
)
TRANSFER: Final = "POST /v1/transfers"
BATCH: Final = "POST /v1/transactions/batch"
IDEMPOTENCY_KEY: Final = "idempotency-key"
MAX_KEY_LENGTH: Final = 255
CALENDAR_CYCLE_YEARS: Final = 400
MARGIN: Final = timedelta(days=1)
"""Future by at least this much when generated, so still future when the server reads it."""

_YEAR: Final = re.compile(r"[0-9]{4}-")


@schemathesis.hook("map_case")
def valid_input_by_rules_of_the_moment(context: HookContext, case: Case[Any]) -> Case[Any]:
    """Runs on the cases of every phase (examples written in the schema excepted: they are the
    API's own, and must hold as published)."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return case
    _give_its_own_idempotency_key(case)
    if case.operation.label == KEY_CREATION and isinstance(case.body, dict):
        expires_at = case.body.get("expires_at")
        if isinstance(expires_at, str):
            case.body = {**case.body, "expires_at": a_future_moment(expires_at)}
    elif case.operation.label in TRANSACTION_WRITES and isinstance(case.body, dict):
        case.body = with_a_valid_expiry(case.body)
    elif case.operation.label == STATEMENT and isinstance(case.query, dict):
        start, end = case.query.get("from"), case.query.get("to")
        if isinstance(start, str) and isinstance(end, str) and is_before(end, start):
            case.query = {**case.query, "from": end, "to": start}
    elif case.operation.label == TRANSFER and isinstance(case.body, dict):
        source, target = case.body.get("from_account"), case.body.get("to_account")
        if isinstance(target, str) and target[-1:].isdigit() and source == target:
            case.body = {**case.body, "to_account": target[:-1] + str((int(target[-1]) + 1) % 10)}
    elif case.operation.label == BATCH and isinstance(case.body, dict):
        items = case.body.get("transactions")
        if isinstance(items, list):
            valid = [
                with_a_valid_expiry(item) if isinstance(item, dict) else item for item in items
            ]
            case.body = {**case.body, "transactions": with_distinct_ids(valid)}
    return case


def with_a_valid_expiry(body: dict[str, Any]) -> dict[str, Any]:
    """A transaction's body whose expires_at, when given as text, is a day ahead on a pending
    one, and null on any other."""
    if not isinstance(body.get("expires_at"), str):
        return body
    pending = body.get("status") == "pending"
    ahead = (datetime.now(UTC) + MARGIN).isoformat() if pending else None
    return {**body, "expires_at": ahead}


def with_distinct_ids(items: list[Any]) -> list[Any]:
    """The items, each transaction id that an earlier item gave ending in the item's index
    instead (still 8 to 64 characters of the id's alphabet)."""
    seen: set[str] = set()
    distinct = []
    for index, item in enumerate(items):
        given = item.get("transaction_id") if isinstance(item, dict) else None
        if isinstance(given, str) and given in seen:
            suffix = f"-{index}"
            item = {**item, "transaction_id": given[: 64 - len(suffix)] + suffix}
        if isinstance(item, dict) and isinstance(item.get("transaction_id"), str):
            seen.add(item["transaction_id"])
        distinct.append(item)
    return distinct


def _give_its_own_idempotency_key(case: Case[Any]) -> None:
    if case.headers is None:
        return
    for name, value in list(case.headers.items()):
        if name.lower() == IDEMPOTENCY_KEY and isinstance(value, str):
            case.headers[name] = unique_idempotency_key(value)


def unique_idempotency_key(value: str) -> str:
    """``value`` with 32 hex digits of its own in place of its end, so at most 255 long."""
    return value[: MAX_KEY_LENGTH - 32] + uuid.uuid4().hex


def is_before(first: str, second: str) -> bool:
    """Whether one RFC 3339 moment with an offset comes before another; False for text that is
    no such moment (what the server makes of it is for the checks to judge)."""
    try:
        return _utc(first) < _utc(second)
    except (ValueError, OverflowError):
        return False


def _utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text.upper())
    if moment.utcoffset() is None:
        raise ValueError(f"{text} has no offset")
    return moment.astimezone(UTC)


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
