"""Races on one account, on every store: however many units of work post at once, no update is
lost and no balance goes below zero (PostgreSQL: SELECT ... FOR UPDATE; SQLite: BEGIN
IMMEDIATE; memory: a lock per account)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

from bank_adapters.stores import Store
from bank_domain import (
    AccountNumber,
    InsufficientFunds,
    Ledger,
    ListTransactionsQuery,
    Money,
    OpenAccountCommand,
    PostedTransaction,
    PostTransactionCommand,
    TransactionId,
)

RACERS = 64


async def open_account(ledger: Ledger, initial_deposit: str = "0") -> AccountNumber:
    account = await ledger.open_account(
        OpenAccountCommand("Ada Lovelace", "checking", initial_deposit=initial_deposit)
    )
    return account.number


async def test_concurrent_read_modify_write_units_of_work_lose_no_update(store: Store) -> None:
    number = await open_account(Ledger(store.unit_of_work))

    async def deposit_one() -> None:
        async with store.unit_of_work() as uow:
            account = await uow.accounts.get_for_update(number)
            assert account is not None
            await asyncio.sleep(0.001)  # widen the window between the read and the write
            account.move_balance(
                Money(Decimal("1.00")), datetime.now(UTC), TransactionId.generate()
            )
            await uow.accounts.save(account)
            await uow.commit()

    await asyncio.gather(*(deposit_one() for _ in range(RACERS)))

    async with store.unit_of_work() as uow:
        account = await uow.accounts.get(number)
    assert account is not None
    assert account.balance == Money(Decimal("64.00"))
    assert account.version == 1 + RACERS
    # Each unit of work chained its entry onto the one before, under the lock: no id twice.
    check = await Ledger(store.unit_of_work).verify_account(number.value)
    assert check.sound
    assert check.entry_count == RACERS


async def test_concurrent_deposits_are_all_counted(store: Store) -> None:
    ledger = Ledger(store.unit_of_work)
    number = await open_account(ledger)

    await asyncio.gather(
        *(
            ledger.post_transaction(PostTransactionCommand(number.value, "1.00", "deposit"))
            for _ in range(RACERS)
        )
    )

    account = await ledger.get_account(number.value)
    assert account.balance == Money(Decimal("64.00"))
    listed = await ledger.list_transactions(ListTransactionsQuery(number.value, limit=500))
    assert [t.balance_after for t in listed.items] == [
        Money(Decimal(n)) for n in range(1, RACERS + 1)
    ]
    recalculation = await ledger.recalculate_balance(number.value)
    assert not recalculation.corrected


async def test_concurrent_withdrawals_never_overdraw(store: Store) -> None:
    ledger = Ledger(store.unit_of_work)
    number = await open_account(ledger, initial_deposit="10.00")

    outcomes = await asyncio.gather(
        *(
            ledger.post_transaction(PostTransactionCommand(number.value, "1.00", "withdrawal"))
            for _ in range(RACERS // 2)
        ),
        return_exceptions=True,
    )

    posted = [outcome for outcome in outcomes if isinstance(outcome, PostedTransaction)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, InsufficientFunds)]
    assert (len(posted), len(refused)) == (10, RACERS // 2 - 10), outcomes
    account = await ledger.get_account(number.value)
    assert account.balance == Money.zero()
    recalculation = await ledger.recalculate_balance(number.value)
    assert not recalculation.corrected


async def test_one_transaction_id_posted_at_once_moves_money_once(store: Store) -> None:
    ledger = Ledger(store.unit_of_work)
    number = await open_account(ledger)
    command = PostTransactionCommand(
        number.value, "5.00", "deposit", transaction_id="retry-me-0123456789"
    )

    postings = await asyncio.gather(*(ledger.post_transaction(command) for _ in range(16)))

    assert sum(posting.created for posting in postings) == 1
    account = await ledger.get_account(number.value)
    assert account.balance == Money(Decimal("5.00"))
