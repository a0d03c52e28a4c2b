"""PostgreSQL's grouped postings: concurrent postings share database transactions, and still
lose no update, never overdraw, move money once per transaction id, and fail whole."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import pytest

from bank_adapters.sql import SqlStore
from bank_domain import (
    AccountNumber,
    Event,
    EventType,
    InsufficientFunds,
    Ledger,
    Money,
    OpenAccountCommand,
    PostedTransaction,
    PostTransactionCommand,
    StorageUnavailable,
    Transaction,
    TransactionStatus,
    TransactionType,
)
from bank_domain.actors import MASTER
from bank_domain.identifiers import TransactionId
from bank_domain.ports import EntryQuery
from tests.support.feeds import FeedFollower

pytestmark = pytest.mark.postgres


def grouped_ledger(store: SqlStore) -> Ledger:
    return Ledger(store.unit_of_work, postings=store.posting_unit_of_work)


async def open_account(ledger: Ledger, initial_deposit: str = "0") -> str:
    account = await ledger.open_account(
        OpenAccountCommand("Ada Lovelace", "checking", initial_deposit=initial_deposit)
    )
    return account.number.value


async def stored_sum(store: SqlStore, number: str) -> Money:
    """What the account's journal adds up to, once its chain is checked whole: ids without a
    gap, every hash following, the last one the account's row keeps."""
    check = await grouped_ledger(store).verify_account(number)
    assert check.chain_intact, check.first_bad
    return check.entries_sum


def balance_after(posted: PostedTransaction) -> Decimal:
    after = posted.transaction.balance_after
    assert after is not None, "an accepted success posting has a balance_after"
    return after.amount


async def test_it_serves_postings_on_postgresql(postgres_store: SqlStore) -> None:
    assert type(postgres_store.posting_unit_of_work()).__name__ == "GroupMemberUnitOfWork"


async def test_64_concurrent_deposits_to_one_account_are_all_counted(
    postgres_store: SqlStore,
) -> None:
    ledger = grouped_ledger(postgres_store)
    number = await open_account(ledger)

    postings = await asyncio.gather(
        *(
            ledger.post_transaction(PostTransactionCommand(number, "1.00", "deposit"))
            for _ in range(64)
        )
    )

    balances_after = sorted(balance_after(p) for p in postings)
    assert balances_after == [Decimal(n) for n in range(1, 65)]
    account = await ledger.get_account(number)
    assert account.balance == Money(Decimal("64.00")) == await stored_sum(postgres_store, number)
    assert account.version == 65


async def test_concurrent_withdrawals_never_overdraw(postgres_store: SqlStore) -> None:
    ledger = grouped_ledger(postgres_store)
    number = await open_account(ledger, initial_deposit="100.00")

    results = await asyncio.gather(
        *(
            ledger.post_transaction(PostTransactionCommand(number, "10.00", "withdrawal"))
            for _ in range(64)
        ),
        return_exceptions=True,
    )

    assert sum(1 for r in results if isinstance(r, InsufficientFunds)) == 54
    assert sum(1 for r in results if not isinstance(r, Exception)) == 10
    assert (await ledger.get_account(number)).balance == Money(Decimal("0.00"))
    assert await stored_sum(postgres_store, number) == Money(Decimal("0.00"))


async def test_postings_spread_over_many_accounts_each_add_up(postgres_store: SqlStore) -> None:
    ledger = grouped_ledger(postgres_store)
    numbers = [await open_account(ledger, initial_deposit="50.00") for _ in range(12)]
    expected = {number: Decimal("50.00") for number in numbers}
    commands = []
    for i in range(240):
        number, withdrawal = numbers[i % 12], i % 3 == 0
        commands.append(
            PostTransactionCommand(
                number, "2.00" if withdrawal else "3.00", "withdrawal" if withdrawal else "deposit"
            )
        )
        expected[number] += Decimal("-2.00") if withdrawal else Decimal("3.00")

    results = await asyncio.gather(*(ledger.post_transaction(c) for c in commands))

    assert all(r.created for r in results)
    for number in numbers:
        balance = (await ledger.get_account(number)).balance
        assert balance == Money(expected[number]) == await stored_sum(postgres_store, number)


async def test_one_transaction_id_posted_at_once_moves_money_once(
    postgres_store: SqlStore,
) -> None:
    ledger = grouped_ledger(postgres_store)
    number = await open_account(ledger)
    command = PostTransactionCommand(number, "25.00", "deposit", transaction_id="same-id-0001")

    postings = await asyncio.gather(*(ledger.post_transaction(command) for _ in range(10)))

    assert sum(p.created for p in postings) == 1
    assert {p.transaction.transaction_id.value for p in postings} == {"same-id-0001"}
    assert (await ledger.get_account(number)).balance == Money(Decimal("25.00"))


async def test_a_group_that_cannot_commit_stores_none_of_its_postings(
    postgres_store: SqlStore, postgres_store_url: str
) -> None:
    """Two processes (two stores) post the same new id at once: the group that loses the race
    on the id's unique key fails whole, and a bystander posting in that group is not stored."""
    ledger = grouped_ledger(postgres_store)
    number = await open_account(ledger, initial_deposit="10.00")
    other_process = SqlStore.from_url(postgres_store_url)
    other_ledger = grouped_ledger(other_process)
    holder = await asyncpg.connect(postgres_store_url)
    try:
        # Hold the account's row: each process's first group queues for it, and the other
        # process's next postings gather behind its first group, into one group.
        blocker = holder.transaction()
        await blocker.start()
        await holder.execute("SELECT 1 FROM accounts WHERE account_number = $1 FOR UPDATE", number)
        racing = PostTransactionCommand(number, "5.00", "deposit", transaction_id="race-id-0001")
        first = asyncio.ensure_future(ledger.post_transaction(racing))
        await asyncio.sleep(0.2)
        queued = asyncio.ensure_future(
            other_ledger.post_transaction(PostTransactionCommand(number, "0.50", "deposit"))
        )
        await asyncio.sleep(0.2)
        second = asyncio.ensure_future(other_ledger.post_transaction(racing))
        bystander = asyncio.ensure_future(
            other_ledger.post_transaction(PostTransactionCommand(number, "1.00", "deposit"))
        )
        await asyncio.sleep(0.2)
        await blocker.rollback()
        outcomes = await asyncio.gather(first, queued, second, bystander, return_exceptions=True)
    finally:
        await holder.close()
        await other_process.dispose()

    assert not isinstance(outcomes[0], BaseException)
    assert not isinstance(outcomes[1], BaseException)
    assert isinstance(outcomes[2], StorageUnavailable)
    assert isinstance(outcomes[3], StorageUnavailable)
    assert (await ledger.get_account(number)).balance == Money(Decimal("15.50"))
    assert await stored_sum(postgres_store, number) == Money(Decimal("15.50"))
    # No entry of the failed group either, not even past the last one the account's row names.
    async with postgres_store.unit_of_work(read_only=True) as uow:
        journal = await uow.journal.list(
            EntryQuery(AccountNumber(number), 100, up_to_entry_id=2**62)
        )
    assert sorted(entry.amount for entry in journal) == [
        Money(Decimal(amount)) for amount in ("0.50", "5.00", "10.00")
    ]
    # The opening, its deposit and the two stored postings: no event of the failed group.
    feed = await FeedFollower(ledger).read_until(4)
    assert len(feed) == 4
    assert sorted(e.subject.amount for e in feed if isinstance(e.subject, Transaction)) == [
        Money(Decimal(amount)) for amount in ("0.50", "5.00", "10.00")
    ]


async def test_a_group_stuck_on_one_account_does_not_hold_up_postings_to_others(
    postgres_store: SqlStore, postgres_store_url: str
) -> None:
    """Two groups are written at once when they share no account: a posting to a free account
    is stored while a group waits for a row another session holds; a later posting to the held
    account waits in the process (not on the row) for that group, then both are stored."""
    ledger = grouped_ledger(postgres_store)
    held = await open_account(ledger, initial_deposit="10.00")
    free = await open_account(ledger, initial_deposit="10.00")
    holder = await asyncpg.connect(postgres_store_url)
    try:
        blocker = holder.transaction()
        await blocker.start()
        await holder.execute("SELECT 1 FROM accounts WHERE account_number = $1 FOR UPDATE", held)
        stuck = asyncio.ensure_future(
            ledger.post_transaction(PostTransactionCommand(held, "1.00", "deposit"))
        )
        await asyncio.sleep(0.2)
        await asyncio.wait_for(
            ledger.post_transaction(PostTransactionCommand(free, "3.00", "deposit")), timeout=5
        )
        behind = asyncio.ensure_future(
            ledger.post_transaction(PostTransactionCommand(held, "2.00", "deposit"))
        )
        await asyncio.sleep(0.2)
        assert not stuck.done()
        assert not behind.done()
        await blocker.rollback()
        await asyncio.wait_for(asyncio.gather(stuck, behind), timeout=10)
    finally:
        await holder.close()

    assert (await ledger.get_account(free)).balance == Money(Decimal("13.00"))
    assert (await ledger.get_account(held)).balance == Money(Decimal("13.00"))
    assert await stored_sum(postgres_store, held) == Money(Decimal("13.00"))


async def test_it_keeps_no_record_of_postings_once_no_look_up_needs_it(
    postgres_store: SqlStore,
) -> None:
    """The ids a group wrote are kept only while a look-up that began earlier is in use: a
    long-running process must not hold every posting it ever made."""
    ledger = grouped_ledger(postgres_store)
    number = await open_account(ledger)

    def posting(own_id: str | None = None) -> PostTransactionCommand:
        return PostTransactionCommand(number, "1.00", "deposit", transaction_id=own_id)

    await asyncio.gather(*(ledger.post_transaction(posting()) for _ in range(40)))
    await asyncio.gather(
        *(ledger.post_transaction(posting(f"kept-id-{n:04d}")) for n in range(40)),
        *(ledger.post_transaction(posting()) for _ in range(40)),
    )

    committer = postgres_store._group_committer  # the state under test is the committer's own
    assert committer is not None
    reservations = committer._reservations
    assert reservations._recently_written == {}
    assert not reservations._live_lookups
    assert (await ledger.get_account(number)).balance == Money(Decimal("120.00"))


async def test_a_look_up_after_the_lock_raises_at_once_instead_of_waiting_for_its_own_group(
    postgres_store: SqlStore,
) -> None:
    """Look-ups come before the lock (the port's call order). A look-up of an id that another
    member of the caller's own group has committed would wait for a group that waits for the
    caller: it raises at once instead, and the group then ends as usual."""
    ledger = grouped_ledger(postgres_store)
    mine, theirs = await open_account(ledger), await open_account(ledger)
    stored = await ledger.post_transaction(PostTransactionCommand(theirs, "1.00", "deposit"))
    pending_id = TransactionId("pending-in-my-group")
    async with (
        postgres_store.posting_unit_of_work() as uow,
        postgres_store.posting_unit_of_work() as other,
    ):
        await asyncio.gather(
            uow.accounts.get_for_update(AccountNumber(mine)),
            other.accounts.get_for_update(AccountNumber(theirs)),
        )
        await other.transactions.add(
            dataclasses.replace(stored.transaction, transaction_id=pending_id)
        )
        their_commit = asyncio.ensure_future(other.commit())
        await asyncio.sleep(0)

        with pytest.raises(RuntimeError, match="before"):
            await asyncio.wait_for(uow.transactions.get(pending_id), timeout=5)
    await asyncio.wait_for(their_commit, timeout=5)


async def test_calls_out_of_the_ports_order_raise_at_once(postgres_store: SqlStore) -> None:
    ledger = grouped_ledger(postgres_store)
    number = AccountNumber(await open_account(ledger))
    stored = await ledger.post_transaction(PostTransactionCommand(number.value, "1.00", "deposit"))
    account = await ledger.get_account(number.value)

    event = Event.of(EventType.TRANSACTION_POSTED, stored.transaction, MASTER, datetime.now(UTC))

    async with postgres_store.posting_unit_of_work() as uow:
        with pytest.raises(RuntimeError):
            await uow.transactions.add(stored.transaction)
        with pytest.raises(RuntimeError):
            await uow.accounts.save(account)
        with pytest.raises(RuntimeError):
            await uow.events.add(event)
        with pytest.raises(RuntimeError):
            await uow.commit()
    async with postgres_store.posting_unit_of_work() as uow:
        await uow.accounts.get_for_update(number)
        with pytest.raises(RuntimeError):
            await uow.accounts.get_for_update(number)
        await uow.commit()
        with pytest.raises(RuntimeError):
            await uow.transactions.add(stored.transaction)
        with pytest.raises(RuntimeError):
            await uow.events.add(event)


async def test_a_grouped_posting_writes_the_transactions_version(postgres_store: SqlStore) -> None:
    """The grouped INSERT writes the version it is given (the column's default of 1, for rows
    from before versions, would hide one left out)."""
    ledger = grouped_ledger(postgres_store)
    number = AccountNumber(await open_account(ledger))
    transaction = dataclasses.replace(
        Transaction.new(
            TransactionId.generate(),
            number,
            Money(Decimal("1.00")),
            TransactionType.DEPOSIT,
            None,
            TransactionStatus.PENDING,
            datetime.now(UTC),
        ),
        version=5,
    )

    async with postgres_store.posting_unit_of_work() as uow:
        account = await uow.accounts.get_for_update(number)
        assert account is not None
        await uow.transactions.add(transaction)
        await uow.accounts.save(account)
        await uow.commit()

    assert (await ledger.get_transaction(transaction.transaction_id.value)).version == 5
