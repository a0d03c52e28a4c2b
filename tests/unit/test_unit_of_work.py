"""The in-memory unit of work keeps the contract every store keeps (cosmicpython's test_uow).

Leaving the block without ``commit()`` rolls back; an error rolls back; a commit persists; a lock
taken with ``get_for_update`` is held until the block is left.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bank_adapters.memory import InMemoryStore
from bank_domain import (
    Account,
    AccountNumber,
    AccountType,
    DuplicateAccountNumber,
    DuplicateTransactionId,
    Money,
    Transaction,
    TransactionId,
    TransactionStatus,
    TransactionType,
)
from bank_domain.ports import UnitOfWork

from .support import T0, random_account_number, random_tid


def new_account(number: str | None = None, balance: str = "0") -> Account:
    return Account.open(
        AccountNumber(number or random_account_number()),
        "Ada",
        AccountType.CHECKING,
        T0,
        Money.parse(balance),
    )


def new_transaction(account: Account, amount: str = "1", tid: str | None = None) -> Transaction:
    return Transaction(
        transaction_id=TransactionId(tid or random_tid()),
        account_number=account.number,
        amount=Money.parse(amount),
        transaction_type=TransactionType.DEPOSIT,
        description=None,
        status=TransactionStatus.SUCCESS,
        timestamp=T0,
        updated_at=T0,
    )


async def insert(store: InMemoryStore, account: Account) -> None:
    async with store.unit_of_work() as uow:
        await uow.accounts.add(account)
        await uow.commit()


class MyError(Exception):
    pass


def test_the_memory_unit_of_work_is_a_unit_of_work(store: InMemoryStore) -> None:
    assert isinstance(store.unit_of_work(), UnitOfWork)


async def test_rolls_back_uncommitted_work_by_default(store: InMemoryStore) -> None:
    account = new_account()
    async with store.unit_of_work() as uow:
        await uow.accounts.add(account)
        await uow.transactions.add(new_transaction(account))

    assert store.accounts == {}
    assert store.transactions == {}
    async with store.unit_of_work() as uow:
        assert await uow.accounts.get(account.number) is None
        assert not await uow.accounts.number_taken(account.number)


async def test_rolls_back_on_error(store: InMemoryStore) -> None:
    account = new_account()

    async def fail_midway() -> None:
        async with store.unit_of_work() as uow:
            await uow.accounts.add(account)
            await uow.transactions.add(new_transaction(account))
            raise MyError

    with pytest.raises(MyError):
        await fail_midway()

    assert store.accounts == {}
    assert store.transactions == {}


async def test_rolls_back_a_change_to_an_existing_account(store: InMemoryStore) -> None:
    account = new_account(balance="10")
    await insert(store, account)

    async def fail_midway() -> None:
        async with store.unit_of_work() as uow:
            found = await uow.accounts.get_for_update(account.number)
            assert found is not None
            found.move_balance(
                Money.parse("5"), T0 + timedelta(seconds=1), TransactionId(random_tid())
            )
            await uow.accounts.save(found)
            raise MyError

    with pytest.raises(MyError):
        await fail_midway()

    assert store.accounts[account.number].balance == Money.parse("10")
    assert store.accounts[account.number].version == 1


async def test_commit_persists(store: InMemoryStore) -> None:
    account = new_account()
    transaction = new_transaction(account, "3")
    account.accept(transaction, T0)
    async with store.unit_of_work() as uow:
        await uow.accounts.add(account)
        await uow.transactions.add(transaction)
        await uow.commit()

    async with store.unit_of_work() as uow:
        found = await uow.accounts.get(account.number)
        assert found is not None
        assert found.balance == Money.parse("3")
        stored = await uow.transactions.get(transaction.transaction_id)
        assert stored is not None
        assert stored.amount == Money.parse("3")
        assert await uow.journal.sum_of_amounts(account.number) == Money.parse("3")


async def test_work_after_a_commit_is_rolled_back_without_another(store: InMemoryStore) -> None:
    first, second = new_account(), new_account()
    async with store.unit_of_work() as uow:
        await uow.accounts.add(first)
        await uow.commit()
        await uow.accounts.add(second)

    assert first.number in store.accounts
    assert second.number not in store.accounts


async def test_explicit_rollback_discards_and_is_harmless_after_commit(
    store: InMemoryStore,
) -> None:
    kept, dropped = new_account(), new_account()
    async with store.unit_of_work() as uow:
        await uow.accounts.add(kept)
        await uow.commit()
        await uow.rollback()
        await uow.accounts.add(dropped)
        await uow.rollback()
        await uow.commit()
    assert set(store.accounts) == {kept.number}


async def test_a_unit_of_work_reads_its_own_staged_writes(store: InMemoryStore) -> None:
    account = new_account()
    async with store.unit_of_work() as uow:
        await uow.accounts.add(account)
        assert await uow.accounts.number_taken(account.number)
        assert await uow.accounts.get(account.number) is not None
        transaction = new_transaction(account, "4")
        await uow.transactions.add(transaction)
        assert await uow.transactions.get(transaction.transaction_id) is not None
        # ...which no other unit of work sees before the commit.
        async with store.unit_of_work() as other:
            assert await other.accounts.get(account.number) is None
            assert await other.transactions.get(transaction.transaction_id) is None


async def test_objects_read_are_copies_until_saved(store: InMemoryStore) -> None:
    account = new_account()
    await insert(store, account)
    account.customer_name = "Changed after the commit"
    async with store.unit_of_work() as uow:
        found = await uow.accounts.get(account.number)
        assert found is not None
        assert found.customer_name == "Ada"
        found.customer_name = "Changed without save"
        await uow.commit()
    assert store.accounts[account.number].customer_name == "Ada"


async def test_adding_a_taken_number_or_id_is_refused_at_once(store: InMemoryStore) -> None:
    account = new_account()
    transaction = new_transaction(account)
    async with store.unit_of_work() as uow:
        await uow.accounts.add(account)
        await uow.transactions.add(transaction)
        await uow.commit()
    async with store.unit_of_work() as uow:
        with pytest.raises(DuplicateAccountNumber):
            await uow.accounts.add(new_account(str(account.number)))
        with pytest.raises(DuplicateTransactionId):
            await uow.transactions.add(
                new_transaction(account, tid=str(transaction.transaction_id))
            )


async def test_a_refused_commit_applies_nothing(store: InMemoryStore) -> None:
    number = random_account_number()
    loser = new_account(number)
    loser_transaction = new_transaction(loser)
    async with store.unit_of_work() as slow:
        await slow.accounts.add(loser)
        await slow.transactions.add(loser_transaction)
        winner = new_account(number)
        winner.customer_name = "Winner"
        await insert(store, winner)

        with pytest.raises(DuplicateAccountNumber):
            await slow.commit()

    assert store.accounts[AccountNumber(number)].customer_name == "Winner"
    assert loser_transaction.transaction_id not in store.transactions


async def test_a_refused_transaction_insert_applies_nothing(store: InMemoryStore) -> None:
    account = new_account(balance="0")
    await insert(store, account)
    tid = random_tid()
    async with store.unit_of_work() as slow:
        found = await slow.accounts.get_for_update(account.number)
        assert found is not None
        found.move_balance(Money.parse("1"), T0, TransactionId(tid))
        await slow.accounts.save(found)
        await slow.transactions.add(new_transaction(account, tid=tid))
        async with store.unit_of_work() as fast:
            await fast.transactions.add(new_transaction(account, "2", tid=tid))
            await fast.commit()

        with pytest.raises(DuplicateTransactionId):
            await slow.commit()

    assert store.accounts[account.number].balance == Money.zero()
    assert store.transactions[TransactionId(tid)].amount == Money.parse("2")


async def test_a_lock_is_held_until_the_block_ends(store: InMemoryStore) -> None:
    account = new_account()
    await insert(store, account)
    events: list[str] = []
    holding = asyncio.Event()

    async def first() -> None:
        async with store.unit_of_work() as uow:
            await uow.accounts.get_for_update(account.number)
            events.append("first locked")
            holding.set()
            await asyncio.sleep(0.01)
            events.append("first done")

    async def second() -> None:
        await holding.wait()
        async with store.unit_of_work() as uow:
            await uow.accounts.get_for_update(account.number)
            events.append("second locked")

    await asyncio.wait_for(asyncio.gather(first(), second()), timeout=5)
    assert events == ["first locked", "first done", "second locked"]


async def test_a_lock_is_released_after_an_error(store: InMemoryStore) -> None:
    account = new_account()
    await insert(store, account)

    async def fail_holding_the_lock() -> None:
        async with store.unit_of_work() as uow:
            await uow.accounts.get_for_update(account.number)
            raise MyError

    with pytest.raises(MyError):
        await fail_holding_the_lock()

    async def lock_again() -> None:
        async with store.unit_of_work() as uow:
            assert await uow.accounts.get_for_update(account.number) is not None

    await asyncio.wait_for(lock_again(), timeout=1)
    assert not store.account_locks[account.number].locked()


async def test_locking_the_same_account_twice_in_one_unit_of_work_does_not_deadlock(
    store: InMemoryStore,
) -> None:
    account = new_account()
    await insert(store, account)

    async def twice() -> None:
        async with store.unit_of_work() as uow:
            await uow.accounts.get_for_update(account.number)
            await uow.accounts.get_for_update(account.number)

    await asyncio.wait_for(twice(), timeout=1)
    assert not store.account_locks[account.number].locked()


async def test_locks_on_different_accounts_do_not_block_each_other(store: InMemoryStore) -> None:
    a, b = new_account(), new_account()
    await insert(store, a)
    await insert(store, b)

    async def both() -> None:
        async with store.unit_of_work() as first, store.unit_of_work() as second:
            await first.accounts.get_for_update(a.number)
            await second.accounts.get_for_update(b.number)

    await asyncio.wait_for(both(), timeout=1)
