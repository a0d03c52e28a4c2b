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
from bank_adapters.sql.journal import entry_listing, entry_totals, last_posted_entry
from bank_adapters.sql.schema import accounts, events, journal_entries, transactions
from bank_adapters.sql.transactions import transaction_listing
from bank_domain import AccountNumber, EventType, TransactionId
from bank_domain.account import AccountStatus
from bank_domain.events import FEED_START
from bank_domain.ports import (
    AccountQuery,
    EntryQuery,
    EventQuery,
    TransactionHistoryQuery,
    TransactionQuery,
)
from bank_domain.transaction import TransactionStatus, TransactionType
from tests.support.postgres import postgres_server_url, throwaway_database

ACCOUNTS = 10_000
TRANSACTIONS = 20_000
EVENTS = 20_000
ENTRIES = 20_000
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


ENTRIES_SEEN = ENTRIES + 1  # the reader's row knew of every entry
MIDDLE = T0 + timedelta(seconds=ENTRIES // 2)
JOURNAL_READS = {
    # A page after a cursor deep into the account's history, and a statement's reads: each
    # must start at its first entry, whatever the history before it (issue 9).
    "entries after a cursor": entry_listing(
        EntryQuery(BUSY, 50, up_to_entry_id=ENTRIES_SEEN, after=(MIDDLE, ENTRIES // 2))
    ),
    "entries of a span": entry_listing(
        EntryQuery(
            BUSY,
            1000,
            up_to_entry_id=ENTRIES_SEEN,
            since=MIDDLE,
            until=MIDDLE + timedelta(minutes=5),
        )
    ),
    "the balance at a moment": last_posted_entry(
        BUSY, MIDDLE, inclusive=True, up_to_entry_id=ENTRIES_SEEN
    ),
    "a statement's totals": entry_totals(
        BUSY, MIDDLE, MIDDLE + timedelta(minutes=5), up_to_entry_id=ENTRIES_SEEN
    ),
}
"""Every read of the journal seeks through ix_journal_entries_account_posted_at."""


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


def entry_rows() -> list[dict[str, Any]]:
    """One busy account's long journal, one entry a second, and a few entries of the others.
    The hashes are not a chain: no read here checks them."""
    busy = [
        {
            "account_number": BUSY.value,
            "entry_id": i,
            "transaction_id": f"t{i:08d}",
            "amount_cents": 100,
            "balance_after_cents": 100 * i,
            "posted_at": T0 + timedelta(seconds=i),
            "hash": "0" * 64,
        }
        for i in range(1, ENTRIES + 1)
    ]
    others = [
        {**row, "account_number": f"{n:010d}", "entry_id": 1}
        for n, row in zip(range(2, ACCOUNTS + 1, 10), busy, strict=False)
    ]
    return busy + others


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
        await connection.execute(insert(journal_entries), entry_rows())
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


async def test_every_read_of_the_journal_seeks_through_its_index(
    filled_database_url: str,
) -> None:
    async with SqlStore.from_url(filled_database_url) as store:
        async with store.engine.connect() as connection:
            plans = {read: await plan_of(connection, s) for read, s in JOURNAL_READS.items()}
        async with store.unit_of_work(read_only=True) as read:
            # The statements are the ones the store runs, and they find what they seek.
            page = await read.journal.list(
                EntryQuery(BUSY, 3, up_to_entry_id=ENTRIES_SEEN, after=(MIDDLE, ENTRIES // 2))
            )
            at = await read.journal.last_posted(
                BUSY, MIDDLE, inclusive=True, up_to_entry_id=ENTRIES_SEEN
            )
    assert [entry.entry_id for entry in page] == [
        ENTRIES // 2 + 1,
        ENTRIES // 2 + 2,
        ENTRIES // 2 + 3,
    ]
    assert at is not None
    assert at.entry_id == ENTRIES // 2

    unserved = {
        read: plan
        for read, plan in plans.items()
        if "ix_journal_entries_account_posted_at" not in plan
    }
    assert not unserved, "journal reads that do not seek through the index:\n" + "\n".join(
        f"{read}:\n{plan}" for read, plan in unserved.items()
    )
