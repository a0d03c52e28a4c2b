"""The grouped path's write: one statement per group (``WRITE_GROUP``) stores every table a
group changed, rows as they were handed over, events in their members' order, and reports a
broken key as the batches per table before it did."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, select

from bank_adapters.sql import SqlStore
from bank_adapters.sql.errors import EntryDoesNotFollow, storage_errors
from bank_adapters.sql.grouped.driver_statements import (
    EVENT_COLUMNS_WRITTEN,
    LOCK_ACCOUNTS,
    WRITE_GROUP,
)
from bank_adapters.sql.idempotency import kept_to_json_row
from bank_adapters.sql.rows import (
    account_to_row,
    event_to_row,
    journal_entry_to_row,
    transaction_to_row,
)
from bank_adapters.sql.schema import (
    accounts,
    events,
    idempotency_keys,
    journal_entries,
    transactions,
)
from bank_domain import (
    AccountNumber,
    Event,
    EventType,
    Ledger,
    Money,
    OpenAccountCommand,
    PostTransactionCommand,
    StorageUnavailable,
    Transaction,
    TransactionStatus,
    TransactionType,
)
from bank_domain.account import Account, AccountType
from bank_domain.actors import MASTER, Actor
from bank_domain.idempotency import IdempotencyKey, KeptAnswer, KeptRequest
from bank_domain.identifiers import TransactionId
from bank_domain.ports import EntryQuery
from tests.support import refs


def grouped_ledger(store: SqlStore) -> Ledger:
    return Ledger(store.unit_of_work, postings=store.posting_unit_of_work)


async def open_account(ledger: Ledger) -> AccountNumber:
    return (await ledger.open_account(OpenAccountCommand("Ada", "checking"))).number


def test_the_rows_handed_to_the_write_name_every_column_it_stores() -> None:
    """The write reads each row by column name, and a column a row left out would be stored as
    NULL: every row names every column the write stores, and no other."""
    now = datetime.now(UTC)
    account = Account.open(AccountNumber(refs.account_number()), "Ada", AccountType.CHECKING, now)
    transaction = Transaction.new(
        TransactionId.generate(),
        account.number,
        Money(Decimal("1.00")),
        TransactionType.DEPOSIT,
        None,
        TransactionStatus.SUCCESS,
        now,
    )
    account.accept(transaction, now)
    [entry] = account.take_new_entries()
    posted = Event.of(EventType.TRANSACTION_POSTED, transaction, MASTER, now)

    assert set(transaction_to_row(transaction)) == set(transactions.c.keys())
    assert set(account_to_row(account)) == set(accounts.c.keys())
    assert set(journal_entry_to_row(entry)) == set(journal_entries.c.keys())
    assert set(event_to_row(posted)) == set(EVENT_COLUMNS_WRITTEN)
    assert set(events.c.keys()) - set(EVENT_COLUMNS_WRITTEN) == {"event_id", "commit_order"}
    kept = KeptRequest(IdempotencyKey("master", "k"), "f", KeptAnswer(201, b"{}"), now)
    assert set(kept_to_json_row(kept)) == set(idempotency_keys.c.keys())


@pytest.mark.postgres
async def test_a_groups_events_take_ids_in_the_order_its_members_handed_them_over(
    postgres_store: SqlStore,
) -> None:
    """One group, a member per account, handing over in an order that is neither the accounts'
    nor the transactions': the event ids follow the hand-over, and the whole group shares one
    ``commit_order`` (the id of its database transaction)."""
    ledger = grouped_ledger(postgres_store)
    numbers = [await open_account(ledger) for _ in range(16)]
    async with contextlib.AsyncExitStack() as stack:
        members = [
            await stack.enter_async_context(postgres_store.posting_unit_of_work()) for _ in numbers
        ]
        locked = await asyncio.gather(
            *(uow.accounts.get_for_update(n) for uow, n in zip(members, numbers, strict=True))
        )
        ids: list[str] = []
        for uow, account in zip(members, locked, strict=True):
            assert account is not None
            transaction = Transaction.new(
                TransactionId.generate(),
                account.number,
                Money(Decimal("2.00")),
                TransactionType.DEPOSIT,
                None,
                TransactionStatus.SUCCESS,
                datetime.now(UTC),
            )
            account.accept(transaction, transaction.timestamp)
            await uow.transactions.add(transaction)
            await uow.accounts.save(account)
            await uow.events.add(
                Event.of(EventType.TRANSACTION_POSTED, transaction, MASTER, transaction.timestamp)
            )
            ids.append(transaction.transaction_id.value)
        order = random.Random(20261130).sample(range(len(members)), len(members))
        # Scheduled in this order, each commit hands its changes over in this order.
        commits = [asyncio.ensure_future(members[i].commit()) for i in order]
        await asyncio.gather(*commits)

    async with postgres_store.engine.connect() as connection:
        stored = (
            await connection.execute(
                select(events.c.transaction_id, events.c.commit_order)
                .where(events.c.transaction_id.in_(ids))
                .order_by(events.c.event_id)
            )
        ).all()
    handed_over = [ids[i] for i in order]
    assert handed_over != sorted(handed_over)
    assert [numbers[i] for i in order] != sorted(numbers, key=str)
    assert [row.transaction_id for row in stored] == handed_over
    assert len({row.commit_order for row in stored}) == 1


@contextlib.contextmanager
def statements_sent(store: SqlStore) -> Iterator[dict[int, list[str]]]:
    """Every statement the store's connections send from here on, by connection."""
    sent: dict[int, list[str]] = {}
    logging: set[int] = set()

    def on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        driver = dbapi_connection.driver_connection
        if id(driver) not in logging:
            logging.add(id(driver))
            log = sent.setdefault(id(driver), [])
            driver.add_query_logger(lambda query: log.append(query.query))

    event.listen(store.engine.sync_engine, "checkout", on_checkout)
    try:
        yield sent
    finally:
        event.remove(store.engine.sync_engine, "checkout", on_checkout)


@pytest.mark.postgres
async def test_a_group_sends_one_statement_between_its_lock_and_its_commit(
    postgres_store: SqlStore,
) -> None:
    ledger = grouped_ledger(postgres_store)
    numbers = [(await open_account(ledger)).value for _ in range(3)]

    with statements_sent(postgres_store) as sent:
        # Each writer's first group also sends asyncpg's look-up of the types it has not met.
        for number in numbers[:2]:
            await ledger.post_transaction(PostTransactionCommand(number, "1.00", "deposit"))
        for log in sent.values():
            log.clear()
        await asyncio.gather(
            *(
                ledger.post_transaction(PostTransactionCommand(numbers[n % 3], "1.00", "deposit"))
                for n in range(30)
            )
        )
        await asyncio.sleep(0)  # the query loggers are called soon after each statement

    writers = [log for log in sent.values() if LOCK_ACCOUNTS.sql in log]
    groups = [
        log[at : log.index("COMMIT;", at) + 1]
        for log in writers
        for at, s in enumerate(log)
        if s == "BEGIN;"
    ]
    assert groups, "the postings were written in groups"
    assert all(
        group == ["BEGIN;", LOCK_ACCOUNTS.sql, WRITE_GROUP.sql, "COMMIT;"] for group in groups
    )
    assert sum(len(log) for log in writers) == 4 * len(groups)
    balances = [(await ledger.get_account(number)).balance for number in numbers]
    assert balances == [Money(Decimal(amount)) for amount in ("11.00", "11.00", "10.00")]


@pytest.mark.postgres
async def test_a_group_stores_text_nulls_and_timestamps_exactly(postgres_store: SqlStore) -> None:
    """Descriptions with the characters JSON escapes, none, and the longest allowed; request ids
    and none; a pending posting, which moves no balance (no account, no entry): each stored as
    posted, its event and journal entry with it."""
    ledger = grouped_ledger(postgres_store)
    number = (await open_account(ledger)).value
    descriptions = [
        None,
        'Rent "May" \\ 10% \u00e9\u20ac\U0001d11e\r\nsecond line / {"json": [1]}',
        "x" * 500,
    ]
    commands = [
        PostTransactionCommand(
            number,
            f"{n + 1}.01",
            "deposit",
            description=descriptions[n % 3],
            status="pending" if n == 4 else "success",
            actor=Actor("key-1", request_id=None if n % 2 else f"req-{n}"),
        )
        for n in range(6)
    ]

    posted = await asyncio.gather(*(ledger.post_transaction(c) for c in commands))

    for command, outcome in zip(commands, posted, strict=True):
        stored = await ledger.get_transaction(outcome.transaction.transaction_id.value)
        assert dataclasses.asdict(stored) == dataclasses.asdict(outcome.transaction)
        assert stored.description == command.description
    async with postgres_store.engine.connect() as connection:
        stored_events = (
            await connection.execute(
                select(events.c.transaction_id, events.c.request_id, events.c.occurred_at).where(
                    events.c.account_number == number, events.c.transaction_id.is_not(None)
                )
            )
        ).all()
    by_id = {row.transaction_id: row for row in stored_events}
    for command, outcome in zip(commands, posted, strict=True):
        row = by_id[outcome.transaction.transaction_id.value]
        assert row.request_id == command.actor.request_id
        assert row.occurred_at == outcome.transaction.timestamp
    async with postgres_store.unit_of_work(read_only=True) as uow:
        journal = await uow.journal.list(EntryQuery(AccountNumber(number), 100, up_to_entry_id=99))
    assert sorted(entry.amount for entry in journal) == sorted(
        o.transaction.amount for o in posted if o.transaction.status is TransactionStatus.SUCCESS
    )
    account = await ledger.get_account(number)
    assert account.journal.posted_at == max(entry.posted_at for entry in journal)
    assert (await ledger.verify_account(number)).chain_intact


@pytest.mark.postgres
async def test_a_taken_transaction_id_is_reported_as_the_batches_reported_it(
    postgres_store: SqlStore,
) -> None:
    """A group whose transaction id is taken breaks ``pk_transactions``, which the adapter
    tells as a race to retry (StorageUnavailable), even when its entry's id is taken too: the
    write stores the transactions first, as the batches did. An entry id taken alone is the
    ledger's defect (EntryDoesNotFollow)."""
    ledger = grouped_ledger(postgres_store)
    number = await open_account(ledger)
    posted = await ledger.post_transaction(PostTransactionCommand(number.value, "1.00", "deposit"))
    async with postgres_store.unit_of_work(read_only=True) as uow:
        [entry] = await uow.journal.list(EntryQuery(number, 10, up_to_entry_id=1))

    async def write_again(*, transaction: bool, entry_too: bool) -> None:
        rows = {
            transactions: [transaction_to_row(posted.transaction)] if transaction else [],
            accounts: [],
            journal_entries: [journal_entry_to_row(entry)] if entry_too else [],
            events: [],
            idempotency_keys: [],
        }
        async with postgres_store.engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None
            async with driver.transaction():
                await driver.execute(WRITE_GROUP.sql, *WRITE_GROUP.arguments_of_rows(rows))

    with pytest.raises(asyncpg.UniqueViolationError) as both:
        await write_again(transaction=True, entry_too=True)
    with pytest.raises(asyncpg.UniqueViolationError) as entry_alone:
        await write_again(transaction=False, entry_too=True)
    with pytest.raises(StorageUnavailable), storage_errors():
        await write_again(transaction=True, entry_too=True)
    with pytest.raises(EntryDoesNotFollow), storage_errors():
        await write_again(transaction=False, entry_too=True)

    assert both.value.constraint_name == "pk_transactions"
    assert entry_alone.value.constraint_name == "pk_journal_entries"


def plan_nodes(plan: dict[str, Any]) -> list[tuple[str, str | None]]:
    """Each node of a plan (EXPLAIN's JSON), depth first: its type and the table it reads."""
    node = (plan["Node Type"], plan.get("Relation Name"))
    return [node, *(n for child in plan.get("Plans", []) for n in plan_nodes(child))]


@pytest.mark.postgres
async def test_the_write_finds_a_groups_accounts_by_key_among_many(
    postgres_store: SqlStore,
) -> None:
    """The writers reuse the write's generic plan: on a freshly analysed table of 10,000 accounts
    (the bench's spread mix) it updates the group's accounts through their key, not by reading
    the whole table."""
    async with postgres_store.engine.begin() as setup:
        driver = (await setup.get_raw_connection()).driver_connection
        assert driver is not None
        await driver.execute(
            """INSERT INTO accounts SELECT (1000000000 + n)::text, 'Plan ' || n, 'checking',
                'active', 0, now(), now(), 1, NULL FROM generate_series(1, 10000) AS n"""
        )
        await driver.execute("ANALYZE accounts")
    async with postgres_store.engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        await driver.execute(f"PREPARE write_group AS {WRITE_GROUP.sql}")
        await driver.execute("SET plan_cache_mode = force_generic_plan")
        explained = await driver.fetchval(
            "EXPLAIN (FORMAT JSON) EXECUTE write_group(NULL, NULL, NULL, NULL, NULL)"
        )
        await driver.execute("DEALLOCATE write_group; RESET plan_cache_mode")

    # SQLAlchemy's asyncpg dialect decodes json on its connections; a bare one would not.
    plan = json.loads(explained) if isinstance(explained, str) else explained
    nodes = plan_nodes(plan[0]["Plan"])
    assert ("Index Scan", "accounts") in nodes, nodes
    assert ("Seq Scan", "accounts") not in nodes, nodes
