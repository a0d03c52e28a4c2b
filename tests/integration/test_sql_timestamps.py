"""Timestamps in SQL: aware UTC in and out, exact to the microsecond; on SQLite, kept as
fixed-width ISO-8601 UTC text so that text order is time order."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bank_adapters.sql import SqlStore
from bank_adapters.sql.schema import accounts
from bank_domain import Account, AccountNumber, AccountType, Money, StorageUnavailable

NEW_YORK_WINTER = timezone(timedelta(hours=-5))


def an_account(now: datetime) -> Account:
    number = AccountNumber(f"{secrets.randbelow(10**10):010d}")
    return Account.open(number, "Ada Lovelace", AccountType.CHECKING, now, Money.zero())


async def add(store: SqlStore, account: Account) -> None:
    async with store.unit_of_work() as uow:
        await uow.accounts.add(account)
        await uow.commit()


async def test_any_offset_goes_in_and_the_same_instant_comes_out_in_utc(
    sql_store: SqlStore,
) -> None:
    given = datetime(2024, 12, 31, 19, 30, 0, 5, tzinfo=NEW_YORK_WINTER)
    account = an_account(given)
    await add(sql_store, account)

    async with sql_store.unit_of_work() as uow:
        loaded = await uow.accounts.get(account.number)

    assert loaded is not None
    assert loaded.created_at == datetime(2025, 1, 1, 0, 30, 0, 5, tzinfo=UTC)
    assert loaded.created_at.utcoffset() == timedelta(0)


async def test_sqlite_keeps_sortable_utc_text(sqlite_store_url: str) -> None:
    store = SqlStore.from_url(sqlite_store_url)
    try:
        await add(store, an_account(datetime(987, 6, 5, 4, 3, 2, tzinfo=NEW_YORK_WINTER)))
        async with store.engine.connect() as connection:
            raw = await connection.exec_driver_sql("SELECT created_at FROM accounts")
            stored = raw.scalar_one()
    finally:
        await store.dispose()

    assert stored == "0987-06-05T09:03:02.000000Z"


async def test_comparisons_run_on_stored_timestamps(sql_store: SqlStore) -> None:
    early = an_account(datetime(2024, 1, 1, 0, 0, 0, 1, tzinfo=UTC))
    late = an_account(datetime(2024, 1, 1, 0, 0, 0, 2, tzinfo=UTC))
    await add(sql_store, early)
    await add(sql_store, late)
    boundary = datetime(2023, 12, 31, 19, 0, 0, 2, tzinfo=NEW_YORK_WINTER)

    async with sql_store.engine.connect() as connection:
        found = await connection.scalars(
            select(accounts.c.account_number)
            .where(accounts.c.created_at >= boundary)
            .order_by(accounts.c.created_at)
        )
        numbers = list(found)

    assert numbers == [late.number.value]


async def test_a_timestamp_without_a_zone_is_refused(sql_store: SqlStore) -> None:
    account = an_account(datetime(2024, 1, 1, tzinfo=UTC))
    account.updated_at = datetime(2024, 1, 1)  # no zone: the mistake under test

    async def add_naive() -> None:
        await add(sql_store, account)

    with pytest.raises(StorageUnavailable):
        await add_naive()
    async with sql_store.unit_of_work() as uow:
        assert await uow.accounts.get(account.number) is None
