"""Timezone-aware UTC timestamps, exact to the microsecond, on every supported database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import DateTime, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

SQLITE_TIMESTAMP_LENGTH: Final = 32


class UtcDateTime(TypeDecorator[datetime]):
    """PostgreSQL keeps a ``timestamptz``. SQLite has no date type, so it keeps a fixed-width
    ISO-8601 UTC text (``2024-05-01T12:00:00.000000Z``) whose text order is time order, which
    ORDER BY and every comparison rely on. Naive datetimes are refused: their zone is a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(SQLITE_TIMESTAMP_LENGTH))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | str | None:
        if value is None:
            return None
        return utc_text(value) if dialect.name == "sqlite" else _in_utc(value)

    def process_result_value(self, value: object, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return from_utc_text(value)
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        raise TypeError(f"Not a stored timestamp: {value!r}")


def utc_text(value: datetime) -> str:
    """The fixed-width ISO-8601 UTC text of an aware timestamp (``2024-05-01T12:00:00.000000Z``),
    as SQLite keeps it and as an event's data holds it."""
    return _in_utc(value).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def from_utc_text(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _in_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"A stored timestamp carries its time zone; {value!r} has none.")
    return value.astimezone(UTC)
