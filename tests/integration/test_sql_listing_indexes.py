"""Every listing filter is served by an index: the database reads the page's rows from it
instead of scanning the account's transactions (or every account, or the whole event feed) for
matches. Checked with the plan the database chooses for each filtered listing, on enough rows
that a scan would cost it more, with a rare value for each filter (the case that made a request
take a second)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Select, insert, text
from sqlalchemy.ext.asyncio import AsyncConnection

from bank_adapters.sql import SqlStore, upgrade_to_head
from bank_adapters.sql.accounts import account_listing
from bank_adapters.sql.events import event_listing, history_listing
from bank_adapters.sql.schema import accounts, events, transactions
from bank_adapters.sql.transactions import transaction_listing
from bank_domain import AccountNumber, EventType, TransactionId
from bank_domain.account import AccountStatus
from bank_domain.events import FEED_START
from bank_domain.ports import AccountQuery, EventQuery, TransactionHistoryQuery, TransactionQuery
from bank_domain.transaction import TransactionStatus, TransactionType
from tests.support.postgres import postgres_server_url, throwaway_database

ACCOUNTS = 10_000
TRANSACTIONS = 20_000
EVENTS = 20_000
RARE = 400  # one row in RARE has the rare value
T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
BUSY = AccountNumber("0000000001")

FILTERED_LISTINGS = {
    "ix_accounts_open_by_customer_name": account_listing(
        AccountQuery(limit=50, customer_name="Customer 7")
    ),
    "ix_accounts_open_by_status": account_listing(
        AccountQuery(limit=50, status=AccountStatus.FROZEN)
    ),
    "ix_transactions_listed_by_status": transaction_listing(
        TransactionQuery(BUSY, limit=50, status=TransactionStatus.PENDING)
    ),
    "ix_transactions_listed_by_type": transaction_listing(
        TransactionQuery(BUSY, limit=50, transaction_type=TransactionType.WITHDRAWAL)
    ),
}


def account_rows() -> list[dict[str, Any]]:
    return [
        {
            "account_number": f"{i:010d}",
            "customer_name": f"Customer {i % (ACCOUNTS // 4)}",
            "account_type": "checking",
            "status": "frozen" if i % RARE == 0 else "active",
            "balance_cents": 0,
            "created_at": T0,
            "updated_at": T0,
            "version": 1,
            "closed_at": None,
        }
        for i in range(1, ACCOUNTS + 1)
    ]


def transaction_rows() -> list[dict[str, Any]]:
    return [
        {
            "transaction_id": f"t{i:08d}",
            "account_number": BUSY.value,
            "amount_cents": 100,
            "transaction_type": "withdrawal" if i % RARE == 1 else "deposit",
            "description": None,
            "status": "pending" if i % RARE == 0 else "success",
            "timestamp": T0 + timedelta(seconds=i),
            "updated_at": T0,
            "balance_after_cents": None,
            "deleted_at": None,
        }
        for i in range(TRANSACTIONS)
    ]


def event_rows() -> list[dict[str, Any]]:
    """Mostly postings spread over the accounts; one in RARE opens an account."""
    return [
        {
            "type": "account.opened" if i % RARE == 0 else "transaction.posted",
            "occurred_at": T0,
            "actor_id": "master",
            "request_id": None,
            "account_number": f"{i % ACCOUNTS + 1:010d}",
            "transaction_id": None if i % RARE == 0 else f"t{i:08d}",
            "transaction_version": None if i % RARE == 0 else 1,
            "subject_type": "account" if i % RARE == 0 else "transaction",
            "data": "{}",
        }
        for i in range(EVENTS)
    ]


def event_listings(dialect_name: str) -> dict[str, Select[Any]]:
    """The feed's listings and a transaction's history, as the store runs them on a database."""
    return {
        "ix_events_feed": event_listing(EventQuery(50, FEED_START), dialect_name),
        "ix_events_account_feed": event_listing(
            EventQuery(50, FEED_START, account_number=AccountNumber("0000000007")), dialect_name
        ),
        "ix_events_by_type": event_listing(
            EventQuery(50, FEED_START, event_type=EventType.ACCOUNT_OPENED), dialect_name
        ),
        "ix_events_transaction_history": history_listing(
            TransactionHistoryQuery(TransactionId("t00000007"), 50)
        ),
    }


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def filled_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own, since it gathers statistics (ANALYZE) on rows of its own."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'bank.db'}"
        asyncio.run(_fill(url))
        yield url
        return
    with throwaway_database(postgres_server_url(), "bank_indexes") as url:
        asyncio.run(_fill(url))
        yield url


async def _fill(url: str) -> None:
    await upgrade_to_head(url)
    async with SqlStore.from_url(url) as store, store.engine.begin() as connection:
        await connection.execute(insert(accounts), account_rows())
        await connection.execute(insert(transactions), transaction_rows())
        await connection.execute(insert(events), event_rows())
    async with SqlStore.from_url(url) as store, store.engine.connect() as connection:
        await connection.execute(text("ANALYZE"))
        await connection.commit()


async def plan_of(connection: AsyncConnection, statement: Select[Any]) -> str:
    sql = str(statement.compile(connection.engine, compile_kwargs={"literal_binds": True}))
    explain = "EXPLAIN QUERY PLAN " if connection.dialect.name == "sqlite" else "EXPLAIN "
    rows = (await connection.execute(text(explain + sql))).all()
    return "\n".join(" ".join(str(field) for field in row) for row in rows)


async def test_every_filtered_listing_reads_its_rows_from_the_filter_s_index(
    filled_database_url: str,
) -> None:
    async with SqlStore.from_url(filled_database_url) as store:
        async with store.engine.connect() as connection:
            listings = FILTERED_LISTINGS | event_listings(connection.dialect.name)
            plans = {
                index: await plan_of(connection, listing) for index, listing in listings.items()
            }
        async with store.unit_of_work(read_only=True) as read:
            # The statements are the ones the store runs, and they find the rare rows.
            assert len(await read.accounts.list(AccountQuery(50, customer_name="Customer 7"))) == 4
            pending = await read.transactions.list(
                TransactionQuery(BUSY, 50, status=TransactionStatus.PENDING)
            )
            assert len(pending) == 50

    unserved = {index: plan for index, plan in plans.items() if index not in plan}
    assert not unserved, "listings that do not use their filter's index:\n" + "\n".join(
        f"{index}:\n{plan}" for index, plan in unserved.items()
    )
