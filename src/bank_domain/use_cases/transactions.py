"""Amending, deleting and reading transactions (posting one is in ``posting.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from bank_domain.actors import MASTER, Actor
from bank_domain.errors import InvalidValue
from bank_domain.events import Event, EventType
from bank_domain.identifiers import TransactionId
from bank_domain.money import transaction_amount
from bank_domain.pagination import Page, not_a_cursor, page_size
from bank_domain.ports import Clock, TransactionQuery, UnitOfWorkFactory
from bank_domain.transaction import (
    UNSET,
    Transaction,
    TransactionStatus,
    TransactionType,
    Unset,
    description,
    expiry,
)
from bank_domain.use_cases._common import (
    PagedRead,
    account_number_for_lookup,
    lock_transaction_and_account,
    require_live_transaction,
    require_open_account,
    transaction_id_for_lookup,
    utc_now,
    utc_timestamp,
)


@dataclass(frozen=True, slots=True)
class AmendTransactionCommand:
    """Fields left out (None, or UNSET for the description) stay as they are.
    ``expected_version`` is the client's If-Match."""

    transaction_id: str
    amount: Decimal | int | str | None = None
    transaction_type: str | None = None
    description: str | Unset | None = UNSET
    status: str | None = None
    expected_version: int | None = None
    actor: Actor = MASTER
    expires_at: datetime | Unset | None = UNSET


class AmendTransaction:
    """Changes a transaction; the balance follows. Changing the amount or type of a ``success``
    transaction moves the balance by the difference; ``pending`` -> ``success`` applies it;
    ``success`` -> ``failed``/``cancelled`` takes it back; ``failed`` and ``cancelled`` are
    final. A pending withdrawal's hold follows its amount and type, and goes when it leaves
    pending. A change that would take the available balance below zero is refused and changes
    nothing; so is one that moves a frozen account's balance or holds more of it."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, command: AmendTransactionCommand) -> Transaction:
        transaction_id = transaction_id_for_lookup(command.transaction_id)
        amount = None if command.amount is None else transaction_amount(command.amount)
        transaction_type = (
            None
            if command.transaction_type is None
            else TransactionType.parse(command.transaction_type)
        )
        new_description = (
            command.description
            if isinstance(command.description, Unset)
            else description(command.description)
        )
        status = None if command.status is None else TransactionStatus.parse(command.status)
        new_expiry = (
            command.expires_at
            if isinstance(command.expires_at, Unset)
            else expiry(command.expires_at, self._clock())
        )
        async with self._uow() as uow:
            transaction, account, now = await lock_transaction_and_account(
                uow, transaction_id, self._clock, actor=command.actor
            )
            transaction.expect_version(command.expected_version)
            effect_before, hold_before = transaction.effect, transaction.hold
            changed = transaction.amend(
                now,
                amount=amount,
                transaction_type=transaction_type,
                description=new_description,
                status=status,
                expires_at=new_expiry,
            )
            if not changed:
                await uow.commit()  # the expiries recorded under the lock, if any
                return transaction
            if account.follow(transaction, effect_before, hold_before, now):
                await uow.accounts.save(account)
            await uow.transactions.save(transaction)
            await uow.events.add(
                Event.of(EventType.TRANSACTION_AMENDED, transaction, command.actor, now)
            )
            await uow.commit()
        return transaction


@dataclass(frozen=True, slots=True)
class DeleteTransactionCommand:
    transaction_id: str
    expected_version: int | None = None
    actor: Actor = MASTER


class DeleteTransaction:
    """Deletes a transaction: a ``success`` one's effect on the balance is taken back (refused if
    that would overdraw). The record is kept for audit; its id is never used again."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, command: DeleteTransactionCommand) -> None:
        tid = transaction_id_for_lookup(command.transaction_id)
        async with self._uow() as uow:
            transaction, account, now = await lock_transaction_and_account(
                uow, tid, self._clock, actor=command.actor
            )
            transaction.expect_version(command.expected_version)
            effect_before, hold_before = transaction.effect, transaction.hold
            transaction.delete(now)  # first: a leg of a transfer is refused before anything moves
            if account.follow(transaction, effect_before, hold_before, now):
                await uow.accounts.save(account)
            await uow.transactions.save(transaction)
            await uow.events.add(
                Event.of(EventType.TRANSACTION_DELETED, transaction, command.actor, now)
            )
            await uow.commit()


class GetTransaction:
    """One transaction as it stands now: a pending one whose expires_at has come is
    cancelled, whether or not its expiry is recorded yet."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, transaction_id: str, *, actor: Actor = MASTER) -> Transaction:
        tid = transaction_id_for_lookup(transaction_id)
        async with self._uow(read_only=True) as uow:
            found = require_live_transaction(await uow.transactions.get(tid), tid, actor=actor)
        return found.seen_at(self._clock())


@dataclass(frozen=True, slots=True)
class ListTransactionsQuery:
    account_number: str
    limit: int | None = None
    cursor: str | None = None
    transaction_type: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    actor: Actor = MASTER


class ListTransactions(PagedRead):
    """An open account's transactions, oldest first, a page at a time; ``since`` and ``until``
    both include their bounds. Each as it stands now (an expired hold is cancelled, and the
    status filter judges it so)."""

    async def __call__(self, request: ListTransactionsQuery) -> Page[Transaction]:
        number = account_number_for_lookup(request.account_number, actor=request.actor)
        limit = page_size(request.limit)
        now = self._clock()
        query = TransactionQuery(
            account_number=number,
            limit=limit + 1,
            after=None if request.cursor is None else self._position(request.cursor),
            transaction_type=None
            if request.transaction_type is None
            else TransactionType.parse(request.transaction_type),
            status=None if request.status is None else TransactionStatus.parse(request.status),
            since=utc_timestamp(request.since, "since"),
            until=utc_timestamp(request.until, "until"),
            as_of=now,
        )
        async with self._uow(read_only=True) as uow:
            require_open_account(await uow.accounts.get(number), number, actor=request.actor)
            found = await uow.transactions.list(query)
        items = [transaction.seen_at(now) for transaction in found[:limit]]
        if len(found) <= limit:
            return Page(items, None)
        last = items[-1]
        position = [last.timestamp.isoformat(), str(last.transaction_id)]
        return Page(items, self._cursors.encode(position))

    def _position(self, cursor: str) -> tuple[datetime, TransactionId]:
        timestamp, transaction_id = self._cursors.decode(cursor, 2)
        try:
            position = (datetime.fromisoformat(timestamp), TransactionId(transaction_id))
        except (ValueError, InvalidValue):
            raise not_a_cursor() from None
        if position[0].tzinfo is None or position[0].utcoffset() is None:
            raise not_a_cursor()
        try:  # e.g. 0001-01-01T00:00:00+01:00 is before the first UTC instant a store can hold
            return position[0].astimezone(UTC), position[1]
        except OverflowError:
            raise not_a_cursor() from None
