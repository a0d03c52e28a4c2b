"""Many postings written at once, in a unit of work's own database transaction (a batch's, a
transfer's legs): ``UnitOfWork.add_postings`` on SQL.

On PostgreSQL it is one statement, the grouped path's ``WRITE_GROUP`` (driver_statements.py):
the new transactions, the accounts' final rows with the heads of their journals, the journal
entries and the events, each table's rows as one JSON parameter, sent on the unit of work's
connection inside its transaction (after the accounts' ``SELECT ... FOR UPDATE``). One round
trip and one execution however many postings, instead of a statement per row.

On SQLite, where a statement costs no round trip, it is one ``executemany`` a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, insert, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bank_adapters.sql.errors import storage_errors
from bank_adapters.sql.grouped.driver_statements import WRITE_GROUP
from bank_adapters.sql.journal import append_entries
from bank_adapters.sql.rows import (
    account_to_row,
    event_to_row,
    journal_entry_to_row,
    transaction_to_row,
)
from bank_adapters.sql.schema import (
    accounts,
    events,
    idempotency_keys,
    journal_entries,
    transactions,
)
from bank_adapters.sql.transactions import duplicate_keys
from bank_domain.account import Account
from bank_domain.events import Event
from bank_domain.transaction import Transaction

_SAVE_ACCOUNT = (
    update(accounts)
    .where(accounts.c.account_number == bindparam("new_account_number"))
    .values(
        {
            column.name: bindparam(f"new_{column.name}")
            for column in accounts.c
            if column.name != "account_number"
        }
    )
)
"""An account's row by its number: the parameters are its columns' names with ``new_`` (a
parameter may not share a name with a column the statement sets)."""


async def write_postings(
    connection: AsyncConnection,
    new_transactions: Sequence[Transaction],
    moved_accounts: Sequence[Account],
    new_events: Sequence[Event],
) -> None:
    """Stores them in the connection's open transaction; a taken transaction id raises
    DuplicateTransactionId, a transfer's second leg of one kind DuplicateTransferId."""
    if not new_transactions and not moved_accounts and not new_events:
        return
    duplicates = duplicate_keys(list(new_transactions)) if new_transactions else {}
    entries = [entry for account in moved_accounts for entry in account.take_new_entries()]
    with storage_errors(duplicates):
        if connection.dialect.name == "postgresql":
            await _write_group(connection, new_transactions, moved_accounts, entries, new_events)
            return
        if new_transactions:
            rows = [transaction_to_row(t) for t in new_transactions]
            await connection.execute(insert(transactions), rows)
        if moved_accounts:
            await connection.execute(_SAVE_ACCOUNT, [_keyed(a) for a in moved_accounts])
        await append_entries(connection, entries)
        if new_events:
            await connection.execute(insert(events), [event_to_row(e) for e in new_events])


def _keyed(account: Account) -> dict[str, Any]:
    return {f"new_{name}": value for name, value in account_to_row(account).items()}


async def _write_group(
    connection: AsyncConnection,
    new_transactions: Sequence[Transaction],
    moved_accounts: Sequence[Account],
    entries: list[Any],
    new_events: Sequence[Event],
) -> None:
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    if not driver.is_in_transaction():
        # SQLAlchemy begins the database transaction at its first statement, which is the
        # accounts' lock when a use case writes; otherwise it begins it here.
        await connection.execute(text("SELECT 1"))
    rows = {
        transactions: [transaction_to_row(t) for t in new_transactions],
        accounts: [account_to_row(a) for a in moved_accounts],
        journal_entries: [journal_entry_to_row(e) for e in entries],
        events: [event_to_row(e) for e in new_events],
        idempotency_keys: [],  # a batch's answer is kept by its unit of work's repository
    }
    await driver.execute(WRITE_GROUP.sql, *WRITE_GROUP.arguments_of_rows(rows))
