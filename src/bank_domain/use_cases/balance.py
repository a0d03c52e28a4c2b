"""Recomputing a balance from the account's journal."""

from __future__ import annotations

from dataclasses import dataclass

from bank_domain.actors import MASTER, Actor
from bank_domain.events import Event, EventType
from bank_domain.idempotency import IdempotencyClaim
from bank_domain.identifiers import AccountNumber
from bank_domain.money import Money
from bank_domain.use_cases._common import (
    account_number_for_lookup,
    lock_open_account,
    require_open_account,
)
from bank_domain.use_cases.idempotency import ClaimingUseCase


@dataclass(frozen=True, slots=True)
class Recalculation:
    account_number: AccountNumber
    balance: Money
    previous_balance: Money
    corrected: bool


class RecalculateBalance(ClaimingUseCase):
    """Recomputes an account's balance from its journal (the sum of its entries, which is the
    sum of its ``success`` transactions' effects) and repairs any drift of the stored balance.

    The sum (every entry of the account) is taken before the account's lock, so postings to the
    account do not wait for it: first the account and its version are read, then the sum. Every
    new entry moves the balance and so bumps the version; if, under the lock, the account is
    still at the version read before the sum, the sum is the one for the balance being checked.
    Otherwise (the account changed meanwhile) it is summed again, under the lock.

    The held amount is recounted too, under the lock, from the account's pending withdrawals
    (those due to expire expired first): drift there is repaired as well, and ``corrected``
    tells of either repair.
    """

    async def __call__(
        self,
        account_number: str,
        *,
        actor: Actor = MASTER,
        idempotency: IdempotencyClaim[Recalculation] | None = None,
    ) -> Recalculation:
        return await self._idempotency.run(
            idempotency, lambda: self._recalculate(account_number, actor, idempotency)
        )

    async def _recalculate(
        self,
        account_number: str,
        actor: Actor,
        idempotency: IdempotencyClaim[Recalculation] | None,
    ) -> Recalculation:
        number = account_number_for_lookup(account_number, actor=actor)
        async with self._uow(read_only=True) as uow:
            seen = require_open_account(await uow.accounts.get(number), number, actor=actor)
            summed_at_version = seen.version
            recomputed = await uow.journal.sum_of_amounts(number)
        async with self._uow() as uow:
            await self._idempotency.check(uow, idempotency)
            account, now = await lock_open_account(uow, number, self._clock, actor=actor)
            if account.version != summed_at_version:
                recomputed = await uow.journal.sum_of_amounts(number)
            previous = account.balance
            held_corrected = account.correct_holds(await uow.transactions.pending(number), now)
            corrected = account.correct_balance(recomputed, now) or held_corrected
            if corrected:
                # No transaction moved this balance, so the account's own event tells of it.
                await uow.accounts.save(account)
                await uow.events.add(Event.of(EventType.ACCOUNT_UPDATED, account, actor, now))
            result = Recalculation(number, account.balance, previous, corrected)
            await self._idempotency.keep(uow, idempotency, result)
            await uow.commit()  # the repair, the expiries recorded under the lock, the answer
        return result
