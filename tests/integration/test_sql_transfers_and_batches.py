"""Transfers and batches on every store (memory, SQLite, PostgreSQL): the ports they use
(several accounts locked in account-number order, a transfer's legs, many postings written at
once), both-or-neither, and opposite transfers racing without a deadlock."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, text

from bank_adapters.sql import SqlStore
from bank_adapters.stores import Store
from bank_domain import (
    AccountNumber,
    DuplicateTransactionId,
    DuplicateTransferId,
    Event,
    EventType,
    InsufficientFunds,
    ItemRefused,
    Ledger,
    ListTransactionsQuery,
    MakeTransferCommand,
    Money,
    OpenAccountCommand,
    PostBatchCommand,
    PostTransactionCommand,
    Transaction,
    TransactionStatus,
    TransactionType,
    TransferId,
    TransferStatus,
)
from bank_domain.actors import MASTER
from bank_domain.transfer import Transfer
from tests.integration.test_sql_store_contract import (
    T0,
    add,
    an_account,
    random_id,
    random_number,
)


async def open_account(ledger: Ledger, deposit: str = "0") -> str:
    account = await ledger.open_account(
        OpenAccountCommand("Ada Lovelace", "checking", initial_deposit=deposit)
    )
    return account.number.value


async def counts(store: Store, *numbers: str) -> tuple[Any, ...]:
    """Balances, versions, transactions and entries of some accounts: what a refusal keeps.
    (Events are the unit and HTTP tests' to count: on PostgreSQL the feed may hold back what
    committed while another transaction on the server is still running.)"""
    ledger = Ledger(store.unit_of_work)
    found = []
    for number in numbers:
        account = await ledger.get_account(number)
        check = await ledger.verify_account(number)
        listed = await ledger.list_transactions(ListTransactionsQuery(number, limit=500))
        found.append((account.balance, account.version, check.entry_count, len(listed.items)))
    return tuple(found)


async def write_postings(store: Store, transactions: list[Transaction]) -> None:
    async with store.unit_of_work() as uow:
        await uow.add_postings(transactions, [], [])
        await uow.commit()


# --- The ports ------------------------------------------------------------------------------


async def test_many_accounts_are_locked_at_once_and_unknown_ones_left_out(store: Store) -> None:
    accounts = [an_account() for _ in range(5)]
    await add(store, *accounts)
    unknown = random_number()

    async with store.unit_of_work() as uow:
        locked = await uow.accounts.get_many_for_update(
            [unknown, *reversed([a.number for a in accounts]), accounts[0].number]
        )

    assert list(locked) == sorted(a.number for a in accounts)
    assert all(dataclasses.asdict(locked[a.number]) == dataclasses.asdict(a) for a in accounts)


async def test_a_transfer_s_legs_are_found_by_its_id_and_one_of_each_kind(store: Store) -> None:
    source, target = an_account(balance=Money(Decimal("10.00"))), an_account()
    await add(store, source, target)
    transfer_id = TransferId(f"tr-{random_id().value}")
    made = Transfer.new(transfer_id, source.number, target.number, Money(Decimal("1.00")), None, T0)
    await add(store, *made.legs)

    async with store.unit_of_work() as uow:
        legs = await uow.transactions.transfer_legs(transfer_id)
        assert await uow.transactions.transfer_legs(TransferId("tr-never-made")) == []
    found = Transfer.of_legs(transfer_id, legs)
    assert found is not None
    assert dataclasses.asdict(found) == dataclasses.asdict(made)

    again = Transfer.new(
        transfer_id, target.number, source.number, Money(Decimal("1.00")), None, T0
    )
    for leg in again.legs:
        with pytest.raises(DuplicateTransferId):
            await add(store, leg)
    with pytest.raises(DuplicateTransferId):
        await write_postings(store, list(again.legs))


async def test_postings_written_at_once_come_back_and_need_a_commit(store: Store) -> None:
    account = an_account(balance=Money(Decimal("5.00")))
    await add(store, account)
    ledger = Ledger(store.unit_of_work)

    async with store.unit_of_work() as uow:
        locked = (await uow.accounts.get_many_for_update([account.number]))[account.number]
        new = [
            Transaction.new(
                random_id(),
                account.number,
                Money(Decimal("1.00")),
                TransactionType.DEPOSIT,
                None,
                TransactionStatus.SUCCESS,
                T0,
            )
            for _ in range(3)
        ]
        for transaction in new:
            locked.accept(transaction, T0)
        await uow.add_postings(
            new, [locked], [Event.of(EventType.TRANSACTION_POSTED, t, MASTER, T0) for t in new]
        )
        # No commit: nothing stays.

    assert (await ledger.get_account(account.number.value)).balance == Money(Decimal("5.00"))
    async with store.unit_of_work() as uow:
        assert await uow.transactions.get_many([t.transaction_id for t in new]) == {}
    taken = new[0]
    await add(store, taken)
    async with store.unit_of_work() as uow:
        found = await uow.transactions.get_many([t.transaction_id for t in new])
    assert list(found) == [taken.transaction_id]
    with pytest.raises(DuplicateTransactionId):
        await write_postings(store, [taken])


# --- Through the ledger ---------------------------------------------------------------------


async def test_a_transfer_and_its_reversal_on_every_store(store: Store) -> None:
    ledger = Ledger(store.unit_of_work)
    source, target = await open_account(ledger, "100.00"), await open_account(ledger)

    made = await ledger.make_transfer(MakeTransferCommand(source, target, "30.00"))
    shown = await ledger.get_transfer(made.transfer.transfer_id.value)
    assert dataclasses.asdict(shown) == dataclasses.asdict(made.transfer)
    assert (await ledger.get_account(target)).balance == Money(Decimal("30.00"))
    retried = await ledger.make_transfer(
        MakeTransferCommand(source, target, "30.00", made.transfer.transfer_id.value)
    )
    assert not retried.created

    reversed_ = await ledger.reverse_transfer(made.transfer.transfer_id.value)

    assert reversed_.status is TransferStatus.REVERSED
    assert (await ledger.get_account(source)).balance == Money(Decimal("100.00"))
    for number in (source, target):
        check = await ledger.verify_account(number)
        assert check.sound
    for leg in reversed_.legs:
        stored = await ledger.get_transaction(leg.transaction_id.value)
        assert stored.status is TransactionStatus.CANCELLED
        assert stored.transfer_id == made.transfer.transfer_id


async def test_a_refused_transfer_or_reversal_changes_nothing(store: Store) -> None:
    ledger = Ledger(store.unit_of_work)
    source, target = await open_account(ledger, "10.00"), await open_account(ledger)
    before = await counts(store, source, target)
    with pytest.raises(InsufficientFunds):
        await ledger.make_transfer(MakeTransferCommand(source, target, "10.01"))
    assert await counts(store, source, target) == before

    made = await ledger.make_transfer(MakeTransferCommand(source, target, "10.00"))
    await ledger.post_transaction(PostTransactionCommand(target, "0.01", "withdrawal"))
    before = await counts(store, source, target)
    with pytest.raises(InsufficientFunds):
        await ledger.reverse_transfer(made.transfer.transfer_id.value)
    assert await counts(store, source, target) == before


async def test_a_batch_refused_at_item_k_stores_nothing_on_every_store(store: Store) -> None:
    ledger = Ledger(store.unit_of_work)
    numbers = [await open_account(ledger, "5.00") for _ in range(3)]
    before = await counts(store, *numbers)
    items = [PostTransactionCommand(n, "5.00", "withdrawal") for n in numbers]
    items.append(PostTransactionCommand(numbers[1], "0.01", "withdrawal"))

    with pytest.raises(ItemRefused) as refused:
        await ledger.post_batch(PostBatchCommand(items))

    assert refused.value.index == 3
    assert isinstance(refused.value.error, InsufficientFunds)
    assert await counts(store, *numbers) == before
    batch = await ledger.post_batch(PostBatchCommand(items[:3]))
    assert [i.transaction.balance_after for i in batch.items] == [Money.zero()] * 3
    for number in numbers:
        assert (await ledger.verify_account(number)).sound


async def test_opposite_transfers_racing_lose_nothing_and_never_deadlock(store: Store) -> None:
    ledger = Ledger(store.unit_of_work)
    first, second = await open_account(ledger, "50.00"), await open_account(ledger, "50.00")

    async def move(index: int) -> bool:
        source, target = (first, second) if index % 2 else (second, first)
        try:
            await ledger.make_transfer(MakeTransferCommand(source, target, "3.00"))
        except InsufficientFunds:
            return False
        return True

    moved = await asyncio.wait_for(asyncio.gather(*(move(i) for i in range(40))), 60)

    assert sum(moved) >= 2
    balances = [(await ledger.get_account(n)).balance.amount for n in (first, second)]
    assert sum(balances) == Decimal("100.00")
    for number in (first, second):
        check = await ledger.verify_account(number)
        assert check.sound
        assert check.entry_count == 1 + sum(moved)


# --- PostgreSQL: a batch is one database transaction of few statements ----------------------


@pytest.mark.postgres
async def test_a_batch_on_postgresql_is_one_transaction_without_a_statement_per_posting(
    postgres_store: SqlStore,
) -> None:
    ledger = Ledger(postgres_store.unit_of_work)
    numbers = [await open_account(ledger) for _ in range(10)]
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    event.listen(postgres_store.engine.sync_engine, "before_cursor_execute", record)
    try:
        batch = await ledger.post_batch(
            PostBatchCommand(
                [PostTransactionCommand(numbers[i % 10], "1.00", "deposit") for i in range(50)]
            )
        )
    finally:
        event.remove(postgres_store.engine.sync_engine, "before_cursor_execute", record)

    # Through SQLAlchemy, only the lock of the ten accounts (one SELECT ... FOR UPDATE); the
    # rows of all four tables went in the one WRITE_GROUP statement, on the driver.
    assert [s for s in sent if "FOR UPDATE" in s] == sent[-1:], sent
    assert not [s for s in sent if s.lstrip().upper().startswith(("INSERT", "UPDATE"))], sent
    ids = [i.transaction.transaction_id.value for i in batch.items]
    async with postgres_store.engine.connect() as connection:
        writers = await connection.scalar(
            text(
                "SELECT count(DISTINCT xmin::text) FROM transactions"
                " WHERE transaction_id = ANY(:ids)"
            ),
            {"ids": ids},
        )
        orders = await connection.scalar(
            text(
                "SELECT count(DISTINCT commit_order) FROM events WHERE transaction_id = ANY(:ids)"
            ),
            {"ids": ids},
        )
        told = await connection.execute(
            text(
                "SELECT transaction_id FROM events WHERE transaction_id = ANY(:ids)"
                " AND type = 'transaction.posted' ORDER BY event_id"
            ),
            {"ids": ids},
        )
    assert (writers, orders) == (1, 1)
    assert [row[0] for row in told] == ids
    for number in numbers:
        assert (await ledger.get_account(number)).balance == Money(Decimal("5.00"))
        assert (await ledger.verify_account(number)).sound


async def test_every_account_number_is_locked_in_order_even_when_given_out_of_it(
    store: Store,
) -> None:
    # The default port method, which memory uses: ascending, each once.
    accounts = [an_account() for _ in range(3)]
    await add(store, *accounts)
    order: list[AccountNumber] = []
    async with store.unit_of_work() as uow:
        original = uow.accounts.get_for_update

        async def spy(number: AccountNumber) -> Any:
            order.append(number)
            return await original(number)

        uow.accounts.get_for_update = spy  # type: ignore[method-assign]
        locked = await uow.accounts.get_many_for_update([a.number for a in reversed(accounts)])
    assert list(locked) == sorted(a.number for a in accounts)
    # SQL stores take them in one statement (the spy sees nothing); memory one by one, sorted.
    assert order in ([], sorted(a.number for a in accounts))
