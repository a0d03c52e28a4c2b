"""Transactions in SQL: one simple statement per method."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, insert, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bank_adapters.sql.errors import storage_errors
from bank_adapters.sql.rows import transaction_from_row, transaction_to_row
from bank_adapters.sql.schema import TRANSACTIONS_KEY, transactions
from bank_domain.errors import DuplicateTransactionId
from bank_domain.identifiers import AccountNumber, TransactionId
from bank_domain.ports import TransactionQuery, TransactionRepository
from bank_domain.transaction import Transaction, TransactionStatus


class SqlTransactionRepository(TransactionRepository):
    def __init__(self, connection: AsyncConnection, *, read_only: bool = False) -> None:
        self._connection = connection
        self._read_only = read_only

    async def get(self, transaction_id: TransactionId) -> Transaction | None:
        statement = select(transactions).where(
            transactions.c.transaction_id == transaction_id.value
        )
        with storage_errors():
            result = await self._connection.execute(statement)
        row = result.mappings().one_or_none()
        return None if row is None else transaction_from_row(row)

    async def add(self, transaction: Transaction) -> None:
        self._refuse_if_read_only("transactions.add")
        duplicate = DuplicateTransactionId(str(transaction.transaction_id))
        with storage_errors({TRANSACTIONS_KEY: duplicate}):
            await self._connection.execute(
                insert(transactions).values(transaction_to_row(transaction))
            )

    async def save(self, transaction: Transaction) -> None:
        self._refuse_if_read_only("transactions.save")
        changes = transaction_to_row(transaction)
        del changes["transaction_id"]
        statement = (
            update(transactions)
            .where(transactions.c.transaction_id == transaction.transaction_id.value)
            .values(changes)
        )
        with storage_errors():
            await self._connection.execute(statement)

    async def pending(self, account_number: AccountNumber) -> list[Transaction]:
        statement = (
            select(transactions)
            .where(
                transactions.c.account_number == account_number.value,
                transactions.c.status == TransactionStatus.PENDING.value,
                transactions.c.deleted_at.is_(None),
            )
            .order_by(transactions.c.timestamp, transactions.c.transaction_id)
        )
        with storage_errors():
            result = await self._connection.execute(statement)
        return [transaction_from_row(row) for row in result.mappings()]

    async def list(self, query: TransactionQuery) -> list[Transaction]:
        with storage_errors():
            result = await self._connection.execute(transaction_listing(query))
        return [transaction_from_row(row) for row in result.mappings()]

    def _refuse_if_read_only(self, what: str) -> None:
        if self._read_only:
            raise RuntimeError(f"{what} changes the ledger: not in a read-only unit of work.")


def transaction_listing(query: TransactionQuery) -> Select[tuple[object, ...]]:
    """The page of an account's transactions a query asks for; each filter has an index."""
    timeline = (transactions.c.timestamp, transactions.c.transaction_id)
    statement = select(transactions).where(
        transactions.c.account_number == query.account_number.value,
        transactions.c.deleted_at.is_(None),
    )
    if query.after is not None:
        after_timestamp, after_id = query.after
        # A tuple of plain values takes the columns' types, so the timestamp is stored-form.
        statement = statement.where(tuple_(*timeline) > (after_timestamp, after_id.value))
    if query.transaction_type is not None:
        statement = statement.where(transactions.c.transaction_type == query.transaction_type.value)
    if query.status is not None:
        statement = statement.where(_status_seen(query.status, query.as_of))
    if query.since is not None:
        statement = statement.where(transactions.c.timestamp >= query.since)
    if query.until is not None:
        statement = statement.where(transactions.c.timestamp <= query.until)
    return statement.order_by(*timeline).limit(query.limit)


def _status_seen(status: TransactionStatus, now: datetime | None) -> ColumnElement[bool]:
    """Transactions whose status, as seen at ``now``, is ``status``: a pending one whose
    expires_at has come is cancelled (``Transaction.is_due``), recorded or not."""
    stored = transactions.c.status == status.value
    if now is None:
        return stored
    expires_at = transactions.c.expires_at
    if status is TransactionStatus.PENDING:
        return and_(stored, or_(expires_at.is_(None), expires_at > now))
    if status is TransactionStatus.CANCELLED:
        due = and_(
            transactions.c.status == TransactionStatus.PENDING.value,
            expires_at.is_not(None),
            expires_at <= now,
        )
        return or_(stored, due)
    return stored
