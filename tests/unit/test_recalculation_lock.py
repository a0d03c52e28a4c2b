"""Recalculation sums an account's journal before taking the account's lock, so postings to
the account never wait for the sum; under the lock it only compares (or sums again when the
account changed in between)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal

from bank_adapters.memory import InMemoryStore, InMemoryUnitOfWork
from bank_domain import AccountNumber, Ledger, Money

from .support import SteppingClock, balance_of, number_of, open_account, post


class ObservedStore:
    """The store's unit-of-work factory, noting for every sum of the journal whether the account's
    lock was held while it ran; ``during_sum`` runs inside the sum, as a slow one would."""

    def __init__(self, store: InMemoryStore) -> None:
        self.store = store
        self.sums: list[tuple[bool, bool]] = []
        """(the account's lock held, the unit of work read-only), one per sum."""
        self.during_sum: Callable[[], Awaitable[None]] | None = None

    def __call__(self, *, read_only: bool = False) -> InMemoryUnitOfWork:
        uow = self.store.unit_of_work(read_only=read_only)
        summing = uow.journal.sum_of_amounts

        async def observed(account_number: AccountNumber) -> Money:
            self.sums.append((self.store.account_locks[account_number].locked(), read_only))
            if self.during_sum is not None:
                during, self.during_sum = self.during_sum, None
                await during()
            return await summing(account_number)

        # This one unit of work's method, replaced to watch it: mypy refuses any method assignment.
        uow.journal.sum_of_amounts = observed  # type: ignore[method-assign]
        return uow


async def test_the_sum_runs_without_the_account_s_lock(store: InMemoryStore) -> None:
    observed = ObservedStore(store)
    ledger = Ledger(observed, SteppingClock())
    number = number_of(await open_account(ledger, "10"))
    await post(ledger, number, "5")

    result = await ledger.recalculate_balance(number)

    assert (result.balance.amount, result.corrected) == (Decimal("15.00"), False)
    assert observed.sums == [(False, True)], "one sum, in a read-only unit of work, unlocked"


async def test_a_posting_does_not_wait_for_a_slow_sum(store: InMemoryStore) -> None:
    observed = ObservedStore(store)
    ledger = Ledger(observed, SteppingClock())
    number = number_of(await open_account(ledger, "10"))
    summing, release = asyncio.Event(), asyncio.Event()

    async def slow() -> None:
        summing.set()
        await release.wait()

    observed.during_sum = slow
    recalculation = asyncio.create_task(ledger.recalculate_balance(number))
    await asyncio.wait_for(summing.wait(), 1)
    try:
        posted = await asyncio.wait_for(post(ledger, number, "1"), 1)
    finally:
        release.set()
    assert posted.created
    result = await recalculation
    # The posting changed the account while the first sum ran: it is summed again, under the lock.
    assert (result.balance.amount, result.corrected) == (Decimal("11.00"), False)
    assert observed.sums == [(False, True), (True, False)]


async def test_a_change_between_the_sum_and_the_lock_is_summed_again(store: InMemoryStore) -> None:
    observed = ObservedStore(store)
    ledger = Ledger(observed, SteppingClock())
    other = Ledger(store.unit_of_work, SteppingClock())
    number = number_of(await open_account(ledger, "10"))

    async def posting_meanwhile() -> None:
        await post(other, number, "7")

    observed.during_sum = posting_meanwhile
    result = await asyncio.wait_for(ledger.recalculate_balance(number), 2)

    assert (result.balance.amount, result.previous_balance.amount) == (
        Decimal("17.00"),
        Decimal("17.00"),
    )
    assert result.corrected is False
    assert await balance_of(ledger, number) == Decimal("17.00")
    assert observed.sums == [(False, True), (True, False)]


async def test_drift_is_still_repaired(store: InMemoryStore) -> None:
    ledger = Ledger(ObservedStore(store), SteppingClock())
    number = number_of(await open_account(ledger, "10"))
    account = store.accounts[AccountNumber(number)]
    account.balance = Money.parse("3")  # drift behind the ledger's back

    result = await ledger.recalculate_balance(number)

    assert (result.balance.amount, result.previous_balance.amount, result.corrected) == (
        Decimal("10.00"),
        Decimal("3.00"),
        True,
    )
    assert await balance_of(ledger, number) == Decimal("10.00")
