"""Posting a transaction: the ledger's busiest use case, and its own module."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final

from bank_domain.access import require_visible_account_number, sees_account
from bank_domain.account import Account
from bank_domain.actors import MASTER, Actor
from bank_domain.errors import DuplicateTransactionId, IdempotencyKeyInUse, LedgerError
from bank_domain.events import Event, EventType
from bank_domain.idempotency import IdempotencyClaim, KeyAnsweredMeanwhile
from bank_domain.identifiers import AccountNumber, TransactionId
from bank_domain.money import Money, transaction_amount
from bank_domain.ports import (
    Clock,
    PostingUnitOfWork,
    PostingUnitOfWorkFactory,
    UnitOfWorkFactory,
)
from bank_domain.transaction import (
    Transaction,
    TransactionStatus,
    TransactionType,
    description,
    expiry,
)
from bank_domain.use_cases._common import require_open_account, utc_now
from bank_domain.use_cases.idempotency import Idempotency

_SWEEPS: Final = 3
"""How many times a posting lets the account's due holds expire before it is judged; more
than once only when another hold falls due meanwhile."""

ExpireAccount = Callable[[AccountNumber], Awaitable[object]]
"""Records the expiries due on one account, in a unit of work of its own (ExpireHolds)."""


@dataclass(frozen=True, slots=True)
class PostTransactionCommand:
    account_number: str
    amount: Decimal | int | str
    transaction_type: str
    transaction_id: str | None = None
    description: str | None = None
    status: str = TransactionStatus.SUCCESS.value
    actor: Actor = MASTER
    expires_at: datetime | None = None
    idempotency: IdempotencyClaim[PostedTransaction] | None = None


@dataclass(frozen=True, slots=True)
class PostedTransaction:
    """What posting answers: the transaction, and whether this posting made it."""

    transaction: Transaction
    created: bool
    """False when the posting repeated a stored one (a safe retry) and moved no money."""


@dataclass(frozen=True, slots=True)
class PostingRequest:
    """A posting's fields once every one of them has passed the ledger's rules."""

    account_number: AccountNumber
    amount: Money
    transaction_type: TransactionType
    description: str | None
    status: TransactionStatus
    actor: Actor
    expires_at: datetime | None

    @classmethod
    def parse(cls, command: PostTransactionCommand, clock: Clock) -> PostingRequest:
        return cls(
            account_number=require_visible_account_number(
                command.actor, AccountNumber(command.account_number)
            ),
            amount=transaction_amount(command.amount),
            transaction_type=TransactionType.parse(command.transaction_type),
            description=description(command.description),
            status=TransactionStatus.parse(command.status),
            actor=command.actor,
            expires_at=None if command.expires_at is None else expiry(command.expires_at, clock()),
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
            self.expires_at,
        )

    def replay(
        self, stored: Transaction | None, transaction_id: TransactionId, now: datetime
    ) -> PostedTransaction:
        """A repeat of a stored posting is answered with it; any other use of the id is refused,
        and so is any use of the id of a transaction the actor may not see (whose account then
        differs from the request's: the refusal names no field of it). The stored one is
        compared and answered as it stands at ``now`` (an expired hold is cancelled)."""
        if stored is not None:
            stored = stored.seen_at(now)
        if (
            stored is None
            or not sees_account(self.actor, stored.account_number)
            or not stored.same_request(
                self.account_number,
                self.amount,
                self.transaction_type,
                self.description,
                self.status,
                self.expires_at,
            )
        ):
            raise DuplicateTransactionId(
                str(transaction_id),
                f"The transaction id {transaction_id} was used before, with other fields.",
            )
        return PostedTransaction(stored, created=False)


class _HoldsDue(Exception):
    """The account has holds due to expire: they are recorded first, then the posting runs."""


class PostTransaction:
    """Posts a deposit or withdrawal. Only a ``success`` transaction moves the balance; a
    ``pending`` withdrawal holds its amount of the available balance; neither may take the
    available balance below zero. Posting the same transaction_id again with the same fields
    returns the stored transaction and moves no money.

    An account whose holds are due to expire is judged once they have: the posting leaves its
    unit of work, ``expire_account`` records the expiries in one of its own, and the posting
    runs again (a posting unit of work reads no transactions after its lock).

    ``uow`` serves postings (a store's leanest path), those with an idempotency claim too: the
    claim is checked first in the posting's unit of work, and the answer kept in it, with the
    posting or with its refusal under the account's lock (``PostingUnitOfWork``'s order).
    ``keyed`` makes the whole units of work that keep a refusal made before the lock
    (``Idempotency.run``); when left out, ``uow`` must make whole units of work."""

    def __init__(
        self,
        uow: PostingUnitOfWorkFactory,
        clock: Clock = utc_now,
        expire_account: ExpireAccount | None = None,
        keyed: UnitOfWorkFactory | None = None,
        idempotency: Idempotency | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._expire_account = expire_account
        self._keyed = keyed
        self._idempotency = idempotency

    async def __call__(self, command: PostTransactionCommand) -> PostedTransaction:
        claim = command.idempotency
        if claim is not None:
            idempotency = self._keyed_idempotency()
            return await idempotency.run(
                claim, lambda: self._post_keyed(command, claim, idempotency)
            )
        request = PostingRequest.parse(command, self._clock)
        for _ in range(_SWEEPS - 1):
            try:
                return await self._post_once(command, request)
            except _HoldsDue:
                await self._expire(request.account_number)
        return await self._post_once(command, request, sweep=False)

    async def _expire(self, number: AccountNumber) -> None:
        if self._expire_account is None:
            raise RuntimeError("A ledger that posts to accounts with expiring holds expires them.")
        await self._expire_account(number)

    async def _post_once(
        self, command: PostTransactionCommand, request: PostingRequest, *, sweep: bool = True
    ) -> PostedTransaction:
        if command.transaction_id is None:
            return await self._post(
                TransactionId.generate(), request, look_up_first=False, sweep=sweep
            )
        transaction_id = TransactionId(command.transaction_id)
        try:
            return await self._post(transaction_id, request, look_up_first=True, sweep=sweep)
        except DuplicateTransactionId:
            # Another posting with this id committed between our look-up and our insert.
            async with self._uow() as uow:
                stored = await uow.transactions.get(transaction_id)
            return request.replay(stored, transaction_id, self._clock())

    async def _post(
        self,
        transaction_id: TransactionId,
        request: PostingRequest,
        *,
        look_up_first: bool,
        sweep: bool,
    ) -> PostedTransaction:
        async with self._uow() as uow:
            if look_up_first:
                stored = await uow.transactions.get(transaction_id)
                if stored is not None:
                    return request.replay(stored, transaction_id, self._clock())
            locked = await uow.accounts.get_for_update(request.account_number)
            transaction = await self._stage(uow, locked, transaction_id, request, sweep=sweep)
            await uow.commit()
        return PostedTransaction(transaction, created=True)

    async def _stage(
        self,
        uow: PostingUnitOfWork,
        locked: Account | None,
        transaction_id: TransactionId,
        request: PostingRequest,
        *,
        sweep: bool,
    ) -> Transaction:
        """Lets the locked account (None: there is no such account) accept the new
        transaction, and stages both and the posting's event; raises _HoldsDue first, when
        ``sweep`` and the account has holds due."""
        account = require_open_account(locked, request.account_number, actor=request.actor)
        now = self._clock()
        if sweep and account.holds_due(now):
            raise _HoldsDue()
        transaction = request.new_transaction(transaction_id, now)
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
        self,
        command: PostTransactionCommand,
        claim: IdempotencyClaim[PostedTransaction],
        idempotency: Idempotency,
    ) -> PostedTransaction:
        """Runs ``_post_and_keep`` again after what it may meet on the way: holds due (once
        they are recorded, up to _SWEEPS times, the last time without looking), another
        posting with the id committed between our look-up and our insert (once more: it is
        found this time), and the key answered by another process since the claim looked
        (once more: its answer is replayed)."""
        request = PostingRequest.parse(command, self._clock)
        given_id = command.transaction_id is not None
        transaction_id = (
            TransactionId(command.transaction_id)
            if command.transaction_id is not None
            else TransactionId.generate()
        )
        sweeps = duplicates = restarts = 0
        while True:
            try:
                return await self._post_and_keep(
                    claim,
                    idempotency,
                    request,
                    transaction_id,
                    look_up_first=given_id,
                    sweep=sweeps < _SWEEPS - 1,
                )
            except _HoldsDue:
                sweeps += 1
                await self._expire(request.account_number)
            except DuplicateTransactionId:
                if duplicates:
                    raise
                duplicates += 1
            except KeyAnsweredMeanwhile:
                if restarts:
                    raise IdempotencyKeyInUse() from None
                restarts += 1

    async def _post_and_keep(
        self,
        claim: IdempotencyClaim[PostedTransaction],
        idempotency: Idempotency,
        request: PostingRequest,
        transaction_id: TransactionId,
        *,
        look_up_first: bool,
        sweep: bool,
    ) -> PostedTransaction:
        """A posting and its kept answer, in one unit of work; a refusal under the account's
        lock keeps its answer in it too (the unit of work holds the key)."""
        async with self._uow() as uow:
            await idempotency.check(uow, claim)
            stored = await uow.transactions.get(transaction_id) if look_up_first else None
            number = request.account_number
            if stored is not None:
                # The port's one lock, before the answer is kept: the posting's account.
                await uow.accounts.get_for_update(number)
                try:
                    posted = request.replay(stored, transaction_id, self._clock())
                except LedgerError as refusal:  # the id was used with other fields
                    await idempotency.refuse(uow, claim, refusal)
            else:
                locked = await uow.accounts.get_for_update(number)
                try:
                    transaction = await self._stage(
                        uow, locked, transaction_id, request, sweep=sweep
                    )
                except LedgerError as refusal:
                    await idempotency.refuse(uow, claim, refusal)
                posted = PostedTransaction(transaction, created=True)
            await idempotency.keep(uow, claim, posted)
            await uow.commit()
        return posted

    def _keyed_idempotency(self) -> Idempotency:
        if self._idempotency is None:
            if self._keyed is None:
                raise RuntimeError("PostTransaction was made without `keyed`: it takes no claims.")
            self._idempotency = Idempotency(self._keyed, self._clock)
        return self._idempotency
