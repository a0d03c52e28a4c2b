"""Posting a transaction: the ledger's busiest use case, and its own module."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from bank_domain.access import require_visible_account_number, sees_account
from bank_domain.actors import MASTER, Actor
from bank_domain.errors import DuplicateTransactionId
from bank_domain.events import Event, EventType
from bank_domain.idempotency import IdempotencyClaim
from bank_domain.identifiers import AccountNumber, TransactionId
from bank_domain.money import Money, transaction_amount
from bank_domain.ports import (
    Clock,
    PostingUnitOfWork,
    PostingUnitOfWorkFactory,
    UnitOfWorkFactory,
)
from bank_domain.transaction import Transaction, TransactionStatus, TransactionType, description
from bank_domain.use_cases._common import require_open_account, utc_now
from bank_domain.use_cases.idempotency import Idempotency


@dataclass(frozen=True, slots=True)
class PostTransactionCommand:
    account_number: str
    amount: Decimal | int | str
    transaction_type: str
    transaction_id: str | None = None
    description: str | None = None
    status: str = TransactionStatus.SUCCESS.value
    actor: Actor = MASTER
    idempotency: IdempotencyClaim[PostedTransaction] | None = None


@dataclass(frozen=True, slots=True)
class PostedTransaction:
    """What posting answers: the transaction, and whether this posting made it."""

    transaction: Transaction
    created: bool
    """False when the posting repeated a stored one (a safe retry) and moved no money."""


@dataclass(frozen=True, slots=True)
class _Request:
    """A posting's fields once every one of them has passed the ledger's rules."""

    account_number: AccountNumber
    amount: Money
    transaction_type: TransactionType
    description: str | None
    status: TransactionStatus
    actor: Actor

    @classmethod
    def parse(cls, command: PostTransactionCommand) -> _Request:
        return cls(
            account_number=require_visible_account_number(
                command.actor, AccountNumber(command.account_number)
            ),
            amount=transaction_amount(command.amount),
            transaction_type=TransactionType.parse(command.transaction_type),
            description=description(command.description),
            status=TransactionStatus.parse(command.status),
            actor=command.actor,
        )

    def new_transaction(self, transaction_id: TransactionId, now: datetime) -> Transaction:
        return Transaction.new(
            transaction_id,
            self.account_number,
            self.amount,
            self.transaction_type,
            self.description,
            self.status,
            now,
        )

    def replay(
        self, stored: Transaction | None, transaction_id: TransactionId
    ) -> PostedTransaction:
        """A repeat of a stored posting is answered with it; any other use of the id is refused,
        and so is any use of the id of a transaction the actor may not see (whose account then
        differs from the request's: the refusal names no field of it)."""
        if (
            stored is None
            or not sees_account(self.actor, stored.account_number)
            or not stored.same_request(
                self.account_number,
                self.amount,
                self.transaction_type,
                self.description,
                self.status,
            )
        ):
            raise DuplicateTransactionId(
                str(transaction_id),
                f"The transaction id {transaction_id} was used before, with other fields.",
            )
        return PostedTransaction(stored, created=False)


class PostTransaction:
    """Posts a deposit or withdrawal. Only a ``success`` transaction moves the balance, and a
    withdrawal never takes it below zero. Posting the same transaction_id again with the same
    fields returns the stored transaction and moves no money.

    ``uow`` serves postings (a store's leanest path); a posting with an idempotency claim needs
    the whole unit of work, whose kept answers it uses, and runs on ``keyed`` instead (when
    left out, ``uow`` must make whole units of work)."""

    def __init__(
        self,
        uow: PostingUnitOfWorkFactory,
        clock: Clock = utc_now,
        keyed: UnitOfWorkFactory | None = None,
        idempotency: Idempotency | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._keyed = keyed
        self._idempotency = idempotency

    async def __call__(self, command: PostTransactionCommand) -> PostedTransaction:
        claim = command.idempotency
        if claim is not None:
            keyed = self._keyed_units()
            return await keyed.idempotency.run(claim, lambda: self._post_keyed(command, keyed))
        request = _Request.parse(command)
        if command.transaction_id is None:
            return await self._post(TransactionId.generate(), request, look_up_first=False)
        transaction_id = TransactionId(command.transaction_id)
        try:
            return await self._post(transaction_id, request, look_up_first=True)
        except DuplicateTransactionId:
            # Another posting with this id committed between our look-up and our insert.
            async with self._uow() as uow:
                stored = await uow.transactions.get(transaction_id)
            return request.replay(stored, transaction_id)

    async def _post(
        self, transaction_id: TransactionId, request: _Request, *, look_up_first: bool
    ) -> PostedTransaction:
        async with self._uow() as uow:
            if look_up_first:
                stored = await uow.transactions.get(transaction_id)
                if stored is not None:
                    return request.replay(stored, transaction_id)
            transaction = await self._apply(uow, transaction_id, request)
            await uow.commit()
        return PostedTransaction(transaction, created=True)

    async def _apply(
        self, uow: PostingUnitOfWork, transaction_id: TransactionId, request: _Request
    ) -> Transaction:
        """Locks the account, lets it accept the new transaction, and stages both and the
        posting's event."""
        number = request.account_number
        account = require_open_account(
            await uow.accounts.get_for_update(number), number, actor=request.actor
        )
        transaction = request.new_transaction(transaction_id, self._clock())
        version = account.version
        account.accept(transaction, transaction.timestamp)
        await uow.transactions.add(transaction)
        if account.version != version:
            await uow.accounts.save(account)
        await uow.events.add(
            Event.of(
                EventType.TRANSACTION_POSTED,
                transaction,
                request.actor,
                transaction.timestamp,
            )
        )
        return transaction

    async def _post_keyed(
        self, command: PostTransactionCommand, keyed: _KeyedUnits
    ) -> PostedTransaction:
        request = _Request.parse(command)
        if command.transaction_id is None:
            return await self._post_and_keep(command, keyed, request, TransactionId.generate())
        transaction_id = TransactionId(command.transaction_id)
        try:
            return await self._post_and_keep(command, keyed, request, transaction_id)
        except DuplicateTransactionId:
            # Another posting with this id committed between our look-up and our insert (or
            # the look-up found it with other fields): once more, it is found this time.
            return await self._post_and_keep(command, keyed, request, transaction_id)

    async def _post_and_keep(
        self,
        command: PostTransactionCommand,
        keyed: _KeyedUnits,
        request: _Request,
        transaction_id: TransactionId,
    ) -> PostedTransaction:
        """A posting and its kept answer, in one unit of work."""
        async with keyed.uow() as uow:
            await keyed.idempotency.check(uow, command.idempotency)
            stored = (
                None
                if command.transaction_id is None
                else await uow.transactions.get(transaction_id)
            )
            if stored is not None:
                posted = request.replay(stored, transaction_id)
            else:
                posted = PostedTransaction(
                    await self._apply(uow, transaction_id, request), created=True
                )
            await keyed.idempotency.keep(uow, command.idempotency, posted)
            await uow.commit()
        return posted

    def _keyed_units(self) -> _KeyedUnits:
        if self._keyed is None:
            raise RuntimeError("PostTransaction was made without `keyed`: it takes no claims.")
        if self._idempotency is None:
            self._idempotency = Idempotency(self._keyed, self._clock)
        return _KeyedUnits(self._keyed, self._idempotency)


@dataclass(frozen=True, slots=True)
class _KeyedUnits:
    """What a posting with an idempotency claim runs on."""

    uow: UnitOfWorkFactory
    idempotency: Idempotency
