"""Recomputing a balance from the account's transactions."""

from __future__ import annotations

from dataclasses import dataclass

from bank_domain.identifiers import AccountNumber
from bank_domain.money import Money
from bank_domain.ports import Clock, UnitOfWorkFactory
from bank_domain.use_cases._common import account_number_for_lookup, require_open_account, utc_now


@dataclass(frozen=True, slots=True)
class Recalculation:
    account_number: AccountNumber
    balance: Money
    previous_balance: Money
    corrected: bool


class RecalculateBalance:
    """Recomputes an account's balance from its ``success`` transactions under the account's
    lock, and repairs any drift."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, account_number: str) -> Recalculation:
        number = account_number_for_lookup(account_number)
        async with self._uow() as uow:
            account = require_open_account(await uow.accounts.get_for_update(number), number)
            previous = account.balance
            recomputed = await uow.transactions.sum_of_effects(number)
            corrected = account.correct_balance(recomputed, self._clock())
            if corrected:
                await uow.accounts.save(account)
                await uow.commit()
        return Recalculation(number, account.balance, previous, corrected)
