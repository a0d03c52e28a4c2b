"""The unit-of-work contract, on every store: nothing is kept without an explicit commit, and
an account read for update stays locked until its unit of work ends."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bank_adapters.stores import Store
from bank_domain import Account, AccountNumber, AccountType, Money, TransactionId

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def an_account(balance: str = "0.00") -> Account:
    number = AccountNumber(f"{secrets.randbelow(10**10):010d}")
    return Account.open(number, "Ada Lovelace", AccountType.CHECKING, NOW, Money(Decimal(balance)))


async def stored(store: Store, number: AccountNumber) -> Account | None:
    async with store.unit_of_work() as uow:
        return await uow.accounts.get(number)


async def test_commit_keeps_the_work(store: Store) -> None:
    account = an_account("12.34")
    async with store.unit_of_work() as uow:
        await uow.accounts.add(account)
        await uow.commit()

    kept = await stored(store, account.number)
    assert kept is not None
    assert kept.balance == Money(Decimal("12.34"))


async def test_rolls_back_uncommitted_work_by_default(store: Store) -> None:
    account = an_account()
    async with store.unit_of_work() as uow:
        await uow.accounts.add(account)

    assert await stored(store, account.number) is None


async def test_rolls_back_on_error(store: Store) -> None:
    class Boom(Exception):
        pass

    account = an_account()

    async def add_then_fail() -> None:
        async with store.unit_of_work() as uow:
            await uow.accounts.add(account)
            raise Boom

    with pytest.raises(Boom):
        await add_then_fail()

    assert await stored(store, account.number) is None


async def test_rollback_discards_changes_to_stored_rows(store: Store) -> None:
    account = an_account("5.00")
    async with store.unit_of_work() as uow:
        await uow.accounts.add(account)
        await uow.commit()

    async with store.unit_of_work() as uow:
        locked = await uow.accounts.get_for_update(account.number)
        assert locked is not None
        locked.move_balance(Money(Decimal("1.00")), NOW, TransactionId.generate())
        await uow.accounts.save(locked)
        await uow.rollback()

    kept = await stored(store, account.number)
    assert kept is not None
    assert (kept.balance, kept.version) == (Money(Decimal("5.00")), 1)


async def test_a_unit_of_work_sees_its_own_uncommitted_changes(store: Store) -> None:
    account = an_account()
    async with store.unit_of_work() as uow:
        await uow.accounts.add(account)
        assert await uow.accounts.number_taken(account.number)
        seen = await uow.accounts.get(account.number)

    assert seen is not None
    assert seen.number == account.number


async def test_an_account_read_for_update_stays_locked_until_its_unit_of_work_ends(
    store: Store,
) -> None:
    account = an_account("1.00")
    async with store.unit_of_work() as uow:
        await uow.accounts.add(account)
        await uow.commit()

    async def read_for_update_later() -> Money:
        async with store.unit_of_work() as uow:
            locked = await uow.accounts.get_for_update(account.number)
            assert locked is not None
            return locked.balance

    async with store.unit_of_work() as first:
        locked = await first.accounts.get_for_update(account.number)
        assert locked is not None
        second = asyncio.create_task(read_for_update_later())
        await asyncio.sleep(0.3)
        assert not second.done(), "a second unit of work read the locked account"
        locked.move_balance(Money(Decimal("2.00")), NOW, TransactionId.generate())
        await first.accounts.save(locked)
        await first.commit()

    assert await asyncio.wait_for(second, timeout=10) == Money(Decimal("3.00"))
