"""The journal in the domain (contract section 11): every movement of a balance appends one
entry in the movement's own unit of work, and nothing else does; balances at a time,
statements and the chain's verification read it back. On the in-memory store; the SQL stores
are held to the same rules by the integration tests."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

import pytest

from bank_adapters.memory import InMemoryStore
from bank_domain import (
    AccountNotFound,
    Actor,
    AmendTransactionCommand,
    ChainBreak,
    CloseAccountCommand,
    DeleteTransactionCommand,
    InsufficientFunds,
    InvalidValue,
    JournalEntry,
    Ledger,
    ListEntriesQuery,
    Money,
    StatementQuery,
    TransactionId,
)
from bank_domain.journal import GENESIS_HASH, verify_chain
from bank_domain.use_cases import journal as journal_use_cases

from .support import T0, SteppingClock, number_of, open_account, post, random_tid

RESTRICTED = Actor("7d6f1b9e-0000-4000-8000-000000000002", account_numbers=frozenset())


def money(text: str) -> Money:
    return Money(Decimal(text))


async def entries_of(ledger: Ledger, number: str, **bounds: object) -> list[JournalEntry]:
    items: list[JournalEntry] = []
    cursor: str | None = None
    while True:
        page = await ledger.list_entries(
            ListEntriesQuery(number, limit=2, cursor=cursor, **bounds)  # type: ignore[arg-type]
        )
        items.extend(page.items)
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


def moves(entries: list[JournalEntry]) -> list[tuple[int, str, str]]:
    return [(e.entry_id, str(e.amount.amount), str(e.balance_after.amount)) for e in entries]


class TestWhatMakesAnEntry:
    async def test_an_initial_deposit_is_the_first_entry(self, ledger: Ledger) -> None:
        account = await open_account(ledger, "100.00")
        [entry] = await entries_of(ledger, number_of(account))
        assert moves([entry]) == [(1, "100.00", "100.00")]
        assert entry.account_number == account.number
        assert entry.hash == entry.hash_after(GENESIS_HASH)

    async def test_an_account_opened_empty_has_no_entry(self, ledger: Ledger) -> None:
        account = await open_account(ledger)
        assert await entries_of(ledger, number_of(account)) == []
        assert (await ledger.verify_account(number_of(account))).sound

    async def test_every_move_of_the_balance_and_nothing_else(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, "100.00"))
        deposit = (await post(ledger, number, "50.00")).transaction
        withdrawal = (await post(ledger, number, "30.00", "withdrawal")).transaction
        pending = (await post(ledger, number, "7.00", status="pending")).transaction
        await post(ledger, number, "9.00", status="failed")
        await ledger.amend_transaction(
            AmendTransactionCommand(str(deposit.transaction_id), description="no move")
        )
        await ledger.amend_transaction(  # 50.00 -> 45.00: the difference
            AmendTransactionCommand(str(deposit.transaction_id), amount="45.00")
        )
        await ledger.amend_transaction(  # a withdrawal of 30.00 turned into a deposit
            AmendTransactionCommand(str(withdrawal.transaction_id), transaction_type="deposit")
        )
        await ledger.amend_transaction(
            AmendTransactionCommand(str(pending.transaction_id), status="success")
        )
        await ledger.amend_transaction(
            AmendTransactionCommand(str(deposit.transaction_id), status="cancelled")
        )
        await ledger.delete_transaction(DeleteTransactionCommand(str(withdrawal.transaction_id)))
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
        assert [str(e.transaction_id) for e in entries[1:]] == [
            str(t.transaction_id)
            for t in (deposit, withdrawal, deposit, withdrawal, pending, deposit, withdrawal)
        ]
        assert (await ledger.get_account(number)).balance == entries[-1].balance_after
        assert verify_chain(entries).intact

    async def test_a_refused_change_makes_no_entry(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, "10.00"))
        with pytest.raises(InsufficientFunds):
            await post(ledger, number, "10.01", "withdrawal")
        assert len(await entries_of(ledger, number)) == 1

    async def test_a_retry_makes_no_entry(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger))
        tid = random_tid()
        await post(ledger, number, "5.00", transaction_id=tid)
        await post(ledger, number, "5.00", transaction_id=tid)
        assert moves(await entries_of(ledger, number)) == [(1, "5.00", "5.00")]

    async def test_a_unit_of_work_left_without_commit_appends_nothing(
        self, store: InMemoryStore, ledger: Ledger
    ) -> None:
        account = await open_account(ledger, "10.00")
        async with store.unit_of_work() as uow:
            locked = await uow.accounts.get_for_update(account.number)
            assert locked is not None
            locked.move_balance(money("1.00"), T0, random_tid_value())
            await uow.accounts.save(locked)
        assert len(store.journal[account.number]) == 1

    async def test_a_store_refuses_an_entry_that_does_not_follow(
        self, store: InMemoryStore, ledger: Ledger
    ) -> None:
        account = await open_account(ledger, "10.00")
        async with store.unit_of_work() as uow:
            stale = await uow.accounts.get(account.number)  # read without the lock
            locked = await uow.accounts.get_for_update(account.number)
            assert stale is not None
            assert locked is not None
            locked.move_balance(money("1.00"), T0, random_tid_value())
            stale.move_balance(money("2.00"), T0, random_tid_value())
            await uow.accounts.save(locked)
            await uow.accounts.save(stale)
            with pytest.raises(RuntimeError, match="does not follow"):
                await uow.commit()
        assert len(store.journal[account.number]) == 1


def random_tid_value() -> TransactionId:
    return TransactionId(random_tid())


class TestEntryOrder:
    async def test_a_clock_that_goes_back_never_posts_an_entry_before_the_last(
        self, store: InMemoryStore
    ) -> None:
        clock = SteppingClock(step=timedelta(0))
        ledger = Ledger(store.unit_of_work, clock)
        number = number_of(await open_account(ledger, "1.00"))
        clock.advance(timedelta(seconds=-5))
        await post(ledger, number, "2.00")
        first, second = await entries_of(ledger, number)
        assert second.posted_at == first.posted_at == T0

    async def test_listing_bounds_both_include_their_moment(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, "1.00"))  # clock ticks 1 s per reading
        for amount in ("2.00", "3.00", "4.00"):
            await post(ledger, number, amount)
        every = await entries_of(ledger, number)
        inside = await entries_of(
            ledger, number, since=every[1].posted_at, until=every[2].posted_at
        )
        assert [e.entry_id for e in inside] == [2, 3]

    async def test_a_cursor_the_ledger_did_not_make_is_refused(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, "1.00"))
        with pytest.raises(InvalidValue):
            await ledger.list_entries(ListEntriesQuery(number, cursor="forged"))


class TestBalanceAt:
    async def test_is_the_balance_after_the_last_entry_at_or_before(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, "100.00"))
        await post(ledger, number, "20.00", "withdrawal")
        first, second = await entries_of(ledger, number)
        before = first.posted_at - timedelta(microseconds=1)
        assert (await ledger.balance_at(number, before)).balance == money("0.00")
        assert (await ledger.balance_at(number, first.posted_at)).balance == money("100.00")
        between = second.posted_at - timedelta(microseconds=1)
        assert (await ledger.balance_at(number, between)).balance == money("100.00")
        assert (await ledger.balance_at(number, second.posted_at)).balance == money("80.00")

    async def test_without_a_time_is_now(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, "100.00"))
        answer = await ledger.balance_at(number)
        assert answer.balance == money("100.00")
        assert answer.at.utcoffset() == timedelta(0)

    async def test_a_time_without_its_zone_is_refused(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, "1.00"))
        with pytest.raises(InvalidValue):
            await ledger.balance_at(number, T0.replace(tzinfo=None))


class TestStatement:
    async def test_opening_closing_credits_and_debits(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, "100.00"))
        await post(ledger, number, "20.00", "withdrawal")
        await post(ledger, number, "5.50")
        await post(ledger, number, "0.25", "withdrawal")
        await post(ledger, number, "1000.00")
        entries = await entries_of(ledger, number)
        statement = await ledger.statement(
            StatementQuery(number, entries[1].posted_at, entries[3].posted_at)
        )
        assert statement.opening_balance == money("100.00")
        assert statement.closing_balance == money("85.25")
        assert (statement.credits, statement.debits) == (money("5.50"), money("20.25"))
        assert statement.entry_count == 3
        lines = [
            e
            async for e in await ledger.statement_entries(
                StatementQuery(number, entries[1].posted_at, entries[3].posted_at)
            )
        ]
        assert [e.entry_id for e in lines] == [2, 3, 4]

    async def test_a_span_before_every_entry_is_empty(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, "100.00"))
        start = T0 - timedelta(days=2)
        statement = await ledger.statement(StatementQuery(number, start, start))
        assert (statement.opening_balance, statement.closing_balance) == (Money.zero(),) * 2
        assert statement.entry_count == 0

    @pytest.mark.parametrize("missing", ["from", "to"])
    async def test_both_bounds_are_required(self, ledger: Ledger, missing: str) -> None:
        number = number_of(await open_account(ledger, "1.00"))
        query = StatementQuery(
            number, None if missing == "from" else T0, None if missing == "to" else T0
        )
        with pytest.raises(InvalidValue) as refused:
            await ledger.statement(query)
        assert refused.value.field == missing

    async def test_from_after_to_is_refused_before_anything_is_read(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, "1.00"))
        with pytest.raises(InvalidValue):
            await ledger.statement_entries(StatementQuery(number, T0, T0 - timedelta(seconds=1)))

    async def test_streams_a_page_at_a_time(
        self, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(journal_use_cases, "ENTRIES_PER_READ", 2)
        number = number_of(await open_account(ledger, "1.00"))
        for _ in range(4):
            await post(ledger, number, "1.00")
        lines = [
            e
            async for e in await ledger.statement_entries(
                StatementQuery(number, T0 - timedelta(days=1), T0 + timedelta(days=1))
            )
        ]
        assert [e.entry_id for e in lines] == [1, 2, 3, 4, 5]


class TestVerify:
    async def test_an_untouched_journal_is_sound(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, "100.00"))
        await post(ledger, number, "1.00", "withdrawal")
        check = await ledger.verify_account(number)
        assert check.sound
        assert (check.entry_count, check.entries_sum, check.balance) == (
            2,
            money("99.00"),
            money("99.00"),
        )

    async def test_a_changed_balance_is_found_and_recalculation_repairs_it_from_the_journal(
        self, store: InMemoryStore, ledger: Ledger
    ) -> None:
        account = await open_account(ledger, "100.00")
        store.accounts[account.number].balance = money("1000.00")
        check = await ledger.verify_account(number_of(account))
        assert (check.balance_matches, check.chain_intact) == (False, True)
        repaired = await ledger.recalculate_balance(number_of(account))
        assert (repaired.corrected, repaired.balance) == (True, money("100.00"))
        assert (await ledger.verify_account(number_of(account))).sound

    async def test_a_changed_entry_is_named(self, store: InMemoryStore, ledger: Ledger) -> None:
        account = await open_account(ledger, "100.00")
        await post(ledger, number_of(account), "1.00")
        journal = store.journal[account.number]
        journal[0] = dataclasses.replace(journal[0], amount=money("90.00"))
        check = await ledger.verify_account(number_of(account))
        assert check.first_bad is not None
        assert (check.first_bad.entry_id, check.first_bad.why) == (1, ChainBreak.BROKEN_LINK)
        assert not check.balance_matches

    async def test_a_removed_last_entry_is_named(
        self, store: InMemoryStore, ledger: Ledger
    ) -> None:
        account = await open_account(ledger, "100.00")
        await post(ledger, number_of(account), "1.00")
        store.journal[account.number].pop()
        check = await ledger.verify_account(number_of(account))
        assert check.first_bad is not None
        assert (check.first_bad.entry_id, check.first_bad.why) == (2, ChainBreak.ENTRY_MISSING)

    async def test_every_journal_includes_closed_accounts(self, ledger: Ledger) -> None:
        kept = await open_account(ledger, "1.00")
        closed = await open_account(ledger)
        await ledger.close_account(CloseAccountCommand(number_of(closed)))
        checked = [check.account_number async for check in ledger.verify_every_journal()]
        assert checked == sorted([kept.number, closed.number])

    async def test_every_journal_is_judged_alike_read_with_others_or_alone(
        self, store: InMemoryStore, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Reads of 3 entries: journals of 1 and 2 entries are read together, one of 4 alone
        # (a page at a time), one of 3 fills a read by itself, one of none costs nothing.
        monkeypatch.setattr(journal_use_cases, "ENTRIES_PER_READ", 3)
        accounts = []
        for length in (1, 2, 4, 1, 3, 0, 2):
            account = await open_account(ledger)
            for _ in range(length):
                await post(ledger, number_of(account), "1.00")
            accounts.append(account)
        # Broken: the second of a run read together, and the long one.
        together, alone = store.journal[accounts[1].number], store.journal[accounts[2].number]
        together[1] = dataclasses.replace(together[1], amount=money("9.00"))
        alone.pop(2)

        every = [check async for check in ledger.verify_every_journal()]
        one_by_one = [await ledger.verify_account(number_of(account)) for account in accounts]

        assert every == sorted(one_by_one, key=lambda check: check.account_number.value)
        broken = {check.account_number for check in every if not check.sound}
        assert broken == {accounts[1].number, accounts[2].number}


class TestWhoMaySee:
    async def test_a_restricted_key_finds_no_other_account(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger, "1.00"))
        for call in (
            ledger.list_entries(ListEntriesQuery(number, actor=RESTRICTED)),
            ledger.balance_at(number, actor=RESTRICTED),
            ledger.statement(StatementQuery(number, T0, T0, actor=RESTRICTED)),
            ledger.statement_entries(StatementQuery(number, T0, T0, actor=RESTRICTED)),
            ledger.verify_account(number, actor=RESTRICTED),
        ):
            with pytest.raises(AccountNotFound):
                await call

    async def test_a_closed_account_is_not_found(self, ledger: Ledger) -> None:
        number = number_of(await open_account(ledger))
        await ledger.close_account(CloseAccountCommand(number))
        with pytest.raises(AccountNotFound):
            await ledger.verify_account(number)
