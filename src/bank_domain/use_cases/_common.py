"""Small pieces the use cases share."""

from __future__ import annotations

from datetime import UTC, datetime

from bank_domain.account import Account
from bank_domain.errors import AccountNotFound, InvalidValue, TransactionNotFound
from bank_domain.identifiers import AccountNumber, TransactionId
from bank_domain.ports import UnitOfWork
from bank_domain.transaction import Transaction


def utc_now() -> datetime:
    return datetime.now(UTC)


def account_number_for_lookup(value: str) -> AccountNumber:
    """The number of an account to look up; one that cannot exist is simply not found."""
    try:
        return AccountNumber(value)
    except InvalidValue:
        raise AccountNotFound(_shortened(value)) from None


def transaction_id_for_lookup(value: str) -> TransactionId:
    """The id of a transaction to look up; one that cannot exist is simply not found."""
    try:
        return TransactionId(value)
    except InvalidValue:
        raise TransactionNotFound(_shortened(value)) from None


def _shortened(value: object) -> str:
    text = str(value)
    return text if len(text) <= 64 else text[:64] + "..."


def require_open_account(account: Account | None, number: AccountNumber) -> Account:
    """The account, unless it does not exist or was closed: a closed one answers 'not found'."""
    if account is None or account.is_closed:
        raise AccountNotFound(str(number))
    return account


def require_live_transaction(
    transaction: Transaction | None, transaction_id: TransactionId
) -> Transaction:
    """The transaction, unless it does not exist or was deleted: a deleted one is 'not found'."""
    if transaction is None or transaction.is_deleted:
        raise TransactionNotFound(str(transaction_id))
    return transaction


async def lock_transaction_and_account(
    uow: UnitOfWork, transaction_id: TransactionId
) -> tuple[Transaction, Account]:
    """Locks the account a transaction belongs to, then reads the transaction afresh.

    Every change to a transaction happens under its account's lock, so the second read sees the
    transaction as no other unit of work can change it until this one ends.
    """
    seen = require_live_transaction(await uow.transactions.get(transaction_id), transaction_id)
    account = await uow.accounts.get_for_update(seen.account_number)
    transaction = require_live_transaction(
        await uow.transactions.get(transaction_id), transaction_id
    )
    return transaction, require_open_account(account, transaction.account_number)


def utc_timestamp(value: datetime | None, field: str) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValue(field, f"{field} is an RFC 3339 timestamp with a UTC offset.")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before the first UTC instant
        raise InvalidValue(field, f"{field} is out of the range of timestamps.") from None
