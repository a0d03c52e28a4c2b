"""Accounts in SQL: one simple statement per method, and the account's new journal entries
appended with it (one more statement when the balance moved)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    any_,
    bindparam,
    exists,
    insert,
    select,
    union,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from bank_adapters.sql.errors import storage_errors
from bank_adapters.sql.journal import append_entries
from bank_adapters.sql.rows import account_from_row, account_to_row
from bank_adapters.sql.schema import ACCOUNTS_KEY, accounts, transactions
from bank_domain.account import Account
from bank_domain.errors import DuplicateAccountNumber
from bank_domain.identifiers import AccountNumber
from bank_domain.ports import AccountQuery, AccountRepository
from bank_domain.transaction import TransactionStatus


class SqlAccountRepository(AccountRepository):
    def __init__(self, connection: AsyncConnection, *, read_only: bool = False) -> None:
        self._connection = connection
        self._read_only = read_only

    async def get(self, number: AccountNumber) -> Account | None:
        return await self._one(_by_number(number))

    async def get_for_update(self, number: AccountNumber) -> Account | None:
        # Locks the account's row alone (PostgreSQL; SQLite's write transaction already holds
        # the whole database): its transactions are never joined in, so never locked with it.
        self._refuse_if_read_only("accounts.get_for_update")
        return await self._one(_by_number(number).with_for_update())

    async def get_many_for_update(
        self, numbers: Iterable[AccountNumber]
    ) -> dict[AccountNumber, Account]:
        # One statement: PostgreSQL locks the rows as the ORDER BY hands them over, so in
        # account-number order, as every unit of work (and every group of postings) does.
        self._refuse_if_read_only("accounts.get_many_for_update")
        wanted = sorted({number.value for number in numbers})
        statement = _LOCK_MANY[self._connection.dialect.name]
        with storage_errors():
            result = await self._connection.execute(statement, {"numbers": wanted})
        found = (account_from_row(row) for row in result.mappings())
        return {account.number: account for account in found}

    async def number_taken(self, number: AccountNumber) -> bool:
        taken = select(exists().where(accounts.c.account_number == number.value))
        with storage_errors():
            return bool(await self._connection.scalar(taken))

    async def add(self, account: Account) -> None:
        self._refuse_if_read_only("accounts.add")
        duplicate = DuplicateAccountNumber(str(account.number))
        with storage_errors({ACCOUNTS_KEY: duplicate}):
            await self._connection.execute(insert(accounts).values(account_to_row(account)))
            # After the account's row, which the entries' foreign key names.
            await append_entries(self._connection, account.take_new_entries())

    async def save(self, account: Account) -> None:
        self._refuse_if_read_only("accounts.save")
        changes = account_to_row(account)
        del changes["account_number"]
        statement = (
            update(accounts)
            .where(accounts.c.account_number == account.number.value)
            .values(changes)
        )
        with storage_errors():
            await self._connection.execute(statement)
            await append_entries(self._connection, account.take_new_entries())

    async def expiries_due(self, now: datetime, limit: int) -> list[AccountNumber]:
        with storage_errors():
            result = await self._connection.execute(expiries_due(now, limit))
        return [AccountNumber(str(number)) for number in result.scalars()]

    async def list(self, query: AccountQuery) -> list[Account]:
        with storage_errors():
            result = await self._connection.execute(account_listing(query))
        return [account_from_row(row) for row in result.mappings()]

    async def _one(self, statement: Select[tuple[object, ...]]) -> Account | None:
        with storage_errors():
            result = await self._connection.execute(statement)
        row = result.mappings().one_or_none()
        return None if row is None else account_from_row(row)

    def _refuse_if_read_only(self, what: str) -> None:
        if self._read_only:
            raise RuntimeError(f"{what} changes the ledger: not in a read-only unit of work.")


def account_listing(query: AccountQuery) -> Select[tuple[object, ...]]:
    """The page of accounts a query asks for (open ones unless ``include_closed``); each
    filter has an index (schema.py)."""
    statement = select(accounts)
    if not query.include_closed:
        statement = statement.where(accounts.c.closed_at.is_(None))
    if query.after is not None:
        statement = statement.where(accounts.c.account_number > query.after.value)
    if query.customer_name is not None:
        statement = statement.where(accounts.c.customer_name == query.customer_name)
    if query.account_type is not None:
        statement = statement.where(accounts.c.account_type == query.account_type.value)
    if query.status is not None:
        statement = statement.where(accounts.c.status == query.status.value)
    if query.account_numbers is not None:
        visible = sorted(number.value for number in query.account_numbers)
        statement = statement.where(accounts.c.account_number.in_(visible))
    return statement.order_by(accounts.c.account_number).limit(query.limit)


def expiries_due(now: datetime, limit: int) -> Select[tuple[str]]:
    """Accounts with an expiry to record by ``now``, each of the two halves read through its
    partial index (``ix_accounts_hold_expiry``, ``ix_transactions_pending_expiry``)."""
    bound_passed = select(accounts.c.account_number).where(
        accounts.c.next_hold_expiry.is_not(None), accounts.c.next_hold_expiry <= now
    )
    transaction_due = select(transactions.c.account_number).where(
        transactions.c.status == TransactionStatus.PENDING.value,
        transactions.c.expires_at.is_not(None),
        transactions.c.deleted_at.is_(None),
        transactions.c.expires_at <= now,
    )
    due = union(bound_passed, transaction_due).subquery("due")
    return select(due.c.account_number).order_by(due.c.account_number).limit(limit)


def _by_number(number: AccountNumber) -> Select[tuple[object, ...]]:
    return select(accounts).where(accounts.c.account_number == number.value)


def _lock_many(matching: ColumnElement[bool]) -> Select[tuple[object, ...]]:
    return select(accounts).where(matching).order_by(accounts.c.account_number).with_for_update()


_LOCK_MANY: Final = {
    # One array parameter: one statement text however many accounts (an IN list would be a
    # new statement, compiled and prepared, for every count), a third of a batch's CPU here.
    "postgresql": _lock_many(
        accounts.c.account_number == any_(bindparam("numbers", type_=ARRAY(String)))
    ),
    "sqlite": _lock_many(accounts.c.account_number.in_(bindparam("numbers", expanding=True))),
}
"""Locks the accounts of the ``numbers`` given, by database (SQLite's write transaction holds
the whole database already; it renders no FOR UPDATE)."""
