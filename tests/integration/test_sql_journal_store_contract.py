"""The journal's store contract: every store (memory, SQLite, PostgreSQL) appends an account's
entries with the account, in its unit of work, and reads them back alike: every field, the
order, the cursor, the bounds of time, the last entry at a moment, a span's totals, and never an
entry above the one the reader's account row knew of."""

from __future__ import annotations

import dataclasses
import secrets
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from bank_adapters.stores import Store
from bank_domain import Account, AccountNumber, AccountStatus, AccountType, Money, TransactionId
from bank_domain.journal import EMPTY_CHAIN, JournalEntry, verify_chain
from bank_domain.ports import EntryQuery, EntryTotals

T0 = datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=UTC)
INDIA = timezone(timedelta(hours=5, minutes=30))
US = timedelta(microseconds=1)


def random_number() -> AccountNumber:
    return AccountNumber(f"{secrets.randbelow(10**10):010d}")


def random_id() -> TransactionId:
    return TransactionId(f"tx-{uuid.uuid4().hex}")


def money(text: str) -> Money:
    return Money(Decimal(text))


def an_account() -> Account:
    return Account(
        number=random_number(),
        customer_name="Ada Lovelace",
        account_type=AccountType.CHECKING,
        status=AccountStatus.ACTIVE,
        balance=Money.zero(),
        created_at=T0,
        updated_at=T0,
    )


def moved(account: Account, *moves: tuple[str, datetime]) -> Account:
    """The account moved by each (amount, when) in turn, each move making its entry."""
    for amount, when in moves:
        account.move_balance(money(amount), when, random_id())
    return account


async def add(store: Store, *accounts: Account) -> None:
    async with store.unit_of_work() as uow:
        for account in accounts:
            await uow.accounts.add(account)
        await uow.commit()


async def move_stored(store: Store, number: AccountNumber, *moves: tuple[str, datetime]) -> None:
    async with store.unit_of_work() as uow:
        account = await uow.accounts.get_for_update(number)
        assert account is not None
        await uow.accounts.save(moved(account, *moves))
        await uow.commit()


async def entries(store: Store, number: AccountNumber, **bounds: object) -> list[JournalEntry]:
    """Every entry of the account (or those the bounds keep), a page of 2 at a time."""
    query = EntryQuery(number, 2, up_to_entry_id=10**12)
    query = dataclasses.replace(query, **bounds)  # type: ignore[arg-type]
    found: list[JournalEntry] = []
    async with store.unit_of_work(read_only=True) as uow:
        while page := await uow.journal.list(query):
            found.extend(page)
            query = dataclasses.replace(query, after=(page[-1].posted_at, page[-1].entry_id))
    return found


async def stored_account(store: Store, number: AccountNumber) -> Account:
    async with store.unit_of_work(read_only=True) as uow:
        account = await uow.accounts.get(number)
    assert account is not None
    return account


def moves_of(found: list[JournalEntry]) -> list[tuple[int, str, str]]:
    return [(e.entry_id, str(e.amount.amount), str(e.balance_after.amount)) for e in found]


# --- Writing ------------------------------------------------------------------------------


async def test_entries_come_back_field_for_field_in_order_with_the_head_on_the_row(
    store: Store,
) -> None:
    account = moved(an_account(), ("100.00", T0), ("-0.01", T0 + US))
    # What the store will be handed, read before it takes them (take_new_entries hands once).
    made = list(account._new_entries)
    await add(store, account)
    await move_stored(store, account.number, ("999999999999.99", (T0 + 2 * US).astimezone(INDIA)))

    found = await entries(store, account.number)
    stored = await stored_account(store, account.number)

    assert found[:2] == made
    assert moves_of(found) == [
        (1, "100.00", "100.00"),
        (2, "-0.01", "99.99"),
        (3, "999999999999.99", "1000000000099.98"),
    ]
    assert [e.posted_at for e in found] == [T0, T0 + US, T0 + 2 * US]
    assert all(e.posted_at.utcoffset() == timedelta(0) for e in found)
    assert verify_chain(found).intact
    assert stored.journal == found[-1].head
    assert stored.balance == found[-1].balance_after


async def test_an_account_without_moves_has_no_entry_and_an_empty_head(store: Store) -> None:
    account = an_account()
    await add(store, account)

    assert await entries(store, account.number) == []
    assert (await stored_account(store, account.number)).journal == EMPTY_CHAIN


async def test_a_unit_of_work_left_without_commit_appends_nothing(store: Store) -> None:
    account = moved(an_account(), ("5.00", T0))
    await add(store, account)

    async with store.unit_of_work() as uow:
        locked = await uow.accounts.get_for_update(account.number)
        assert locked is not None
        await uow.accounts.save(moved(locked, ("1.00", T0)))
    async with store.unit_of_work() as uow:
        await uow.accounts.add(moved(an_account(), ("1.00", T0)))

    assert moves_of(await entries(store, account.number)) == [(1, "5.00", "5.00")]
    assert (await stored_account(store, account.number)).journal.entry_id == 1


async def test_an_entry_whose_id_is_taken_is_refused_and_nothing_of_its_work_is_kept(
    store: Store,
) -> None:
    """Two entries numbered 2: the second was made from the account read without its lock."""
    account = moved(an_account(), ("5.00", T0))
    await add(store, account)

    async def save_both_and_commit() -> None:
        async with store.unit_of_work() as uow:
            stale = await uow.accounts.get(account.number)
            locked = await uow.accounts.get_for_update(account.number)
            assert stale is not None
            assert locked is not None
            await uow.accounts.save(moved(locked, ("1.00", T0)))
            await uow.accounts.save(moved(stale, ("2.00", T0)))
            await uow.commit()

    # Memory finds it at the commit, a database at the entry's insert (its primary key).
    with pytest.raises(RuntimeError, match=r"does not follow|taken already"):
        await save_both_and_commit()

    assert moves_of(await entries(store, account.number)) == [(1, "5.00", "5.00")]


# --- Reading ------------------------------------------------------------------------------


async def journal_of_five(store: Store) -> tuple[AccountNumber, list[JournalEntry]]:
    """Five entries: two at one moment (a clock that stood still), the others apart; and a
    neighbour whose entries must never show."""
    account = moved(
        an_account(),
        ("10.00", T0),
        ("-2.50", T0 + timedelta(seconds=1)),
        ("7.25", T0 + timedelta(seconds=1)),
        ("-0.75", T0 + timedelta(seconds=2)),
        ("100.00", T0 + timedelta(days=1)),
    )
    neighbour = moved(an_account(), ("1.00", T0 + timedelta(seconds=1)))
    await add(store, account, neighbour)
    return account.number, await entries(store, account.number)


async def test_a_listing_pages_on_after_the_cursor_even_within_one_moment(store: Store) -> None:
    number, every = await journal_of_five(store)

    assert [e.entry_id for e in every] == [1, 2, 3, 4, 5]
    async with store.unit_of_work(read_only=True) as uow:
        after_2 = await uow.journal.list(
            EntryQuery(number, 10, up_to_entry_id=5, after=(every[1].posted_at, 2))
        )
        # The same moment written in another zone is the same position.
        after_2_in_india = await uow.journal.list(
            EntryQuery(number, 1, up_to_entry_id=5, after=(every[1].posted_at.astimezone(INDIA), 2))
        )
    assert [e.entry_id for e in after_2] == [3, 4, 5]
    assert [e.entry_id for e in after_2_in_india] == [3]


async def test_since_and_until_both_include_their_moment(store: Store) -> None:
    number, every = await journal_of_five(store)
    second = every[1].posted_at

    inside = await entries(store, number, since=second, until=every[3].posted_at)
    just_after = await entries(store, number, since=second + US)
    up_to_the_first = await entries(store, number, until=second - US)

    assert [e.entry_id for e in inside] == [2, 3, 4]
    assert [e.entry_id for e in just_after] == [4, 5]
    assert [e.entry_id for e in up_to_the_first] == [1]


async def test_no_read_goes_above_the_entry_the_reader_s_row_knew_of(store: Store) -> None:
    number, every = await journal_of_five(store)
    far = T0 + timedelta(days=30)

    async with store.unit_of_work(read_only=True) as uow:
        listed = await uow.journal.list(EntryQuery(number, 10, up_to_entry_id=3))
        last = await uow.journal.last_posted(number, far, inclusive=True, up_to_entry_id=3)
        totals = await uow.journal.totals(number, T0, far, up_to_entry_id=3)
        none_yet = await uow.journal.list(EntryQuery(number, 10, up_to_entry_id=0))

    assert [e.entry_id for e in listed] == [1, 2, 3]
    assert last == every[2]
    assert totals == EntryTotals(money("17.25"), money("2.50"), 3)
    assert none_yet == []


async def test_many_accounts_entries_come_in_one_read_in_account_then_entry_order(
    store: Store,
) -> None:
    first, second, untouched = an_account(), an_account(), an_account()
    await add(store, first, second, untouched)
    # Moves out of account-number order, interleaved in time, so that neither the order of
    # writing nor of posting time gives the answer's order.
    numbers = sorted([first.number, second.number], key=lambda number: number.value)
    await move_stored(store, numbers[1], ("5.00", T0), ("1.00", T0 + US))
    await move_stored(store, numbers[0], ("7.00", T0 + 2 * US), ("-2.00", T0 + 3 * US))
    await move_stored(store, numbers[1], ("3.00", T0 + 4 * US))

    async with store.unit_of_work(read_only=True) as uow:
        listed = await uow.journal.list_of_accounts(
            {numbers[1]: 3, numbers[0]: 1, untouched.number: 0}
        )
        nothing = await uow.journal.list_of_accounts({})

    assert [(e.account_number, e.entry_id) for e in listed] == [
        (numbers[0], 1),  # its second entry is above the head given for it
        (numbers[1], 1),
        (numbers[1], 2),
        (numbers[1], 3),
    ]
    assert listed == [*(await entries(store, numbers[0]))[:1], *await entries(store, numbers[1])]
    assert nothing == []


async def test_last_posted_at_a_moment_inclusive_or_strictly_before(store: Store) -> None:
    number, every = await journal_of_five(store)
    first, second = every[0].posted_at, every[1].posted_at

    async def last(moment: datetime, *, inclusive: bool) -> int | None:
        async with store.unit_of_work(read_only=True) as uow:
            found = await uow.journal.last_posted(
                number, moment, inclusive=inclusive, up_to_entry_id=5
            )
        return None if found is None else found.entry_id

    assert await last(first - US, inclusive=True) is None
    assert await last(first, inclusive=False) is None
    assert await last(first, inclusive=True) == 1
    # Two entries at one moment: the later one is the balance at that moment.
    assert await last(second, inclusive=True) == 3
    assert await last(second, inclusive=False) == 1
    assert await last(second.astimezone(INDIA), inclusive=True) == 3
    assert await last(T0 + timedelta(days=2), inclusive=True) == 5
    async with store.unit_of_work(read_only=True) as uow:
        assert (
            await uow.journal.last_posted(
                random_number(), T0 + timedelta(days=2), inclusive=True, up_to_entry_id=5
            )
            is None
        )


async def test_totals_sum_credits_and_debits_of_a_span_both_bounds_included(
    store: Store,
) -> None:
    number, every = await journal_of_five(store)
    second, fourth = every[1].posted_at, every[3].posted_at

    async with store.unit_of_work(read_only=True) as uow:
        span = await uow.journal.totals(number, second, fourth, up_to_entry_id=5)
        one_moment = await uow.journal.totals(number, second, second, up_to_entry_id=5)
        before_all = await uow.journal.totals(number, T0 - US, T0 - US, up_to_entry_id=5)
        everything = await uow.journal.totals(
            number, T0 - timedelta(days=1), T0 + timedelta(days=9), up_to_entry_id=5
        )

    assert span == EntryTotals(money("7.25"), money("3.25"), 3)
    assert one_moment == EntryTotals(money("7.25"), money("2.50"), 2)
    assert before_all == EntryTotals(Money.zero(), Money.zero(), 0)
    assert everything == EntryTotals(money("117.25"), money("3.25"), 5)
    assert everything.credits - everything.debits == every[-1].balance_after


async def test_totals_are_exact_at_the_largest_amounts(store: Store) -> None:
    account = moved(an_account(), *[("1000000000000.00", T0)] * 99, ("0.01", T0), ("-0.03", T0))
    await add(store, account)

    async with store.unit_of_work(read_only=True) as uow:
        totals = await uow.journal.totals(account.number, T0, T0, up_to_entry_id=101)

    assert totals == EntryTotals(money("99000000000000.01"), money("0.03"), 101)
