"""The adapter's edge: database and driver errors become the ledger's errors.

A broken unique key becomes the matching Conflict (or, for a key with no meaning here, a race
worth retrying: StorageUnavailable); anything else the database or its driver raises (refused
connections, timeouts, a lost server, an exhausted pool) becomes StorageUnavailable, so that an
outage is answered with 503 and never leaks as a raw exception. A broken CHECK, foreign key or
NOT NULL is different: the ledger tried to store what its own rules forbid, which no retry
cures. That is a defect, and goes up as it is, to be logged and answered 500. So are the
journal's two refusals, each told as what it is: its trigger's refusal of any change to an entry
(``JournalRewriteRefused``) and its key's refusal of an entry id taken already
(``EntryDoesNotFollow``).
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

from bank_adapters.sql.schema import JOURNAL_ENTRIES_KEY, metadata
from bank_domain.errors import Conflict, StorageUnavailable

_logger = logging.getLogger(__name__)

JOURNAL_GUARD_MESSAGE: Final = "journal_entries is append-only"
"""How the database's trigger (migration 0006_journal) begins its refusal of an UPDATE, DELETE
or TRUNCATE of a journal entry, on both databases."""


class JournalRewriteRefused(RuntimeError):
    """The database refused to change or remove a journal entry, as its trigger always does:
    whatever sent the statement is wrong (no code of the ledger does), and nothing changed."""


class EntryDoesNotFollow(RuntimeError):
    """A journal entry whose (account, entry id) is taken: written from an account read without
    its lock, or twice. Under the lock the next id is always free, so this is the ledger's
    defect, never a race to retry."""


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

_NOT_ANSWERING: Final = (
    OSError,
    TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
)


def not_answering(reason: object) -> bool:
    """Whether a driver's error says the server could not be reached (refused, timed out,
    starting up, full), which may pass, rather than that it refused us, which will not."""
    return isinstance(reason, _NOT_ANSWERING) and not isinstance(reason, sqlite3.Error)


def _sqlite_messages() -> dict[str, str]:
    """SQLite names the columns of a broken unique key, never the key: map one to the other.
    A unique key is a primary key, a unique constraint or a unique index."""
    messages = {}
    for table in metadata.tables.values():
        keys = [
            constraint
            for constraint in table.constraints
            if isinstance(constraint, PrimaryKeyConstraint | UniqueConstraint)
        ]
        for key in [*keys, *(index for index in table.indexes if index.unique)]:
            columns = ", ".join(f"{table.name}.{column.name}" for column in key.columns)
            messages[f"UNIQUE constraint failed: {columns}"] = str(key.name)
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
        key = broken_unique_key(error)
        refusal = _journal_refusal(error.orig, key)
        if refusal is not None:
            raise refusal from error
        if key is None:
            raise  # a CHECK or foreign key: the ledger's defect, not the database's
        conflict = (duplicates or {}).get(key)
        if conflict is not None:
            raise conflict from error
        _logger.warning("Another writer took the same key %s first: %s", key, error.orig)
        raise StorageUnavailable("Another change took the same key; try again.") from error
    except asyncpg.IntegrityConstraintViolationError as error:
        # The driver's own error, from statements sent to asyncpg directly (grouped postings).
        refusal = _journal_refusal(error, getattr(error, "constraint_name", None))
        if refusal is not None:
            raise refusal from error
        if not isinstance(error, asyncpg.UniqueViolationError):
            raise
        _logger.warning("Another writer took the same key first: %s", error)
        raise StorageUnavailable("Another change took the same key; try again.") from error
    except DRIVER_ERRORS as error:
        if _ran_too_long(error):
            _logger.warning("The database cancelled a statement that ran too long: %r", error)
            raise StorageUnavailable(
                "The database took too long to answer and cancelled the request; try again later."
            ) from error
        _logger.warning("The database did not answer: %r", error)
        raise StorageUnavailable("The database does not answer; try again later.") from error


def _journal_refusal(driver_error: object, broken_key: str | None) -> RuntimeError | None:
    """The error that says what the database refused, if it refused a journal entry: its
    trigger refused a change, or its key an entry that does not follow."""
    if JOURNAL_GUARD_MESSAGE in str(driver_error):
        return JournalRewriteRefused(
            f"The database refused to change or remove a journal entry: {driver_error}"
        )
    if broken_key == JOURNAL_ENTRIES_KEY:
        return EntryDoesNotFollow(
            "A journal entry's id was taken already in its account's journal: the entry was "
            f"made from an account read without its lock. {driver_error}"
        )
    return None


def _ran_too_long(error: BaseException) -> bool:
    """PostgreSQL cancelled a statement that ran over its statement_timeout."""
    driver_error = getattr(error, "orig", None)
    cause = getattr(driver_error, "__cause__", None)
    return any(isinstance(e, asyncpg.QueryCanceledError) for e in (error, driver_error, cause))


def is_ledger_defect(error: BaseException) -> bool:
    """Whether the database refused a change because it breaks the schema's rules (a CHECK, a
    foreign key, NOT NULL) rather than a unique key: the ledger's bug, never an outage."""
    if isinstance(error, IntegrityError):
        return broken_unique_key(error) is None
    return isinstance(error, asyncpg.IntegrityConstraintViolationError) and not isinstance(
        error, asyncpg.UniqueViolationError
    )


def failure_to_share(error: BaseException, failed: str) -> BaseException:
    """What every caller sharing a failed database call is told. ``storage_errors`` already
    translated the database's errors; a change the schema refused is the ledger's defect and
    is told as it is (a 500, not a 503 "retry later"); anything else is a defect too, logged
    here once."""
    if isinstance(error, StorageUnavailable):
        return error
    if is_ledger_defect(error):
        return error
    _logger.error("%s failed: %r", failed, error)
    return StorageUnavailable("The database could not do this; nothing was changed.")
