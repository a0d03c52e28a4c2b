"""The one place that speaks SQL for a group: lock its accounts' rows, write its changes,
commit, on a kept connection's asyncpg driver.

The statements go to the driver directly (SQLAlchemy keeps the pool and the schema): on this
path SQLAlchemy's own work would cost more than the database's. A group sends BEGIN, one
``SELECT ... FOR UPDATE``, one statement that writes every table changed (``WRITE_GROUP``: the
transactions, the accounts with the heads of their journals, the postings' journal entries and
their events, the rows as JSON), and COMMIT: a posting's transaction, account, entry and event
commit together or not at all.
"""

from __future__ import annotations

import functools
from typing import Any

from bank_adapters.sql.errors import storage_errors
from bank_adapters.sql.grouped.driver_statements import LOCK_ACCOUNTS, WRITE_GROUP
from bank_adapters.sql.grouped.group import Changes, Group
from bank_adapters.sql.grouped.kept_connection import KeptConnection
from bank_adapters.sql.rows import (
    account_from_row,
    account_to_row,
    event_to_row,
    journal_entry_to_row,
    transaction_to_row,
)
from bank_adapters.sql.schema import accounts, events, journal_entries, transactions


async def lock_write_and_commit(group: Group, writer: KeptConnection) -> None:
    """Locks the group's rows, lets its members run, and writes what they handed over; a
    failure (cancellation included) drops the connection, which rolls the transaction back."""
    with storage_errors():
        try:
            driver, transaction = await writer.started(functools.partial(_begin, writer))
            rows = await driver.fetch(LOCK_ACCOUNTS.sql, group.numbers_in_lock_order())
            group.rows_locked(account_from_row(row) for row in rows)
            await _write(driver, await group.changes_once_settled())
            await transaction.commit()
        except BaseException:
            await writer.drop()
            raise


async def _begin(writer: KeptConnection, driver: Any) -> tuple[Any, Any]:
    return driver, await writer.begin(driver)


async def _write(driver: Any, changes: Changes) -> None:
    if not any(changes):
        return  # every member left without a change
    rows = {
        transactions: [transaction_to_row(t) for t in changes.transactions],
        accounts: [account_to_row(a) for a in changes.accounts],
        journal_entries: [journal_entry_to_row(e) for e in changes.entries],
        events: [event_to_row(e) for e in changes.events],
    }
    await driver.execute(WRITE_GROUP.sql, *WRITE_GROUP.arguments_of_rows(rows))
