"""Batches in the domain, on the in-memory store: all or nothing, in order, each item seeing
the earlier ones; a refused item names itself and leaves no trace of the batch."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bank_adapters.memory import InMemoryStore
from bank_domain import (
    AccountFrozen,
    AccountNotFound,
    Actor,
    Change,
    DuplicateTransactionId,
    EventType,
    InsufficientFunds,
    InvalidValue,
    ItemRefused,
    Ledger,
    PostBatchCommand,
    PostTransactionCommand,
    TransactionHistoryRequest,
    UpdateAccountCommand,
)
from bank_domain.identifiers import AccountNumber
from bank_domain.use_cases.batches import MAX_BATCH_ITEMS

from .support import balance_of, every_transaction, number_of, open_account, post, random_tid
from .test_audit_trail import every_event


def item(
    number: str,
    amount: str,
    kind: str = "deposit",
    *,
    transaction_id: str | None = None,
    status: str = "success",
) -> PostTransactionCommand:
    return PostTransactionCommand(number, amount, kind, transaction_id, status=status)


async def snapshot(ledger: Ledger, store: InMemoryStore, *numbers: str) -> object:
    """Balances, every transaction and its history, the events and the journals."""
    return (
        [await balance_of(ledger, n) for n in numbers],
        sorted(str(tid) for tid in store.transactions),
        [(e.type, e.transaction_id) for e in store.events],
        {n: [e.hash for e in store.journal[AccountNumber(n)]] for n in numbers},
    )


async def test_items_apply_in_order_each_seeing_the_earlier_ones(
    ledger: Ledger, store: InMemoryStore
) -> None:
    first = number_of(await open_account(ledger))
    second = number_of(await open_account(ledger, "5.00"))
    events_before = len(store.events)

    batch = await ledger.post_batch(
        PostBatchCommand(
            [
                item(first, "100.00"),
                item(first, "60.00", "withdrawal"),
                item(second, "5.00", "withdrawal"),
                item(first, "1.00", status="pending"),
                item(first, "40.00", "withdrawal"),
            ]
        )
    )

    assert batch.created
    assert [i.created for i in batch.items] == [True] * 5
    assert [str(i.transaction.account_number) for i in batch.items] == [
        first,
        first,
        second,
        first,
        first,
    ]
    assert [
        None if i.transaction.balance_after is None else i.transaction.balance_after.amount
        for i in batch.items
    ] == [Decimal("100.00"), Decimal("40.00"), Decimal("0.00"), None, Decimal("0.00")]
    assert await balance_of(ledger, first) == Decimal("0.00")
    assert await balance_of(ledger, second) == Decimal("0.00")
    listed = await every_transaction(ledger, first)
    assert [t.transaction_id for t in listed[-4:]] == [
        batch.items[i].transaction.transaction_id for i in (0, 1, 3, 4)
    ]
    new_events = store.events[events_before:]
    assert [(e.type, e.transaction_id) for e in new_events] == [
        (EventType.TRANSACTION_POSTED, i.transaction.transaction_id) for i in batch.items
    ]
    history = await ledger.transaction_history(
        TransactionHistoryRequest(str(batch.items[1].transaction.transaction_id))
    )
    assert [v.change for v in history.items] == [Change.CREATED]
    assert len(store.journal[AccountNumber(first)]) == 3  # the pending deposit moved nothing
    for number in (first, second):
        assert (await ledger.verify_account(number)).sound


@pytest.mark.parametrize(
    ("bad", "refusal"),
    [
        ("withdraw too much", InsufficientFunds),
        ("unknown account", AccountNotFound),
        ("frozen account", AccountFrozen),
        ("bad amount", InvalidValue),
        ("bad account number", InvalidValue),
        ("taken id", DuplicateTransactionId),
    ],
)
async def test_a_batch_refused_at_item_k_stores_nothing(
    ledger: Ledger, store: InMemoryStore, bad: str, refusal: type[Exception]
) -> None:
    number = number_of(await open_account(ledger, "10.00"))
    frozen = number_of(await open_account(ledger, "10.00"))
    await ledger.update_account(UpdateAccountCommand(frozen, status="frozen"))
    taken = random_tid()
    await post(ledger, number, "1.00", transaction_id=taken)
    before = await snapshot(ledger, store, number, frozen)
    bad_item = {
        "withdraw too much": item(number, "20.01", "withdrawal"),
        "unknown account": item("0000000000" if number != "0000000000" else "0000000001", "1"),
        "frozen account": item(frozen, "1.00"),
        "bad amount": item(number, "1.001"),
        "bad account number": item("123", "1.00"),
        "taken id": item(number, "2.00", transaction_id=taken),
    }[bad]

    with pytest.raises(ItemRefused) as refused:
        await ledger.post_batch(
            PostBatchCommand([item(number, "10.00"), item(number, "1.00", "withdrawal"), bad_item])
        )

    assert refused.value.index == 2
    assert isinstance(refused.value.error, refusal)
    assert await snapshot(ledger, store, number, frozen) == before


async def test_two_items_with_one_id_are_refused_at_the_second(ledger: Ledger) -> None:
    number = number_of(await open_account(ledger))
    tid = random_tid()

    with pytest.raises(ItemRefused) as refused:
        await ledger.post_batch(
            PostBatchCommand(
                [
                    item(number, "1.00", transaction_id=tid),
                    item(number, "2.00"),
                    item(number, "1.00", transaction_id=tid),
                ]
            )
        )

    assert refused.value.index == 2
    assert isinstance(refused.value.error, InvalidValue)
    assert refused.value.error.field == "transaction_id"
    assert await balance_of(ledger, number) == Decimal("0.00")


async def test_a_repeated_batch_is_answered_as_stored_and_moves_nothing(
    ledger: Ledger, store: InMemoryStore
) -> None:
    number = number_of(await open_account(ledger))
    items = [item(number, "3.00", transaction_id=random_tid()) for _ in range(3)]
    first = await ledger.post_batch(PostBatchCommand(items))
    before = await snapshot(ledger, store, number)

    again = await ledger.post_batch(PostBatchCommand(items))

    assert not again.created
    assert [i.created for i in again.items] == [False] * 3
    assert [i.transaction.transaction_id for i in again.items] == [
        i.transaction.transaction_id for i in first.items
    ]
    assert await snapshot(ledger, store, number) == before

    mixed = await ledger.post_batch(PostBatchCommand([*items, item(number, "1.00")]))
    assert mixed.created
    assert [i.created for i in mixed.items] == [False, False, False, True]
    assert await balance_of(ledger, number) == Decimal("10.00")


@pytest.mark.parametrize("size", [0, MAX_BATCH_ITEMS + 1])
async def test_a_batch_holds_1_to_1000_items(ledger: Ledger, size: int) -> None:
    number = number_of(await open_account(ledger))
    with pytest.raises(InvalidValue) as refused:
        await ledger.post_batch(PostBatchCommand([item(number, "1.00")] * size))
    assert refused.value.field == "transactions"


async def test_a_batch_of_1000_items_is_stored_whole(ledger: Ledger) -> None:
    numbers = [number_of(await open_account(ledger)) for _ in range(10)]
    batch = await ledger.post_batch(
        PostBatchCommand([item(numbers[i % 10], "0.01") for i in range(MAX_BATCH_ITEMS)])
    )
    assert len(batch.items) == MAX_BATCH_ITEMS
    for number in numbers:
        assert await balance_of(ledger, number) == Decimal("1.00")
        assert (await ledger.verify_account(number)).sound


async def test_a_restricted_key_posts_only_to_its_accounts(ledger: Ledger) -> None:
    own = number_of(await open_account(ledger))
    other = number_of(await open_account(ledger))
    actor = Actor("key-own", account_numbers=frozenset({AccountNumber(own)}))

    with pytest.raises(ItemRefused) as refused:
        await ledger.post_batch(
            PostBatchCommand([item(own, "1.00"), item(other, "1.00")], actor=actor)
        )
    assert refused.value.index == 1
    assert isinstance(refused.value.error, AccountNotFound)
    batch = await ledger.post_batch(PostBatchCommand([item(own, "1.00")], actor=actor))
    events = await every_event(ledger, account_number=own)
    assert events[-1].actor_id == "key-own"
    assert events[-1].transaction_id == batch.items[0].transaction.transaction_id
