"""The one place that speaks SQL for a group: lock its accounts' rows, write its changes,
commit, on a kept connection's asyncpg driver.

The statements go to the driver directly (SQLAlchemy keeps the pool and the schema): on this
path SQLAlchemy's own work would cost more than the database's. A group sends BEGIN, one
``SELECT ... FOR UPDATE``, one statement that writes every table changed (``WRITE_GROUP``: the
transactions, the accounts with the heads of their journals, the postings' journal entries and
their events, the rows as JSON), and COMMIT: a posting's transaction, account, entry and event
commit together or not at all.

A group whose members claimed idempotency keys sends two statements more before its members
run: one tries each key's advisory lock (``TRY_KEY_LOCKS``, as ``SqlIdempotencyRepository.
claim`` does, never waiting), the next one reads which of the keys taken have an answer kept
(``KEYS_KEPT``): a statement of its own, so that it sees every answer committed before the
lock was taken (in one statement, its snapshot would be older than the lock). A member whose
key is held elsewhere, or was answered meanwhile, is turned away alone (``Group.require_key``);
the answers of the others are written with the group (``WRITE_GROUP``), and no other
transaction can write their keys while the group holds their locks: the write cannot meet
another answer for one of them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from bank_adapters.sql.errors import storage_errors
from bank_adapters.sql.grouped.driver_statements import (
    KEYS_KEPT,
    LOCK_ACCOUNTS,
    TRY_KEY_LOCKS,
    WRITE_GROUP,
)
from bank_adapters.sql.grouped.group import Changes, Group
from bank_adapters.sql.grouped.kept_connection import KeptConnection
from bank_adapters.sql.idempotency import (
    ADVISORY_LOCK_SPACE,
    advisory_lock_key,
    kept_to_json_row,
)
from bank_adapters.sql.rows import (
    account_from_row,
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
from bank_domain.idempotency import IdempotencyKey


async def lock_write_and_commit(group: Group, writer: KeptConnection) -> None:
    """Locks the group's rows, lets its members run, and writes what they handed over; a
    failure (cancellation included) drops the connection, which rolls the transaction back."""
    with storage_errors():
        try:
            driver, transaction = await writer.started(functools.partial(_begin, writer))
            rows = await driver.fetch(LOCK_ACCOUNTS.sql, group.numbers_in_lock_order())
            keys = group.keys
            if keys:
                await _take_keys(driver, group, keys)
            group.rows_locked(account_from_row(row) for row in rows)
            await _write(driver, await group.changes_once_settled())
            await transaction.commit()
        except BaseException:
            await writer.drop()
            raise


async def _begin(writer: KeptConnection, driver: Any) -> tuple[Any, Any]:
    return driver, await writer.begin(driver)


async def _take_keys(driver: Any, group: Group, keys: Sequence[IdempotencyKey]) -> None:
    locks = [advisory_lock_key(key) for key in keys]
    taken = [row[0] for row in await driver.fetch(TRY_KEY_LOCKS.sql, ADVISORY_LOCK_SPACE, locks)]
    held = [key for key, was_taken in zip(keys, taken, strict=True) if was_taken]
    answered: list[IdempotencyKey] = []
    if held:
        rows = await driver.fetch(
            KEYS_KEPT.sql, [key.scope for key in held], [key.value for key in held]
        )
        answered = [IdempotencyKey(row[0], row[1]) for row in rows]
    in_use = [key for key, was_taken in zip(keys, taken, strict=True) if not was_taken]
    group.keys_checked(in_use, answered)


async def _write(driver: Any, changes: Changes) -> None:
    if not any(changes):
        return  # every member left without a change
    rows = {
        transactions: [transaction_to_row(t) for t in changes.transactions],
        accounts: [account_to_row(a) for a in changes.accounts],
        journal_entries: [journal_entry_to_row(e) for e in changes.entries],
        events: [event_to_row(e) for e in changes.events],
        idempotency_keys: [kept_to_json_row(k) for k in changes.kept],
    }
    await driver.execute(WRITE_GROUP.sql, *WRITE_GROUP.arguments_of_rows(rows))
