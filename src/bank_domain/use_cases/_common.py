"""Small pieces the use cases share."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from bank_domain.access import require_visible_account_number, sees_account, sees_every_account
from bank_domain.account import Account
from bank_domain.actors import SYSTEM, Actor
from bank_domain.api_keys import is_key_id
from bank_domain.errors import (
    AccountNotFound,
    ApiKeyNotFound,
    InvalidValue,
    TransactionNotFound,
    TransferNotFound,
)
from bank_domain.events import Event, EventType
from bank_domain.identifiers import AccountNumber, TransactionId, TransferId
from bank_domain.pagination import CursorCodec
from bank_domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from bank_domain.transaction import Transaction
from bank_domain.transfer import Transfer


def utc_now() -> datetime:
    return datetime.now(UTC)


def account_number_for_lookup(value: str, *, actor: Actor) -> AccountNumber:
    """The number of an account to look up; one that cannot exist, or that the actor may not
    see, is simply not found (before any look-up)."""
    try:
        number = AccountNumber(value)
    except InvalidValue:
        raise AccountNotFound(_shortened(value)) from None
    return require_visible_account_number(actor, number)


def transaction_id_for_lookup(value: str) -> TransactionId:
    """The id of a transaction to look up; one that cannot exist is simply not found."""
    try:
        return TransactionId(value)
    except InvalidValue:
        raise TransactionNotFound(_shortened(value)) from None


def transfer_id_for_lookup(value: str) -> TransferId:
    """The id of a transfer to look up; one that cannot exist is simply not found."""
    try:
        return TransferId(value)
    except InvalidValue:
        raise TransferNotFound(_shortened(value)) from None


def key_id_for_lookup(value: str) -> str:
    """The id of an API key to look up; one that cannot exist is not found, and is not echoed
    (it might be a secret sent in the wrong place)."""
    if not is_key_id(value):
        raise ApiKeyNotFound()
    return value


def _shortened(value: object) -> str:
    text = str(value)
    return text if len(text) <= 64 else text[:64] + "..."


def require_open_account(
    account: Account | None, number: AccountNumber, *, actor: Actor
) -> Account:
    """The account, unless it does not exist, was closed, or the actor may not see it: each
    answers 'not found'."""
    if account is None or account.is_closed or not sees_account(actor, account.number):
        raise AccountNotFound(str(number))
    return account


def require_visible_transaction(
    transaction: Transaction | None, transaction_id: TransactionId, *, actor: Actor
) -> Transaction:
    """The transaction, deleted ones included, unless it does not exist or the actor may not
    see its account: both are 'not found'."""
    if transaction is None or not sees_account(actor, transaction.account_number):
        raise TransactionNotFound(str(transaction_id))
    return transaction


def require_live_transaction(
    transaction: Transaction | None, transaction_id: TransactionId, *, actor: Actor
) -> Transaction:
    """The transaction, unless it does not exist, was deleted, or the actor may not see its
    account: each is 'not found'."""
    found = require_visible_transaction(transaction, transaction_id, actor=actor)
    if found.is_deleted:
        raise TransactionNotFound(str(transaction_id))
    return found


def require_visible_transfer(
    transfer: Transfer | None, transfer_id: TransferId, *, actor: Actor
) -> Transfer:
    """The transfer, unless no transaction is a leg of it or the actor does not see both of
    its accounts: both are 'not found'."""
    if transfer is None or not sees_every_account(actor, transfer.account_numbers):
        raise TransferNotFound(str(transfer_id))
    return transfer


async def lock_transaction_and_account(
    uow: UnitOfWork, transaction_id: TransactionId, clock: Clock, *, actor: Actor
) -> tuple[Transaction, Account, datetime]:
    """Locks the account a transaction belongs to, then reads the transaction afresh, and
    records the expiries due by now (the clock read under the lock, and returned): the
    account's, and the transaction's own.

    Every change to a transaction happens under its account's lock, so the second read sees the
    transaction as no other unit of work can change it until this one ends.
    """
    seen = require_live_transaction(
        await uow.transactions.get(transaction_id), transaction_id, actor=actor
    )
    account = await uow.accounts.get_for_update(seen.account_number)
    now = clock()
    transaction = require_live_transaction(
        await uow.transactions.get(transaction_id), transaction_id, actor=actor
    )
    account = require_open_account(account, transaction.account_number, actor=actor)
    if account.holds_due(now) or transaction.is_due(now):
        await record_expiries(uow, account, now)
        transaction = require_live_transaction(
            await uow.transactions.get(transaction_id), transaction_id, actor=actor
        )
    return transaction, account, now


async def lock_open_account(
    uow: UnitOfWork, number: AccountNumber, clock: Clock, *, actor: Actor
) -> tuple[Account, datetime]:
    """Locks an open account and records the expiries of its holds due by now (the clock read
    under the lock, and returned), so that what follows judges the account as it stands."""
    account = require_open_account(await uow.accounts.get_for_update(number), number, actor=actor)
    now = clock()
    await record_due_expiries(uow, [account], now)
    return account, now


async def record_due_expiries(uow: UnitOfWork, accounts: Iterable[Account], now: datetime) -> None:
    """Under the accounts' locks: records the expiries due by ``now`` on each of them, so that
    a change touching several accounts (a transfer, a batch) judges them as they stand."""
    for account in accounts:
        if account.holds_due(now):
            await record_expiries(uow, account, now)


async def record_expiries(
    uow: UnitOfWork, account: Account, now: datetime, pending: list[Transaction] | None = None
) -> list[Transaction]:
    """Under the account's lock: expires its pending transactions due by ``now`` (``pending``:
    every pending one of it, read when not given), each with its version in the history and
    its ``transaction.expired`` event by ``system``, at the moment it expired; stores the
    account with what it then holds. Returns the expired transactions."""
    if pending is None:
        pending = await uow.transactions.pending(account.number)
    expired = account.expire_due(now, pending)
    await uow.accounts.save(account)
    for transaction in expired:
        await uow.transactions.save(transaction)
        await uow.events.add(
            Event.of(EventType.TRANSACTION_EXPIRED, transaction, SYSTEM, transaction.updated_at)
        )
    return expired


async def as_shown(uow: UnitOfWork, account: Account, now: datetime) -> Account:
    """An account as a read shows it at ``now``: with the holds due by then expired (read
    from its pending transactions only when one may be due)."""
    if not account.holds_due(now):
        return account
    return account.seen_at(now, await uow.transactions.pending(account.number))


def utc_timestamp(value: datetime | None, field: str) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValue(field, f"{field} is an RFC 3339 timestamp with a UTC offset.")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before the first UTC instant
        raise InvalidValue(field, f"{field} is out of the range of timestamps.") from None


class PagedRead:
    """A use case that reads a list a page at a time, as it stands now: its store, the codec
    of its cursors, and its clock."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        cursors: CursorCodec | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._uow = uow
        self._cursors = cursors or CursorCodec()
        self._clock = clock
