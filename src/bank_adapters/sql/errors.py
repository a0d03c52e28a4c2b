"""The adapter's edge: database and driver errors become the ledger's errors.

A broken unique key becomes the matching Conflict; anything else the database or its driver
raises (refused connections, timeouts, a lost server, an exhausted pool) becomes
StorageUnavailable, so that an outage is answered with 503 and never leaks as a raw exception.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Final

import asyncpg
from sqlalchemy import PrimaryKeyConstraint, UniqueConstraint
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bank_adapters.sql.schema import metadata
from bank_domain.errors import Conflict, StorageUnavailable

_logger = logging.getLogger(__name__)

DRIVER_ERRORS: Final = (
    SQLAlchemyError,
    OSError,
    TimeoutError,
    sqlite3.Error,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
)
"""What a database call may raise when the database, rather than the ledger, is the problem."""


def _sqlite_messages() -> dict[str, str]:
    """SQLite names the columns of a broken unique key, never the key: map one to the other."""
    messages = {}
    for table in metadata.tables.values():
        for constraint in table.constraints:
            if isinstance(constraint, PrimaryKeyConstraint | UniqueConstraint):
                columns = ", ".join(f"{table.name}.{column.name}" for column in constraint.columns)
                messages[f"UNIQUE constraint failed: {columns}"] = str(constraint.name)
    return messages


_SQLITE_UNIQUE_MESSAGES: Final = _sqlite_messages()


def broken_unique_key(error: IntegrityError) -> str | None:
    """The name of the unique key (or primary key) an INSERT or UPDATE broke, if it was one."""
    driver_error = error.orig
    postgres_error = getattr(driver_error, "__cause__", None)
    if isinstance(postgres_error, asyncpg.UniqueViolationError):
        return postgres_error.constraint_name  # type: ignore[no-any-return]
    message = str(driver_error)
    for sqlite_message, key in _SQLITE_UNIQUE_MESSAGES.items():
        if message.startswith(sqlite_message) or f'unique constraint "{key}"' in message:
            return key
    return None


@contextmanager
def storage_errors(duplicates: Mapping[str, Conflict] | None = None) -> Iterator[None]:
    """Runs database calls, translating what they raise.

    ``duplicates`` maps a unique key's name to the conflict that breaking it means here.
    """
    try:
        yield
    except IntegrityError as error:
        conflict = (duplicates or {}).get(broken_unique_key(error) or "")
        if conflict is not None:
            raise conflict from error
        _logger.error("The database refused a change: %s", error.orig)
        raise StorageUnavailable("The database refused the change; nothing was stored.") from error
    except DRIVER_ERRORS as error:
        _logger.warning("The database did not answer: %r", error)
        raise StorageUnavailable("The database does not answer; try again later.") from error


def as_storage_unavailable(error: BaseException, failed: str) -> StorageUnavailable:
    """What every caller sharing a failed database call is told. ``storage_errors`` already
    translated the database's errors; anything else is a defect, logged here once."""
    if isinstance(error, StorageUnavailable):
        return error
    _logger.error("%s failed: %r", failed, error)
    return StorageUnavailable("The database could not do this; nothing was changed.")
