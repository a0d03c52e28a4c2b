"""The journal on SQLite and PostgreSQL: every move of a balance is written with it (postings on
PostgreSQL's grouped path included), the database itself refuses to change or remove an entry,
and an entry or balance changed behind the ledger's back is found and named by ``verify``."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from bank_adapters.sql import SqlStore
from bank_adapters.sql.errors import JournalRewriteRefused, storage_errors
from bank_domain import (
    AmendTransactionCommand,
    ChainBreak,
    DeleteTransactionCommand,
    InsufficientFunds,
    JournalEntry,
    Ledger,
    ListEntriesQuery,
    Money,
    OpenAccountCommand,
    PostTransactionCommand,
)
from bank_domain.journal import JournalCheck, chain_hash, verify_chain


def ledger_on(store: SqlStore) -> Ledger:
    """The ledger as the service makes it: postings on PostgreSQL go through groups."""
    return Ledger(store.unit_of_work, postings=store.posting_unit_of_work)


def money(amount: str) -> Money:
    return Money(Decimal(amount))


async def open_account(ledger: Ledger, initial_deposit: str = "0") -> str:
    account = await ledger.open_account(
        OpenAccountCommand("Ada Lovelace", "checking", initial_deposit=initial_deposit)
    )
    return account.number.value


async def post(ledger: Ledger, number: str, amount: str, kind: str = "deposit", **more: Any) -> str:
    posted = await ledger.post_transaction(PostTransactionCommand(number, amount, kind, **more))
    return posted.transaction.transaction_id.value


async def entries_of(ledger: Ledger, number: str) -> list[JournalEntry]:
    found: list[JournalEntry] = []
    cursor: str | None = None
    while True:
        page = await ledger.list_entries(ListEntriesQuery(number, limit=100, cursor=cursor))
        found.extend(page.items)
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


def moves(entries: list[JournalEntry]) -> list[tuple[int, str, str]]:
    return [(e.entry_id, str(e.amount.amount), str(e.balance_after.amount)) for e in entries]


# --- What writes an entry -----------------------------------------------------------------


async def test_every_move_of_a_balance_writes_its_entry_and_nothing_else_does(
    sql_store: SqlStore,
) -> None:
    ledger = ledger_on(sql_store)
    number = await open_account(ledger, "100.00")
    deposit = await post(ledger, number, "50.00")
    withdrawal = await post(ledger, number, "30.00", "withdrawal")
    pending = await post(ledger, number, "7.00", status="pending")
    await post(ledger, number, "9.00", status="failed")
    with pytest.raises(InsufficientFunds):
        await post(ledger, number, "1000.00", "withdrawal")
    await ledger.amend_transaction(AmendTransactionCommand(deposit, description="no move"))
    await ledger.amend_transaction(AmendTransactionCommand(deposit, amount="45.00"))
    await ledger.amend_transaction(AmendTransactionCommand(withdrawal, transaction_type="deposit"))
    await ledger.amend_transaction(AmendTransactionCommand(pending, status="success"))
    await ledger.amend_transaction(AmendTransactionCommand(deposit, status="cancelled"))
    await ledger.delete_transaction(DeleteTransactionCommand(withdrawal))

    entries = await entries_of(ledger, number)

    assert moves(entries) == [
        (1, "100.00", "100.00"),
        (2, "50.00", "150.00"),
        (3, "-30.00", "120.00"),
        (4, "-5.00", "115.00"),
        (5, "60.00", "175.00"),
        (6, "7.00", "182.00"),
        (7, "-45.00", "137.00"),
        (8, "-30.00", "107.00"),
    ]
    assert [e.transaction_id.value for e in entries[1:]] == [
        deposit,
        withdrawal,
        deposit,
        withdrawal,
        pending,
        deposit,
        withdrawal,
    ]
    assert (await ledger.get_account(number)).balance == money("107.00")
    check = await ledger.verify_account(number)
    assert check.sound
    assert (check.entry_count, check.entries_sum) == (8, money("107.00"))


async def test_an_account_opened_empty_has_no_entry_until_money_moves(
    sql_store: SqlStore,
) -> None:
    ledger = ledger_on(sql_store)
    number = await open_account(ledger)
    assert await entries_of(ledger, number) == []
    assert (await ledger.verify_account(number)).sound

    await post(ledger, number, "0.01")

    assert moves(await entries_of(ledger, number)) == [(1, "0.01", "0.01")]


@pytest.mark.postgres
async def test_concurrent_grouped_postings_on_one_hot_account_chain_one_after_another(
    postgres_store: SqlStore,
) -> None:
    ledger = ledger_on(postgres_store)
    number = await open_account(ledger, "50.00")
    shuffled = random.Random(9)
    commands = [
        PostTransactionCommand(
            number,
            f"{shuffled.randint(1, 900) / 100:.2f}",
            shuffled.choice(["deposit", "deposit", "withdrawal"]),
            status=shuffled.choice(["success"] * 9 + ["pending"]),
        )
        for _ in range(300)
    ]

    outcomes = await asyncio.gather(
        *(ledger.post_transaction(c) for c in commands), return_exceptions=True
    )

    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert all(isinstance(o, InsufficientFunds) for o in refused)
    posted = [o.transaction for o in outcomes if not isinstance(o, BaseException)]
    moved = {t.transaction_id: t for t in posted if t.status.value == "success"}
    entries = await entries_of(ledger, number)
    assert [e.entry_id for e in entries] == list(range(1, len(moved) + 2))
    assert verify_chain(entries).intact
    # Each entry is its posting's move, in the order the account took them.
    for entry in entries[1:]:
        transaction = moved[entry.transaction_id]
        assert entry.amount == transaction.effect
        assert entry.balance_after == transaction.balance_after
    assert len({e.transaction_id for e in entries[1:]}) == len(moved)
    account = await ledger.get_account(number)
    check = await ledger.verify_account(number)
    assert check.sound
    assert account.balance == check.entries_sum == entries[-1].balance_after
    assert account.journal == entries[-1].head


@pytest.mark.postgres
async def test_grouped_postings_spread_over_accounts_each_keep_their_own_chain(
    postgres_store: SqlStore,
) -> None:
    ledger = ledger_on(postgres_store)
    numbers = [await open_account(ledger, "10.00") for _ in range(8)]

    await asyncio.gather(
        *(
            ledger.post_transaction(PostTransactionCommand(numbers[i % 8], "1.00", "deposit"))
            for i in range(160)
        )
    )

    for number in numbers:
        check = await ledger.verify_account(number)
        assert check.sound
        assert (check.entry_count, check.entries_sum) == (21, money("30.00"))


# --- The database refuses to rewrite history ----------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE journal_entries SET amount_cents = amount_cents + 1",
        "UPDATE journal_entries SET hash = hash WHERE entry_id = 1",
        "DELETE FROM journal_entries WHERE entry_id = 2",
        "DELETE FROM journal_entries",
    ],
)
async def test_the_database_refuses_to_change_or_remove_an_entry(
    sql_store: SqlStore, statement: str
) -> None:
    await _refused_and_nothing_changed(sql_store, statement)


async def test_postgresql_refuses_to_truncate_the_journal(postgres_store: SqlStore) -> None:
    # SQLite has no TRUNCATE: its DELETE without WHERE is refused above.
    await _refused_and_nothing_changed(postgres_store, "TRUNCATE journal_entries")


async def _refused_and_nothing_changed(sql_store: SqlStore, statement: str) -> None:
    ledger = ledger_on(sql_store)
    number = await open_account(ledger, "10.00")
    await post(ledger, number, "1.00")
    before = await entries_of(ledger, number)

    with pytest.raises(IntegrityError, match="journal_entries is append-only"):
        async with sql_store.engine.begin() as connection:
            await connection.execute(text(statement))

    assert await entries_of(ledger, number) == before
    assert (await ledger.verify_account(number)).sound


async def test_the_adapter_tells_the_refusal_as_what_it_is(sql_store: SqlStore) -> None:
    ledger = ledger_on(sql_store)
    await open_account(ledger, "10.00")

    async def update_an_entry() -> None:
        async with sql_store.unit_of_work() as uow:
            with storage_errors():
                await uow.connection.execute(text("UPDATE journal_entries SET hash = 'x'"))

    with pytest.raises(JournalRewriteRefused, match="append-only"):
        await update_an_entry()


# --- Tampering is found and named ---------------------------------------------------------


async def tamper(store: SqlStore, statement: str, **parameters: object) -> None:
    """Runs a statement behind the ledger's back. The journal's triggers are dropped first, as
    someone with the database's keys could: on PostgreSQL for this one transaction (disabled,
    and enabled again before it commits, since the session's other tests share the database);
    on SQLite for good (each test has a file of its own)."""
    async with store.engine.begin() as connection:
        if store.engine.dialect.name == "postgresql":
            await connection.execute(
                text("ALTER TABLE journal_entries DISABLE TRIGGER journal_entries_append_only")
            )
            await connection.execute(text(statement), parameters)
            await connection.execute(
                text("ALTER TABLE journal_entries ENABLE TRIGGER journal_entries_append_only")
            )
            return
        await connection.execute(text("DROP TRIGGER IF EXISTS journal_entries_no_update"))
        await connection.execute(text("DROP TRIGGER IF EXISTS journal_entries_no_delete"))
        await connection.execute(text(statement), parameters)


async def four_entries(ledger: Ledger) -> tuple[str, list[JournalEntry]]:
    number = await open_account(ledger, "100.00")
    await post(ledger, number, "20.00", "withdrawal")
    await post(ledger, number, "5.50")
    await post(ledger, number, "0.25", "withdrawal")
    entries = await entries_of(ledger, number)
    assert (await ledger.verify_account(number)).sound
    return number, entries


async def checks_of_every_journal(ledger: Ledger) -> dict[str, JournalCheck]:
    return {check.account_number.value: check async for check in ledger.verify_every_journal()}


async def test_a_balance_changed_in_the_database_no_longer_matches_its_journal(
    sql_store: SqlStore,
) -> None:
    ledger = ledger_on(sql_store)
    number, _ = await four_entries(ledger)
    untouched, _ = await four_entries(ledger)

    await tamper(
        sql_store,
        "UPDATE accounts SET balance_cents = balance_cents + 100000 WHERE account_number = :n",
        n=number,
    )

    check = await ledger.verify_account(number)
    assert (check.account_number.value, check.balance, check.entries_sum) == (
        number,
        money("1085.25"),
        money("85.25"),
    )
    assert (check.balance_matches, check.chain_intact) == (False, True)
    every = await checks_of_every_journal(ledger)
    assert not every[number].sound
    assert every[untouched].sound


async def test_an_entry_s_changed_amount_is_named_with_its_id(sql_store: SqlStore) -> None:
    ledger = ledger_on(sql_store)
    number, _ = await four_entries(ledger)

    await tamper(
        sql_store,
        "UPDATE journal_entries SET amount_cents = -1000"
        " WHERE account_number = :n AND entry_id = 2",
        n=number,
    )

    check = await ledger.verify_account(number)
    assert check.first_bad is not None
    assert (check.first_bad.entry_id, check.first_bad.why) == (2, ChainBreak.BROKEN_LINK)
    assert not check.balance_matches
    assert (await checks_of_every_journal(ledger))[number].first_bad == check.first_bad


@pytest.mark.parametrize("entry_id", [2, 4])
async def test_an_entry_s_changed_hash_is_named_with_its_id(
    sql_store: SqlStore, entry_id: int
) -> None:
    ledger = ledger_on(sql_store)
    number, _ = await four_entries(ledger)

    await tamper(
        sql_store,
        "UPDATE journal_entries SET hash = :forged WHERE account_number = :n AND entry_id = :e",
        forged="f" * 64,
        n=number,
        e=entry_id,
    )

    check = await ledger.verify_account(number)
    assert check.first_bad is not None
    assert (check.first_bad.entry_id, check.first_bad.why) == (entry_id, ChainBreak.HASH_MISMATCH)
    assert check.balance_matches


@pytest.mark.parametrize("entry_id", [2, 4])
async def test_a_removed_entry_is_named_as_missing(sql_store: SqlStore, entry_id: int) -> None:
    ledger = ledger_on(sql_store)
    number, _ = await four_entries(ledger)

    await tamper(
        sql_store,
        "DELETE FROM journal_entries WHERE account_number = :n AND entry_id = :e",
        n=number,
        e=entry_id,
    )

    check = await ledger.verify_account(number)
    assert check.first_bad is not None
    assert (check.first_bad.entry_id, check.first_bad.why) == (entry_id, ChainBreak.ENTRY_MISSING)
    assert not check.balance_matches


async def test_a_last_entry_rewritten_with_its_hash_recomputed_differs_from_the_row_s_head(
    sql_store: SqlStore,
) -> None:
    """Someone who knows the rule rewrites the last entry whole (amount, balance_after, and the
    hash recomputed from them): every entry follows the one before, but the account's row kept
    the hash it wrote, and the balance still says what was there."""
    ledger = ledger_on(sql_store)
    number, entries = await four_entries(ledger)
    third, last = entries[2], entries[3]
    forged_amount, forged_balance = money("-0.01"), third.balance_after - money("0.01")
    forged_hash = chain_hash(
        third.hash,
        entry_id=last.entry_id,
        account_number=last.account_number,
        transaction_id=last.transaction_id,
        amount=forged_amount,
        balance_after=forged_balance,
        posted_at=last.posted_at,
    )

    await tamper(
        sql_store,
        "UPDATE journal_entries SET amount_cents = -1, balance_after_cents = :b, hash = :h"
        " WHERE account_number = :n AND entry_id = 4",
        b=forged_balance.cents,
        h=forged_hash,
        n=number,
    )

    check = await ledger.verify_account(number)
    assert check.first_bad is not None
    assert (check.first_bad.entry_id, check.first_bad.why) == (4, ChainBreak.HEAD_MISMATCH)
    assert not check.balance_matches
