"""Recording expiries: a pending transaction whose expires_at has come is cancelled from that
instant (every read computes it so, ``Transaction.seen_at``); this records it, under its
account's lock, as the reads showed it."""

from __future__ import annotations

from typing import Final

from bank_domain.identifiers import AccountNumber
from bank_domain.ports import Clock, UnitOfWorkFactory
from bank_domain.use_cases._common import record_expiries, utc_now

ACCOUNTS_PER_SWEEP: Final = 100
"""How many accounts one sweep looks at, at most; the next sweep goes on."""


class ExpireHolds:
    """Records the expiries that have come: on one account (``account``, which a posting to an
    account with holds due calls before it is judged) or on every account (``sweep``, which
    the server calls every so often).

    Each account's in a unit of work of its own that holds the account's lock, so that a
    capture, a cancellation and an expiry of one hold are decided one after the other: whichever
    comes second finds the first done. Any number of processes may sweep at once: the second to
    lock an account finds nothing left to record."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._uow = uow
        self._clock = clock

    async def account(self, number: AccountNumber) -> int:
        """Records the expiries due on one account; how many transactions expired."""
        async with self._uow() as uow:
            account = await uow.accounts.get_for_update(number)
            if account is None:
                return 0
            expired = await record_expiries(uow, account, self._clock())
            await uow.commit()
        return len(expired)

    async def sweep(self, limit: int = ACCOUNTS_PER_SWEEP) -> int:
        """Records the expiries due on up to ``limit`` accounts; how many transactions
        expired."""
        async with self._uow(read_only=True) as uow:
            numbers = await uow.accounts.expiries_due(self._clock(), limit)
        expired = 0
        for number in numbers:
            expired += await self.account(number)
        return expired
