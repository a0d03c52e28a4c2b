"""The Alembic migrations shipped in the package: each step goes up, down and up again (the
"stairway"), and the newest schema is exactly the one the adapter's tables describe."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import insert, inspect, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from bank_adapters.sql import (
    current_revision,
    downgrade,
    head_revision,
    migrate_to_newest,
    upgrade,
    upgrade_to_head,
)
from bank_adapters.sql.engine import create_engine
from bank_adapters.sql.migrate import alembic_config
from bank_adapters.sql.rows import account_to_row, transaction_to_row
from bank_adapters.sql.schema import accounts, metadata, transactions
from bank_adapters.stores import open_store
from bank_domain import (
    Account,
    AccountNumber,
    AccountType,
    EventType,
    InsufficientFunds,
    JournalEntry,
    Ledger,
    ListEntriesQuery,
    Money,
    OpenAccountCommand,
    PostTransactionCommand,
    Transaction,
    TransactionHistoryRequest,
    TransactionId,
    TransactionStatus,
    TransactionType,
    UpdateAccountCommand,
)
from bank_domain.actors import MASTER
from bank_domain.journal import EMPTY_CHAIN
from tests.support.feeds import FeedFollower
from tests.support.postgres import postgres_server_url, throwaway_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bank.db'}"
        return
    with throwaway_database(postgres_server_url(), "bank_migrations") as url:
        yield url


JOURNAL_HEAD_COLUMNS = ("journal_entry_id", "journal_hash", "journal_posted_at")
HOLDS_ACCOUNT_COLUMNS = ("overdraft_limit_cents", "held_cents", "next_hold_expiry")


def account_row_before_holds(account: Account) -> dict[str, Any]:
    """An account's row as a revision before 0007_holds stores it."""
    row = account_to_row(account)
    for column in HOLDS_ACCOUNT_COLUMNS:
        del row[column]
    return row


def account_row_before_the_journal(account: Account) -> dict[str, Any]:
    """An account's row as a revision before 0006_journal stores it: without its journal's head."""
    row = account_row_before_holds(account)
    for column in JOURNAL_HEAD_COLUMNS:
        del row[column]
    return row


def transaction_row_before_holds(transaction: Transaction) -> dict[str, Any]:
    """A transaction's row as a revision before 0007_holds stores it: without expires_at, and
    without transfer_id (0008_transfers)."""
    row = transaction_to_row(transaction)
    del row["expires_at"]
    del row["transfer_id"]
    return row


def revisions_oldest_first() -> list[Any]:
    script = ScriptDirectory.from_config(alembic_config())
    return list(reversed(list(script.walk_revisions())))


async def run_on(url: str, inspection: Any) -> Any:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(inspection)
    finally:
        await engine.dispose()


def table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def schema_differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_every_migration_goes_up_down_and_up_again(empty_database_url: str) -> None:
    revisions = revisions_oldest_first()
    assert revisions, "the package ships no migrations"
    for revision in revisions:
        await upgrade(empty_database_url, revision.revision)
        assert await current_revision(empty_database_url) == revision.revision
        await downgrade(empty_database_url, revision.down_revision or "base")
        assert await current_revision(empty_database_url) == revision.down_revision
        await upgrade(empty_database_url, revision.revision)

    assert await current_revision(empty_database_url) == head_revision()


async def test_downgrading_to_base_removes_every_table(empty_database_url: str) -> None:
    await upgrade_to_head(empty_database_url)
    assert {"accounts", "transactions", "api_keys", "events"} <= await run_on(
        empty_database_url, table_names
    )

    await downgrade(empty_database_url, "base")

    assert await run_on(empty_database_url, table_names) <= {"alembic_version"}
    assert await current_revision(empty_database_url) is None


async def test_the_newest_schema_is_the_one_the_adapter_describes(
    empty_database_url: str,
) -> None:
    await upgrade_to_head(empty_database_url)

    assert await run_on(empty_database_url, schema_differences) == []


def _condition(where: Any) -> str | None:
    """A partial index's condition, as written or as the database reflects it (PostgreSQL adds
    parentheses and casts such as ``::text``)."""
    if where is None:
        return None
    return re.sub(r"::\w+", "", str(where)).replace("(", "").replace(")", "").lower()


def indexes_in_database(
    connection: Connection,
) -> dict[str, tuple[list[str | None], str | None]]:
    """Every index by name: its columns (None for an expression, as SQLAlchemy reflects one)."""
    inspector = inspect(connection)
    found = {}
    for table in metadata.tables:
        for index in inspector.get_indexes(table):
            options = index.get("dialect_options", {})
            where = options.get("postgresql_where", options.get("sqlite_where"))
            found[str(index["name"])] = (list(index["column_names"]), _condition(where))
    return found


def indexes_described() -> dict[str, tuple[list[str], str | None]]:
    described = {}
    for table in metadata.tables.values():
        for index in table.indexes:
            where = index.dialect_options["postgresql"]["where"]
            assert str(where) == str(index.dialect_options["sqlite"]["where"])
            columns = [column.name for column in index.columns]
            described[str(index.name)] = (columns, _condition(where))
    return described


async def test_the_indexes_and_their_conditions_are_the_ones_the_adapter_describes(
    empty_database_url: str,
) -> None:
    """Alembic's comparison above does not look at a partial index's condition: this does."""
    await upgrade_to_head(empty_database_url)

    assert await run_on(empty_database_url, indexes_in_database) == indexes_described()


def unique_indexes(connection: Connection) -> set[str]:
    inspector = inspect(connection)
    return {
        str(index["name"])
        for table in metadata.tables
        for index in inspector.get_indexes(table)
        if index["unique"]
    }


async def test_a_secret_hash_finds_one_api_key_at_most(empty_database_url: str) -> None:
    await upgrade_to_head(empty_database_url)

    assert "ix_api_keys_secret_hash" in await run_on(empty_database_url, unique_indexes)


async def test_transactions_stored_before_versions_read_version_1(
    empty_database_url: str,
) -> None:
    """Migration 0004_transaction_versions counts every transaction already stored as version
    1, and from then on the database refuses a version below 1."""
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    account = Account.open(AccountNumber("1234567890"), "Ada", AccountType.CHECKING, now)
    stored = [
        Transaction.new(
            TransactionId(f"before-versions-{n}"),
            account.number,
            Money.parse("5"),
            TransactionType.DEPOSIT,
            None,
            TransactionStatus.PENDING,
            now,
        )
        for n in range(3)
    ]
    versions = ScriptDirectory.from_config(alembic_config()).get_revision(
        "0004_transaction_versions"
    )
    assert versions is not None
    assert isinstance(versions.down_revision, str)
    await upgrade(empty_database_url, versions.down_revision)

    def store_rows_without_versions(connection: Connection) -> None:
        connection.execute(insert(accounts).values(account_row_before_the_journal(account)))
        for transaction in stored:
            row = transaction_row_before_holds(transaction)
            del row["version"]
            connection.execute(insert(transactions).values(row))
        connection.commit()

    await run_on(empty_database_url, store_rows_without_versions)
    await upgrade_to_head(empty_database_url)

    store = open_store(empty_database_url)
    try:
        async with store.unit_of_work(read_only=True) as uow:
            found = [await uow.transactions.get(t.transaction_id) for t in stored]
    finally:
        await store.dispose()
    assert [t.version if t else None for t in found] == [1, 1, 1]

    def set_version_0(connection: Connection) -> None:
        connection.execute(update(transactions).values(version=0))

    with pytest.raises(IntegrityError, match="ck_transactions_version_positive"):
        await run_on(empty_database_url, set_version_0)


async def test_a_database_from_before_events_upgrades_and_records_events(
    empty_database_url: str,
) -> None:
    """Migration 0005_events adds the events table to a database in use: its accounts and
    transactions stay as they were, and changes from then on are recorded (those from before
    have no events: nothing recorded them)."""
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    account = Account.open(
        AccountNumber("1234567890"), "Ada", AccountType.CHECKING, now, Money.parse("10")
    )
    earlier = Transaction.new(
        TransactionId("before-events"),
        account.number,
        Money.parse("10"),
        TransactionType.DEPOSIT,
        None,
        TransactionStatus.SUCCESS,
        now,
    )
    events_step = ScriptDirectory.from_config(alembic_config()).get_revision("0005_events")
    assert events_step is not None
    assert isinstance(events_step.down_revision, str)
    await upgrade(empty_database_url, events_step.down_revision)

    def store_rows(connection: Connection) -> None:
        connection.execute(insert(accounts).values(account_row_before_the_journal(account)))
        connection.execute(insert(transactions).values(transaction_row_before_holds(earlier)))
        connection.commit()

    await run_on(empty_database_url, store_rows)
    await upgrade_to_head(empty_database_url)

    store = open_store(empty_database_url)
    try:
        ledger = Ledger(store.unit_of_work, postings=store.posting_unit_of_work)
        posted = await ledger.post_transaction(
            PostTransactionCommand(
                account.number.value, "2.50", "deposit", actor=MASTER.with_request_id("req-1")
            )
        )
        feed = await FeedFollower(ledger).read_until(1)
        earlier_history = await ledger.transaction_history(
            TransactionHistoryRequest(earlier.transaction_id.value)
        )
        balance = (await ledger.get_account(account.number.value)).balance
    finally:
        await store.dispose()
    assert [(e.type, e.transaction_id, e.request_id) for e in feed] == [
        (EventType.TRANSACTION_POSTED, posted.transaction.transaction_id, "req-1")
    ]
    assert balance == Money.parse("12.50")
    assert earlier_history.items == []


async def test_upgrading_twice_changes_nothing(empty_database_url: str) -> None:
    await upgrade_to_head(empty_database_url)
    await upgrade_to_head(empty_database_url)

    assert await current_revision(empty_database_url) == head_revision()


async def test_concurrent_upgrades_migrate_once(empty_database_url: str) -> None:
    await asyncio.gather(*(upgrade_to_head(empty_database_url) for _ in range(3)))

    assert await current_revision(empty_database_url) == head_revision()


def test_migrate_to_newest_serves_callers_without_an_event_loop(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bank.db'}"

    migrate_to_newest(url)

    assert asyncio.run(current_revision(url)) == head_revision()


def test_a_migrated_sqlite_file_is_in_write_ahead_log_mode(tmp_path: Path) -> None:
    """Readers go on while the one writer works; the file keeps the mode for every connection."""
    path = tmp_path / "bank.db"

    migrate_to_newest(f"sqlite:///{path}")

    with contextlib.closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


@pytest.mark.parametrize("attempt", range(5))
def test_concurrent_first_upgrades_of_a_new_sqlite_file_all_succeed(
    tmp_path: Path, attempt: int
) -> None:
    """Several processes starting on a new file at once (``serve --workers N``) race to switch
    it to WAL; the losers wait and go on rather than fail."""
    url = f"sqlite:///{tmp_path / f'bank-{attempt}.db'}"

    async def upgrade_at_once() -> None:
        await asyncio.gather(*(upgrade_to_head(url) for _ in range(4)))

    asyncio.run(upgrade_at_once())

    assert asyncio.run(current_revision(url)) == head_revision()


# --- 0006_journal: the journal built from the transactions already stored ------------------

BEFORE_JOURNAL = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
BULK_DEPOSITS = 2_600  # past one page of the backfill's reads (2,000) and its writes (1,000)


def stored_before_journal(
    number: str,
    amount: str,
    kind: TransactionType,
    status: TransactionStatus = TransactionStatus.SUCCESS,
    *,
    seconds: float,
    tid: str | None = None,
    deleted: bool = False,
    version: int = 1,
) -> Transaction:
    at = BEFORE_JOURNAL + timedelta(seconds=seconds)
    return Transaction(
        transaction_id=TransactionId(tid or f"tx-{uuid.uuid4().hex}"),
        account_number=AccountNumber(number),
        amount=Money.parse(amount),
        transaction_type=kind,
        description=None,
        status=status,
        timestamp=at,
        updated_at=at,
        deleted_at=at + timedelta(minutes=1) if deleted else None,
        version=version,
    )


def account_before_journal(number: str, balance: str, *, closed: bool = False) -> Account:
    account = Account.open(
        AccountNumber(number), "Ada", AccountType.CHECKING, BEFORE_JOURNAL, Money.parse(balance)
    )
    account.closed_at = BEFORE_JOURNAL + timedelta(days=1) if closed else None
    return account


DEPOSIT, WITHDRAWAL = TransactionType.DEPOSIT, TransactionType.WITHDRAWAL
BUSY, EMPTY, CLOSED, BULK, DRIFTED = (
    "1000000001",
    "1000000002",
    "1000000003",
    "1000000004",
    "1000000005",
)
BUSY_HISTORY = [
    stored_before_journal(BUSY, "100.00", DEPOSIT, seconds=1, tid="busy-1-first"),
    # Two at one moment: the transaction id decides their order.
    stored_before_journal(BUSY, "45.00", DEPOSIT, seconds=2, tid="busy-3-amended", version=2),
    stored_before_journal(BUSY, "30.00", WITHDRAWAL, seconds=2, tid="busy-2-withdrawal"),
    stored_before_journal(BUSY, "500.00", DEPOSIT, seconds=3, deleted=True),
    stored_before_journal(BUSY, "7.00", DEPOSIT, TransactionStatus.PENDING, seconds=4),
    stored_before_journal(BUSY, "9.00", WITHDRAWAL, TransactionStatus.FAILED, seconds=5),
    stored_before_journal(BUSY, "3.00", DEPOSIT, TransactionStatus.CANCELLED, seconds=6),
]
CLOSED_HISTORY = [
    stored_before_journal(CLOSED, "10.00", DEPOSIT, seconds=1),
    stored_before_journal(CLOSED, "10.00", WITHDRAWAL, seconds=2),
]
BULK_HISTORY = [
    # Three at each moment, so pages end between transactions of one moment.
    stored_before_journal(BULK, "0.01", DEPOSIT, seconds=n // 3, tid=f"bulk-{n:05d}")
    for n in range(BULK_DEPOSITS)
]


async def journal_of(ledger: Ledger, number: str) -> list[JournalEntry]:
    entries: list[JournalEntry] = []
    cursor: str | None = None
    while True:
        page = await ledger.list_entries(ListEntriesQuery(number, limit=500, cursor=cursor))
        entries.extend(page.items)
        if page.next_cursor is None:
            return entries
        cursor = page.next_cursor


async def test_a_database_from_before_the_journal_gets_each_account_s_journal_from_its_transactions(
    empty_database_url: str,
) -> None:
    """Migration 0006_journal makes each account's journal of its success transactions that are
    not deleted, in (timestamp, transaction_id) order, posted at their timestamps and chained,
    and sets each account's head: every journal then verifies, and postings chain on."""
    journal_step = ScriptDirectory.from_config(alembic_config()).get_revision("0006_journal")
    assert journal_step is not None
    assert isinstance(journal_step.down_revision, str)
    await upgrade(empty_database_url, journal_step.down_revision)
    accounts_before = [
        account_before_journal(BUSY, "115.00"),
        account_before_journal(EMPTY, "0.00"),
        account_before_journal(CLOSED, "0.00", closed=True),
        account_before_journal(BULK, "26.00"),
        # A balance that its transactions never made: the journal will not make it up.
        account_before_journal(DRIFTED, "5.00"),
    ]

    def store_rows(connection: Connection) -> None:
        connection.execute(
            insert(accounts), [account_row_before_the_journal(a) for a in accounts_before]
        )
        history = [*BUSY_HISTORY, *CLOSED_HISTORY, *BULK_HISTORY]
        connection.execute(insert(transactions), [transaction_row_before_holds(t) for t in history])
        connection.commit()

    await run_on(empty_database_url, store_rows)
    await upgrade_to_head(empty_database_url)

    store = open_store(empty_database_url)
    try:
        ledger = Ledger(store.unit_of_work, postings=store.posting_unit_of_work)
        checks = {c.account_number.value: c async for c in ledger.verify_every_journal()}
        busy = await journal_of(ledger, BUSY)
        bulk = await journal_of(ledger, BULK)
        busy_account = await ledger.get_account(BUSY)
        empty_account = await ledger.get_account(EMPTY)
        posted = await ledger.post_transaction(PostTransactionCommand(BUSY, "0.30", "deposit"))
        after_posting = await ledger.verify_account(BUSY)
    finally:
        await store.dispose()

    assert set(checks) == {BUSY, EMPTY, CLOSED, BULK, DRIFTED}
    assert all(checks[n].sound for n in (BUSY, EMPTY, CLOSED, BULK))
    assert [(checks[n].entry_count, str(checks[n].balance.amount)) for n in checks] == [
        (3, "115.00"),
        (0, "0.00"),
        (2, "0.00"),
        (BULK_DEPOSITS, "26.00"),
        (0, "5.00"),
    ]
    assert (checks[DRIFTED].chain_intact, checks[DRIFTED].balance_matches) == (True, False)
    assert [(e.entry_id, str(e.amount.amount), str(e.balance_after.amount)) for e in busy] == [
        (1, "100.00", "100.00"),
        (2, "-30.00", "70.00"),
        (3, "45.00", "115.00"),
    ]
    assert [(e.transaction_id.value, e.posted_at) for e in busy] == [
        ("busy-1-first", BEFORE_JOURNAL + timedelta(seconds=1)),
        ("busy-2-withdrawal", BEFORE_JOURNAL + timedelta(seconds=2)),
        ("busy-3-amended", BEFORE_JOURNAL + timedelta(seconds=2)),
    ]
    assert busy_account.journal == busy[-1].head
    assert empty_account.journal == EMPTY_CHAIN
    assert [e.transaction_id.value for e in bulk] == [t.transaction_id.value for t in BULK_HISTORY]
    assert [e.entry_id for e in bulk] == list(range(1, BULK_DEPOSITS + 1))
    assert posted.transaction.balance_after == Money.parse("115.30")
    assert after_posting.sound
    assert after_posting.entry_count == 4


async def test_downgrading_from_the_journal_removes_it_and_upgrading_again_rebuilds_it(
    empty_database_url: str,
) -> None:
    await upgrade_to_head(empty_database_url)
    store = open_store(empty_database_url)
    try:
        ledger = Ledger(store.unit_of_work, postings=store.posting_unit_of_work)
        number = (
            await ledger.open_account(OpenAccountCommand("Ada", "checking", initial_deposit="9"))
        ).number.value
        await ledger.post_transaction(PostTransactionCommand(number, "2.50", "withdrawal"))
        written = await journal_of(ledger, number)
    finally:
        await store.dispose()

    await downgrade(empty_database_url, "0005_events")

    def journal_left(connection: Connection) -> tuple[set[str], set[str]]:
        inspector = inspect(connection)
        return set(inspector.get_table_names()), {
            column["name"] for column in inspector.get_columns("accounts")
        }

    tables, account_columns = await run_on(empty_database_url, journal_left)
    assert "journal_entries" not in tables
    assert not account_columns & set(JOURNAL_HEAD_COLUMNS)

    await upgrade_to_head(empty_database_url)
    store = open_store(empty_database_url)
    try:
        ledger = Ledger(store.unit_of_work)
        # Every posting's entry is posted at its transaction's timestamp: the backfill makes
        # the very same journal again, hashes included.
        assert await journal_of(ledger, number) == written
        assert (await ledger.verify_account(number)).sound
    finally:
        await store.dispose()


async def test_a_database_from_before_holds_keeps_its_balances_and_its_pending_withdrawals_hold(
    empty_database_url: str,
) -> None:
    """Migration 0007_holds on a database with data: every balance and journal stays as it was
    and verifies; each account's pending withdrawals become its holds; the new CHECKs then let
    a balance go below zero within an overdraft limit, and no further."""
    await upgrade(empty_database_url, "0005_events")
    accounts_before = [account_before_journal(BUSY, "115.00"), account_before_journal(BULK, "1.00")]
    history = [
        *BUSY_HISTORY,
        stored_before_journal(BUSY, "40.00", WITHDRAWAL, TransactionStatus.PENDING, seconds=7),
        stored_before_journal(BUSY, "5.00", WITHDRAWAL, TransactionStatus.PENDING, seconds=8),
        stored_before_journal(
            BUSY, "6.00", WITHDRAWAL, TransactionStatus.PENDING, seconds=9, deleted=True
        ),
        stored_before_journal(BULK, "1.00", DEPOSIT, seconds=1),
    ]

    def store_rows(connection: Connection) -> None:
        connection.execute(
            insert(accounts), [account_row_before_the_journal(a) for a in accounts_before]
        )
        connection.execute(insert(transactions), [transaction_row_before_holds(t) for t in history])
        connection.commit()

    await run_on(empty_database_url, store_rows)
    await upgrade(empty_database_url, "0006_journal")
    await upgrade(empty_database_url, "0007_holds")
    await upgrade(empty_database_url, "head")  # the store reads the newest schema

    store = open_store(empty_database_url)
    try:
        ledger = Ledger(store.unit_of_work, postings=store.posting_unit_of_work)
        checks = {c.account_number.value: c async for c in ledger.verify_every_journal()}
        busy = await ledger.get_account(BUSY)
        bulk = await ledger.get_account(BULK)
        await ledger.update_account(UpdateAccountCommand(BULK, overdraft_limit="10"))
        overdrawn = await ledger.post_transaction(PostTransactionCommand(BULK, "11", "withdrawal"))
        with pytest.raises(InsufficientFunds):
            await ledger.post_transaction(PostTransactionCommand(BULK, "0.01", "withdrawal"))
        after = await ledger.verify_account(BULK)
    finally:
        await store.dispose()

    assert all(check.sound for check in checks.values())
    assert (busy.balance, busy.held, busy.available_balance) == (
        Money.parse("115.00"),
        Money.parse("45.00"),
        Money.parse("70.00"),
    )
    assert (bulk.balance, bulk.overdraft_limit, bulk.held) == (
        Money.parse("1.00"),
        Money.zero(),
        Money.zero(),
    )
    assert overdrawn.transaction.balance_after == Money.parse("-10.00")
    assert after.sound
    assert after.balance == Money.parse("-10.00")

    def below_the_limit(connection: Connection) -> None:
        connection.execute(
            update(accounts).where(accounts.c.account_number == BULK).values(balance_cents=-1001)
        )

    with pytest.raises(IntegrityError):
        await run_on(empty_database_url, below_the_limit)
