"""Transfers: money moved between two accounts in one unit of work, read, and reversed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from bank_domain.access import require_visible_account_number
from bank_domain.account import Account
from bank_domain.actors import MASTER, Actor
from bank_domain.errors import DuplicateTransferId, InvalidValue
from bank_domain.events import Event, EventType
from bank_domain.idempotency import IdempotencyClaim
from bank_domain.identifiers import AccountNumber, TransferId
from bank_domain.money import Money, transaction_amount
from bank_domain.ports import UnitOfWork, UnitOfWorkFactory
from bank_domain.transaction import description
from bank_domain.transfer import Transfer, TransferStatus, require_two_accounts
from bank_domain.use_cases._common import (
    record_due_expiries,
    require_open_account,
    require_visible_transfer,
    transfer_id_for_lookup,
)
from bank_domain.use_cases.idempotency import ClaimingUseCase


@dataclass(frozen=True, slots=True)
class MakeTransferCommand:
    from_account: str
    to_account: str
    amount: Decimal | int | str
    transfer_id: str | None = None
    description: str | None = None
    actor: Actor = MASTER
    idempotency: IdempotencyClaim[MadeTransfer] | None = None


@dataclass(frozen=True, slots=True)
class MadeTransfer:
    """What making a transfer answers: the transfer, and whether this request made it."""

    transfer: Transfer
    created: bool
    """False when the request repeated a stored transfer (a safe retry) and moved no money."""


def _account_number(value: str, field: str) -> AccountNumber:
    try:
        return AccountNumber(value)
    except InvalidValue as error:
        raise InvalidValue(field, error.detail) from None


@dataclass(frozen=True, slots=True)
class _TransferRequest:
    """A transfer's fields once every one of them has passed the ledger's rules."""

    from_account: AccountNumber
    to_account: AccountNumber
    amount: Money
    description: str | None
    actor: Actor

    @classmethod
    def parse(cls, command: MakeTransferCommand) -> _TransferRequest:
        from_account = _account_number(command.from_account, "from_account")
        to_account = _account_number(command.to_account, "to_account")
        amount = transaction_amount(command.amount)
        text = description(command.description)
        require_two_accounts(from_account, to_account)
        for number in (from_account, to_account):
            require_visible_account_number(command.actor, number)
        return cls(from_account, to_account, amount, text, command.actor)

    def replay(self, stored: Transfer | None, transfer_id: TransferId) -> MadeTransfer:
        """A repeat of a stored transfer is answered with it; any other use of its id is
        refused (in words that tell nothing of the stored one)."""
        if stored is None or not stored.same_request(
            self.from_account, self.to_account, self.amount, self.description
        ):
            raise DuplicateTransferId(
                str(transfer_id),
                f"The transfer id {transfer_id} was used before, with other fields.",
            )
        return MadeTransfer(stored, created=False)


async def _stored_transfer(uow: UnitOfWork, transfer_id: TransferId) -> Transfer | None:
    return Transfer.of_legs(transfer_id, await uow.transactions.transfer_legs(transfer_id))


class MakeTransfer(ClaimingUseCase):
    """Moves an amount from one account to another: a ``success`` withdrawal on
    ``from_account`` and a ``success`` deposit on ``to_account``, both carrying the transfer's
    id, in one unit of work that locks both accounts in account-number order: both or neither.
    The same account twice is a 422; an unknown one a 404; a frozen one, or a from_account that
    cannot give the amount, a 409. The same transfer_id again with the same fields returns the
    stored transfer and moves no money; with other fields it is refused."""

    async def __call__(self, command: MakeTransferCommand) -> MadeTransfer:
        return await self._idempotency.run(command.idempotency, lambda: self._make_any(command))

    async def _make_any(self, command: MakeTransferCommand) -> MadeTransfer:
        given = None if command.transfer_id is None else TransferId(command.transfer_id)
        request = _TransferRequest.parse(command)
        claim = command.idempotency
        if given is None:
            return await self._make(TransferId.generate(), request, claim, look_up_first=False)
        try:
            return await self._make(given, request, claim, look_up_first=True)
        except DuplicateTransferId:
            # Another transfer with this id committed between our look-up and our insert:
            # once more, and the look-up under the locks now finds it.
            return await self._make(given, request, claim, look_up_first=True)

    async def _make(
        self,
        transfer_id: TransferId,
        request: _TransferRequest,
        claim: IdempotencyClaim[MadeTransfer] | None,
        *,
        look_up_first: bool,
    ) -> MadeTransfer:
        async with self._uow() as uow:
            await self._idempotency.check(uow, claim)
            locked = await uow.accounts.get_many_for_update(
                (request.from_account, request.to_account)
            )
            stored = await _stored_transfer(uow, transfer_id) if look_up_first else None
            if stored is not None:
                # Under the accounts' locks: a retry racing its first try waits for it here.
                made = request.replay(stored, transfer_id)
            else:
                made = await self._post(uow, transfer_id, request, locked)
            await self._idempotency.keep(uow, claim, made)
            await uow.commit()
        return made

    async def _post(
        self,
        uow: UnitOfWork,
        transfer_id: TransferId,
        request: _TransferRequest,
        locked: Mapping[AccountNumber, Account],
    ) -> MadeTransfer:
        actor = request.actor
        from_account = require_open_account(
            locked.get(request.from_account), request.from_account, actor=actor
        )
        to_account = require_open_account(
            locked.get(request.to_account), request.to_account, actor=actor
        )
        now = self._clock()
        await record_due_expiries(uow, (from_account, to_account), now)
        transfer = Transfer.new(
            transfer_id,
            request.from_account,
            request.to_account,
            request.amount,
            request.description,
            now,
        )
        transfer.post(now, from_account, to_account)
        await uow.add_postings(
            transfer.legs,
            (from_account, to_account),
            [Event.of(EventType.TRANSFER_POSTED, leg, actor, now) for leg in transfer.legs],
        )
        return MadeTransfer(transfer, created=True)


class GetTransfer:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, transfer_id: str, *, actor: Actor = MASTER) -> Transfer:
        """A transfer, seen only by an actor that sees both of its accounts."""
        tid = transfer_id_for_lookup(transfer_id)
        async with self._uow(read_only=True) as uow:
            return require_visible_transfer(await _stored_transfer(uow, tid), tid, actor=actor)


class ReverseTransfer(ClaimingUseCase):
    """Gives a transfer's money back: to_account returns the amount to from_account and both
    legs become ``cancelled`` (their history says ``reversed``), in one unit of work that locks
    both accounts in account-number order. Refused (409 ``insufficient_funds``) when
    to_account can no longer give the amount back. A reversed transfer stays as it is."""

    async def __call__(
        self,
        transfer_id: str,
        *,
        actor: Actor = MASTER,
        idempotency: IdempotencyClaim[Transfer] | None = None,
    ) -> Transfer:
        return await self._idempotency.run(
            idempotency, lambda: self._reverse(transfer_id, actor, idempotency)
        )

    async def _reverse(
        self, transfer_id: str, actor: Actor, claim: IdempotencyClaim[Transfer] | None
    ) -> Transfer:
        tid = transfer_id_for_lookup(transfer_id)
        async with self._uow() as uow:
            await self._idempotency.check(uow, claim)
            transfer = await self._reversed(uow, tid, actor)
            await self._idempotency.keep(uow, claim, transfer)
            await uow.commit()
        return transfer

    async def _reversed(self, uow: UnitOfWork, tid: TransferId, actor: Actor) -> Transfer:
        """The transfer reversed in the unit of work (not yet committed); one reversed before
        is answered as it is."""
        seen = require_visible_transfer(await _stored_transfer(uow, tid), tid, actor=actor)
        if seen.status is TransferStatus.REVERSED:
            return seen  # final: nothing to lock
        locked = await uow.accounts.get_many_for_update(seen.account_numbers)
        # Read again under the locks: every change to a leg happens under its account's.
        transfer = require_visible_transfer(await _stored_transfer(uow, tid), tid, actor=actor)
        if transfer.status is TransferStatus.REVERSED:
            return transfer
        from_account = require_open_account(
            locked.get(transfer.from_account), transfer.from_account, actor=actor
        )
        to_account = require_open_account(
            locked.get(transfer.to_account), transfer.to_account, actor=actor
        )
        now = self._clock()
        await record_due_expiries(uow, (from_account, to_account), now)
        transfer.reverse(now, from_account, to_account)
        for leg in transfer.legs:
            await uow.transactions.save(leg)
        await uow.accounts.save(to_account)
        await uow.accounts.save(from_account)
        for leg in transfer.legs:
            await uow.events.add(Event.of(EventType.TRANSFER_REVERSED, leg, actor, now))
        return transfer
