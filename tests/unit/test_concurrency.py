"""Concurrent tasks on one in-memory store lose no update and never overdraw.

The plain in-memory store never yields between its read and its write, so on its own it would
pass these tests even without a lock. The ``interleaving`` variant makes every read and every
commit yield to the event loop, so tasks really do interleave inside their units of work and only
the per-account lock keeps them correct; ``test_the_race_is_real_without_the_lock`` proves that.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from decimal import Decimal
from typing import ParamSpec, TypeVar

import pytest

from bank_adapters import memory
from bank_adapters.memory import InMemoryStore
from bank_domain import (
    AmendTransactionCommand,
    DeleteTransactionCommand,
    DuplicateAccountNumber,
    DuplicateTransactionId,
    InsufficientFunds,
    Ledger,
    LedgerError,
    PostedTransaction,
    TransactionNotFound,
)

from .support import (
    every_transaction,
    number_of,
    open_account,
    post,
    random_account_number,
    random_tid,
    sum_of_success,
)

TASKS = 64

P = ParamSpec("P")
R = TypeVar("R")


def make_interleaving(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every repository read, and every commit, hands control to the other tasks."""

    def yielding_after(
        method: Callable[P, Awaitable[R]],
    ) -> Callable[P, Coroutine[None, None, R]]:
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            result = await method(*args, **kwargs)
            await asyncio.sleep(0)
            return result

        return wrapper

    def yielding_before(
        method: Callable[P, Awaitable[R]],
    ) -> Callable[P, Coroutine[None, None, R]]:
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            await asyncio.sleep(0)
            return await method(*args, **kwargs)

        return wrapper

    for cls, name in [
        (memory._InMemoryAccounts, "get"),
        (memory._InMemoryAccounts, "number_taken"),
        (memory._InMemoryTransactions, "get"),
    ]:
        monkeypatch.setattr(cls, name, yielding_after(getattr(cls, name)))
    monkeypatch.setattr(
        memory.InMemoryUnitOfWork, "commit", yielding_before(memory.InMemoryUnitOfWork.commit)
    )


@pytest.fixture(params=["plain", "interleaving"])
def ledger_under_race(
    request: pytest.FixtureRequest, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> Ledger:
    if request.param == "interleaving":
        make_interleaving(monkeypatch)
    return ledger


async def outcomes(attempts: list[Awaitable[object]]) -> list[object]:
    return await asyncio.wait_for(asyncio.gather(*attempts, return_exceptions=True), timeout=10)


async def test_concurrent_deposits_lose_no_update(ledger_under_race: Ledger) -> None:
    ledger = ledger_under_race
    number = number_of(await open_account(ledger))

    results = await outcomes([post(ledger, number, "1.00") for _ in range(TASKS)])

    assert all(isinstance(r, PostedTransaction) and r.created for r in results), results
    account = await ledger.get_account(number)
    assert account.balance.amount == Decimal("64.00")
    assert account.version == 1 + TASKS
    transactions = await every_transaction(ledger, number)
    assert len(transactions) == TASKS
    assert sum_of_success(transactions) == Decimal("64.00")
    # Each deposit saw the balance its predecessor left: 1.00, 2.00, ..., 64.00 once each.
    assert sorted(t.balance_after.amount for t in transactions if t.balance_after) == [
        Decimal(i) for i in range(1, TASKS + 1)
    ]


async def test_concurrent_withdrawals_never_overdraw(ledger_under_race: Ledger) -> None:
    ledger = ledger_under_race
    number = number_of(await open_account(ledger, "100.00"))

    results = await outcomes([post(ledger, number, "10.00", "withdrawal") for _ in range(TASKS)])

    kinds = Counter(type(r).__name__ for r in results)
    assert kinds == {"PostedTransaction": 10, "InsufficientFunds": TASKS - 10}, results
    assert (await ledger.get_account(number)).balance.amount == 0
    afters = sorted(
        r.transaction.balance_after.amount
        for r in results
        if isinstance(r, PostedTransaction) and r.transaction.balance_after
    )
    assert afters == [Decimal(10 * i) for i in range(10)]
    assert all(a >= 0 for a in afters)
    assert len(await every_transaction(ledger, number)) == 1 + 10
    assert (await ledger.recalculate_balance(number)).corrected is False


async def test_mixed_concurrent_traffic_keeps_the_books_straight(
    ledger_under_race: Ledger,
) -> None:
    ledger = ledger_under_race
    number = number_of(await open_account(ledger, "50"))
    attempts: list[Awaitable[object]] = []
    for i in range(TASKS):
        kind = "deposit" if i % 3 == 0 else "withdrawal"
        attempts.append(post(ledger, number, f"{1 + i % 7}.25", kind))

    results = await outcomes(attempts)

    assert all(isinstance(r, PostedTransaction | InsufficientFunds) for r in results), results
    balance = (await ledger.get_account(number)).balance.amount
    assert balance >= 0
    assert balance == sum_of_success(await every_transaction(ledger, number))
    assert (await ledger.recalculate_balance(number)).corrected is False


async def test_the_race_is_real_without_the_lock(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A check on the harness: with the per-account lock switched off, updates get lost."""
    make_interleaving(monkeypatch)
    number = number_of(await open_account(ledger))

    async def no_lock(self: memory.InMemoryUnitOfWork, number: object) -> None:
        return None

    monkeypatch.setattr(memory.InMemoryUnitOfWork, "lock", no_lock)
    await outcomes([post(ledger, number, "1.00") for _ in range(TASKS)])

    assert (await ledger.get_account(number)).balance.amount < TASKS


async def test_concurrent_retries_of_one_posting_move_money_once(
    ledger_under_race: Ledger,
) -> None:
    ledger = ledger_under_race
    number = number_of(await open_account(ledger))
    tid = random_tid()

    results = await outcomes([post(ledger, number, "5", transaction_id=tid) for _ in range(16)])

    assert all(isinstance(r, PostedTransaction) for r in results), results
    assert sum(1 for r in results if isinstance(r, PostedTransaction) and r.created) == 1
    assert (await ledger.get_account(number)).balance.amount == 5
    assert len(await every_transaction(ledger, number)) == 1


async def test_concurrent_different_uses_of_one_id_store_one(ledger_under_race: Ledger) -> None:
    ledger = ledger_under_race
    number = number_of(await open_account(ledger))
    tid = random_tid()

    results = await outcomes(
        [post(ledger, number, f"{i + 1}", transaction_id=tid) for i in range(16)]
    )

    created = [r for r in results if isinstance(r, PostedTransaction)]
    assert len(created) == 1
    assert all(isinstance(r, DuplicateTransactionId) for r in results if r not in created)
    assert (await ledger.get_account(number)).balance == created[0].transaction.amount


async def test_concurrent_opens_of_one_number_make_one_account(
    ledger_under_race: Ledger, store: InMemoryStore
) -> None:
    ledger = ledger_under_race
    number = random_account_number()

    results = await outcomes([open_account(ledger, "1", number=number) for _ in range(16)])

    assert sum(1 for r in results if not isinstance(r, BaseException)) == 1
    assert all(
        isinstance(r, DuplicateAccountNumber) for r in results if isinstance(r, BaseException)
    )
    assert (await ledger.get_account(number)).balance.amount == 1
    assert len(store.transactions) == 1


async def test_concurrent_deletes_of_one_transaction_take_it_back_once(
    ledger_under_race: Ledger,
) -> None:
    ledger = ledger_under_race
    number = number_of(await open_account(ledger, "10"))
    tid = str((await post(ledger, number, "5")).transaction.transaction_id)

    results = await outcomes(
        [ledger.delete_transaction(DeleteTransactionCommand(tid)) for _ in range(16)]
    )

    assert sum(1 for r in results if r is None) == 1
    assert all(isinstance(r, TransactionNotFound) for r in results if r is not None)
    assert (await ledger.get_account(number)).balance.amount == 10


async def test_concurrent_amendments_and_postings_never_overdraw(
    ledger_under_race: Ledger,
) -> None:
    ledger = ledger_under_race
    number = number_of(await open_account(ledger))
    deposit = (await post(ledger, number, "100")).transaction
    tid = str(deposit.transaction_id)
    attempts: list[Awaitable[object]] = []
    for i in range(TASKS):
        if i % 2:
            attempts.append(post(ledger, number, "7", "withdrawal"))
        else:
            attempts.append(
                ledger.amend_transaction(AmendTransactionCommand(tid, amount=f"{100 - i}"))
            )

    results = await outcomes(attempts)

    assert all(not isinstance(r, BaseException) or isinstance(r, LedgerError) for r in results)
    balance = (await ledger.get_account(number)).balance.amount
    assert balance >= 0
    assert balance == sum_of_success(await every_transaction(ledger, number))
    assert (await ledger.recalculate_balance(number)).corrected is False
