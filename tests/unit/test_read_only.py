"""Read-only units of work: the use cases that only read ask for one, and the in-memory store
refuses every lock and change in one at once, so misuse shows without a database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from bank_adapters.memory import InMemoryStore, InMemoryUnitOfWork
from bank_domain import (
    Account,
    Ledger,
    ListAccountsQuery,
    ListTransactionsQuery,
    Money,
    Transaction,
    TransactionId,
    TransactionStatus,
    TransactionType,
)

from .support import T0, SteppingClock, number_of, open_account, post, random_tid


class RecordingFactory:
    """The store's factory, noting whether each unit of work it made was read-only."""

    def __init__(self, store: InMemoryStore) -> None:
        self.store = store
        self.made: list[bool] = []

    def __call__(self, *, read_only: bool = False) -> InMemoryUnitOfWork:
        self.made.append(read_only)
        return self.store.unit_of_work(read_only=read_only)


async def _an_account(store: InMemoryStore) -> tuple[Account, Transaction]:
    ledger = Ledger(store.unit_of_work, SteppingClock())
    account = await open_account(ledger, "10")
    posted = await post(ledger, number_of(account), "1")
    return account, posted.transaction


def _transaction(account: Account) -> Transaction:
    return Transaction.new(
        TransactionId(random_tid()),
        account.number,
        Money.parse("1"),
        TransactionType.DEPOSIT,
        None,
        TransactionStatus.SUCCESS,
        T0,
    )


Misuse = Callable[[InMemoryUnitOfWork, Account], Awaitable[object]]

MISUSES: list[object] = [
    pytest.param(lambda uow, a: uow.accounts.get_for_update(a.number), id="get_for_update"),
    pytest.param(lambda uow, a: uow.accounts.add(a), id="accounts.add"),
    pytest.param(lambda uow, a: uow.accounts.save(a), id="accounts.save"),
    pytest.param(lambda uow, a: uow.transactions.add(_transaction(a)), id="transactions.add"),
    pytest.param(lambda uow, a: uow.transactions.save(_transaction(a)), id="transactions.save"),
    pytest.param(lambda uow, a: uow.commit(), id="commit"),
]


@pytest.mark.parametrize("misuse", MISUSES)
async def test_a_read_only_unit_of_work_refuses_locks_and_changes_at_once(
    store: InMemoryStore, misuse: Misuse
) -> None:
    account, _ = await _an_account(store)
    async with store.unit_of_work(read_only=True) as uow:
        with pytest.raises(RuntimeError, match="read-only"):
            await misuse(uow, account)
    assert not store.account_locks[account.number].locked()


async def test_a_read_only_unit_of_work_reads_everything(store: InMemoryStore) -> None:
    account, transaction = await _an_account(store)
    async with store.unit_of_work(read_only=True) as uow:
        found = await uow.accounts.get(account.number)
        assert found is not None
        assert found.balance == Money.parse("11")
        assert await uow.accounts.number_taken(account.number)
        assert await uow.transactions.get(transaction.transaction_id) is not None
        assert await uow.journal.sum_of_amounts(account.number) == Money.parse("11")
        await uow.rollback()


async def test_a_unit_of_work_is_read_write_unless_asked(store: InMemoryStore) -> None:
    account, _ = await _an_account(store)
    async with store.unit_of_work() as uow:
        assert await uow.accounts.get_for_update(account.number) is not None
        await uow.commit()


async def test_the_use_cases_that_only_read_open_read_only_units_of_work(
    store: InMemoryStore,
) -> None:
    account, transaction = await _an_account(store)
    factory = RecordingFactory(store)
    ledger = Ledger(factory, SteppingClock())
    number = number_of(account)
    await ledger.get_account(number)
    await ledger.list_accounts(ListAccountsQuery())
    await ledger.get_transaction(transaction.transaction_id.value)
    await ledger.list_transactions(ListTransactionsQuery(number))
    assert factory.made == [True, True, True, True]
    await post(ledger, number, "1")
    assert factory.made[-1] is False
