"""Transactions in SQL: one simple statement per method."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    any_,
    bindparam,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from bank_adapters.sql.errors import storage_errors
from bank_adapters.sql.rows import transaction_from_row, transaction_to_row
from bank_adapters.sql.schema import TRANSACTIONS_KEY, TRANSFER_LEGS_KEY, transactions
from bank_domain.errors import Conflict, DuplicateTransactionId, DuplicateTransferId
from bank_domain.identifiers import AccountNumber, TransactionId, TransferId
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

    async def get_many(
        self, transaction_ids: Iterable[TransactionId]
    ) -> dict[TransactionId, Transaction]:
        wanted = sorted({transaction_id.value for transaction_id in transaction_ids})
        statement = _GET_MANY[self._connection.dialect.name]
        with storage_errors():
            result = await self._connection.execute(statement, {"ids": wanted})
        found = (transaction_from_row(row) for row in result.mappings())
        return {transaction.transaction_id: transaction for transaction in found}

    async def transfer_legs(self, transfer_id: TransferId) -> list[Transaction]:
        # The unique index on (transfer_id, transaction_type) finds them.
        statement = (
            select(transactions)
            .where(transactions.c.transfer_id == transfer_id.value)
            .order_by(transactions.c.transaction_type)
        )
        with storage_errors():
            result = await self._connection.execute(statement)
        return [transaction_from_row(row) for row in result.mappings()]

    async def add(self, transaction: Transaction) -> None:
        self._refuse_if_read_only("transactions.add")
        with storage_errors(duplicate_keys([transaction])):
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


def duplicate_keys(new: list[Transaction]) -> dict[str, Conflict]:
    """What breaking the transactions' unique keys means when inserting ``new``: a taken
    transaction id, or a transfer's second leg of one kind (another transfer with its id)."""
    first = new[0]
    taken = (
        DuplicateTransactionId(str(first.transaction_id))
        if len(new) == 1
        else DuplicateTransactionId("", "A transaction id of these postings is taken.")
    )
    keys: dict[str, Conflict] = {TRANSACTIONS_KEY: taken}
    transfer_ids = {t.transfer_id for t in new if t.transfer_id is not None}
    if transfer_ids:
        keys[TRANSFER_LEGS_KEY] = DuplicateTransferId(str(min(transfer_ids)))
    return keys


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


_GET_MANY: Final = {
    # One array parameter: one statement text however many ids (accounts.py says why).
    "postgresql": select(transactions).where(
        transactions.c.transaction_id == any_(bindparam("ids", type_=ARRAY(String)))
    ),
    "sqlite": select(transactions).where(
        transactions.c.transaction_id.in_(bindparam("ids", expanding=True))
    ),
}
