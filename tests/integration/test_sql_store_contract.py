"""The store contract: every store (memory, SQLite, PostgreSQL) keeps and finds accounts and
transactions exactly alike: every field, every order, every filter."""

from __future__ import annotations

import dataclasses
import secrets
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import TypedDict, Unpack

import pytest
from sqlalchemy import insert

from bank_adapters.memory import InMemoryStore
from bank_adapters.sql import SqlStore
from bank_adapters.sql.rows import journal_entry_to_row
from bank_adapters.sql.schema import journal_entries
from bank_adapters.stores import Store
from bank_domain import (
    Account,
    AccountNumber,
    AccountStatus,
    AccountType,
    DuplicateAccountNumber,
    DuplicateTransactionId,
    Money,
    Transaction,
    TransactionId,
    TransactionStatus,
    TransactionType,
)
from bank_domain.api_keys import ApiKey, Scope, hash_of_secret, new_key_id, new_secret
from bank_domain.errors import StorageUnavailable
from bank_domain.journal import ChainHead, JournalEntry
from bank_domain.money import MAX_AMOUNT, MAX_BALANCE
from bank_domain.ports import AccountQuery, ApiKeyQuery, TransactionQuery

T0 = datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=UTC)
INDIA = timezone(timedelta(hours=5, minutes=30))


def random_number() -> AccountNumber:
    return AccountNumber(f"{secrets.randbelow(10**10):010d}")


def random_id() -> TransactionId:
    return TransactionId(f"tx-{uuid.uuid4().hex}")


class AccountChanges(TypedDict, total=False):
    customer_name: str
    account_type: AccountType
    status: AccountStatus
    balance: Money
    created_at: datetime
    updated_at: datetime
    version: int
    closed_at: datetime | None
    journal: ChainHead
    overdraft_limit: Money
    held: Money
    next_hold_expiry: datetime | None


class TransactionChanges(TypedDict, total=False):
    transaction_id: TransactionId
    amount: Money
    transaction_type: TransactionType
    description: str | None
    status: TransactionStatus
    timestamp: datetime
    updated_at: datetime
    balance_after: Money | None
    deleted_at: datetime | None
    version: int
    expires_at: datetime | None


class TransactionFilters(TypedDict, total=False):
    transaction_type: TransactionType | None
    status: TransactionStatus | None
    since: datetime | None
    until: datetime | None


def an_account(number: AccountNumber | None = None, **changes: Unpack[AccountChanges]) -> Account:
    account = Account(
        number=number or random_number(),
        customer_name="Ada Lovelace",
        account_type=AccountType.CHECKING,
        status=AccountStatus.ACTIVE,
        balance=Money(Decimal("0.00")),
        created_at=T0,
        updated_at=T0,
    )
    return dataclasses.replace(account, **changes)


def a_transaction(account: Account, **changes: Unpack[TransactionChanges]) -> Transaction:
    transaction = Transaction(
        transaction_id=random_id(),
        account_number=account.number,
        amount=Money(Decimal("10.00")),
        transaction_type=TransactionType.DEPOSIT,
        description=None,
        status=TransactionStatus.SUCCESS,
        timestamp=T0,
        updated_at=T0,
    )
    return dataclasses.replace(transaction, **changes)


def same_fields(loaded: Account | Transaction | None, expected: Account | Transaction) -> bool:
    assert loaded is not None
    return dataclasses.asdict(loaded) == dataclasses.asdict(expected)


def assert_utc(*timestamps: datetime | None) -> None:
    for timestamp in timestamps:
        assert timestamp is None or timestamp.utcoffset() == timedelta(0), timestamp


async def add(store: Store, *items: Account | Transaction) -> None:
    async with store.unit_of_work() as uow:
        for item in items:
            if isinstance(item, Account):
                await uow.accounts.add(item)
            else:
                await uow.transactions.add(item)
        await uow.commit()


# --- Accounts -------------------------------------------------------------------------------


async def test_an_added_account_comes_back_field_for_field(store: Store) -> None:
    account = an_account(
        customer_name="Zoë Ölçer-Łukasiewicz 山田",
        account_type=AccountType.SAVINGS,
        status=AccountStatus.FROZEN,
        balance=Money(MAX_BALANCE),
        created_at=datetime(1999, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
        updated_at=datetime(2030, 1, 1, 0, 0, 0, 123_456, tzinfo=UTC),
        version=7,
        closed_at=datetime(2031, 6, 1, tzinfo=UTC),
        journal=ChainHead(2**53 + 1, "ab" * 32, datetime(2030, 1, 1, 0, 0, 0, 123_455, tzinfo=UTC)),
    )
    await add(store, account)

    async with store.unit_of_work() as uow:
        loaded = await uow.accounts.get(account.number)
        locked = await uow.accounts.get_for_update(account.number)

    assert same_fields(loaded, account)
    assert same_fields(locked, account)
    assert loaded is not None
    assert loaded.balance.amount == Decimal("100000000000000.00")
    assert loaded.updated_at == datetime(2030, 1, 1, 0, 0, 0, 123_456, tzinfo=UTC)
    assert_utc(loaded.created_at, loaded.updated_at, loaded.closed_at, loaded.journal.posted_at)


async def test_a_saved_account_keeps_every_change(store: Store) -> None:
    account = an_account(balance=Money(Decimal("0.01")))
    await add(store, account)

    async with store.unit_of_work() as uow:
        changed = await uow.accounts.get_for_update(account.number)
        assert changed is not None
        changed.customer_name = "Grace Hopper"
        changed.account_type = AccountType.SAVINGS
        changed.status = AccountStatus.FROZEN
        changed.balance = Money(Decimal("12345678901.23"))
        changed.updated_at = T0 + timedelta(microseconds=1)
        changed.version = 3
        changed.closed_at = T0 + timedelta(days=1)
        changed.journal = ChainHead(12, "0123456789abcdef" * 4, T0.astimezone(INDIA))
        await uow.accounts.save(changed)
        await uow.commit()

    async with store.unit_of_work() as uow:
        assert same_fields(await uow.accounts.get(account.number), changed)


async def test_an_unknown_account_is_none(store: Store) -> None:
    async with store.unit_of_work() as uow:
        assert await uow.accounts.get(random_number()) is None
        assert await uow.accounts.get_for_update(random_number()) is None


async def test_a_number_stays_taken_after_its_account_closes(store: Store) -> None:
    open_one, closed = an_account(), an_account(closed_at=T0)
    await add(store, open_one, closed)

    async with store.unit_of_work() as uow:
        assert await uow.accounts.number_taken(open_one.number)
        assert await uow.accounts.number_taken(closed.number)
        assert not await uow.accounts.number_taken(random_number())


async def test_adding_a_taken_number_is_a_duplicate_even_once_closed(store: Store) -> None:
    closed = an_account(closed_at=T0)
    await add(store, closed)

    with pytest.raises(DuplicateAccountNumber) as raised:
        await add(store, an_account(closed.number, customer_name="Someone Else"))

    assert raised.value.account_number == str(closed.number)
    async with store.unit_of_work() as uow:
        assert same_fields(await uow.accounts.get(closed.number), closed)


async def test_adding_one_number_twice_in_one_unit_of_work_is_a_duplicate(store: Store) -> None:
    number = random_number()
    with pytest.raises(DuplicateAccountNumber):
        await add(store, an_account(number), an_account(number))

    async with store.unit_of_work() as uow:
        assert await uow.accounts.get(number) is None


async def test_accounts_list_in_number_order_a_page_at_a_time_without_closed_ones(
    store: Store,
) -> None:
    numbers = [AccountNumber(f"{n:010d}") for n in (5, 1, 4, 2, 3)]
    await add(store, *(an_account(number) for number in numbers))
    await add(store, an_account(AccountNumber("0000000000"), closed_at=T0))

    async with store.unit_of_work() as uow:
        first = await uow.accounts.list(AccountQuery(limit=2))
        rest = await uow.accounts.list(AccountQuery(limit=10, after=first[-1].number))

    assert [a.number.value for a in first] == ["0000000001", "0000000002"]
    assert [a.number.value for a in rest] == ["0000000003", "0000000004", "0000000005"]


async def test_accounts_list_closed_ones_too_when_asked(store: Store) -> None:
    numbers = [AccountNumber(f"{n:010d}") for n in (3, 1, 2)]
    await add(store, an_account(numbers[0]), an_account(numbers[1]))
    await add(store, an_account(numbers[2], closed_at=T0))

    async with store.unit_of_work() as uow:
        first = await uow.accounts.list(AccountQuery(limit=2, include_closed=True))
        rest = await uow.accounts.list(
            AccountQuery(limit=2, after=first[-1].number, include_closed=True)
        )

    assert [a.number.value for a in first] == ["0000000001", "0000000002"]
    assert [a.number.value for a in rest] == ["0000000003"]
    assert first[1].is_closed


async def test_accounts_list_by_name_type_and_status(store: Store) -> None:
    ada_checking = an_account(customer_name="Ada")
    ada_frozen = an_account(customer_name="Ada", status=AccountStatus.FROZEN)
    ada_savings = an_account(customer_name="Ada", account_type=AccountType.SAVINGS)
    grace = an_account(customer_name="Grace")
    await add(store, ada_checking, ada_frozen, ada_savings, grace)

    async def numbers(query: AccountQuery) -> set[AccountNumber]:
        async with store.unit_of_work() as uow:
            return {account.number for account in await uow.accounts.list(query)}

    everyone = AccountQuery(limit=10)
    all_four = {a.number for a in (ada_checking, ada_frozen, ada_savings, grace)}
    assert await numbers(everyone) == all_four
    assert await numbers(dataclasses.replace(everyone, customer_name="Ada")) == {
        ada_checking.number,
        ada_frozen.number,
        ada_savings.number,
    }
    assert await numbers(dataclasses.replace(everyone, customer_name="ada")) == set()
    assert await numbers(
        dataclasses.replace(everyone, customer_name="Ada", account_type=AccountType.SAVINGS)
    ) == {ada_savings.number}
    assert await numbers(dataclasses.replace(everyone, status=AccountStatus.FROZEN)) == {
        ada_frozen.number
    }


async def test_accounts_list_only_the_numbers_asked_for_a_page_at_a_time(store: Store) -> None:
    numbers = [AccountNumber(f"{n:010d}") for n in range(1, 9)]
    await add(store, *(an_account(number) for number in numbers))
    await add(store, an_account(AccountNumber("0000000000"), closed_at=T0))
    visible = frozenset({numbers[1], numbers[4], numbers[6], AccountNumber("0000000000")})

    async with store.unit_of_work(read_only=True) as uow:
        first = await uow.accounts.list(AccountQuery(limit=2, account_numbers=visible))
        rest = await uow.accounts.list(
            AccountQuery(limit=10, after=first[-1].number, account_numbers=visible)
        )
        frozen_ones = await uow.accounts.list(
            AccountQuery(limit=10, status=AccountStatus.FROZEN, account_numbers=visible)
        )
        none_at_all = await uow.accounts.list(AccountQuery(limit=10, account_numbers=frozenset()))
        a_thousand = frozenset(AccountNumber(f"{n:010d}") for n in range(1, 1001))
        many = await uow.accounts.list(AccountQuery(limit=100, account_numbers=a_thousand))

    assert [a.number for a in first] == [numbers[1], numbers[4]]
    assert [a.number for a in rest] == [numbers[6]]
    assert frozen_ones == []
    assert none_at_all == []
    assert [a.number for a in many] == numbers


# --- Transactions ---------------------------------------------------------------------------


async def test_an_added_transaction_comes_back_field_for_field(store: Store) -> None:
    account = an_account()
    transaction = a_transaction(
        account,
        amount=Money(MAX_AMOUNT),
        transaction_type=TransactionType.WITHDRAWAL,
        description="Ünïcode — and 'quotes' \"too\"; " + "x" * 400,
        status=TransactionStatus.PENDING,
        timestamp=datetime(2024, 5, 1, 12, 0, 0, 1, tzinfo=UTC),
        updated_at=datetime(2024, 5, 1, 12, 0, 0, 2, tzinfo=UTC),
        balance_after=Money(Decimal("0.00")),
        deleted_at=datetime(2024, 5, 2, tzinfo=UTC),
        version=7,
    )
    await add(store, account, transaction)

    async with store.unit_of_work() as uow:
        loaded = await uow.transactions.get(transaction.transaction_id)

    assert same_fields(loaded, transaction)
    assert loaded is not None
    assert loaded.amount.amount == Decimal("1000000000000.00")
    assert_utc(loaded.timestamp, loaded.updated_at, loaded.deleted_at)


async def test_a_transaction_without_optional_fields_comes_back_so(store: Store) -> None:
    account = an_account()
    transaction = a_transaction(account, amount=Money(Decimal("0.01")))
    await add(store, account, transaction)

    async with store.unit_of_work() as uow:
        loaded = await uow.transactions.get(transaction.transaction_id)

    assert same_fields(loaded, transaction)
    assert loaded is not None
    assert (loaded.description, loaded.balance_after, loaded.deleted_at) == (None, None, None)
    assert loaded.version == 1


async def test_a_saved_transaction_keeps_every_change(store: Store) -> None:
    account = an_account()
    transaction = a_transaction(account, status=TransactionStatus.PENDING)
    await add(store, account, transaction)

    async with store.unit_of_work() as uow:
        changed = await uow.transactions.get(transaction.transaction_id)
        assert changed is not None
        changed.amount = Money(Decimal("99.99"))
        changed.transaction_type = TransactionType.WITHDRAWAL
        changed.description = "corrected"
        changed.status = TransactionStatus.SUCCESS
        changed.updated_at = T0 + timedelta(seconds=1)
        changed.balance_after = Money(Decimal("0.01"))
        changed.deleted_at = T0 + timedelta(seconds=2)
        changed.version = 3
        await uow.transactions.save(changed)
        await uow.commit()

    async with store.unit_of_work() as uow:
        assert same_fields(await uow.transactions.get(transaction.transaction_id), changed)


async def test_an_unknown_transaction_is_none(store: Store) -> None:
    async with store.unit_of_work() as uow:
        assert await uow.transactions.get(random_id()) is None


async def test_a_used_transaction_id_is_a_duplicate_on_any_account(store: Store) -> None:
    first, second = an_account(), an_account()
    deleted = a_transaction(first, deleted_at=T0)
    await add(store, first, second, deleted)

    with pytest.raises(DuplicateTransactionId) as raised:
        await add(store, a_transaction(second, transaction_id=deleted.transaction_id))

    assert raised.value.transaction_id == str(deleted.transaction_id)
    async with store.unit_of_work() as uow:
        assert same_fields(await uow.transactions.get(deleted.transaction_id), deleted)


async def test_transactions_list_oldest_first_then_by_id_a_page_at_a_time(store: Store) -> None:
    account, other = an_account(), an_account()
    # Ids that sort differently under a locale than byte by byte ('-' < '0' < 'A' < '_' < 'a').
    tie = [TransactionId(tid) for tid in ("aaaaaaaa", "________", "AAAAAAAA", "00000000")]
    times = [
        datetime(2023, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(2024, 1, 1, tzinfo=UTC),  # the tie
        datetime(2024, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
        datetime(2024, 1, 1, 6, 0, 0, 2, tzinfo=INDIA),  # 00:30 UTC
        datetime(2100, 1, 1, tzinfo=UTC),
    ]
    items = [
        a_transaction(account, transaction_id=tid, timestamp=times[1], version=2 + n)
        for n, tid in enumerate(tie)
    ]
    items += [a_transaction(account, timestamp=t) for t in (times[4], times[0], times[3], times[2])]
    hidden = [
        a_transaction(account, timestamp=times[2], deleted_at=T0),
        a_transaction(other, timestamp=times[2]),
    ]
    await add(store, account, other, *items, *hidden)
    expected = sorted(items, key=lambda t: (t.timestamp, t.transaction_id))

    pages: list[list[Transaction]] = []
    after = None
    async with store.unit_of_work() as uow:
        while True:
            page = await uow.transactions.list(TransactionQuery(account.number, 3, after=after))
            if not page:
                break
            pages.append(page)
            after = (page[-1].timestamp, page[-1].transaction_id)

    assert [len(page) for page in pages] == [3, 3, 2]
    listed = [t for page in pages for t in page]
    assert [t.transaction_id for t in listed] == [t.transaction_id for t in expected]
    assert [t.transaction_id.value for t in listed[1:5]] == sorted(tid.value for tid in tie)
    assert all(same_fields(got, want) for got, want in zip(listed, expected, strict=True))


async def test_transactions_list_since_and_until_include_their_bounds(store: Store) -> None:
    account = an_account()
    times = [T0 + timedelta(microseconds=n) for n in range(5)]
    items = [a_transaction(account, timestamp=t) for t in times]
    await add(store, account, *items)

    async def listed(**filters: Unpack[TransactionFilters]) -> list[datetime]:
        query = dataclasses.replace(TransactionQuery(account.number, 10), **filters)
        async with store.unit_of_work() as uow:
            return [t.timestamp for t in await uow.transactions.list(query)]

    assert await listed(since=times[1], until=times[3]) == times[1:4]
    assert await listed(since=times[4]) == times[4:]
    assert await listed(until=times[0]) == times[:1]
    assert await listed(since=times[1].astimezone(INDIA)) == times[1:]
    assert await listed(since=times[3], until=times[2]) == []


async def test_transactions_list_by_type_and_status(store: Store) -> None:
    account = an_account()
    deposit = a_transaction(account)
    withdrawal = a_transaction(account, transaction_type=TransactionType.WITHDRAWAL)
    pending = a_transaction(account, status=TransactionStatus.PENDING)
    failed = a_transaction(
        account, transaction_type=TransactionType.WITHDRAWAL, status=TransactionStatus.FAILED
    )
    await add(store, account, deposit, withdrawal, pending, failed)

    async def ids(**filters: Unpack[TransactionFilters]) -> set[TransactionId]:
        query = dataclasses.replace(TransactionQuery(account.number, 10), **filters)
        async with store.unit_of_work() as uow:
            return {t.transaction_id for t in await uow.transactions.list(query)}

    assert await ids(transaction_type=TransactionType.WITHDRAWAL) == {
        withdrawal.transaction_id,
        failed.transaction_id,
    }
    assert await ids(status=TransactionStatus.SUCCESS) == {
        deposit.transaction_id,
        withdrawal.transaction_id,
    }
    assert await ids(
        transaction_type=TransactionType.DEPOSIT, status=TransactionStatus.PENDING
    ) == {pending.transaction_id}


# --- The journal's sum (what recalculation holds the balance to) ---------------------------
# The rest of the journal's contract: test_sql_journal_store_contract.py.


def moved(account: Account, *amounts: str) -> Account:
    """The account, moved by each amount in turn, each move with its journal entry."""
    for amount in amounts:
        account.move_balance(Money(Decimal(amount)), T0, random_id())
    return account


async def append_directly(store: Store, entry: JournalEntry) -> None:
    """Writes an entry as no unit of work would: past every rule of the domain."""
    if isinstance(store, InMemoryStore):
        store.journal[entry.account_number].append(entry)
        return
    assert isinstance(store, SqlStore)
    async with store.engine.begin() as connection:
        await connection.execute(insert(journal_entries).values(journal_entry_to_row(entry)))


async def test_sum_of_amounts_adds_up_every_entry_of_the_account_alone(store: Store) -> None:
    account = moved(an_account(), "10.00", "0.01", "-3.00")
    other = moved(an_account(), "1600.00", "-0.10")
    await add(store, account, other)
    async with store.unit_of_work() as uow:
        saved = await uow.accounts.get_for_update(account.number)
        assert saved is not None
        await uow.accounts.save(moved(saved, "800.00", "-800.00"))
        await uow.commit()

    async with store.unit_of_work(read_only=True) as uow:
        assert await uow.journal.sum_of_amounts(account.number) == Money(Decimal("7.01"))
        assert await uow.journal.sum_of_amounts(other.number) == Money(Decimal("1599.90"))
        assert await uow.journal.sum_of_amounts(random_number()) == Money.zero()


async def test_sum_of_amounts_may_come_out_negative_when_the_records_say_so(store: Store) -> None:
    account = an_account()
    await add(store, account)
    entry = JournalEntry.next(
        account.journal,
        account.balance,
        account_number=account.number,
        transaction_id=random_id(),
        amount=Money(Decimal("-5.25")),
        now=T0,
    )
    await append_directly(store, entry)

    async with store.unit_of_work(read_only=True) as uow:
        assert await uow.journal.sum_of_amounts(account.number) == Money(Decimal("-5.25"))


async def test_sum_of_amounts_is_exact_at_the_largest_amounts(store: Store) -> None:
    # 99 x 10^12 and a cent: more cents than a float holds exactly (2^53).
    account = moved(an_account(), *[str(MAX_AMOUNT)] * 99, "0.01")
    await add(store, account)

    async with store.unit_of_work(read_only=True) as uow:
        total = await uow.journal.sum_of_amounts(account.number)

    assert total == Money(Decimal("99000000000000.01"))


# --- Overdraft limits and holds --------------------------------------------------------------


async def test_an_account_keeps_its_overdraft_limit_holds_and_a_balance_below_zero(
    store: Store,
) -> None:
    account = an_account(
        balance=Money(Decimal("-999999999999.99")),
        overdraft_limit=Money(MAX_AMOUNT),
        held=Money(Decimal("0.01")),
        next_hold_expiry=datetime(2031, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    )
    await add(store, account)

    async with store.unit_of_work() as uow:
        loaded = await uow.accounts.get(account.number)
        locked = await uow.accounts.get_for_update(account.number)
        assert locked is not None
        locked.overdraft_limit, locked.held = Money(Decimal("5.00")), Money(Decimal("0.00"))
        locked.balance, locked.next_hold_expiry = Money(Decimal("-5.00")), None
        await uow.accounts.save(locked)
        await uow.commit()

    assert same_fields(loaded, account)
    assert loaded is not None
    assert loaded.available_balance == Money(Decimal("0.00"))
    assert_utc(loaded.next_hold_expiry)
    async with store.unit_of_work() as uow:
        assert same_fields(await uow.accounts.get(account.number), locked)


async def test_a_transaction_keeps_its_expiry_and_a_balance_after_below_zero(
    store: Store,
) -> None:
    account = an_account()
    pending = a_transaction(
        account,
        status=TransactionStatus.PENDING,
        transaction_type=TransactionType.WITHDRAWAL,
        expires_at=datetime(2030, 5, 6, 7, 8, 9, 10, tzinfo=INDIA),
    )
    overdrawn = a_transaction(account, balance_after=Money(Decimal("-1000000000000.00")))
    await add(store, account, pending, overdrawn)

    async with store.unit_of_work() as uow:
        assert same_fields(await uow.transactions.get(pending.transaction_id), pending)
        assert same_fields(await uow.transactions.get(overdrawn.transaction_id), overdrawn)


async def test_pending_finds_an_account_s_pending_transactions_that_are_not_deleted(
    store: Store,
) -> None:
    account, other = an_account(), an_account()
    later = a_transaction(
        account, status=TransactionStatus.PENDING, timestamp=T0 + timedelta(seconds=1)
    )
    earlier = a_transaction(account, status=TransactionStatus.PENDING)
    await add(
        store,
        account,
        other,
        later,
        earlier,
        a_transaction(account),
        a_transaction(account, status=TransactionStatus.PENDING, deleted_at=T0),
        a_transaction(other, status=TransactionStatus.PENDING),
    )

    async with store.unit_of_work(read_only=True) as uow:
        found = await uow.transactions.pending(account.number)

    assert [t.transaction_id for t in found] == [earlier.transaction_id, later.transaction_id]


async def test_expiries_due_finds_passed_bounds_and_due_transactions_in_number_order(
    store: Store,
) -> None:
    numbers = [AccountNumber(f"{n:010d}") for n in range(1, 6)]
    bound_passed = an_account(numbers[3], next_hold_expiry=T0)
    bound_ahead = an_account(numbers[0], next_hold_expiry=T0 + timedelta(microseconds=1))
    with_due, with_none, deleted = (an_account(n) for n in (numbers[1], numbers[2], numbers[4]))
    await add(
        store,
        bound_passed,
        bound_ahead,
        with_due,
        with_none,
        deleted,
        a_transaction(with_due, status=TransactionStatus.PENDING, expires_at=T0),
        a_transaction(with_due, status=TransactionStatus.PENDING, expires_at=T0),
        a_transaction(
            with_none, status=TransactionStatus.PENDING, expires_at=T0 + timedelta(seconds=1)
        ),
        a_transaction(with_none, status=TransactionStatus.CANCELLED, expires_at=T0),
        a_transaction(deleted, status=TransactionStatus.PENDING, expires_at=T0, deleted_at=T0),
    )

    async with store.unit_of_work(read_only=True) as uow:
        due = await uow.accounts.expiries_due(T0, limit=10)
        first = await uow.accounts.expiries_due(T0, limit=1)
        later = await uow.accounts.expiries_due(T0 + timedelta(seconds=1), limit=10)

    assert due == [numbers[1], numbers[3]]
    assert first == [numbers[1]]
    assert later == numbers[:4]


async def test_the_status_filter_judges_expiries_at_the_moment_asked(store: Store) -> None:
    account = an_account()
    due = a_transaction(account, status=TransactionStatus.PENDING, expires_at=T0)
    ahead = a_transaction(
        account, status=TransactionStatus.PENDING, expires_at=T0 + timedelta(microseconds=1)
    )
    never = a_transaction(account, status=TransactionStatus.PENDING)
    cancelled = a_transaction(account, status=TransactionStatus.CANCELLED)
    await add(store, account, due, ahead, never, cancelled)

    async def listed(status: TransactionStatus, as_of: datetime | None) -> set[TransactionId]:
        async with store.unit_of_work(read_only=True) as uow:
            query = TransactionQuery(account.number, limit=10, status=status, as_of=as_of)
            return {t.transaction_id for t in await uow.transactions.list(query)}

    pending, gone = TransactionStatus.PENDING, TransactionStatus.CANCELLED
    assert await listed(pending, T0) == {ahead.transaction_id, never.transaction_id}
    assert await listed(gone, T0) == {due.transaction_id, cancelled.transaction_id}
    assert await listed(pending, None) == {
        due.transaction_id,
        ahead.transaction_id,
        never.transaction_id,
    }
    assert await listed(gone, None) == {cancelled.transaction_id}


# --- API keys -------------------------------------------------------------------------------


class ApiKeyChanges(TypedDict, total=False):
    name: str
    scopes: tuple[Scope, ...]
    account_numbers: tuple[AccountNumber, ...] | None
    expires_at: datetime | None
    revoked_at: datetime | None
    secret_hash: str


def an_api_key(created_at: datetime = T0, **changes: Unpack[ApiKeyChanges]) -> ApiKey:
    key = ApiKey(
        key_id=new_key_id(),
        name="Nightly report",
        scopes=(Scope.ACCOUNTS_READ,),
        account_numbers=None,
        created_at=created_at,
        secret_hash=hash_of_secret(new_secret()),
    )
    return dataclasses.replace(key, **changes)


async def add_keys(store: Store, *keys: ApiKey) -> None:
    async with store.unit_of_work() as uow:
        for key in keys:
            await uow.api_keys.add(key)
        await uow.commit()


async def test_an_added_api_key_comes_back_field_for_field(store: Store) -> None:
    restricted = an_api_key(
        name="Zoë's key 山田",
        scopes=(Scope.TRANSACTIONS_WRITE, Scope.ACCOUNTS_READ, Scope.AUDIT_READ),
        account_numbers=tuple(random_number() for _ in range(1000)),
        created_at=datetime(2030, 1, 1, 0, 0, 0, 123_456, tzinfo=UTC),
        expires_at=datetime(2031, 6, 1, 12, 0, 0, 1, tzinfo=UTC),
        revoked_at=datetime(2030, 2, 1, tzinfo=UTC),
    )
    everything = an_api_key(scopes=tuple(Scope))
    await add_keys(store, restricted, everything)

    async with store.unit_of_work(read_only=True) as uow:
        for key in (restricted, everything):
            by_id = await uow.api_keys.get(key.key_id)
            by_hash = await uow.api_keys.get_by_secret_hash(key.secret_hash)
            assert by_id is not None
            assert by_hash is not None
            assert dataclasses.asdict(by_id) == dataclasses.asdict(key)
            assert dataclasses.asdict(by_hash) == dataclasses.asdict(key)
            assert_utc(by_id.created_at, by_id.expires_at, by_id.revoked_at)


async def test_an_unknown_api_key_is_none(store: Store) -> None:
    await add_keys(store, an_api_key())
    async with store.unit_of_work(read_only=True) as uow:
        assert await uow.api_keys.get(new_key_id()) is None
        assert await uow.api_keys.get_by_secret_hash(hash_of_secret(new_secret())) is None


async def test_a_saved_api_key_keeps_its_revocation(store: Store) -> None:
    key = an_api_key()
    await add_keys(store, key)

    async with store.unit_of_work() as uow:
        loaded = await uow.api_keys.get(key.key_id)
        assert loaded is not None
        assert loaded.revoke(T0 + timedelta(seconds=1))
        await uow.api_keys.save(loaded)
        await uow.commit()

    async with store.unit_of_work(read_only=True) as uow:
        found = await uow.api_keys.get_by_secret_hash(key.secret_hash)
    assert found is not None
    assert found.revoked_at == T0 + timedelta(seconds=1)


async def test_an_api_key_not_committed_leaves_no_trace(store: Store) -> None:
    key = an_api_key()
    async with store.unit_of_work() as uow:
        await uow.api_keys.add(key)
    async with store.unit_of_work(read_only=True) as uow:
        assert await uow.api_keys.get(key.key_id) is None


async def test_one_secret_hash_belongs_to_one_key(store: Store) -> None:
    first = an_api_key()
    await add_keys(store, first)

    with pytest.raises(StorageUnavailable):
        await add_keys(store, an_api_key(secret_hash=first.secret_hash))

    async with store.unit_of_work(read_only=True) as uow:
        found = await uow.api_keys.get_by_secret_hash(first.secret_hash)
        assert found is not None
        assert found.key_id == first.key_id
        assert len(await uow.api_keys.list(ApiKeyQuery(limit=10))) == 1


async def test_api_keys_list_by_creation_then_id_a_page_at_a_time(store: Store) -> None:
    later = T0 + timedelta(microseconds=1)
    keys = [an_api_key(created_at=later), an_api_key(created_at=T0), an_api_key(created_at=T0)]
    keys.append(an_api_key(created_at=T0 - timedelta(days=1)))
    await add_keys(store, *keys)
    expected = sorted(keys, key=lambda k: (k.created_at, k.key_id))

    async with store.unit_of_work(read_only=True) as uow:
        first = await uow.api_keys.list(ApiKeyQuery(limit=2))
        last = first[-1]
        rest = await uow.api_keys.list(ApiKeyQuery(limit=10, after=(last.created_at, last.key_id)))

    assert [k.key_id for k in first + rest] == [k.key_id for k in expected]
